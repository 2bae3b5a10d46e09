// The git credential helper with real git, cloning and pushing over smart HTTP from a
// loopback server (`git http-backend` as a CGI behind node:http) that accepts a request only when
// the dev server's introspection calls the Basic password (the token) active. A token the server
// starts rejecting (as after a revocation): git tells the helper `erase` and fails, as git does;
// the next git command gets a refreshed token and succeeds. Secrets are compared, never printed.

import { strict as assert } from 'node:assert';
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { HTTP_BACKEND, startGitServer } from './git_server.mjs';

import {
  cliPath, describeRun, killAllChildren, loginWithApproval, makeHome, runCli, startServer, traceArgv,
} from './harness.mjs';

const haveGit = await fs.access(HTTP_BACKEND).then(() => true, () => false);
const skip = !cliPath() ? 'DEVICELOGIN_BIN is not set' : !haveGit ? 'git (git-http-backend) is not installed' : false;
const EXIT = { ok: 0, usage: 2 };

// An address-space-free bound on what a process may allocate: RLIMIT_DATA (prlimit, util-linux).
// The module needs about 2 MiB of data; 32 MiB leaves room and is far below what reading a 256 MiB
// line whole would take. Sanitizer runtimes reserve their shadow memory as data, so a sanitizer
// build runs the same inputs without the limit (the exit code and the short line are still checked).
const DATA_LIMIT = 32 * 1024 * 1024;
const sanitized = cliPath() ? await fs.readFile(cliPath()).then((b) => b.includes('libasan.so') || b.includes('libtsan.so')) : false;

// Runs the CLI under DATA_LIMIT (unless sanitized) with `prefix` and then `bytes` bytes of 'a' on
// stdin, produced a chunk at a time (the test never holds them): { code, signal, stdout, stderr }.
function runWithHugeInput(args, { env, prefix, bytes }) {
  return new Promise((resolve) => {
    const argv = sanitized ? [cliPath(), ...args] : [`--data=${DATA_LIMIT}`, '--', cliPath(), ...args];
    const child = spawn(sanitized ? argv.shift() : 'prlimit', argv, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => { stdout += chunk; });
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    // The helper stops reading at its limit and exits: EPIPE here is expected.
    child.stdin.on('error', () => {});
    const chunk = Buffer.alloc(1 << 20, 'a');
    let sent = 0;
    child.stdin.write(prefix);
    const pump = () => {
      while (sent < bytes && !child.stdin.destroyed) {
        sent += chunk.length;
        if (!child.stdin.write(chunk)) {
          child.stdin.once('drain', pump);
          return;
        }
      }
      child.stdin.end();
    };
    pump();
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

// Runs a program to completion: { code, stdout, stderr }.
function run(file, args, { env, cwd, input } = {}) {
  return new Promise((resolve) => {
    const child = execFile(file, args, { env, cwd, timeout: 30000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (error.code ?? 1) : 0, stdout, stderr });
    });
    // A child that exits without reading closes the pipe first: not an error here.
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
  });
}

describe('git credential helper with real git over smart HTTP', { skip, timeout: 180000 }, () => {
  let server;
  let home;
  let dir;
  let git;
  let gitEnv;
  let argvWatch;
  const seen = [];
  const cli = async (argv, code, opts = {}) => {
    const result = await runCli(argv, { env: home.env, ...opts });
    assert.equal(result.code, code, describeRun(argv, result, seen));
    return result;
  };
  const storedToken = async () => {
    const token = (await cli(['token'], EXIT.ok)).stdout.trim();
    seen.push(token);
    return token;
  };
  // git (and so every helper it starts) under the argv trace, once it is on.
  const gitRun = (args, cwd) => {
    const traced = argvWatch ? argvWatch.wrap('git', args, gitEnv) : { file: 'git', args, env: gitEnv };
    return run(traced.file, traced.args, { env: traced.env, cwd: cwd ?? dir });
  };

  before(async () => {
    server = await startServer('devserver', { interval: 1 });
    home = await makeHome();
    const { result, argv } = await loginWithApproval(server, home);
    assert.equal(result.code, EXIT.ok, describeRun(argv, result));
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'devicelogin-git-'));
    gitEnv = {
      ...home.env, PATH: process.env.PATH, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', LANG: 'C.UTF-8',
      GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com',
    };
    // The served repository, with one commit, pushes allowed.
    assert.equal((await gitRun(['init', '-q', '--bare', '-b', 'main', path.join(dir, 'srv', 'repo.git')])).code, 0);
    assert.equal((await gitRun(['-C', path.join(dir, 'srv', 'repo.git'), 'config', 'http.receivepack', 'true'])).code, 0);
    assert.equal((await gitRun(['init', '-q', '-b', 'main', path.join(dir, 'seed')])).code, 0);
    await fs.writeFile(path.join(dir, 'seed', 'README'), 'seed\n');
    const seed = path.join(dir, 'seed');
    for (const args of [['add', 'README'], ['commit', '-q', '-m', 'seed'], ['push', '-q', path.join(dir, 'srv', 'repo.git'), 'main']]) {
      const r = await gitRun(args, seed);
      assert.equal(r.code, 0, `git ${args.join(' ')}: ${r.stderr}`);
    }
    git = await startGitServer(path.join(dir, 'srv'), (token) => server.introspect(token));
    // The argv of every program git and the CLI start from here on (strace: none is missed).
    argvWatch = await traceArgv();
  });
  after(async () => {
    killAllChildren();
    await git?.stop();
    await server?.stop();
    await home?.remove();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  test('setup-git writes the helper (an empty helper, then devicelogin), idempotently', async () => {
    for (let i = 0; i < 2; i += 1) await cli(['setup-git', '--host', git.origin], EXIT.ok);
    const helpers = await gitRun(['config', '--global', '--get-all', `credential.${git.origin}.helper`]);
    const lines = helpers.stdout.split('\n').slice(0, -1);
    assert.equal(lines.length, 2, `two helper entries after two runs: ${helpers.stdout}`);
    assert.equal(lines[0], '');
    assert.match(lines[1], /^!'.*devicelogin' git-credential --profile default --host 'http:\/\/127\.0\.0\.1:\d+'$/);
  });

  test('git clone and push with the token from the helper; the server saw an active token', async () => {
    const token = await storedToken();
    let r = await gitRun(['clone', '-q', `${git.origin}/repo.git`, 'work']);
    assert.equal(r.code, 0, `git clone: ${r.stderr}`);
    assert.ok(git.passwords.includes(token), 'the clone authenticated with the stored token');
    const work = path.join(dir, 'work');
    await fs.writeFile(path.join(work, 'file'), 'pushed\n');
    for (const args of [['add', 'file'], ['commit', '-q', '-m', 'push'], ['push', '-q', 'origin', 'main']]) {
      r = await gitRun(args, work);
      assert.equal(r.code, 0, `git ${args.join(' ')}: ${r.stderr}`);
    }
    r = await gitRun(['--git-dir', path.join(dir, 'srv', 'repo.git'), 'log', '--format=%s', '-1', 'main']);
    assert.equal(r.stdout.trim(), 'push', 'the push reached the served repository');
  });

  test('a token the server starts rejecting: git erases it and fails; the next git command gets a refreshed token', async () => {
    const token = await storedToken();
    git.rejected.add(token);
    const work = path.join(dir, 'work');
    let r = await gitRun(['fetch', '-q', 'origin'], work);
    assert.notEqual(r.code, 0, 'git fails when its credential is rejected (git does not retry)');
    const refreshed = await storedToken();
    assert.notEqual(refreshed, token, 'erase refreshed the stored token');
    r = await gitRun(['fetch', '-q', 'origin'], work);
    assert.equal(r.code, 0, `the next git command succeeds: ${r.stderr}`);
    assert.equal(git.passwords.at(-1), refreshed, 'with the refreshed token');
    const status = await cli(['status', '--json'], EXIT.ok);
    assert.equal(JSON.parse(status.stdout).logged_in, true, 'erase kept the login');
  });

  test('git-credential answers only for its host; store is a no-op; bad input is a one-line exit 2', async () => {
    const base = ['git-credential', '--host', git.origin];
    let r = await cli([...base, 'get'], EXIT.ok, { input: 'protocol=https\nhost=other.example\n\n' });
    assert.equal(r.stdout, '', 'nothing for another host');
    const [, hostPort] = git.origin.split('://');
    r = await cli([...base, 'get'], EXIT.ok, { input: `protocol=http\nhost=${hostPort}\n\n` });
    const token = await storedToken();
    assert.ok(r.stdout.startsWith(`username=x-access-token\npassword=${token}\n`), 'username and the token');
    const before = await fs.readFile(path.join(home.configDir, 'profiles', 'default.json'), 'utf8');
    r = await cli([...base, 'store'], EXIT.ok, { input: `protocol=http\nhost=${hostPort}\nusername=u\npassword=p\n\n` });
    assert.equal(r.stdout, '');
    assert.equal(await storedToken(), token, 'store changed nothing');
    for (const input of ['no equals sign\n\n', '=value\n\n', `protocol=http\nhost=${'h'.repeat(70000)}\n\n`]) {
      r = await cli([...base, 'get'], EXIT.usage, { input });
      assert.equal(r.stdout, '');
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
    await cli([...base, 'fetch'], EXIT.usage, { input: '\n' });
    assert.equal(await fs.readFile(path.join(home.configDir, 'profiles', 'default.json'), 'utf8'), before);
    assert.equal(await storedToken(), token, 'bad input changed nothing stored');
  });

  test('plain http only for loopback hosts: setup-git and git-credential refuse http://git.example.com (exit 2)', async () => {
    const token = await storedToken();
    const config = path.join(home.home, '.gitconfig');
    const before = await fs.readFile(config, 'utf8').catch(() => '');
    for (const host of ['http://git.example.com', 'http://git.example.com:8080', 'http://10.0.0.1', 'http://[::2]:80']) {
      let r = await cli(['setup-git', '--host', host], EXIT.usage);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /https/, 'the line names the rule');
      // The fast path (a fresh token) and the module share the rule: no token for an http origin.
      const hostPort = host.slice('http://'.length);
      r = await cli(['git-credential', '--host', host, 'get'], EXIT.usage, { input: `protocol=http\nhost=${hostPort}\n\n` });
      assert.ok(r.stdout === '' && !r.stderr.includes(token), 'no token for an http origin');
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
    assert.equal(await fs.readFile(config, 'utf8').catch(() => ''), before, 'git config unchanged');
    // Loopback hosts keep plain http (127.0.0.0/8, localhost, [::1]).
    for (const host of ['http://localhost:8080', 'http://127.0.0.2', 'http://[::1]:8080']) {
      await cli(['setup-git', '--host', host], EXIT.ok);
      await cli(['setup-git', '--host', host, '--remove'], EXIT.ok);
    }
  });

  test('8 parallel setup-git all succeed and leave a complete config', async () => {
    const hosts = Array.from({ length: 8 }, (_, i) => `https://git-${i}.example.com`);
    const runs = await Promise.all(hosts.map((host) => runCli(['setup-git', '--host', host], { env: home.env })));
    runs.forEach((r, i) => assert.equal(r.code, EXIT.ok, describeRun(['setup-git', '--host', hosts[i]], r)));
    for (const host of hosts) {
      const helpers = await gitRun(['config', '--global', '--get-all', `credential.${host}.helper`]);
      const lines = helpers.stdout.split('\n').slice(0, -1);
      assert.equal(lines.length, 2, `${host}: ${helpers.stdout}`);
      assert.equal(lines[0], '');
      assert.match(lines[1], /git-credential --profile default --host 'https:\/\/git-\d\.example\.com'$/);
    }
    const removals = await Promise.all(hosts.map((host) => runCli(['setup-git', '--host', host, '--remove'], { env: home.env })));
    removals.forEach((r) => assert.equal(r.code, EXIT.ok, describeRun(['setup-git', '--remove'], r)));
    const left = await gitRun(['config', '--global', '--get-regexp', '^credential\\.https://git-']);
    assert.equal(left.stdout, '', 'every removal took its entries out');
  });

  test('a 256 MiB line: get, store and erase stop reading at 64 KiB (bounded memory), one short line, exit 2', async () => {
    const env = { ...home.env, PATH: process.env.PATH };
    // The limit itself is no obstacle: a normal store runs under it.
    const small = await runWithHugeInput(['git-credential', '--host', git.origin, 'store'],
      { env, prefix: 'protocol=http\nhost=x\n\n', bytes: 0 });
    assert.equal(small.code, EXIT.ok, `a normal store under the limit: ${small.stderr}`);
    for (const op of ['get', 'store', 'erase']) {
      const r = await runWithHugeInput(['git-credential', '--host', git.origin, op],
        { env, prefix: 'protocol=http\nhost=', bytes: 256 * 1024 * 1024 });
      assert.equal(r.code, EXIT.usage, `${op}: exit ${r.code} (signal ${r.signal}): ${r.stderr.slice(0, 300)}`);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^devicelogin git-credential: more than 64 KiB of input\n$/, `${op}: ${r.stderr.slice(0, 300)}`);
    }
  });

  test('a helper git runs after devicelogin\'s: setup-git and status warn; logout makes git\'s store forget the token', async () => {
    const credentials = path.join(home.home, '.git-credentials');
    const warnings = (stderr) => stderr.split('\n').filter((line) => line.includes('warning'));
    let r = await cli(['status'], EXIT.ok);
    assert.deepEqual(warnings(r.stderr), [], 'only devicelogin\'s helper: no warning');
    // A helper from the command-line scope, which git reads after every config file.
    const cacheEnv = { ...home.env, GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'credential.helper', GIT_CONFIG_VALUE_0: 'cache' };
    r = await cli(['setup-git', '--host', git.origin], EXIT.ok, { env: cacheEnv });
    assert.equal(warnings(r.stderr).length, 1, r.stderr);
    assert.match(warnings(r.stderr)[0], /"cache"/);
    // `credential.helper store` (it would write the token to disk in plain text) added to the
    // global config after setup-git.
    assert.equal((await gitRun(['config', '--global', '--add', 'credential.helper', 'store'])).code, 0);
    r = await cli(['status'], EXIT.ok);
    assert.equal(warnings(r.stderr).length, 1, r.stderr);
    assert.ok(warnings(r.stderr)[0].includes(`${git.origin} to the credential helper "store"`), r.stderr);
    const token = await storedToken();
    const holdsToken = async () => (await fs.readFile(credentials, 'utf8').catch(() => '')).includes(token);
    r = await gitRun(['fetch', '-q', 'origin'], path.join(dir, 'work'));
    assert.equal(r.code, 0, `git fetch: ${r.stderr}`);
    assert.ok(await holdsToken(), 'git handed the token to its store helper (so the test can show logout clears it)');
    await cli(['logout'], EXIT.ok);
    assert.ok(!(await holdsToken()), 'after logout ~/.git-credentials still holds the token');
    // Back as the later tests expect: no store helper, logged in.
    assert.equal((await gitRun(['config', '--global', '--unset-all', 'credential.helper'])).code, 0);
    const { result, argv } = await loginWithApproval(server, home);
    assert.equal(result.code, EXIT.ok, describeRun(argv, result));
  });

  test('setup-git --remove takes the helper out (idempotent); git then gets no credential', async () => {
    for (let i = 0; i < 2; i += 1) await cli(['setup-git', '--host', git.origin, '--remove'], EXIT.ok);
    const helpers = await gitRun(['config', '--global', '--get-all', `credential.${git.origin}.helper`]);
    assert.equal(helpers.stdout, '');
    const r = await gitRun(['ls-remote', `${git.origin}/repo.git`]);
    assert.notEqual(r.code, 0, 'without the helper git cannot authenticate');
  });

  test('no token was ever in a command line while git and the helper ran', async () => {
    const watched = await argvWatch.stop();
    argvWatch = undefined;
    // What the trace saw proves it covered the runs: git's own commands, and the helper git started.
    assert.ok(watched.saw(/^git (ls-remote|clone|fetch|push)\b/), `git's command lines were traced (${watched.commands} in all)`);
    assert.ok(watched.saw(/ git-credential --profile \S+ --host \S+ get$/), `the helper's command line as git ran it was traced (${watched.commands} in all)`);
    const secrets = Object.fromEntries([...new Set([...seen, ...git.passwords])].map((value, i) => [`token #${i}`, value]));
    assert.ok(Object.keys(secrets).length >= 2, 'the tokens git used are known');
    assert.deepEqual(watched.found(secrets), [], 'a token was in some process\'s argv');
  });
});
