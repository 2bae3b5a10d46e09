// Issue 11: the token where it is needed, never through argv. `token --header` (fast path and
// module) and `exec` (token in an environment variable, refreshed first, signals forwarded, the
// child's exit status) against the dev server, under a temporary HOME. Secrets are compared, never
// printed: failure messages go through describeRun, which redacts them.

import { strict as assert } from 'node:assert';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';

import {
  cliPath, describeRun, killAllChildren, loginWithApproval, makeHome, runCli, sleep, startCli, startServer,
} from './harness.mjs';

const skip = cliPath() ? false : 'DEVICELOGIN_BIN is not set';
const EXIT = { ok: 0, usage: 2, notLoggedIn: 5 };
const sha256 = (text) => crypto.createHash('sha256').update(text).digest('hex');

// Prints the sha256 of the variable NAME (or "unset") and the child's argv, so a test can compare
// the token with what the child got without the token ever being printed.
const reportChild = (name) => ['node', '-e',
  `const v = process.env[${JSON.stringify(name)}];`
  + 'const h = v === undefined ? "unset" : require("crypto").createHash("sha256").update(v).digest("hex");'
  + 'console.log(JSON.stringify({ hash: h, argv: process.argv }));'];

// Every /proc/*/cmdline that contains `secret` (pids only).
async function cmdlinesWith(secret) {
  const found = [];
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = await fs.readFile(`/proc/${entry}/cmdline`, 'latin1');
      if (cmdline.includes(secret)) found.push(entry);
    } catch { /* gone */ }
  }
  return found;
}

async function waitForStdout(proc, text, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  while (!proc.stdout().includes(text)) {
    if (Date.now() > deadline) throw new Error(`no "${text}" on stdout within ${timeoutMs} ms; stderr: ${proc.stderr()}`);
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) throw new Error(`exited early; stderr: ${proc.stderr()}`);
    await sleep(20);
  }
}

describe('token --header and exec against the dev server', { skip, timeout: 120000 }, () => {
  let server;
  let home;
  const seen = [];
  const token = async () => {
    const argv = ['token'];
    const result = await runCli(argv, { env: home.env });
    assert.equal(result.code, EXIT.ok, describeRun(argv, result, seen));
    const value = result.stdout.trim();
    seen.push(value);
    return value;
  };

  before(async () => {
    server = await startServer('devserver', { interval: 1 });
    home = await makeHome();
    const { result, argv } = await loginWithApproval(server, home);
    assert.equal(result.code, EXIT.ok, describeRun(argv, result));
  });
  after(async () => {
    killAllChildren();
    await server?.stop();
    await home?.remove();
  });

  test('token --header prints "Authorization: Bearer <token>" on the fast path and in the module', async () => {
    const bare = await token();
    // --verbose is not a fast-path flag: that run goes through the module.
    for (const argv of [['token', '--header'], ['token', '--header', '--verbose']]) {
      const result = await runCli(argv, { env: home.env });
      assert.equal(result.code, EXIT.ok, describeRun(argv, result, seen));
      assert.ok(result.stdout === `Authorization: Bearer ${bare}\n`,
        `${argv.join(' ')}: stdout is exactly the header line with the stored token (${describeRun(argv, result, seen)})`);
    }
    const info = await server.introspect(bare);
    assert.equal(info.active, true, 'the token is active');
  });

  test('exec puts the token in DEVICELOGIN_TOKEN (or --env NAME), never in argv', async () => {
    const bare = await token();
    for (const [flags, name] of [[[], 'DEVICELOGIN_TOKEN'], [['--env', 'GITHUB_TOKEN'], 'GITHUB_TOKEN']]) {
      const argv = ['exec', ...flags, '--', ...reportChild(name)];
      const result = await runCli(argv, { env: home.env });
      assert.equal(result.code, EXIT.ok, describeRun(argv, result, seen));
      const report = JSON.parse(result.stdout);
      assert.equal(report.hash, sha256(bare), `${name} holds the stored access token`);
      assert.ok(!report.argv.some((a) => a.includes(bare)), 'the token is in no argv word');
    }
  });

  test('exec --min-ttl refreshes first: the child gets a new token, which is active', async () => {
    const before = await token();
    const argv = ['exec', '--min-ttl', '100000', '--', ...reportChild('DEVICELOGIN_TOKEN')];
    const result = await runCli(argv, { env: home.env });
    assert.equal(result.code, EXIT.ok, describeRun(argv, result, seen));
    const after = await token();
    assert.notEqual(after, before, 'the stored token was refreshed');
    assert.equal(JSON.parse(result.stdout).hash, sha256(after), 'the child got the refreshed token');
    assert.equal((await server.introspect(after)).active, true, 'the refreshed token is active');
  });

  test('exec --verbose says once that the token is not refreshed while the command runs', async () => {
    const argv = ['exec', '--verbose', '--', 'true'];
    const result = await runCli(argv, { env: home.env });
    assert.equal(result.code, EXIT.ok, describeRun(argv, result, seen));
    assert.equal(result.stderr.match(/not refreshed while the command runs/g)?.length, 1, describeRun(argv, result, seen));
    const quiet = await runCli(['exec', '--', 'true'], { env: home.env });
    assert.equal(quiet.stderr, '', 'without --verbose and with an hour left: nothing on stderr');
  });

  test("exec exits with the child's status, 128+N when it is killed by signal N", async () => {
    let result = await runCli(['exec', '--', 'sh', '-c', 'exit 3'], { env: home.env });
    assert.equal(result.code, 3, describeRun(['exec', '--', 'sh', '-c', 'exit 3'], result, seen));
    result = await runCli(['exec', '--', 'sh', '-c', 'kill -KILL $$'], { env: home.env });
    assert.equal(result.code, 128 + 9, describeRun(['exec', '--', 'sh', '-c', 'kill -KILL $$'], result, seen));
  });

  test('exec forwards SIGTERM and SIGINT to the child; no argv holds the token meanwhile', async () => {
    const bare = await token();
    for (const [signal, code] of [['SIGTERM', 42], ['SIGINT', 43]]) {
      const script = `trap "exit ${code}" ${signal.slice(3)}; echo ready; while :; do sleep 0.05; done`;
      const argv = ['exec', '--', 'sh', '-c', script];
      const proc = startCli(argv, { env: home.env });
      proc.child.stdin.end();
      await waitForStdout(proc, 'ready');
      assert.deepEqual(await cmdlinesWith(bare), [], 'no process has the token in its command line');
      // The exec process only, not its process group: the child must get it from exec.
      process.kill(proc.child.pid, signal);
      const result = await proc.wait(10000);
      assert.equal(result.code, code, `${signal}: ${describeRun(argv, result, seen)}`);
    }
  });

  test('exec errors: command not found 127, bad --env 2, no command 2, not logged in 5; one line each', async () => {
    const cases = [
      [['exec', '--', 'devicelogin-no-such-command-xyz'], 127, /command not found/],
      [['exec', '--env', '1BAD', '--', 'true'], EXIT.usage, /--env/],
      [['exec'], EXIT.usage, /no command/],
      [['exec', '--profile', 'nobody', '--', 'true'], EXIT.notLoggedIn, /login/],
    ];
    for (const [argv, code, pattern] of cases) {
      const result = await runCli(argv, { env: home.env });
      assert.equal(result.code, code, describeRun(argv, result, seen));
      assert.equal(result.stderr.trim().split('\n').length, 1, `one line: ${describeRun(argv, result, seen)}`);
      assert.match(result.stderr, pattern);
      assert.equal(result.stdout, '');
    }
  });
});
