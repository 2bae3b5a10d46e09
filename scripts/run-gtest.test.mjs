// The verdicts of scripts/run-gtest.sh on fake GoogleTest outputs: a failure in a group
// beats a skip in it, an empty run fails, and a skip (or with-keyring.sh's exit 77) fails under CI.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const WRAPPER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'run-gtest.sh');

// What GoogleTest prints, trimmed to the lines the wrapper reads.
const PASS = '[==========] 2 tests from 1 test suite ran. (3 ms total)\n[  PASSED  ] 2 tests.\n';
const SKIP = '[  SKIPPED ] S.b (0 ms)\n[==========] 2 tests from 1 test suite ran. (3 ms total)\n'
  + '[  PASSED  ] 1 test.\n[  SKIPPED ] 1 test, listed below:\n[  SKIPPED ] S.b\n';
const FAIL_AND_SKIP = `${SKIP}[  FAILED  ] 1 test, listed below:\n[  FAILED  ] S.a\n`;
const NONE = '[==========] 0 tests from 0 test suites ran. (0 ms total)\n[  PASSED  ] 0 tests.\n';

let dir;
before(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'run-gtest-')); });
after(async () => { await fs.rm(dir, { recursive: true, force: true }); });

async function fake(name, output, exitCode) {
  const file = path.join(dir, name);
  await fs.writeFile(file, `#!/bin/sh\nprintf '%s' '${output}'\nexit ${exitCode}\n`, { mode: 0o755 });
  return file;
}

function run(program, { ci = false } = {}) {
  const env = { ...process.env };
  delete env.CI;
  if (ci) env.CI = 'true';
  const r = spawnSync(WRAPPER, [program], { env, encoding: 'utf8', timeout: 30000 });
  return { code: r.status, last: r.stdout.trim().split('\n').pop() };
}

test('all passed: 0', async () => {
  const r = run(await fake('pass.sh', PASS, 0));
  assert.equal(r.code, 0, r.last);
  assert.match(r.last, /^gtest-group: PASSED \(ran 2, passed 2, skipped 0, exit 0\)$/);
});
test('a skip with nothing failed: 77 locally, 1 under CI', async () => {
  const program = await fake('skip.sh', SKIP, 0);
  assert.equal(run(program).code, 77);
  assert.equal(run(program, { ci: true }).code, 1);
});
test('a failure and a skip in one group: 1 (failure wins)', async () => {
  const r = run(await fake('fail_skip.sh', FAIL_AND_SKIP, 1));
  assert.equal(r.code, 1, r.last);
  assert.match(r.last, /^gtest-group: FAILED/);
});
test('no test ran: 1', async () => {
  assert.equal(run(await fake('none.sh', NONE, 0)).code, 1);
});
test('exit 77 (with-keyring.sh could not start): 77 locally, 1 under CI', async () => {
  const program = await fake('env77.sh', 'with-keyring: skipped: gnome-keyring-daemon is not installed\n', 77);
  assert.equal(run(program).code, 77);
  assert.equal(run(program, { ci: true }).code, 1);
});
