// The verdicts of scripts/run-node-suite.mjs on small fixture suites: a failure is never
// reported as a skip, a skipped describe or an empty suite fails, and a skip fails under CI unless
// its reason is allow-listed. Each case runs the real wrapper on a real `node --test` run.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const WRAPPER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'run-node-suite.mjs');

const FIXTURES = {
  // What cli_flow.test.mjs does when login breaks: one failure, the later tests skip themselves.
  'fail_then_skips.test.mjs': `
    import { describe, test } from 'node:test';
    describe('flow', () => {
      const state = {};
      test('login', () => { throw new Error('login exited 1'); });
      test('status', (t) => { if (!state.ok) return t.skip('login failed'); });
      test('token', (t) => { if (!state.ok) return t.skip('login failed'); });
    });`,
  'skip_only.test.mjs': `
    import { test } from 'node:test';
    test('file store', () => {});
    test('kernel keyring', (t) => { t.skip('the kernel keyring is refused here: EACCES'); });`,
  // One store per ctest: its only test skipped (the kernel keyring refused) is a skip, not "empty".
  'all_skipped.test.mjs': `
    import { test } from 'node:test';
    test('kernel keyring', (t) => { t.skip('the kernel keyring is refused here: EACCES'); });`,
  'suite_skip.test.mjs': `
    import { describe, test } from 'node:test';
    describe('CLI main path', { skip: 'DEVICELOGIN_BIN is not set' }, () => { test('login', () => {}); });
    test('something else', () => {});`,
  'empty.test.mjs': `
    import { describe } from 'node:test';
    describe('no tests inside', () => {});`,
  'all_pass.test.mjs': `
    import { describe, test } from 'node:test';
    describe('ok', () => { test('a', () => {}); test('b # not a directive', () => {}); });`,
  'todo.test.mjs': `
    import { test } from 'node:test';
    test('a', () => {});
    test('b', { todo: 'not written yet' }, () => {});`,
  'dies.test.mjs': `
    import { test } from 'node:test';
    test('a', () => {});
    process.exit(3);`,
  'via_skip.sh': '#!/bin/sh\necho "via: skipped: no keyring here" >&2\nexit 77\n',
};

let dir;
before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'run-node-suite-'));
  for (const [name, text] of Object.entries(FIXTURES)) {
    await fs.writeFile(path.join(dir, name), text, { mode: 0o755 });
  }
});
after(async () => { await fs.rm(dir, { recursive: true, force: true }); });

function run(file, { ci = false, args = [] } = {}) {
  const env = { ...process.env };
  delete env.CI;
  if (ci) env.CI = 'true';
  const result = spawnSync(process.execPath, [WRAPPER, ...args, '--', path.join(dir, file)], {
    env, encoding: 'utf8', timeout: 60000,
  });
  const lines = result.stdout.trim().split('\n');
  return { code: result.status, last: lines[lines.length - 1], stdout: result.stdout };
}

describe('run-node-suite.mjs verdicts', () => {
  test('a failure followed by skips fails (it is not "Skipped")', () => {
    const r = run('fail_then_skips.test.mjs');
    assert.equal(r.code, 1, r.last);
    assert.match(r.last, /^node-suite fail_then_skips\.test\.mjs: FAILED .*fail 1, .*skipped 2/);
    assert.match(r.stdout, /# node-suite .*: failed: login/);
  });
  test('skips with nothing failed: Skipped (77) locally', () => {
    const r = run('skip_only.test.mjs');
    assert.equal(r.code, 77, r.last);
    assert.match(r.last, /: SKIPPED \(tests 2, pass 1, fail 0, cancelled 0, skipped 1, todo 0\)$/);
    assert.match(r.stdout, /test skipped: kernel keyring: the kernel keyring is refused here: EACCES/);
  });
  test('the same skip fails under CI', () => {
    const r = run('skip_only.test.mjs', { ci: true });
    assert.equal(r.code, 1, r.last);
    assert.match(r.last, /FAILED \(skipped under CI/);
  });
  test('under CI an allow-listed skip reason passes, and is still listed', () => {
    const r = run('skip_only.test.mjs', { ci: true, args: ['--allow-skip', '^the kernel keyring is refused'] });
    assert.equal(r.code, 0, r.last);
    assert.match(r.stdout, /test skipped \(allowed\): kernel keyring/);
    const other = run('skip_only.test.mjs', { ci: true, args: ['--allow-skip', '^no private Secret Service'] });
    assert.equal(other.code, 1, 'a pattern that does not match the reason allows nothing');
  });
  test('a suite whose only test was skipped: Skipped locally, a failure under CI', () => {
    const r = run('all_skipped.test.mjs');
    assert.equal(r.code, 77, r.last);
    assert.match(r.last, /: SKIPPED \(tests 1, pass 0, fail 0, cancelled 0, skipped 1, todo 0\)$/);
    assert.equal(run('all_skipped.test.mjs', { ci: true }).code, 1);
  });
  test('a skipped describe fails, even outside CI', () => {
    const r = run('suite_skip.test.mjs');
    assert.equal(r.code, 1, r.last);
    assert.match(r.last, /FAILED \(a whole suite was skipped\)/);
  });
  test('a suite with no test fails', () => {
    const r = run('empty.test.mjs');
    assert.equal(r.code, 1, r.last);
    assert.match(r.last, /FAILED \(no test ran\)/);
  });
  test('every test passing passes; a "#" in a test name is not a directive', () => {
    const r = run('all_pass.test.mjs');
    assert.equal(r.code, 0, r.last);
    assert.match(r.last, /: PASSED \(tests 2, pass 2, fail 0, cancelled 0, skipped 0, todo 0\)$/);
  });
  test('a todo counts as a skip', () => {
    assert.equal(run('todo.test.mjs').code, 77);
    assert.equal(run('todo.test.mjs', { ci: true }).code, 1);
  });
  test('a suite that dies before its summary fails', () => {
    const r = run('dies.test.mjs');
    assert.equal(r.code, 1, r.last);
    assert.match(r.last, /FAILED/);
  });
  test('a --via program that exits 77 is a skip locally and a failure under CI', () => {
    const via = ['--via', path.join(dir, 'via_skip.sh')];
    assert.equal(run('all_pass.test.mjs', { args: via }).code, 77);
    const r = run('all_pass.test.mjs', { ci: true, args: via });
    assert.equal(r.code, 1, r.last);
    assert.match(r.last, /FAILED \(.*under CI this must work\)/);
  });
});
