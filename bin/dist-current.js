#!/usr/bin/env node
'use strict';
// Whether dist/ (npm run build) is current: dist/client.js is newer than every file and folder under src/ and the
// build's tsconfig files. A source changed, added or deleted since the build (git checkout, an edit) makes it stale.
// Run directly: exit 0 when current, 1 when not (scripts/ensure-deps.sh builds then).
const fs = require('node:fs');
const path = require('node:path');

function newestMtimeMs(dir) {
  let newest = fs.statSync(dir).mtimeMs;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    const t = entry.isDirectory() ? newestMtimeMs(full) : fs.statSync(full).mtimeMs;
    if (t > newest) newest = t;
  }
  return newest;
}

function distIsCurrent(root) {
  try {
    const built = fs.statSync(path.join(root, 'dist', 'client.js')).mtimeMs;
    const inputs = ['tsconfig.json', 'tsconfig.build.json'].map((f) => fs.statSync(path.join(root, f)).mtimeMs);
    return Math.max(newestMtimeMs(path.join(root, 'src')), ...inputs) <= built;
  } catch {
    return false;
  }
}

module.exports = { distIsCurrent };

if (require.main === module) process.exit(distIsCurrent(path.join(__dirname, '..')) ? 0 : 1);
