#!/usr/bin/env node
'use strict';
// Runs the TypeScript sources in a checkout (via tsx), or the compiled build when sources are absent.
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const src = path.join(root, 'src', 'client.ts');
if (fs.existsSync(src)) {
  require('tsx/cjs');
  require(src).main(process.argv);
} else {
  require(path.join(root, 'dist', 'client.js')).main(process.argv);
}
