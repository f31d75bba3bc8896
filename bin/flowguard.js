#!/usr/bin/env node
'use strict';
// Runs the compiled build (dist/, `npm run build`) when it is current: it starts in a fraction of the time the
// TypeScript loader needs. In a checkout whose sources changed since the build, runs them through tsx instead.
const fs = require('node:fs');
const path = require('node:path');
const { distIsCurrent } = require('./dist-current');

const root = path.join(__dirname, '..');
const src = path.join(root, 'src', 'client.ts');
if (fs.existsSync(src) && !distIsCurrent(root)) {
  require('tsx/cjs');
  require(src).main(process.argv);
} else {
  require(path.join(root, 'dist', 'client.js')).main(process.argv);
}
