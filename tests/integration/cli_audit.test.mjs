// The audit trail and the inventory, against the dev server under a temporary HOME, inside a
// private Secret Service (scripts/with-keyring.sh) so that all three stores are there.
// - Every consumer's hand-out is recorded with the process the test started: `token` (fast path
//   and full CLI; its parent is this test), `exec` (the command's name), git (run by the real git),
//   docker (through the helper's symlink), kubectl-credential, `api` (the origin), and the Python
//   package (its native hot path and the C ABI). Proved by pid, executable and parent, never by
//   timing.
// - No token in the trail: the access and refresh tokens (canaries) are searched for in the audit
//   files and in every output.
// - 32 concurrent `token` processes leave 32 whole lines.
// - `status --all` lists the sets of the file store, the kernel keyring and the Secret Service,
//   and a set no profile names; `logout --all` revokes them (seen at the server's introspection).

import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import {
  cliPath, describeRun, findSecrets, killAllChildren, loginWithApproval, makeHome, pythonEnv, runCli, startCli, startServer,
} from './harness.mjs';

const skip = cliPath() ? false : 'DEVICELOGIN_BIN is not set';
const EXIT = { ok: 0 };
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

// The name a record gives a token: its jti when it is a JWT with one, else sha256:<8 hex>.
function tokenId(token) {
  const parts = token.split('.');
  if (parts.length === 3) {
    try {
      const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
      if (typeof claims.jti === 'string' && /^[\x21-\x7e]{1,64}$/.test(claims.jti)) return `jti:${claims.jti}`;
    } catch { /* not a JWT */ }
  }
  return `sha256:${crypto.createHash('sha256').update(token).digest('hex').slice(0, 8)}`;
}

// Runs `file args` to completion; resolves to { pid, code, stdout, stderr }.
function run(file, args, { env, input } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => { stdout += chunk; });
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    child.on('error', reject);
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
    child.on('close', (code) => resolve({ pid: child.pid, code, stdout, stderr }));
  });
}

describe('audit trail and inventory', { skip, timeout: 240000 }, () => {
  let server;
  let home;
  let auditFile;
  let fastExe;
  let fullCli;
  const seen = [];  // every token value seen, for redaction and the canary search
  const outputs = [];  // every stdout/stderr the CLI wrote except `token`'s own stdout

  const records = async () => {
    const text = await fs.readFile(auditFile, 'utf8');
    return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
  };
  const lastRecord = async (predicate) => (await records()).filter(predicate).at(-1);
  const cli = async (argv, opts = {}) => {
    const proc = startCli(argv, { env: opts.env ?? home.env });
    if (opts.input !== undefined) proc.child.stdin.end(opts.input); else proc.child.stdin.end();
    const result = await proc.wait(30000);
    result.pid = proc.child.pid;
    // What hands a token out on stdout (token, the kubectl plugin) is searched for it nowhere.
    if (argv[0] !== 'token' && argv[0] !== 'kubectl-credential') outputs.push(result.stdout);
    outputs.push(result.stderr);
    return result;
  };
  const token = async (profile = 'default') => {
    const argv = ['token', '--profile', profile];
    const result = await cli(argv);
    assert.equal(result.code, EXIT.ok, describeRun(argv, result, seen));
    const value = result.stdout.trim();
    seen.push(value);
    return { value, pid: result.pid };
  };

  before(async () => {
    server = await startServer('devserver', { interval: 1 });
    home = await makeHome();
    // The Secret Service of scripts/with-keyring.sh, for the inventory test.
    if (process.env.DBUS_SESSION_BUS_ADDRESS) home.env.DBUS_SESSION_BUS_ADDRESS = process.env.DBUS_SESSION_BUS_ADDRESS;
    auditFile = path.join(home.stateDir, 'audit.jsonl');
    fastExe = await fs.realpath(cliPath());
    fullCli = await fs.realpath(path.join(path.dirname(fastExe), '..', 'libexec', 'devicelogin', 'devicelogin-cli'));
    const { result, argv } = await loginWithApproval(server, home);
    assert.equal(result.code, EXIT.ok, describeRun(argv, result));
    outputs.push(result.stdout, result.stderr);
  });
  after(async () => {
    killAllChildren();
    await server?.stop();
    await home?.remove();
  });

  test('login is recorded; the trail is 0600 in the 0700 state directory', async () => {
    const login = await lastRecord((r) => r.event === 'login');
    assert.ok(login, 'a login record');
    assert.equal(login.outcome, 'ok');
    assert.equal(login.profile, 'default');
    assert.equal((await fs.stat(auditFile)).mode & 0o777, 0o600);
    assert.equal((await fs.stat(home.stateDir)).mode & 0o777, 0o700);
  });

  test('token (fast path): the record names this process as parent, the executable, and the token by id', async () => {
    const { value, pid } = await token();
    const record = await lastRecord((r) => r.event === 'handout' && r.pid === pid);
    assert.ok(record, `a hand-out record with the pid of the token process (${pid})`);
    assert.equal(record.consumer, 'token');
    assert.equal(record.profile, 'default');
    assert.equal(record.exe, fastExe, 'the fast executable handed it out');
    assert.equal(record.ppid, process.pid, 'its parent is this test');
    assert.equal(record.parent_exe, await fs.realpath(process.execPath));
    assert.equal(record.token_id, tokenId(value));
    assert.equal(record.refreshed, false);
    assert.equal(record.outcome, 'ok');
  });

  test('token through the full CLI (--min-ttl beyond the lifetime: a refresh) is recorded with refreshed', async () => {
    const argv = ['token', '--min-ttl', '100000'];
    const result = await cli(argv);
    assert.equal(result.code, EXIT.ok, describeRun(argv, result, seen));
    seen.push(result.stdout.trim());
    const record = await lastRecord((r) => r.event === 'handout' && r.pid === result.pid);
    assert.ok(record, 'a hand-out record with the pid of the token process');
    assert.equal(record.exe, fullCli, 'the full CLI (the same process, after its exec) handed it out');
    assert.equal(record.ppid, process.pid);
    assert.equal(record.refreshed, true);
    assert.equal(record.token_id, tokenId(result.stdout.trim()));
    const refresh = await lastRecord((r) => r.event === 'refresh' && r.pid === result.pid);
    assert.equal(refresh?.outcome, 'ok', 'the refresh is recorded too');
  });

  test('exec: the command\'s name, the exec process', async () => {
    const argv = ['exec', '--', 'sh', '-c', 'test -n "$DEVICELOGIN_TOKEN"'];
    const result = await cli(argv);
    assert.equal(result.code, EXIT.ok, describeRun(argv, result, seen));
    const record = await lastRecord((r) => r.event === 'handout' && r.pid === result.pid);
    assert.ok(record, 'a hand-out record with the pid of the exec process');
    assert.equal(record.consumer, 'exec');
    assert.equal(record.detail, 'sh', 'the command\'s name, not its arguments');
    assert.equal(record.exe, fullCli);
  });

  test('git: the real git runs the helper; the record names the host and git as the parent', async () => {
    const env = {
      ...home.env, PATH: process.env.PATH, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null',
    };
    const helper = `!'${cliPath()}' git-credential --host https://git.example.test`;
    const git = await run('git', ['-c', 'credential.helper=', '-c', `credential.https://git.example.test.helper=${helper}`,
      'credential', 'fill'], { env, input: 'protocol=https\nhost=git.example.test\n\n' });
    assert.equal(git.code, 0, `git credential fill: ${git.stderr.slice(-500)}`);
    const record = await lastRecord((r) => r.event === 'handout' && r.consumer === 'git');
    assert.ok(record, 'a git hand-out record');
    assert.equal(record.detail, 'https://git.example.test');
    assert.equal(record.exe, fastExe);
    // git runs a "!" helper through sh, which may exec it (dash does) or stay its parent.
    const gitExe = await fs.realpath((await run('sh', ['-c', 'command -v git'])).stdout.trim());
    const shExe = await fs.realpath('/bin/sh');
    if (record.ppid === git.pid) {
      assert.equal(record.parent_exe, gitExe, 'its parent is the git the test started');
    } else {
      assert.equal(record.parent_exe, shExe, 'its parent is the shell git started');
    }
  });

  test('docker: through the helper\'s symlink, the registry named', async () => {
    const setup = await cli(['setup-docker', '--registry', 'registry.example.test']);
    assert.equal(setup.code, EXIT.ok, describeRun(['setup-docker'], setup, seen));
    const helper = path.join(path.dirname(cliPath()), 'docker-credential-devicelogin');
    const result = await run(helper, ['get'], {
      env: { ...home.env, PATH: process.env.PATH, DOCKER_CONFIG: path.join(home.home, '.docker') },
      input: 'registry.example.test',
    });
    assert.equal(result.code, 0, `docker-credential-devicelogin get: ${result.stderr.slice(-300)}`);
    seen.push(JSON.parse(result.stdout).Secret);
    const record = await lastRecord((r) => r.event === 'handout' && r.pid === result.pid);
    assert.ok(record, 'a hand-out record with the helper\'s pid');
    assert.equal(record.consumer, 'docker');
    assert.equal(record.detail, 'registry.example.test');
  });

  test('kubectl-credential: the record names kubectl and the server', async () => {
    const server = 'https://127.0.0.1:6443';
    const info = JSON.stringify({ kind: 'ExecCredential', apiVersion: 'client.authentication.k8s.io/v1',
      spec: { interactive: false, cluster: { server } } });
    const result = await cli(['kubectl-credential', '--server', server], { env: { ...home.env, KUBERNETES_EXEC_INFO: info } });
    assert.equal(result.code, EXIT.ok, describeRun(['kubectl-credential'], result, seen));
    seen.push(JSON.parse(result.stdout).status.token);
    const record = await lastRecord((r) => r.event === 'handout' && r.pid === result.pid);
    assert.ok(record, 'a hand-out record with the plugin\'s pid');
    assert.equal(record.consumer, 'kubectl');
    assert.equal(record.detail, server);
  });

  test('api: the request\'s origin; a refused destination is recorded as a refusal', async () => {
    const meta = await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json();
    let result = await cli(['api', meta.userinfo_endpoint]);
    assert.equal(result.code, EXIT.ok, describeRun(['api'], result, seen));
    const record = await lastRecord((r) => r.event === 'handout' && r.pid === result.pid);
    assert.ok(record, 'a hand-out record with the api process\'s pid');
    assert.equal(record.consumer, 'api');
    assert.equal(record.detail, new URL(meta.userinfo_endpoint).origin);
    result = await cli(['api', 'https://elsewhere.example.test/x']);
    assert.notEqual(result.code, EXIT.ok);
    const refusal = await lastRecord((r) => r.pid === result.pid);
    assert.equal(refusal?.event, 'refusal');
    assert.match(refusal.detail, /^https:\/\/elsewhere\.example\.test(:443)?$/, 'the refused origin');
    assert.equal(refusal.outcome, 'usage');
  });

  test('Python: the native hot path and the C ABI name the interpreter', async (t) => {
    const library = path.join(path.dirname(fastExe), '..', 'lib', 'libdevicelogin.so.0');
    try { await fs.access(library); } catch { t.skip('libdevicelogin.so.0 is not built'); return; }
    const script = 'import sys, devicelogin\n'
      + 's = devicelogin.Session("default")\n'
      + 't = s.token(min_ttl=int(sys.argv[1]))\n'
      + 'print("ok" if t.reveal() else "empty")\n';
    const env = { ...home.env, PATH: process.env.PATH, PYTHONPATH: path.join(repo, 'python'), DEVICELOGIN_LIBRARY: library };
    const python = await fs.realpath('/usr/bin/python3');
    // min_ttl 0: a stored fresh token (the hot path when it is built); 100000: a refresh (the C ABI).
    for (const [minTtl, consumers] of [['0', ['python', 'capi']], ['100000', ['capi']]]) {
      const result = await run('/usr/bin/python3', ['-c', script, minTtl], { env: pythonEnv(env) });
      outputs.push(result.stdout, result.stderr);
      assert.equal(result.code, 0, `python: ${result.stderr.slice(-500)}`);
      const record = await lastRecord((r) => r.event === 'handout' && r.pid === result.pid);
      assert.ok(record, `a hand-out record with the interpreter's pid (min_ttl ${minTtl})`);
      assert.ok(consumers.includes(record.consumer), `consumer ${record.consumer}`);
      assert.equal(record.exe, python, 'the program is the interpreter');
    }
  });

  test('32 concurrent token processes leave 32 whole lines', async () => {
    const before = (await records()).length;
    const runs = await Promise.all(Array.from({ length: 32 }, () => token()));
    const text = await fs.readFile(auditFile, 'utf8');
    assert.ok(text.endsWith('\n'), 'the file ends with a whole line');
    const lines = text.split('\n').filter((l) => l !== '');
    for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), 'every line parses');
    assert.equal(lines.length, before + 32);
    const pids = new Set(lines.map((l) => JSON.parse(l).pid));
    for (const { pid } of runs) assert.ok(pids.has(pid), `a record of pid ${pid}`);
  });

  test('audit shows the trail: --json lines, --profile, --since, the human table', async () => {
    let result = await cli(['audit', '--json']);
    assert.equal(result.code, EXIT.ok, describeRun(['audit'], result, seen));
    const shown = result.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(shown.length, (await records()).length);
    result = await cli(['audit', '--json', '--profile', 'nobody']);
    assert.equal(result.stdout, '');
    result = await cli(['audit', '--json', '--since', '1h']);
    assert.equal(result.stdout.trim().split('\n').length, shown.length);
    result = await cli(['audit', '--since', 'soon']);
    assert.equal(result.code, 2, 'a bad duration is a usage error');
    result = await cli(['audit']);
    assert.equal(result.code, EXIT.ok);
    assert.match(result.stderr, /^TIME +EVENT +PROFILE/);
    assert.match(result.stderr, /handout +default +git +https:\/\/git\.example\.test/);
  });

  test('no token or refresh token in the audit trail or any output (canary)', async () => {
    const file = await fs.readFile(path.join(home.stateDir, 'tokens', 'default.json'), 'utf8');
    const stored = JSON.parse(file);
    const secrets = [
      { label: 'access token', value: stored.access_token },
      { label: 'refresh token', value: stored.refresh_token },
      ...seen.map((value, i) => ({ label: `handed-out token ${i}`, value })),
    ];
    const trail = await fs.readFile(auditFile, 'utf8');
    assert.deepEqual(findSecrets(trail, secrets), [], 'the audit file holds no token');
    assert.deepEqual(findSecrets(outputs.join('\n'), secrets), [], 'no output holds a token');
  });

  test('status --all lists the sets in all three stores and one no profile names; logout --all revokes them', async () => {
    const stores = ['kernel-keyring', 'secret-service'];
    for (const store of stores) {
      const { result, argv } = await loginWithApproval(server, home, {
        store, extra: ['--profile', store === 'kernel-keyring' ? 'kr' : 'ss'],
      });
      assert.equal(result.code, EXIT.ok, `${describeRun(argv, result)} (this suite runs inside scripts/with-keyring.sh)`);
    }
    // A set left by an older version or a deleted profile: a token file no profile names.
    const ghost = path.join(home.stateDir, 'tokens', 'ghost.json');
    await fs.copyFile(path.join(home.stateDir, 'tokens', 'default.json'), ghost);
    await fs.chmod(ghost, 0o600);
    const tokens = { default: (await token('default')).value, kr: (await token('kr')).value, ss: (await token('ss')).value };

    let result = await cli(['status', '--all', '--json']);
    assert.equal(result.code, EXIT.ok, describeRun(['status', '--all'], result, seen));
    const inventory = JSON.parse(result.stdout);
    const where = inventory.tokens.map((e) => `${e.profile}@${e.store}`).sort();
    assert.deepEqual(where, ['default@file', 'ghost@file', 'kr@kernel-keyring', 'ss@secret-service']);
    const entry = (name) => inventory.tokens.find((e) => e.profile === name);
    assert.equal(entry('default').issuer, server.issuer);
    assert.equal(entry('default').binding, 'bearer');
    assert.ok(entry('default').bytes > 0);
    assert.ok(entry('default').last_used > 0, 'the last hand-out, from the audit trail');
    assert.equal(entry('ghost').profile_saved, false);
    assert.equal(entry('ghost').stray, true);
    assert.deepEqual(entry('kr').violations, []);
    result = await cli(['status', '--all']);
    assert.match(result.stderr, /ghost +file \(no profile\)/);

    result = await cli(['logout', '--all', '--json']);
    assert.equal(result.code, EXIT.ok, describeRun(['logout', '--all'], result, seen));
    for (const [name, value] of Object.entries(tokens)) {
      assert.equal((await server.introspect(value)).active, false, `the token of ${name} is revoked`);
    }
    result = await cli(['status', '--all', '--json']);
    assert.deepEqual(JSON.parse(result.stdout).tokens, [], 'nothing is left in any store');
    const logouts = (await records()).filter((r) => r.event === 'logout');
    assert.ok(logouts.some((r) => r.profile === 'kr' && r.outcome === 'revoked'));
  });
});
