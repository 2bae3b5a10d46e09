// The token agent over a real OpenSSH: `devicelogin agent` on the "local" side, Debian's sshd on
// a loopback port with its own config, host key and a throwaway client key, and `ssh` forwarding
// the agent's socket with the block `devicelogin setup-ssh` prints (RemoteForward + SetEnv). The
// "remote" side is the current user with a separate HOME: sshd run by an unprivileged user can
// log in only that user, and a throwaway system user would need root on every CI machine; what
// the suite proves is what crosses the socket and what lands under the remote HOME, which the
// separate HOME (set by the remote command) isolates.
// Checks: `token` and `git clone` on the remote side get the agent's token while the remote store
// stays empty; 8 racing remote calls on an expiring token make exactly one refresh (the grants
// the dev server's recording proxy saw); the refresh token is nowhere on the remote side (files,
// environment, argv); another uid is refused by SO_PEERCRED; hostile requests are refused and the
// agent keeps serving. Secrets are compared, never printed.

import { strict as assert } from 'node:assert';
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { HTTP_BACKEND, startGitServer } from './git_server.mjs';
import {
  canTraceArgv, cliPath, closedPort, describeRun, findSecrets, killAllChildren, listFiles, loginWithApproval, makeHome,
  runCli, sleep, startCli, startServer,
} from './harness.mjs';

const SSHD = '/usr/sbin/sshd';
const haveSsh = await fs.access(SSHD).then(() => true, () => false);
const haveGit = await fs.access(HTTP_BACKEND).then(() => true, () => false);
const SOCKET_ACTIVATE = '/usr/bin/systemd-socket-activate';
const haveSocketActivate = await fs.access(SOCKET_ACTIVATE).then(() => true, () => false);
// The desktop confirmation's test: a private dbus-daemon and a notification server in Python
// (Debian's python3-dbus and python3-gi; /usr/bin/python3, which has them).
const PYTHON = '/usr/bin/python3';
const NOTIFICATION_SERVER = path.join(path.dirname(new URL(import.meta.url).pathname), 'notification_server.py');
const desktopSkip = await new Promise((resolve) => {
  execFile(PYTHON, ['-c', 'import dbus, dbus.mainloop.glib; from gi.repository import GLib'], (error) => {
    if (error) resolve('needs python3-dbus and python3-gi');
    else execFile('dbus-daemon', ['--version'], (e) => resolve(e ? 'needs dbus-daemon (dbus)' : false));
  });
});
const skip = !cliPath() ? 'DEVICELOGIN_BIN is not set' : !haveSsh ? 'openssh-server is not installed' : false;
const EXIT = { ok: 0, usage: 2, notLoggedIn: 5, network: 6 };
const PROFILE = 'work';
// Token lifetime at the dev server and the remote side's --min-ttl: the race waits until the
// stored token has less than MIN_TTL left, so every call needs a refresh and one suffices.
const TOKEN_TTL = 40;
const MIN_TTL = 20;

function run(file, args, { env, cwd, input, timeout = 60000 } = {}) {
  return new Promise((resolve) => {
    const child = execFile(file, args, { env, cwd, timeout, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? (error.code ?? 1) : 0, stdout, stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
  });
}

// One framed request on a raw connection: { frames (parsed answers), closed }.
function rawExchange(socketPath, bytes, { endAfter = true } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(socketPath);
    const chunks = [];
    sock.on('error', reject);
    sock.on('connect', () => {
      sock.write(bytes);
      if (endAfter) sock.end();
    });
    sock.on('data', (chunk) => chunks.push(chunk));
    sock.on('close', () => {
      const all = Buffer.concat(chunks);
      const frames = [];
      for (let at = 0; at + 4 <= all.length;) {
        const length = all.readUInt32BE(at);
        frames.push(JSON.parse(all.subarray(at + 4, at + 4 + length).toString('utf8')));
        at += 4 + length;
      }
      resolve({ frames });
    });
  });
}
const frame = (text) => {
  const body = Buffer.from(text, 'utf8');
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length);
  return Buffer.concat([header, body]);
};

describe('token agent through OpenSSH socket forwarding', { skip, timeout: 300000 }, () => {
  let server;
  let local;      // the agent's machine: signed in
  let remote;     // the remote side's HOME: never signed in
  let dir;
  let agent;
  let agentSocket;
  let sshConfig;
  let remoteSocket;
  let remoteEnv;  // the remote command's environment prefix (env VAR=... ), HOME and XDG dirs
  let sshd;
  const seen = [];

  // Runs `command` (a shell command line) on the "remote" side through ssh with the forwarding.
  const ssh = (command, opts = {}) => run('ssh', ['-F', sshConfig, 'agent-test', `${remoteEnv} ${command}`], {
    env: { PATH: process.env.PATH, HOME: local.home }, ...opts,
  });
  const localCli = async (argv, code) => {
    const result = await runCli(argv, { env: local.env });
    assert.equal(result.code, code, describeRun(argv, result, seen));
    return result;
  };
  // The agent's machine's audit trail (docs/audit.md).
  const auditRecords = async () => (await fs.readFile(path.join(local.env.XDG_STATE_HOME, 'devicelogin', 'audit.jsonl'), 'utf8')
    .catch(() => '')).split('\n').filter(Boolean).map((line) => JSON.parse(line));
  const storedTokens = async () => {
    const tokens = await server.tokens();
    for (const t of tokens) seen.push(t.access_token, t.refresh_token);
    return tokens;
  };

  before(async () => {
    server = await startServer('devserver', { interval: 1, accessTokenTtl: TOKEN_TTL });
    local = await makeHome();
    remote = await makeHome();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'devicelogin-agent-'));
    const { result, argv } = await loginWithApproval(server, local, { extra: ['--profile', PROFILE], record: true });
    assert.equal(result.code, EXIT.ok, describeRun(argv, result));

    // The agent's runtime directory (as /run/user/UID): private.
    const runtime = path.join(dir, 'run-local');
    await fs.mkdir(runtime, { mode: 0o700 });
    local.env.XDG_RUNTIME_DIR = runtime;
    agentSocket = path.join(runtime, 'devicelogin', 'agent.sock');
    agent = startCli(['agent', '--forward', PROFILE], { env: local.env });
    agent.child.stdin.end();
    await agent.waitForStderr(/listening on/);

    // sshd: its own config, host key and authorized client key; a free loopback port.
    const keys = path.join(dir, 'keys');
    await fs.mkdir(keys, { mode: 0o700 });
    for (const name of ['host', 'client']) {
      const r = await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(keys, name)]);
      assert.equal(r.code, 0, r.stderr);
    }
    await fs.copyFile(path.join(keys, 'client.pub'), path.join(keys, 'authorized_keys'));
    const port = await closedPort();
    const config = path.join(dir, 'sshd_config');
    await fs.writeFile(config, [
      `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${path.join(keys, 'host')}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`, `AuthorizedKeysFile ${path.join(keys, 'authorized_keys')}`,
      'StrictModes no', 'UsePAM no', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes', 'PermitRootLogin prohibit-password', 'AllowStreamLocalForwarding yes',
      'StreamLocalBindUnlink yes', 'AcceptEnv DEVICELOGIN_AGENT', 'LogLevel ERROR', '',
    ].join('\n'), { mode: 0o600 });
    // sshd started as root needs its privilege separation directory (the package's tmpfiles make it at boot).
    if (process.getuid() === 0) await fs.mkdir('/run/sshd', { recursive: true, mode: 0o755 });
    sshd = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let sshdErr = '';
    sshd.stderr.on('data', (c) => { sshdErr += c; });

    // The remote side's socket, and the client config: setup-ssh's block plus where the host is.
    const remoteRuntime = path.join(dir, 'run-remote');
    await fs.mkdir(remoteRuntime, { mode: 0o700 });
    remoteSocket = path.join(remoteRuntime, 'devicelogin-agent.sock');
    const block = await localCli(['setup-ssh', '--host', 'agent-test', '--remote-socket', remoteSocket], EXIT.ok);
    assert.match(block.stdout, new RegExp(`RemoteForward ${remoteSocket} ${agentSocket}\n`));
    assert.match(block.stdout, new RegExp(`SetEnv DEVICELOGIN_AGENT=${remoteSocket}\n`));
    sshConfig = path.join(dir, 'ssh_config');
    await fs.writeFile(sshConfig, `${block.stdout}Host agent-test\n    HostName 127.0.0.1\n    Port ${port}\n` +
      `    IdentityFile ${path.join(keys, 'client')}\n    IdentitiesOnly yes\n    BatchMode yes\n` +
      '    StrictHostKeyChecking no\n    UserKnownHostsFile /dev/null\n    LogLevel ERROR\n    ExitOnForwardFailure yes\n', { mode: 0o600 });
    remoteEnv = `env HOME=${remote.home} XDG_CONFIG_HOME=${remote.env.XDG_CONFIG_HOME} XDG_STATE_HOME=${remote.env.XDG_STATE_HOME} ` +
      `XDG_CACHE_HOME=${remote.env.XDG_CACHE_HOME}`;
    // sshd is up when a command runs through it.
    for (let i = 0; ; i += 1) {
      const r = await ssh('true');
      if (r.code === 0) break;
      assert.ok(i < 50, `sshd did not accept a connection: ${r.stderr} ${sshdErr}`);
      await sleep(200);
    }
  });
  after(async () => {
    killAllChildren();
    if (sshd) try { process.kill(-sshd.pid, 'SIGTERM'); } catch { /* gone */ }
    await server?.stop();
    await local?.remove();
    await remote?.remove();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  test('remote token comes from the agent; the remote store stays empty', async () => {
    const r = await ssh(`${cliPath()} token --profile ${PROFILE}`);
    assert.equal(r.code, EXIT.ok, `remote token: exit ${r.code}: ${r.stderr}`);
    const token = r.stdout.trim();
    seen.push(token);
    assert.equal((await server.introspect(token)).active, true, 'the remote token is active at the server');
    const [, latest] = [null, (await storedTokens()).at(-1)];
    assert.equal(token, latest.access_token, 'the token is the one the agent holds');
    assert.deepEqual(await listFiles(remote.home), [], 'nothing is stored under the remote HOME');
    // Recorded on the agent's machine, once, as the agent's: the peer is the local ssh client
    // carrying the forwarded connection, and its destination names the remote host.
    const handouts = (await auditRecords()).filter((r) => r.event === 'handout' && r.profile === PROFILE);
    assert.equal(handouts.length, 1, `one hand-out record: ${JSON.stringify(handouts)}`);
    assert.equal(handouts[0].consumer, 'agent');
    assert.equal(handouts[0].outcome, 'ok');
    assert.match(handouts[0].detail, /^pid \d+ exe \S*\/ssh command ssh ssh agent-test$/);
    assert.match(handouts[0].token_id, /^(jti|sha256):/);
    assert.doesNotMatch(JSON.stringify(await auditRecords()), new RegExp(token), 'no token in the audit trail');
  });

  test('git clone on the remote side through the helper gets its password from the agent', { skip: haveGit ? false : 'git-http-backend is not installed' }, async () => {
    // The served repository, with one commit.
    const gitEnv = { PATH: process.env.PATH, HOME: local.home, GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' };
    const bare = path.join(dir, 'srv', 'repo.git');
    const seed = path.join(dir, 'seed');
    for (const [args, cwd] of [[['init', '-q', '--bare', '-b', 'main', bare]], [['init', '-q', '-b', 'main', seed]]]) {
      assert.equal((await run('git', args, { env: gitEnv, cwd })).code, 0);
    }
    await fs.writeFile(path.join(seed, 'README'), 'seed\n');
    for (const args of [['add', 'README'], ['commit', '-q', '-m', 'seed'], ['push', '-q', bare, 'main']]) {
      const r = await run('git', args, { env: gitEnv, cwd: seed });
      assert.equal(r.code, 0, `git ${args.join(' ')}: ${r.stderr}`);
    }
    const git = await startGitServer(path.join(dir, 'srv'), (token) => server.introspect(token));
    try {
      const helper = `!${cliPath()} git-credential --profile ${PROFILE} --host ${git.origin}`;
      const clone = path.join(dir, 'clone');
      const r = await ssh(`git -c credential.helper= -c "credential.${git.origin}.helper=${helper}" clone -q ${git.origin}/repo.git ${clone}`);
      assert.equal(r.code, 0, `git clone: ${r.stderr}`);
      assert.equal(await fs.readFile(path.join(clone, 'README'), 'utf8'), 'seed\n');
      assert.ok(git.passwords.length > 0, 'git sent a password');
      const tokens = (await storedTokens()).map((t) => t.access_token);
      assert.ok(git.passwords.every((p) => tokens.includes(p)), 'every password git sent was the agent\'s token');
      assert.deepEqual(await listFiles(remote.home), [], 'nothing is stored under the remote HOME');
    } finally {
      await git.stop();
    }
  });

  test('8 remote calls racing an expiring token make exactly one refresh', async () => {
    const status = JSON.parse((await localCli(['status', '--profile', PROFILE, '--json'], EXIT.ok)).stdout);
    const left = status.expires_at - Math.floor(Date.now() / 1000);
    if (left >= MIN_TTL) await sleep((left - MIN_TTL + 1) * 1000);
    const before = (await storedTokens()).filter((t) => t.grant_type === 'refresh_token').length;
    const script = Array.from({ length: 8 }, (_, i) => `${cliPath()} token --profile ${PROFILE} --min-ttl ${MIN_TTL} >${dir}/race${i} 2>&1 &`).join(' ');
    const r = await ssh(`sh -c '${script} wait'`);
    assert.equal(r.code, 0, r.stderr);
    const outs = await Promise.all(Array.from({ length: 8 }, (_, i) => fs.readFile(path.join(dir, `race${i}`), 'utf8')));
    const tokens = await storedTokens();
    const refreshes = tokens.filter((t) => t.grant_type === 'refresh_token').length - before;
    assert.equal(refreshes, 1, 'exactly one refresh grant at the server');
    const newest = tokens.at(-1).access_token;
    assert.ok(outs.every((o) => o.trim() === newest), 'all 8 calls printed the refreshed token');
  });

  test('the refresh token is nowhere on the remote side (files, environment, argv)', async () => {
    const secrets = [];
    for (const [i, t] of (await storedTokens()).entries()) {
      if (t.refresh_token) secrets.push({ label: `refresh token ${i}`, value: t.refresh_token });
    }
    assert.ok(secrets.length > 0);
    // The environment the remote command sees (SetEnv carried DEVICELOGIN_AGENT), and the argv of
    // everything the remote token command runs (strace on the remote side).
    const env = await ssh('env');
    assert.equal(env.code, 0, env.stderr);
    assert.match(env.stdout, new RegExp(`^DEVICELOGIN_AGENT=${remoteSocket}$`, 'm'), 'SetEnv arrived');
    let argvText = '';
    if (canTraceArgv()) {
      const trace = path.join(dir, 'remote-trace');
      // (LeakSanitizer cannot run under ptrace: a sanitized build's leak check is off while traced.)
      const r = await ssh(`ASAN_OPTIONS=detect_leaks=0 strace -f -qq -e trace=execve -s 1048576 -o ${trace} ${cliPath()} token --profile ${PROFILE}`);
      assert.equal(r.code, 0, r.stderr);
      argvText = await fs.readFile(trace, 'utf8');
      assert.match(argvText, /devicelogin-cli/, 'the trace saw the full CLI');
      await fs.rm(trace);
    }
    let files = '';
    for (const file of await listFiles(remote.home)) files += await fs.readFile(file, 'latin1');
    assert.deepEqual(findSecrets(`${env.stdout}\n${argvText}\n${files}`, secrets), []);
  });

  test('another uid is refused by SO_PEERCRED and the agent names it', { skip: process.getuid() !== 0 ? 'needs root to run a client as another user' : false }, async () => {
    // Open the path to the socket so that only the agent's own check stands in the way.
    for (const p of [local.home, path.dirname(path.dirname(agentSocket)), path.dirname(agentSocket), dir]) await fs.chmod(p, 0o711);
    await fs.chmod(agentSocket, 0o666);
    try {
      const r = await runCli(['token', '--profile', PROFILE], {
        env: { HOME: '/nonexistent', DEVICELOGIN_AGENT: agentSocket }, user: { uid: 65534, gid: 65534 },
      });
      assert.equal(r.code, EXIT.notLoggedIn, describeRun(['token'], r, seen));
      assert.match(r.stderr, /refused/);
      assert.equal(r.stdout, '');
      await agent.waitForStderr(/refused a connection from uid 65534/);
    } finally {
      await fs.chmod(agentSocket, 0o600);
      for (const p of [path.dirname(agentSocket), path.dirname(path.dirname(agentSocket)), dir, local.home]) await fs.chmod(p, 0o700);
    }
  });

  test('hostile requests get an error and the agent keeps serving', async () => {
    // A silent client holds a connection while others are served.
    const silent = net.createConnection(agentSocket);
    let silentClosed = false;
    const silentAnswer = new Promise((resolve) => {
      const chunks = [];
      silent.on('data', (c) => chunks.push(c));
      silent.on('close', () => { silentClosed = true; resolve(Buffer.concat(chunks)); });
      silent.on('error', () => {});
    });
    const huge = Buffer.alloc(4);
    huge.writeUInt32BE(0x7fffffff);
    const big = await rawExchange(agentSocket, huge, { endAfter: false });
    assert.equal(big.frames[0]?.error, 'bad_request');
    const bad = await rawExchange(agentSocket, frame('{"op":'));
    assert.equal(bad.frames[0]?.error, 'bad_request');
    const unknown = await rawExchange(agentSocket, frame('{"op":"refresh_token","profile":"work"}'));
    assert.equal(unknown.frames[0]?.error, 'bad_request');
    const status = await rawExchange(agentSocket, frame('{"op":"status"}'));
    assert.equal(status.frames[0]?.ok, true);
    assert.deepEqual(status.frames[0].profiles.map((p) => p.profile), [PROFILE]);
    const r = await runCli(['token', '--profile', PROFILE], { env: { ...remote.env, DEVICELOGIN_AGENT: agentSocket } });
    assert.equal(r.code, EXIT.ok, describeRun(['token'], r, seen));
    seen.push(r.stdout.trim());
    // All of that was served while the silent client still held its connection (the agent gives
    // it 5 s to send a request; an agent serving one connection at a time would have answered it
    // first).
    assert.equal(silentClosed, false, 'the others were served while the silent client waited');
    // The silent one is answered with a timeout refusal, then closed.
    const answer = await silentAnswer;
    assert.equal(JSON.parse(answer.subarray(4).toString('utf8')).error, 'timeout');
  });

  test('exec takes its token from the agent too', async () => {
    const env = { ...remote.env, DEVICELOGIN_AGENT: agentSocket };
    const exec = await runCli(['exec', '--profile', PROFILE, '--min-ttl', '0', '--', 'sh', '-c', 'printf %s "$DEVICELOGIN_TOKEN" | sha256sum'], { env });
    assert.equal(exec.code, EXIT.ok, describeRun(['exec'], exec, seen));
    const latest = (await storedTokens()).at(-1).access_token;
    const digest = (await import('node:crypto')).createHash('sha256').update(latest).digest('hex');
    assert.equal(exec.stdout.split(' ')[0], digest, 'exec handed the agent\'s token');
    assert.deepEqual(await listFiles(remote.home), [], 'nothing is stored under the remote HOME');
  });

  test('remote api: the agent hands a token for an allowed URL only; another origin gets nothing', async () => {
    const meta = await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json();
    const allowed = await ssh(`${cliPath()} api --profile ${PROFILE} ${meta.userinfo_endpoint}`);
    assert.equal(allowed.code, EXIT.ok, `remote api: exit ${allowed.code}: ${allowed.stderr}`);
    assert.ok(JSON.parse(allowed.stdout).sub, 'userinfo answered with a subject');
    assert.deepEqual(await listFiles(remote.home), [], 'nothing is stored under the remote HOME');
    // Another origin (same host, another port): the agent refuses, no request reaches it.
    const requests = [];
    const other = http.createServer((req, res) => { requests.push(req.headers.authorization ?? ''); res.end('{}'); });
    await new Promise((resolve) => { other.listen(0, '127.0.0.1', resolve); });
    try {
      const env = { ...remote.env, DEVICELOGIN_AGENT: agentSocket };
      const refused = await runCli(['api', '--profile', PROFILE, `http://127.0.0.1:${other.address().port}/steal`], { env });
      assert.equal(refused.code, EXIT.usage, describeRun(['api'], refused, seen));
      assert.match(refused.stderr, /^devicelogin api: the agent at .* refused a token of profile "work" for that URL \(refusing to send the token .*\n$/);
      assert.ok(refused.stdout === '', 'nothing printed');
      assert.deepEqual(requests, [], 'the other origin got no request');
      await agent.waitForStderr(/refused a token of profile work for a destination the profile does not allow/);
      // A path has nothing to resolve against on this side: one line, nothing asked.
      const relative = await runCli(['api', '--profile', PROFILE, '/items/1'], { env });
      assert.equal(relative.code, EXIT.usage);
      assert.match(relative.stderr, /^devicelogin api: through the agent \(DEVICELOGIN_AGENT\), api needs a full http or https URL.*\n$/);
    } finally {
      other.close();
    }
  });

  test('errors: not forwarded (5), no agent (6), lost connection (6): one line each', async () => {
    const env = { ...remote.env, DEVICELOGIN_AGENT: agentSocket };
    const other = await runCli(['token', '--profile', 'gh'], { env });
    assert.equal(other.code, EXIT.notLoggedIn);
    assert.match(other.stderr, /^devicelogin token: the agent at .* does not forward profile "gh"; .*--forward\n$/);
    const refusal = (await auditRecords()).find((r) => r.event === 'refusal' && r.profile === 'gh');
    assert.ok(refusal, 'the agent\'s refusal is in its audit trail');
    assert.equal(refusal.consumer, 'agent');
    assert.equal(refusal.outcome, 'refused');
    assert.match(refusal.reason, /not forwarded/);
    // The peer is the `token` process itself here (no ssh in between): the executable it runs (the
    // lean executable hands a request to an agent over to the full CLI, which it execs).
    assert.match(refusal.detail, /^pid \d+ exe \/\S+\/devicelogin(-cli)? command devicelogin(-cli)?$/);
    const none = await runCli(['token', '--profile', PROFILE], { env: { ...env, DEVICELOGIN_AGENT: path.join(dir, 'nothing.sock') } });
    assert.equal(none.code, EXIT.network);
    assert.match(none.stderr, /^devicelogin token: no agent answers at .*; start devicelogin agent .*\n$/);
    // A listener that accepts and closes: the connection is lost before an answer.
    const dropSocket = path.join(dir, 'drop.sock');
    const drop = net.createServer((c) => c.destroy());
    await new Promise((resolve) => { drop.listen(dropSocket, resolve); });
    try {
      const lost = await runCli(['token', '--profile', PROFILE], { env: { ...env, DEVICELOGIN_AGENT: dropSocket } });
      assert.equal(lost.code, EXIT.network);
      assert.match(lost.stderr, /^devicelogin token: the agent at .* closed the connection before answering .*\n$/);
    } finally {
      drop.close();
    }
  });
});

// The agent's own options, on this machine (no ssh needed): --confirm on a terminal (script(1)
// gives the agent one, and the test types the answer), --daemon, and setup-ssh --write.
describe('token agent: --confirm, --daemon, setup-ssh --write', { skip: cliPath() ? false : 'DEVICELOGIN_BIN is not set', timeout: 180000 }, () => {
  let server;
  let local;
  let dir;
  const seen = [];
  const withRuntime = async (name) => {
    const runtime = path.join(dir, name);
    await fs.mkdir(runtime, { mode: 0o700 });
    return { env: { ...local.env, XDG_RUNTIME_DIR: runtime }, socket: path.join(runtime, 'devicelogin', 'agent.sock') };
  };

  before(async () => {
    server = await startServer('devserver', { interval: 1 });
    local = await makeHome();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'devicelogin-agent-opts-'));
    const { result, argv } = await loginWithApproval(server, local, { extra: ['--profile', PROFILE] });
    assert.equal(result.code, EXIT.ok, describeRun(argv, result));
  });
  after(async () => {
    killAllChildren();
    await server?.stop();
    await local?.remove();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  test('--confirm: n refuses (exit 5), y hands the token; without a terminal it refuses', async () => {
    const { env, socket } = await withRuntime('run-confirm');
    const agent = spawn('script', ['-qfec', `${cliPath()} agent --forward ${PROFILE} --confirm`, '/dev/null'], {
      env: { PATH: process.env.PATH, LANG: 'C.UTF-8', ...env }, stdio: ['pipe', 'pipe', 'pipe'], detached: true,
    });
    let screen = '';
    agent.stdout.on('data', (c) => { screen += c; });
    try {
      for (let i = 0; !screen.includes('listening on'); i += 1) {
        assert.ok(i < 100, `the agent did not start: ${screen}`);
        await sleep(100);
      }
      const remoteEnv = { ...local.env, HOME: dir, DEVICELOGIN_AGENT: socket };
      for (const [answer, code] of [['n', EXIT.notLoggedIn], ['y', EXIT.ok]]) {
        const prompts = screen.split('[y/N]').length;
        const call = runCli(['token', '--profile', PROFILE], { env: remoteEnv });
        for (let i = 0; screen.split('[y/N]').length === prompts; i += 1) {
          assert.ok(i < 100, `no prompt: ${screen}`);
          await sleep(100);
        }
        assert.match(screen, /hand a token of profile "work" to .*\? \[y\/N\] $/);
        agent.stdin.write(`${answer}\n`);
        const r = await call;
        seen.push(r.stdout.trim());
        assert.equal(r.code, code, describeRun(['token'], r, seen));
        if (answer === 'n') assert.match(r.stderr, /refused the request \(refused at the agent's confirmation prompt\)/);
        else assert.ok(r.stdout.trim().length > 0);
      }
    } finally {
      try { process.kill(-agent.pid, 'SIGTERM'); } catch { /* gone */ }
    }
    // Without a terminal (no controlling tty: started detached by node) nobody can say yes.
    const headless = await withRuntime('run-headless');
    const lone = startCli(['agent', '--forward', PROFILE, '--confirm'], { env: headless.env });
    lone.child.stdin.end();
    await lone.waitForStderr(/listening on/);
    const r = await runCli(['token', '--profile', PROFILE], { env: { ...local.env, DEVICELOGIN_AGENT: headless.socket } });
    assert.equal(r.code, EXIT.notLoggedIn, describeRun(['token'], r, seen));
    lone.kill();
  });

  test('--confirm without a terminal but with a display asks through a desktop notification: only the server\'s Allow hands the token', { skip: desktopSkip }, async () => {
    const { env, socket } = await withRuntime('run-desktop');
    // A private session bus, and a notification server on it that answers each notification as planned.
    const bus = spawn('dbus-daemon', ['--session', '--nofork', '--print-address=1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let notifier;
    let agent;
    try {
      const address = await new Promise((resolve, reject) => {
        let out = '';
        bus.stdout.on('data', (chunk) => {
          out += chunk;
          if (out.includes('\n')) resolve(out.split('\n')[0].trim());
        });
        bus.once('exit', (code) => reject(new Error(`dbus-daemon exited (${code})`)));
      });
      const plan = ['allow', 'deny', 'close', 'spoof-deny'];
      notifier = spawn(PYTHON, [NOTIFICATION_SERVER, ...plan], {
        env: { PATH: process.env.PATH, DBUS_SESSION_BUS_ADDRESS: address }, stdio: ['ignore', 'pipe', 'pipe'],
      });
      let shown = '';
      let notifierErr = '';
      notifier.stdout.on('data', (chunk) => { shown += chunk; });
      notifier.stderr.on('data', (chunk) => { notifierErr += chunk; });
      for (let i = 0; !shown.startsWith('ready\n'); i += 1) {
        assert.ok(i < 200 && notifier.exitCode === null, `the notification server did not start: ${notifierErr}`);
        await sleep(50);
      }
      // Started detached by node: no controlling terminal, so the agent asks on the desktop.
      agent = startCli(['agent', '--forward', PROFILE, '--confirm'], {
        env: { ...env, DISPLAY: ':99', DBUS_SESSION_BUS_ADDRESS: address },
      });
      agent.child.stdin.end();
      await agent.waitForStderr(/listening on .*asking before each/);
      const remoteEnv = { ...local.env, HOME: dir, DEVICELOGIN_AGENT: socket };
      for (const [answer, code] of [['allow', EXIT.ok], ['deny', EXIT.notLoggedIn], ['close', EXIT.notLoggedIn], ['spoof-deny', EXIT.notLoggedIn]]) {
        const r = await runCli(['token', '--profile', PROFILE], { env: remoteEnv });
        seen.push(r.stdout.trim());
        assert.equal(r.code, code, `${answer}: ${describeRun(['token'], r, seen)}`);
        if (code === EXIT.ok) assert.ok(r.stdout.trim().length > 0);
        else assert.match(r.stderr, /^devicelogin token: the agent at .* refused the request \(refused at the agent's confirmation prompt\); .*Allow in its desktop notification\)\n$/);
      }
      const notes = shown.split('\n').slice(1).filter(Boolean).map((line) => JSON.parse(line));
      assert.equal(notes.length, plan.length, shown);
      for (const note of notes) {
        assert.deepEqual(note.actions, ['allow', 'Allow', 'deny', 'Deny']);
        assert.match(note.body, /^hand a token of profile "work" to .* \(pid \d+\)\?/);
        assert.equal(note.expire_timeout, 60000);
      }
      assert.doesNotMatch(shown + agent.stderr(), new RegExp(seen.filter(Boolean).join('|') || 'x^'), 'no token in a notification');
    } finally {
      agent?.kill();
      notifier?.kill();
      bus.kill();
    }
  });

  test('--max-lifetime caps the reported expiry and refuses a longer min_ttl; a DPoP-bound profile is not handed out', async () => {
    const bound = await loginWithApproval(server, local, { extra: ['--profile', 'bound', '--dpop'] });
    assert.equal(bound.result.code, EXIT.ok, describeRun(bound.argv, bound.result));
    const { env, socket } = await withRuntime('run-capped');
    const capped = startCli(['agent', '--forward', `${PROFILE},bound`, '--max-lifetime', '30'], { env });
    capped.child.stdin.end();
    await capped.waitForStderr(/listening on .*tokens for at most 30 s/);
    try {
      const remoteEnv = { ...local.env, HOME: dir, DEVICELOGIN_AGENT: socket };
      // The dev server's tokens live an hour; the agent reports them as expiring within its cap.
      const start = Math.floor(Date.now() / 1000);
      const answer = await rawExchange(socket, frame(`{"op":"token","profile":"${PROFILE}","min_ttl":10}`));
      const end = Math.ceil(Date.now() / 1000);
      assert.equal(answer.frames[0]?.ok, true, JSON.stringify(answer.frames[0]?.error));
      seen.push(answer.frames[0].access_token);
      assert.ok(answer.frames[0].expires_at >= start + 30 && answer.frames[0].expires_at <= end + 30,
        `expires_at ${answer.frames[0].expires_at} is the cap (${start + 30}..${end + 30})`);
      const tooLong = await runCli(['token', '--profile', PROFILE, '--min-ttl', '60'], { env: remoteEnv });
      assert.equal(tooLong.code, EXIT.usage, describeRun(['token'], tooLong, seen));
      assert.ok(tooLong.stdout === '', 'no token printed');
      assert.match(tooLong.stderr, /^devicelogin token: the agent at .* hands out shorter-lived tokens \(this agent hands out tokens for at most 30 s\); .*\n$/);
      // DPoP-bound: the token is useless without its key, which stays here; nothing is handed out.
      const dpop = await runCli(['token', '--profile', 'bound', '--min-ttl', '0'], { env: remoteEnv });
      assert.equal(dpop.code, EXIT.usage, describeRun(['token'], dpop, seen));
      assert.ok(dpop.stdout === '', 'no token printed');
      assert.match(dpop.stderr, /^devicelogin token: the agent at .* does not forward profile "bound": its token is bound to a DPoP key .*\n$/);
      const raw = await rawExchange(socket, frame('{"op":"token","profile":"bound","min_ttl":0}'));
      assert.deepEqual(Object.keys(raw.frames[0]).sort(), ['error', 'message', 'ok']);
      assert.equal(raw.frames[0].error, 'bearer_only');
      await capped.waitForStderr(/refused a token of profile bound: it is bound to a DPoP key/);
    } finally {
      capped.kill();
    }
  });

  test('--daemon returns with the socket ready and serves in the background', async () => {
    const { env, socket } = await withRuntime('run-daemon');
    const started = await runCli(['agent', '--forward', PROFILE, '--daemon'], { env });
    assert.equal(started.code, EXIT.ok, started.stderr);
    const pid = Number(/\(pid (\d+)\)/.exec(started.stderr)?.[1]);
    assert.ok(pid > 0, started.stderr);
    try {
      const r = await runCli(['token', '--profile', PROFILE], { env: { ...local.env, DEVICELOGIN_AGENT: socket } });
      seen.push(r.stdout.trim());
      assert.equal(r.code, EXIT.ok, describeRun(['token'], r, seen));
      // A second agent for the same user is refused while the first runs.
      const second = await runCli(['agent', '--forward', PROFILE], { env });
      assert.equal(second.code, EXIT.usage);
      assert.match(second.stderr, /an agent already runs/);
    } finally {
      process.kill(pid, 'SIGTERM');
    }
  });

  // systemd's socket activation, with Debian's systemd-socket-activate standing in for the service
  // manager: it listens, and starts the agent with the listening socket only when the first
  // connection arrives (its own "Execing" line, after the connection, shows when).
  const activator = (socketSpec, env) => {
    const pass = Object.keys(env).flatMap((name) => ['-E', name]);
    return startCli(['agent', '--forward', PROFILE], { env, prefix: [SOCKET_ACTIVATE, ...pass, '-l', socketSpec] });
  };
  const agentLines = (text) => text.split('\n').filter((line) => line.startsWith('devicelogin agent:'));

  test('socket activation: the first request starts the agent, which answers it; a wrong inherited socket is refused (exit 2)', { skip: haveSocketActivate ? false : 'systemd-socket-activate (systemd) is not installed' }, async () => {
    const { env, socket } = await withRuntime('run-activated');
    await fs.mkdir(path.dirname(socket), { mode: 0o700 });
    const manager = activator(socket, env);
    try {
      await manager.waitForStderr(/Listening on /);
      // As the socket unit's SocketMode=0600 makes it (systemd-socket-activate has no such option).
      await fs.chmod(socket, 0o600);
      assert.doesNotMatch(manager.stderr(), /Execing|devicelogin agent:/, 'no agent before the first request');
      // An agent started by hand does not take the socket unit's place (its probe starts the agent).
      const byHand = await runCli(['agent', '--forward', PROFILE], { env });
      assert.equal(byHand.code, EXIT.usage, byHand.stderr);
      assert.match(byHand.stderr, /^devicelogin agent: an agent already runs for this user at .*agent\.sock \(or its socket unit listens there, .*\n$/);
      assert.ok((await fs.stat(socket)).isSocket(), 'the socket unit\'s socket is still there');
      const r = await runCli(['token', '--profile', PROFILE], { env: { ...local.env, HOME: dir, DEVICELOGIN_AGENT: socket } });
      seen.push(r.stdout.trim());
      assert.equal(r.code, EXIT.ok, describeRun(['token'], r, seen));
      assert.ok(r.stdout.trim().length > 0);
      await manager.waitForStderr(/devicelogin agent: started by socket activation on .*agent\.sock, forwarding work\n[^]*gave a token of profile work/);
      // The agent keeps the socket: it serves the next request too.
      const again = await runCli(['token', '--profile', PROFILE], { env: { ...local.env, HOME: dir, DEVICELOGIN_AGENT: socket } });
      seen.push(again.stdout.trim());
      assert.equal(again.code, EXIT.ok, describeRun(['token'], again, seen));
    } finally {
      manager.kill();
    }

    // Sockets that are not the agent's own private place: refused in one line, exit 2, nothing served.
    const elsewhere = path.join(dir, 'elsewhere.sock');
    const port = await closedPort();
    for (const [spec, why, connect] of [
      [elsewhere, /it listens on .*elsewhere\.sock, not on .*run-activated\/devicelogin\/agent\.sock/, () => net.createConnection(elsewhere)],
      [`127.0.0.1:${port}`, /it is not a Unix socket/, () => net.createConnection(port, '127.0.0.1')],
    ]) {
      const wrong = activator(spec, env);
      await wrong.waitForStderr(/Listening on /);
      const client = connect();
      client.on('error', () => {});
      const { code } = await wrong.wait();
      client.destroy();
      assert.equal(code, EXIT.usage, wrong.stderr());
      const said = agentLines(wrong.stderr());
      assert.equal(said.length, 1, wrong.stderr());
      assert.match(said[0], /^devicelogin agent: refusing the socket passed by socket activation: /);
      assert.match(said[0], why);
    }
    // A socket file open to others (no SocketMode=0600) is refused as well.
    await fs.rm(socket, { force: true });
    const open = activator(socket, env);
    await open.waitForStderr(/Listening on /);
    await fs.chmod(socket, 0o644);
    const probe = net.createConnection(socket);
    probe.on('error', () => {});
    const { code } = await open.wait();
    probe.destroy();
    assert.equal(code, EXIT.usage, open.stderr());
    assert.match(agentLines(open.stderr()).join('\n'), /^devicelogin agent: refusing .*agent\.sock is open to other users \(it must be mode 0600\)/);
  });

  test('agent --enable writes socket and service units that start this agent on demand; --disable removes them', { skip: haveSocketActivate ? false : 'systemd-socket-activate (systemd) is not installed' }, async () => {
    const { env, socket } = await withRuntime('run-enable');
    const units = path.join(local.env.XDG_CONFIG_HOME, 'systemd', 'user');
    const socketUnit = path.join(units, 'devicelogin-agent.socket');
    const serviceUnit = path.join(units, 'devicelogin-agent.service');
    for (const said of [/wrote the systemd user units/, /already up to date: the systemd user units/]) {
      const r = await runCli(['agent', '--enable', '--forward', PROFILE, '--max-lifetime', '600'], { env });
      assert.equal(r.code, EXIT.ok, r.stderr);
      assert.match(r.stderr, said);
      assert.match(r.stderr, /systemctl --user enable --now devicelogin-agent\.socket/);
    }
    const socketText = await fs.readFile(socketUnit, 'utf8');
    const serviceText = await fs.readFile(serviceUnit, 'utf8');
    assert.match(socketText, /^ListenStream=%t\/devicelogin\/agent\.sock$/m);
    assert.match(socketText, /^SocketMode=0600$/m);
    assert.match(socketText, /^DirectoryMode=0700$/m);
    // This build's CLI (the full one, which the `devicelogin` front runs for the agent) with the choices.
    const execStart = /^ExecStart=(.*)$/m.exec(serviceText)?.[1] ?? '';
    const [program, ...argv] = execStart.split(' ');
    assert.deepEqual(argv, ['agent', '--forward', PROFILE, '--max-lifetime', '600']);
    assert.ok(path.isAbsolute(program) && (await fs.stat(program)).mode & 0o100, execStart);
    for (const file of [socketUnit, serviceUnit]) assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
    // systemd's own reading of them: no unknown key, no error.
    const verify = await run('systemd-analyze', ['verify', '--user', socketUnit, serviceUnit], { env: { PATH: process.env.PATH, ...env } });
    assert.equal(verify.code, 0, verify.stderr);
    assert.equal(verify.stderr, '', 'systemd-analyze has nothing to say about the units');

    // What the service manager does with them: listen at ListenStream (SocketMode applied), and
    // run ExecStart with the socket on the first request.
    await fs.mkdir(path.dirname(socket), { mode: 0o700 });
    const pass = Object.keys(env).flatMap((name) => ['-E', name]);
    const listen = socketText.match(/^ListenStream=(.*)$/m)[1].replace('%t', env.XDG_RUNTIME_DIR);
    const manager = spawn(SOCKET_ACTIVATE, [...pass, '-l', listen, program, ...argv], {
      env: { PATH: process.env.PATH, LANG: 'C.UTF-8', ...env }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    let managerSaid = '';
    manager.stderr.on('data', (chunk) => { managerSaid += chunk; });
    const managerSays = async (pattern) => {
      for (let i = 0; !pattern.test(managerSaid); i += 1) {
        assert.ok(i < 200 && manager.exitCode === null, `systemd-socket-activate: ${managerSaid}`);
        await sleep(50);
      }
    };
    try {
      await managerSays(/Listening on /);
      await fs.chmod(socket, 0o600);
      const r = await runCli(['token', '--profile', PROFILE], { env: { ...local.env, HOME: dir, DEVICELOGIN_AGENT: socket } });
      seen.push(r.stdout.trim());
      assert.equal(r.code, EXIT.ok, describeRun(['token'], r, seen));
      await managerSays(/started by socket activation .*\(tokens for at most 600 s\)/);
    } finally {
      manager.kill();
    }

    // A unit of that name that --enable did not write is left alone.
    const confirm = await runCli(['agent', '--enable', '--forward', PROFILE, '--confirm'], { env });
    assert.equal(confirm.code, EXIT.usage, confirm.stderr);
    // `systemctl --user enable` links the socket unit into sockets.target.wants.
    await fs.mkdir(path.join(units, 'sockets.target.wants'));
    await fs.symlink(socketUnit, path.join(units, 'sockets.target.wants', 'devicelogin-agent.socket'));
    const disabled = await runCli(['agent', '--disable'], { env });
    assert.equal(disabled.code, EXIT.ok, disabled.stderr);
    assert.match(disabled.stderr, /removed the systemd user units/);
    assert.deepEqual((await fs.readdir(units, { recursive: true })).sort(), ['sockets.target.wants']);
    const again = await runCli(['agent', '--disable'], { env });
    assert.equal(again.code, EXIT.ok, again.stderr);
    assert.match(again.stderr, /no systemd user units of the agent to remove/);
    await fs.writeFile(serviceUnit, '[Service]\nExecStart=/bin/true\n', { mode: 0o600 });
    for (const argv of [['agent', '--enable', '--forward', PROFILE], ['agent', '--disable']]) {
      const r = await runCli(argv, { env });
      assert.equal(r.code, EXIT.usage, r.stderr);
      assert.match(r.stderr, /^devicelogin agent: .*devicelogin-agent\.service was not written by devicelogin agent --enable; leaving it alone/);
    }
    assert.equal(await fs.readFile(serviceUnit, 'utf8'), '[Service]\nExecStart=/bin/true\n');
    await fs.rm(serviceUnit);
  });

  test('setup-ssh --write adds the block once, keeps the rest, and refuses an unsafe XDG_RUNTIME_DIR', async () => {
    const { env } = await withRuntime('run-ssh');
    await fs.mkdir(path.join(local.home, '.ssh'), { mode: 0o700 });
    const config = path.join(local.home, '.ssh', 'config');
    await fs.writeFile(config, 'Host other\n    User me\n', { mode: 0o600 });
    for (let i = 0; i < 2; i += 1) {
      const r = await runCli(['setup-ssh', '--host', 'box.example', '--remote-uid', '1234', '--write'], { env });
      assert.equal(r.code, EXIT.ok, r.stderr);
    }
    const text = await fs.readFile(config, 'utf8');
    assert.ok(text.startsWith('Host other\n    User me\n'));
    assert.equal(text.split('RemoteForward').length, 2, 'one block after two runs');
    assert.match(text, /RemoteForward \/run\/user\/1234\/devicelogin-agent\.sock .*\/devicelogin\/agent\.sock\n/);
    assert.match(text, /SetEnv DEVICELOGIN_AGENT=\/run\/user\/1234\/devicelogin-agent\.sock\n/);
    assert.equal((await fs.stat(config)).mode & 0o777, 0o600);
    await fs.chmod(env.XDG_RUNTIME_DIR, 0o755);
    for (const argv of [['setup-ssh', '--host', 'box.example'], ['agent', '--forward', PROFILE]]) {
      const r = await runCli(argv, { env });
      assert.equal(r.code, EXIT.usage);
      assert.match(r.stderr, /XDG_RUNTIME_DIR .* is open to other users/);
    }
    const unset = { ...env };
    delete unset.XDG_RUNTIME_DIR;
    const r = await runCli(['agent', '--forward', PROFILE], { env: unset });
    assert.equal(r.code, EXIT.usage);
    assert.match(r.stderr, /^devicelogin agent: XDG_RUNTIME_DIR is not set; .*\n$/);
  });
});
