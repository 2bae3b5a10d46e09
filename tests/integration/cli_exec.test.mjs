// The token where it is needed, never through argv (every user on the machine can read argv).
// `token --header` (fast path and module) and `exec` (token in an environment variable, refreshed
// first) against the dev server, under a temporary HOME. `exec` becomes the command (the same pid:
// one Ctrl-C reaches it once, its death is exec's, SIGKILL leaves no orphan), which gets the
// caller's core limit, signal dispositions, mask and descriptors, and none of devicelogin's; --env
// refuses the names the loader or a shell reads; a caller that ignores SIGCHLD does not break
// setup-git. Secrets are compared, never printed: failure messages go through describeRun, which
// redacts them.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
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

// The pids whose process group is `pgid` (field 5 of /proc/PID/stat, after the parenthesized name).
async function processGroupMembers(pgid) {
  const found = [];
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await fs.readFile(`/proc/${entry}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid) found.push(Number(entry));
    } catch { /* gone */ }
  }
  return found.sort((a, b) => a - b);
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code !== 'ESRCH';
  }
}

// A wrapper that ignores SIGCHLD and blocks SIGUSR2, then execs the rest of its argv (node cannot
// start a child with a signal ignored or blocked).
const IGNORE_SIGCHLD = ['python3', '-c', 'import os, signal, sys\n'
  + 'signal.signal(signal.SIGCHLD, signal.SIG_IGN)\n'
  + 'signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})\n'
  + 'os.execvp(sys.argv[1], sys.argv[1:])'];

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

  test("exec exits with the command's status, and dies of the signal that killed the command", async () => {
    let argv = ['exec', '--', 'sh', '-c', 'exit 3'];
    let result = await runCli(argv, { env: home.env });
    assert.equal(result.code, 3, describeRun(argv, result, seen));
    // A shell loop around exec sees the death and stops, as it would around the command itself.
    for (const signal of ['SIGTERM', 'SIGKILL']) {
      argv = ['exec', '--', 'sh', '-c', `kill -${signal.slice(3)} $$`];
      result = await runCli(argv, { env: home.env });
      assert.equal(result.signal, signal, `killed by ${signal}, not an exit code: ${describeRun(argv, result, seen)}`);
      assert.equal(result.code, null);
    }
  });

  test('exec becomes the command: one SIGINT to the process group reaches it once', async () => {
    // The command counts its SIGINTs, says so on stdout, and reports its pid and the count at SIGTERM.
    const script = 'import json, os, signal, sys\n'
      + 'count = 0\n'
      + 'def on_int(signum, frame):\n'
      + '    global count\n'
      + '    count += 1\n'
      + '    print("INT", flush=True)\n'
      + 'def on_term(signum, frame):\n'
      + '    print(json.dumps({"pid": os.getpid(), "ints": count}), flush=True)\n'
      + '    sys.exit(0)\n'
      + 'signal.signal(signal.SIGINT, on_int)\n'
      + 'signal.signal(signal.SIGTERM, on_term)\n'
      + 'print("ready", flush=True)\n'
      + 'while True:\n'
      + '    signal.pause()\n';
    const argv = ['exec', '--', 'python3', '-c', script];
    const proc = startCli(argv, { env: home.env });
    proc.child.stdin.end();
    await waitForStdout(proc, 'ready');
    // The group (as a terminal's foreground job): the command alone, under exec's pid.
    assert.deepEqual(await processGroupMembers(proc.child.pid), [proc.child.pid],
      'one process in the group: nothing between the terminal and the command');
    process.kill(-proc.child.pid, 'SIGINT');
    await waitForStdout(proc, 'INT');
    process.kill(-proc.child.pid, 'SIGTERM');
    const result = await proc.wait(10000);
    assert.equal(result.code, 0, describeRun(argv, result, seen));
    const report = JSON.parse(result.stdout.trim().split('\n').at(-1));
    assert.deepEqual(report, { pid: proc.child.pid, ints: 1 }, 'the command is exec\'s pid and saw one SIGINT');
  });

  test('SIGKILL to exec kills the command: no orphan is left', async () => {
    const argv = ['exec', '--', 'python3', '-c', 'import os, signal\nprint(os.getpid(), flush=True)\nsignal.pause()'];
    const proc = startCli(argv, { env: home.env });
    proc.child.stdin.end();
    await waitForStdout(proc, '\n');
    const commandPid = Number(proc.stdout().trim());
    const exited = new Promise((resolve) => { proc.child.once('exit', (code, signal) => resolve({ code, signal })); });
    process.kill(proc.child.pid, 'SIGKILL');
    const { signal } = await exited;
    const orphaned = isAlive(commandPid);
    if (orphaned) process.kill(commandPid, 'SIGKILL');
    assert.equal(signal, 'SIGKILL');
    assert.equal(commandPid, proc.child.pid, 'the command runs as exec\'s pid');
    assert.equal(orphaned, false, 'the command is gone with exec');
  });

  test("the command holds the caller's descriptors only (0, 1, 2, 3<file), none of devicelogin's", async () => {
    const passed = path.join(home.home, 'passed-fd');
    await fs.writeFile(passed, 'x');
    const handle = await fs.open(passed, 'r');
    // Lists its descriptors with their targets (skipping the listing's own, closed by readlink time).
    const script = 'import json, os\n'
      + 'fds = {}\n'
      + 'for name in os.listdir("/proc/self/fd"):\n'
      + '    try:\n'
      + '        fds[name] = os.readlink("/proc/self/fd/" + name)\n'
      + '    except OSError:\n'
      + '        pass\n'
      + 'print(json.dumps(fds))\n';
    // --min-ttl: a refresh first, so that libcurl holds a connection to the issuer while exec runs.
    const argv = ['exec', '--min-ttl', '100000', '--', 'python3', '-c', script];
    let result;
    let direct;
    try {
      result = await runCli(argv, { env: home.env, extraStdio: [handle.fd] });
      // The same command started directly: what the caller gives (this test's process may itself
      // pass on a descriptor it inherited).
      direct = spawnSync('python3', ['-c', script], { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe', handle.fd] });
    } finally {
      await handle.close();
    }
    assert.equal(result.code, 0, describeRun(argv, result, seen));
    assert.equal(direct.status, 0, direct.stderr);
    const fds = JSON.parse(result.stdout);
    const expected = Object.keys(JSON.parse(direct.stdout)).sort();
    assert.ok(['0', '1', '2', '3'].every((fd) => expected.includes(fd)), `the direct run: ${direct.stdout}`);
    assert.deepEqual(Object.keys(fds).sort(), expected, `descriptors: ${JSON.stringify(fds)}`);
    assert.equal(fds['3'], passed, 'descriptor 3 is the file the caller passed');
  });

  test("the command gets the caller's core limit, ignored signals and signal mask", async (t) => {
    const hard = spawnSync('sh', ['-c', 'ulimit -H -c'], { encoding: 'utf8' }).stdout.trim();
    if (hard === '0') {
      t.skip('the hard core limit is 0 here: no soft limit to set');
      return;
    }
    const soft = hard === 'unlimited' ? '2048' : String(Math.min(Number(hard), 2048));
    // sh sets the soft core limit, the python wrapper ignores SIGCHLD and blocks SIGUSR2; the
    // command reports all three, run directly and through exec. (Not a shell: sh resets SIGCHLD
    // and the mask for itself. Python's own start-up ignores SIGPIPE and SIGXFSZ, in both runs.)
    // Under ASan the sanitizer itself lowers the soft core limit to 0 at start-up unless told
    // not to (disable_coredump): that is the sanitizer's doing, not exec's, so it is told.
    const setLimit = ['sh', '-c',
      'ulimit -S -c "$1"; shift; if [ -n "$ASAN_OPTIONS" ]; then export ASAN_OPTIONS="$ASAN_OPTIONS:disable_coredump=0"; fi; exec "$@"',
      'sh', soft];
    const report = ['python3', '-c', 'import json, resource\n'
      + 'status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\\t" in line)\n'
      + 'print(json.dumps({"core": resource.getrlimit(resource.RLIMIT_CORE), "ignored": status["SigIgn"], "blocked": status["SigBlk"]}))\n'];
    const direct = spawnSync(setLimit[0], [...setLimit.slice(1), ...IGNORE_SIGCHLD, ...report], { encoding: 'utf8' });
    assert.equal(direct.status, 0, direct.stderr);
    const caller = JSON.parse(direct.stdout);
    assert.notEqual(caller.core[0], 0, `the wrapper set a soft core limit: ${direct.stdout}`);
    const mask = (hex, signal) => (BigInt(`0x${hex}`) >> BigInt(signal - 1)) & 1n;
    assert.equal(mask(caller.ignored, 17), 1n, `the wrapper ignored SIGCHLD: ${direct.stdout}`);
    assert.equal(mask(caller.blocked, 12), 1n, `the wrapper blocked SIGUSR2: ${direct.stdout}`);
    const argv = ['exec', '--', ...report];
    const result = await runCli(argv, { env: home.env, prefix: [...setLimit, ...IGNORE_SIGCHLD] });
    assert.equal(result.code, 0, describeRun(argv, result, seen));
    assert.equal(result.stdout, direct.stdout, 'the same core limit, ignored signals and mask as without exec');
  });

  test('setup-git works for a caller that ignores SIGCHLD (it waits for git)', async () => {
    const host = 'git.sigchld.example';
    const argv = ['setup-git', '--host', host];
    const result = await runCli(argv, { env: home.env, prefix: IGNORE_SIGCHLD });
    assert.equal(result.code, EXIT.ok, describeRun(argv, result, seen));
    const helpers = spawnSync('git', ['config', '--global', '--get-all', `credential.https://${host}.helper`],
      { encoding: 'utf8', env: { ...home.env, PATH: process.env.PATH } });
    assert.match(helpers.stdout, /git-credential --profile default --host 'https:\/\/git\.sigchld\.example'/);
    const removed = await runCli([...argv, '--remove'], { env: home.env, prefix: IGNORE_SIGCHLD });
    assert.equal(removed.code, EXIT.ok, describeRun([...argv, '--remove'], removed, seen));
  });

  test('exec refuses --env names the loader or a shell reads (exit 2, one line, no token anywhere)', async () => {
    const bare = await token();
    for (const name of ['LD_PRELOAD', 'LD_LIBRARY_PATH', 'BASH_ENV', 'ENV', 'PATH', 'IFS', 'PS4', 'SHELLOPTS', 'BASH_FUNC_x', 'GCONV_PATH']) {
      const argv = ['exec', '--env', name, '--', 'bash', '-c', 'true'];
      const result = await runCli(argv, { env: home.env });
      assert.equal(result.code, EXIT.usage, describeRun(argv, result, seen));
      assert.equal(result.stderr.trim().split('\n').length, 1, `one line: ${describeRun(argv, result, seen)}`);
      assert.match(result.stderr, new RegExp(`--env ${name}`));
      assert.ok(!result.stderr.includes(bare) && !result.stdout.includes(bare), `${name}: the token is printed nowhere`);
    }
  });

  test('exec passes SIGTERM and SIGINT sent to its pid to the command; no argv holds the token meanwhile', async () => {
    const bare = await token();
    for (const [signal, code] of [['SIGTERM', 42], ['SIGINT', 43]]) {
      const script = `trap "exit ${code}" ${signal.slice(3)}; echo ready; while :; do sleep 0.05; done`;
      const argv = ['exec', '--', 'sh', '-c', script];
      const proc = startCli(argv, { env: home.env });
      proc.child.stdin.end();
      await waitForStdout(proc, 'ready');
      assert.deepEqual(await cmdlinesWith(bare), [], 'no process has the token in its command line');
      // The exec pid only, not its process group: it is the command's.
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
