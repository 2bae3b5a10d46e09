#!/usr/bin/env node
// Installs the test-only npm dependencies of one directory (tests/integration, tests/browser, ...)
// with `npm ci`, unless its node_modules already holds exactly what package-lock.json pins, so
// repeated ctest runs cost nothing and need no network. Never downloads a browser: the browser
// test uses Debian's /usr/bin/chromium.
//   node scripts/npm-ensure.mjs DIR

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

if (process.argv.length !== 3) {
  console.error('usage: node scripts/npm-ensure.mjs DIR');
  process.exit(2);
}
const here = path.resolve(process.argv[2]);

function installedMatchesLock() {
  let lock;
  try {
    lock = JSON.parse(fs.readFileSync(path.join(here, 'package-lock.json'), 'utf8'));
  } catch {
    return false;
  }
  const packages = Object.entries(lock.packages ?? {}).filter(([key]) => key.startsWith('node_modules/'));
  if (packages.length === 0) return false;
  return packages.every(([key, meta]) => {
    try {
      const installed = JSON.parse(fs.readFileSync(path.join(here, key, 'package.json'), 'utf8'));
      return installed.version === meta.version;
    } catch {
      return Boolean(meta.optional);
    }
  });
}

if (installedMatchesLock()) {
  console.log('node_modules matches package-lock.json; skipping npm ci');
  process.exit(0);
}
const npm = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], {
  cwd: here,
  stdio: 'inherit',
  env: { ...process.env, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1' },
});
if (npm.status !== 0) {
  console.error(`npm ci failed (${npm.status ?? npm.signal})`);
  process.exit(1);
}
process.exit(installedMatchesLock() ? 0 : 1);
