// Shared helpers for the integration tests: start a server under test, run the CLI in a private
// HOME, introspect tokens, read the token store. Nothing here prints a secret.

import { spawn, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import { approve as approveOidcProvider } from './approve.mjs';
import { approveDevserver } from './approve_devserver.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Server kinds to run the suites against: env DEVICELOGIN_SERVERS, comma/space separated. */
export function serverKinds() {
  const raw = process.env.DEVICELOGIN_SERVERS ?? 'oidc-provider';
  return raw.split(/[\s,]+/).filter(Boolean);
}

/** Path of the CLI under test (env DEVICELOGIN_BIN), or undefined when not set. */
export function cliPath() {
  return process.env.DEVICELOGIN_BIN || undefined;
}

function killTree(child) {
  if (child.exitCode === null && child.signalCode === null) {
    try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
  }
}

// Every child we start is remembered so that a failing or timed-out test cannot leave one behind.
const children = new Set();
function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
/**
 * `env` for a Python process that loads the build's library: in a sanitized build (ctest passes
 * DEVICELOGIN_PYTHON_PRELOAD, the compiler's libasan) the ASan runtime is preloaded, as it must
 * come first, and leak detection is off (the interpreter's own allocations are not ours).
 */
export function pythonEnv(env) {
  const preload = process.env.DEVICELOGIN_PYTHON_PRELOAD;
  if (!preload) return env;
  return { ...env, LD_PRELOAD: preload, ASAN_OPTIONS: `${env.ASAN_OPTIONS ?? process.env.ASAN_OPTIONS ?? ''}:detect_leaks=0` };
}

export function killAllChildren() {
  for (const child of children) killTree(child);
}
process.once('exit', killAllChildren);
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.once(signal, () => {
    killAllChildren();
    process.exit(128 + (signal === 'SIGHUP' ? 1 : signal === 'SIGINT' ? 2 : 15));
  });
}

/** Resolves with the first line `child` writes on stdout, or rejects on exit/timeout. */
function firstLine(child, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${what}: no first line within ${timeoutMs} ms`));
    }, timeoutMs);
    const onData = (chunk) => {
      buffered += chunk;
      const newline = buffered.indexOf('\n');
      if (newline >= 0) {
        cleanup();
        resolve(buffered.slice(0, newline));
      }
    };
    const onExit = (code, signal) => {
      cleanup();
      reject(new Error(`${what}: exited (${code ?? signal}) before printing its first line`));
    };
    function cleanup() {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.off('exit', onExit);
    }
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', onData);
    child.once('exit', onExit);
  });
}

/**
 * Starts a server under test on 127.0.0.1 with an ephemeral port.
 * kind: 'oidc-provider' | 'devserver'.
 * opts: { deviceCodeTtl, accessTokenTtl, interval (default 1), slowDownEvery, autoConsent,
 *         noDeviceFlow (oidc-provider only: a server with the browser flow alone),
 *         omitExpiresIn (token answers without expires_in and a JWT access token, as WorkOS's:
 *         devserver --omit-expires-in, oidc-provider --jwt-access-tokens), dpopNonce (server
 *         nonces required: devserver and oidc_server.mjs --dpop-nonce); devserver only: verbose
 *         (--verbose: its event log in serverStderr()) }.
 * Resolves to { kind, issuer, clientId, scope, approve(uri, userCode, {deny}), introspect(token),
 *               deviceCodes(), polls(), issued() (of logins started with { record: true }),
 *               tokens() (every successful token response of such logins and of the profile's later
 *               refreshes: [{t, grant_type, access_token, refresh_token, id_token}]; test-only),
 *               recordArgs, supports: {introspection, deviceCodes, slowDown}, stop() }.
 */
export async function startServer(kind, opts = {}) {
  switch (kind) {
    case 'oidc-provider': return startOidcProvider(opts);
    case 'devserver': return startDevserver(opts);
    default: throw new Error(`unknown server kind ${kind}`);
  }
}

async function startOidcProvider(opts) {
  const args = [path.join(HERE, 'oidc_server.mjs'), '--interval', String(opts.interval ?? 1)];
  if (opts.deviceCodeTtl !== undefined) args.push('--device-code-ttl', String(opts.deviceCodeTtl));
  if (opts.accessTokenTtl !== undefined) args.push('--access-token-ttl', String(opts.accessTokenTtl));
  if (opts.slowDownEvery !== undefined) args.push('--slow-down-every', String(opts.slowDownEvery));
  if (opts.autoConsent) args.push('--auto-consent');
  if (opts.omitExpiresIn) args.push('--jwt-access-tokens');
  if (opts.dpopNonce) args.push('--dpop-nonce');
  if (opts.noDeviceFlow) args.push('--no-device-flow');
  // The server exits when its stdin closes, i.e. when this process dies however it dies.
  const child = track(spawn(process.execPath, args, {
    cwd: HERE, stdio: ['pipe', 'pipe', 'pipe'], detached: true,
    env: { ...process.env, OIDC_EXIT_ON_STDIN_EOF: '1' },
  }));
  const stderr = collect(child.stderr);
  let info;
  try {
    info = JSON.parse(await firstLine(child, 15000, 'oidc_server.mjs'));
  } catch (error) {
    killTree(child);
    throw new Error(`${error.message}\n${stderr.text().slice(-2000)}`);
  }
  const basic = Buffer.from(
    `${encodeURIComponent(info.introspection_client_id)}:${encodeURIComponent(info.introspection_client_secret)}`,
  ).toString('base64');
  const introspectionEndpoint = `${info.issuer}/token/introspection`;
  const events = async () => (await fetch(info.test_endpoint)).json();
  return {
    kind: 'oidc-provider',
    issuer: info.issuer,
    clientId: info.client_id,
    browserClientId: info.browser_client_id,
    scope: 'openid profile email offline_access',
    supports: { introspection: true, deviceCodes: true, slowDown: true },
    approve: (uri, userCode, approveOpts) => approveOidcProvider(uri, userCode, approveOpts),
    introspect: (token) => introspectAt(introspectionEndpoint, basic, token),
    async deviceCodes() { return (await events()).device_codes; },
    async polls() { return (await events()).polls; },
    async issued() { return (await events()).issued; },
    async tokens() { return (await events()).tokens ?? []; },
    serverStderr: () => stderr.text(),
    async stop() { await stopChild(child); },
  };
}

/**
 * Starts `devicelogin serve --port 0 --json --config <clients> ARGS...` in a fresh private
 * directory (its HOME) and waits for its {"issuer","port"} line. Resolves to
 * { child, info, stderr, configDir }; on failure the server is killed, the directory removed, and
 * the error carries the server's stderr with `secrets` redacted.
 */
async function spawnServe(clients, extraArgs, secrets = []) {
  const bin = cliPath();
  if (!bin) throw new Error('DEVICELOGIN_BIN is not set');
  const configDir = await fs.mkdtemp(path.join(os.tmpdir(), 'devicelogin-devserver-'));
  const configFile = path.join(configDir, 'config.json');
  await fs.writeFile(configFile, JSON.stringify({ clients }), { mode: 0o600 });
  const args = ['serve', '--port', '0', '--json', '--config', configFile, ...extraArgs];
  const child = track(spawn(bin, args, {
    env: cliEnv({ HOME: configDir }), stdio: ['ignore', 'pipe', 'pipe'], detached: true,
  }));
  const stderr = collect(child.stderr);
  try {
    const info = JSON.parse(await firstLine(child, 15000, 'devicelogin serve'));
    return { child, info, stderr, configDir };
  } catch (error) {
    killTree(child);
    await fs.rm(configDir, { recursive: true, force: true });
    throw new Error(`${error.message}\n${redact(stderr.text(), secrets).slice(-2000)}`);
  }
}

// devicelogin's own development server: `devicelogin serve --port 0 --json ...` prints
// {"issuer":...,"port":...} as its first stdout line; its built-in public client is
// `devicelogin-demo`; a --config file adds a confidential client for introspection. Its approval
// pages are walked by approve_devserver.mjs.
// It has no hook that reveals issued device codes or poll times, so login goes through a recording
// proxy for the device authorization and token endpoints when a test asks for it
// (loginArgs(..., { record: true }) adds server.recordArgs): the profile then
// keeps the proxy's URLs, so later refreshes pass through it too. Discovery, revocation,
// introspection and the approval pages are the server's own.
async function startDevserver(opts) {
  const introspectionSecret = crypto.randomBytes(24).toString('base64url');
  const args = ['--interval', String(opts.interval ?? 1)];
  if (opts.deviceCodeTtl !== undefined) args.push('--code-ttl', String(opts.deviceCodeTtl));
  if (opts.accessTokenTtl !== undefined) args.push('--access-token-ttl', String(opts.accessTokenTtl));
  if (opts.slowDownEvery !== undefined) args.push('--slow-down-every', String(opts.slowDownEvery));
  if (opts.omitExpiresIn) args.push('--omit-expires-in');
  if (opts.dpopNonce) args.push('--dpop-nonce');
  // The server's event log (one line per issue, refresh, revocation...) on its stderr: serverStderr().
  if (opts.verbose) args.push('--verbose');
  const { child, info, stderr, configDir } = await spawnServe([{
    client_id: 'devicelogin-introspector', client_secret: introspectionSecret, name: 'introspection',
  }], args);
  const meta = await (await fetch(`${info.issuer}/.well-known/openid-configuration`)).json();
  const proxy = await startRecordingProxy(meta.device_authorization_endpoint, meta.token_endpoint);
  const basic = Buffer.from(`devicelogin-introspector:${encodeURIComponent(introspectionSecret)}`)
    .toString('base64');
  return {
    kind: 'devserver',
    issuer: info.issuer,
    clientId: 'devicelogin-demo',
    // The built-in client has the loopback redirects http://127.0.0.1/callback and
    // http://[::1]/callback registered (any port, RFC 8252 §7.3): the browser flow's client too.
    browserClientId: 'devicelogin-demo',
    scope: 'openid profile email offline_access',
    // Device codes and poll times come from the recording proxy the CLI is pointed at.
    supports: { introspection: Boolean(meta.introspection_endpoint), deviceCodes: true, slowDown: true },
    recordArgs: proxy.loginArgs,
    approve: (uri, userCode, approveOpts) => approveDevserver(uri, userCode, approveOpts),
    introspect: (token) => introspectAt(meta.introspection_endpoint, basic, token),
    async deviceCodes() { return [...proxy.recorded.device_codes]; },
    async polls() { return [...proxy.recorded.polls]; },
    async issued() { return [...proxy.recorded.issued]; },
    async tokens() { return [...proxy.recorded.tokens]; },
    serverStderr: () => stderr.text(),
    async stop() {
      await proxy.stop();
      await stopChild(child);
      await fs.rm(configDir, { recursive: true, force: true });
    },
  };
}

/**
 * A loopback recording proxy for the two device-flow endpoints of a server that cannot report
 * what it issued: it forwards requests byte for byte and notes each device_code it sees in a
 * device authorization response, each device_code poll's time and answer, and the tokens of each
 * successful token response. The CLI is pointed at
 * it with --device-authorization-endpoint / --token-endpoint (see loginArgs).
 */
async function startRecordingProxy(deviceAuthorizationEndpoint, tokenEndpoint) {
  const targets = { device: new URL(deviceAuthorizationEndpoint), token: new URL(tokenEndpoint) };
  const recorded = { device_codes: [], issued: [], polls: [], tokens: [] };
  const srv = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    const which = req.url === '/device' ? 'device' : req.url === '/token' ? 'token' : undefined;
    if (!which) {
      res.writeHead(404).end();
      return;
    }
    const headers = {};
    for (const name of ['content-type', 'accept', 'authorization', 'user-agent', 'dpop']) {
      if (req.headers[name]) headers[name] = req.headers[name];
    }
    let answer;
    try {
      answer = await fetch(targets[which], {
        method: req.method, headers, body: req.method === 'GET' ? undefined : body, redirect: 'manual',
      });
    } catch {
      res.writeHead(502).end();
      return;
    }
    const answerBody = Buffer.from(await answer.arrayBuffer());
    const now = Date.now();
    let json;
    try { json = JSON.parse(answerBody.toString('utf8')); } catch { json = undefined; }
    if (which === 'device' && answer.status === 200 && typeof json?.device_code === 'string') {
      recorded.device_codes.push(json.device_code);
      recorded.issued.push(now);
    }
    const form = new URLSearchParams(body.toString('utf8'));
    // What the token endpoint issued (canary test: keyring stores keep nothing on disk to read).
    if (which === 'token' && answer.status === 200 && typeof json?.access_token === 'string') {
      recorded.tokens.push({
        t: now,
        grant_type: form.get('grant_type'),
        access_token: json.access_token,
        refresh_token: json.refresh_token,
        id_token: json.id_token,
      });
    }
    if (which === 'token' && form.get('grant_type') === 'urn:ietf:params:oauth:grant-type:device_code') {
      recorded.polls.push({
        t: now,
        code_index: recorded.device_codes.indexOf(form.get('device_code') ?? ''),
        result: answer.status === 200 ? 'ok' : (json?.error ?? `http_${answer.status}`),
      });
    }
    forwardAnswer(res, answer, answerBody);
  });
  await new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', resolve);
  });
  const base = `http://127.0.0.1:${srv.address().port}`;
  return {
    recorded,
    loginArgs: ['--device-authorization-endpoint', `${base}/device`, '--token-endpoint', `${base}/token`],
    async stop() {
      srv.closeAllConnections?.();
      await new Promise((resolve) => { srv.close(resolve); });
    },
  };
}

function collect(stream) {
  let text = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => { text += chunk; });
  return { text: () => text };
}

async function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
  const timer = setTimeout(() => killTree(child), 3000);
  await exited;
  clearTimeout(timer);
}

/** A private HOME with XDG_CONFIG_HOME and XDG_STATE_HOME under it. */
export async function makeHome() {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'devicelogin-it-'));
  const env = {
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    XDG_STATE_HOME: path.join(home, '.local', 'state'),
    XDG_CACHE_HOME: path.join(home, '.cache'),
  };
  return {
    home,
    env,
    stateDir: path.join(env.XDG_STATE_HOME, 'devicelogin'),
    configDir: path.join(env.XDG_CONFIG_HOME, 'devicelogin'),
    async remove() { await fs.rm(home, { recursive: true, force: true }); },
  };
}

/** The environment the CLI runs with: no display, no proxies, no inherited XDG dirs. */
function cliEnv(homeEnv, extra = {}) {
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    LANG: 'C.UTF-8',
    ...homeEnv,
    ...extra,
  };
  if (process.env.LD_LIBRARY_PATH) env.LD_LIBRARY_PATH = process.env.LD_LIBRARY_PATH;
  if (process.env.ASAN_OPTIONS && !env.ASAN_OPTIONS) env.ASAN_OPTIONS = process.env.ASAN_OPTIONS;
  if (process.env.UBSAN_OPTIONS) env.UBSAN_OPTIONS = process.env.UBSAN_OPTIONS;
  if (process.env.TSAN_OPTIONS) env.TSAN_OPTIONS = process.env.TSAN_OPTIONS;
  return env;
}

/**
 * Runs the CLI to completion. Resolves to { code, signal, stdout, stderr, timedOut }.
 * opts: { env (home env), timeoutMs (default 20 s), input, user ({ uid, gid }: run as that user),
 *         prefix, extraStdio (as startCli) }.
 */
export function runCli(args, { env, timeoutMs = 20000, input, user, prefix, extraStdio } = {}) {
  const proc = startCli(args, { env, user, prefix, extraStdio });
  if (input !== undefined) proc.child.stdin.end(input);
  else proc.child.stdin.end();
  return proc.wait(timeoutMs);
}

/**
 * Starts the CLI and returns { child, stdout(), stderr(), lines() (parsed JSON lines so far),
 * waitForLine(predicate, timeoutMs), waitForStderr(regexp, timeoutMs), wait(timeoutMs) }. Used for `login`, which waits for approval.
 * With user ({ uid, gid }) the CLI runs as that user, without supplementary groups (root only).
 * With prefix ([program, ...args]) that program runs, with the CLI's path and args after its own
 * (a wrapper that sets a limit or a signal disposition, then execs the CLI). extraStdio: more
 * entries of spawn's stdio, for descriptors 3 and up.
 */
export function startCli(args, { env, user, prefix = [], extraStdio = [] } = {}) {
  const bin = cliPath();
  if (!bin) throw new Error('DEVICELOGIN_BIN is not set');
  const argv = [...prefix, bin, ...args];
  // Under traceArgv() (not as another user: strace would run as that user too).
  const run = activeArgvTrace && !user
    ? activeArgvTrace.wrap(argv[0], argv.slice(1), cliEnv(env))
    : { file: argv[0], args: argv.slice(1), env: cliEnv(env) };
  const child = track(spawn(run.file, run.args, {
    env: run.env, stdio: ['pipe', 'pipe', 'pipe', ...extraStdio], detached: true,
    ...(user ? { uid: user.uid, gid: user.gid } : {}),
  }));
  let stdout = '';
  let stderr = '';
  const waiters = new Set();
  // A CLI that stops reading its input early (a helper refusing oversized input) closes the pipe
  // first: EPIPE on a write is not an error of the test.
  child.stdin.on('error', () => {});
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
    for (const waiter of waiters) waiter();
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
    for (const waiter of waiters) waiter();
  });
  const exited = new Promise((resolve) => {
    child.once('close', (code, signal) => {
      for (const waiter of waiters) waiter();
      resolve({ code, signal });
    });
  });

  function lines() {
    return stdout.split('\n').filter((l) => l.trim() !== '').map((l) => {
      try { return JSON.parse(l); } catch { return { unparsable: true }; }
    });
  }

  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    lines,
    waitForLine(predicate, timeoutMs = 15000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = lines().find(predicate);
          if (found) {
            done();
            resolve(found);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            done();
            reject(new Error(`CLI exited (${child.exitCode ?? child.signalCode}) before the expected JSON line`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`CLI printed no expected JSON line within ${timeoutMs} ms`));
        }, timeoutMs);
        function done() {
          clearTimeout(timer);
          waiters.delete(check);
        }
        waiters.add(check);
        check();
      });
    },
    /** Resolves to the first match of `pattern` in stderr so far or later (human output). */
    waitForStderr(pattern, timeoutMs = 15000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = pattern.exec(stderr);
          if (found) {
            done();
            resolve(found);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            done();
            reject(new Error(`CLI exited (${child.exitCode ?? child.signalCode}) before stderr matched ${pattern}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`stderr did not match ${pattern} within ${timeoutMs} ms`));
        }, timeoutMs);
        function done() {
          clearTimeout(timer);
          waiters.delete(check);
        }
        waiters.add(check);
        check();
      });
    },
    async wait(timeoutMs = 20000) {
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        killTree(child);
      }, timeoutMs);
      const { code, signal } = await exited;
      clearTimeout(timer);
      return { code, signal, stdout, stderr, timedOut };
    },
    kill() { killTree(child); },
  };
}

/** Every regular file under `dir`, recursively (absolute paths). */
/**
 * What is stored under a home made by makeHome() (its state and config directories): file path ->
 * SHA-256 of its bytes, so that a suite can show a command changed nothing stored, and a failing
 * assert.deepEqual prints digests, never a token file's contents.
 */
export async function storedDigests(home) {
  const out = {};
  for (const dir of [home.stateDir, home.configDir]) {
    for (const file of await listFiles(dir)) {
      // The audit trail records every attempt (docs/audit.md): it is a log, not stored state.
      if (isAuditTrail(home, file)) continue;
      out[file] = crypto.createHash('sha256').update(await fs.readFile(file)).digest('hex');
    }
  }
  return out;
}

/** Whether `file` is the audit trail (audit.jsonl, its rotations, its lock) of a home made by makeHome(). */
export function isAuditTrail(home, file) {
  return path.dirname(file) === home.stateDir && /^audit\.(jsonl(\.\d+)?|lock)$/.test(path.basename(file));
}

export async function listFiles(dir) {
  const out = [];
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (error.code === 'ENOENT') return out;
    throw error;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...await listFiles(full));
    else if (entry.isFile()) out.push(full);
  }
  return out;
}

/**
 * What the file backend left under $XDG_STATE_HOME/devicelogin/ (recursively): `tokens`, the *.json
 * files holding a token set ([{ file, tokens }]); `leftovers`, temporary files of an interrupted
 * or failed write (`*.tmp.*`); `unreadable`, *.json files that do not parse (e.g. half written).
 */
export async function storedFiles(home) {
  const found = { tokens: [], leftovers: [], unreadable: [] };
  for (const file of await listFiles(home.stateDir)) {
    if (path.basename(file).includes('.tmp.')) {
      found.leftovers.push(file);
      continue;
    }
    if (!file.endsWith('.json')) continue;
    let parsed;
    try {
      parsed = JSON.parse(await fs.readFile(file, 'utf8'));
    } catch {
      found.unreadable.push(file);
      continue;
    }
    const tokens = findTokens(parsed);
    if (tokens) found.tokens.push({ file, tokens });
  }
  return found;
}

/**
 * The token store file of the file backend. Returns { file, tokens } when there is exactly one
 * token file and nothing else was left behind; undefined when nothing at all is stored (no token
 * file, no temporary leftover, no unreadable JSON); throws, naming what it found, otherwise (two or
 * more token files, leftovers, unreadable files), so that neither "exactly one" nor "nothing
 * stored" can pass with debris. Tolerant of the layout, which belongs to the store module.
 */
export async function readTokenFile(home) {
  const found = await storedFiles(home);
  const rel = (file) => path.relative(home.stateDir, file);
  const problems = [];
  if (found.tokens.length > 1) problems.push(`${found.tokens.length} token files (${found.tokens.map((t) => rel(t.file)).join(', ')})`);
  if (found.leftovers.length > 0) problems.push(`temporary leftovers ${found.leftovers.map(rel).join(', ')}`);
  if (found.unreadable.length > 0) problems.push(`unreadable JSON ${found.unreadable.map(rel).join(', ')}`);
  if (problems.length > 0) throw new Error(`token store under ${home.stateDir}: ${problems.join('; ')}`);
  return found.tokens[0];
}

// The token set may sit at the top level or one level down (e.g. {"tokens": {...}}).
function findTokens(value) {
  if (!value || typeof value !== 'object') return undefined;
  if (typeof value.access_token === 'string') return value;
  for (const inner of Object.values(value)) {
    if (inner && typeof inner === 'object' && typeof inner.access_token === 'string') return inner;
  }
  return undefined;
}

let storeFlagSupported;
/**
 * Whether `login` takes --store (keyring backends). Tests that read the token set pass
 * `--store file` so the tokens land in $XDG_STATE_HOME/devicelogin/ where they can be inspected.
 */
export function cliHasStoreFlag() {
  if (storeFlagSupported === undefined) {
    const help = spawnSync(cliPath(), ['login', '--help'], {
      env: cliEnv({ HOME: os.tmpdir() }), encoding: 'utf8', timeout: 10000,
    });
    storeFlagSupported = /--store\b/.test(`${help.stdout}${help.stderr}`);
  }
  return storeFlagSupported;
}

/**
 * Base login arguments for a server under test. With { record: true } the login is arranged so that
 * server.deviceCodes() / polls() / issued() see it (for the devserver: through the recording proxy).
 * store: 'file' by default (so tests can read the token file), or null to let the CLI choose.
 */
export function loginArgs(server, extra = [], { record = false, store = 'file' } = {}) {
  const storeArgs = store && cliHasStoreFlag() ? ['--store', store] : [];
  return ['login', '--issuer', server.issuer, '--client-id', server.clientId, '--scope', server.scope,
    '--no-browser', '--no-qr', ...storeArgs, ...(record ? server.recordArgs ?? [] : []), ...extra];
}

/** A small deadline wrapper so a step cannot hang a test. */
export async function withTimeout(promise, ms, what) {
  let timer;
  try {
    return await Promise.race([
      promise,
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms); }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

/**
 * Replaces every known secret, and anything that looks like an opaque token or a JWT segment,
 * so CLI output can be shown in a failure message.
 */
export function redact(text, secrets = []) {
  let out = String(text ?? '');
  for (const secret of secrets) {
    if (secret) out = out.split(secret).join('[SECRET]');
  }
  // JWTs, then long opaque runs (oidc-provider's tokens and device codes are 43 base64url
  // characters); C++ mangled names (_Z...) and paths (short segments) stay readable.
  return out
    .replace(/[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, '[JWT?]')
    .replace(/(?<![A-Za-z0-9_-])(?!_Z)[A-Za-z0-9_-]{32,}/g, '[LONG-STRING]');
}

/** What to show of a finished CLI run when an assertion about it fails (secrets elided). */
export function describeRun(args, result, secrets = []) {
  const shownArgs = args.map((a) => redact(a, secrets)).join(' ');
  return `devicelogin ${shownArgs} -> exit ${result.code}${result.signal ? ` (signal ${result.signal})` : ''}`
    + `${result.timedOut ? ' TIMED OUT' : ''}\n  stderr: ${redact(result.stderr, secrets).slice(-1500)}`;
}

/**
 * Where, if anywhere, any secret (or a 16-character piece of one) occurs in `haystack`.
 * Returns the labels of the secrets found, never the secrets themselves.
 * secrets: [{ label, value, pieces (default true) }]
 */
export function findSecrets(haystack, secrets) {
  const found = [];
  for (const { label, value, pieces = true } of secrets) {
    if (!value) continue;
    if (haystack.includes(value)) {
      found.push(label);
      continue;
    }
    if (pieces && value.length > 16) {
      for (let i = 0; i + 16 <= value.length; i += 1) {
        if (haystack.includes(value.slice(i, i + 16))) {
          found.push(`${label} (a 16-character piece)`);
          break;
        }
      }
    }
  }
  return found;
}

/**
 * Runs `login --json` (plus `extra` args), waits for the device_code event, approves or denies it
 * through the server's approval pages (unless approval === 'none'), and waits for the CLI to exit.
 * Resolves to { result, lines, deviceEvent, approval } (approval: what approve() returned).
 */
export async function loginWithApproval(server, home, {
  extra = [], approval = 'approve', timeoutMs = 30000, args, record = false, store = 'file', env, user,
  beforeApproval,
} = {}) {
  const loginArgv = args ?? loginArgs(server, ['--json', ...extra], { record, store });
  const proc = startCli(loginArgv, { env: env ?? home.env, user });
  proc.child.stdin.end();
  let deviceEvent;
  let approved;
  try {
    deviceEvent = await proc.waitForLine((l) => l.event === 'device_code', 15000);
    // What a test changes while the user is still looking at the code (after every check the CLI
    // makes before it asks for one).
    if (beforeApproval) await beforeApproval(deviceEvent);
    if (approval !== 'none') {
      const uri = deviceEvent.verification_uri_complete ?? deviceEvent.verification_uri;
      approved = await server.approve(uri, deviceEvent.user_code, { deny: approval === 'deny' });
    }
  } catch (error) {
    proc.kill();
    const result = await proc.wait(5000);
    throw new Error(`${error.message}\n${describeRun(loginArgv, result)}`);
  }
  const result = await proc.wait(timeoutMs);
  return { result, lines: proc.lines(), deviceEvent, approval: approved, argv: loginArgv };
}

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then closed). */
export async function closedPort() {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * JSON.parse for CLI output that never echoes the text on failure (V8's SyntaxError quotes the
 * input, which could be a leaked token).
 */
export function parseJsonOutput(text, what) {
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${what}: stdout is not one JSON document (${String(text).length} bytes)`);
  }
}

/** RFC 7662 introspection of `token` at `endpoint` with HTTP Basic client credentials. */
async function introspectAt(endpoint, basic, token) {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      authorization: `Basic ${basic}`,
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body: new URLSearchParams({ token }).toString(),
  });
  if (response.status !== 200) throw new Error(`introspection answered HTTP ${response.status}`);
  return response.json();
}

/** Relays an upstream fetch() answer (status, headers minus hop-by-hop ones, body) to `res`. */
export function forwardAnswer(res, answer, body) {
  const outHeaders = {};
  for (const [name, value] of answer.headers) {
    if (!['content-length', 'transfer-encoding', 'connection', 'keep-alive'].includes(name)) outHeaders[name] = value;
  }
  res.writeHead(answer.status, outHeaders);
  res.end(body);
}

/**
 * A throwaway PKI in `dir` (openssl CLI): a test CA and a server certificate it signed for
 * `idp.test` and 127.0.0.1. Resolves to { caFile, key, cert } (key and cert as PEM text).
 */
export async function makeTestPki(dir) {
  const file = (name) => path.join(dir, name);
  const run = (args) => {
    const done = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (done.status !== 0) throw new Error(`openssl ${args[0]} failed: ${done.error?.message ?? done.stderr}`);
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  run(['req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '2',
    '-subj', '/CN=devicelogin test CA', '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  run(['req', ...ec, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=idp.test']);
  await fs.writeFile(file('server.ext'), 'subjectAltName=DNS:idp.test,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n'
    + 'keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n');
  run(['x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'),
    '-CAcreateserial', '-out', file('server.pem'), '-days', '2', '-extfile', file('server.ext')]);
  return {
    caFile: file('ca.pem'),
    key: await fs.readFile(file('server.key'), 'utf8'),
    cert: await fs.readFile(file('server.pem'), 'utf8'),
  };
}

async function listenLocal(server) {
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return server.address().port;
}

function pipeBoth(a, b) {
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
  a.pipe(b).pipe(a);
}

/**
 * TLS in front of a plain-HTTP server on 127.0.0.1 (the devserver speaks plain HTTP): accepts TLS
 * with `pki`'s server certificate and relays the bytes to 127.0.0.1:backendPort() (a function, so
 * that the front can be started before the server whose issuer names the front's port).
 * Resolves to { port, stop() }.
 */
export async function startTlsFront(pki, backendPort) {
  const tls = await import('node:tls');
  const net = await import('node:net');
  const sockets = new Set();
  const server = tls.createServer({ key: pki.key, cert: pki.cert }, (socket) => {
    const upstream = net.connect(backendPort(), '127.0.0.1');
    for (const s of [socket, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    }
    pipeBoth(socket, upstream);
  });
  server.on('tlsClientError', () => {});
  const port = await listenLocal(server);
  return {
    port,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => { server.close(resolve); });
    },
  };
}

/**
 * An authenticating HTTP proxy on 127.0.0.1 (CONNECT only): a CONNECT without
 * `Proxy-Authorization: Basic base64(user:password)` is answered 407; an authorized one, to
 * whatever host it names, is tunnelled to 127.0.0.1:tunnelPort (the TLS front), so a test can use
 * a public-looking issuer (https://idp.test) that never leaves the machine.
 * Resolves to { port, url (with the credentials), stats: { authorized, refused }, stop() }.
 */
export async function startAuthProxy({ user, password, tunnelPort }) {
  const net = await import('node:net');
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const stats = { authorized: [], refused: 0 };
  const sockets = new Set();
  const server = http.createServer((req, res) => { res.writeHead(405).end(); });
  server.on('connect', (req, client, head) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => {});
    if (req.headers['proxy-authorization'] !== expected) {
      stats.refused += 1;
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\n'
        + 'Content-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    stats.authorized.push(req.url);
    const upstream = net.connect(tunnelPort, '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head?.length) upstream.write(head);
      pipeBoth(client, upstream);
    });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
  });
  const port = await listenLocal(server);
  return {
    port,
    url: `http://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}`,
    stats,
    async stop() {
      for (const s of sockets) s.destroy();
      server.closeAllConnections?.();
      await new Promise((resolve) => { server.close(resolve); });
    },
  };
}

/**
 * `devicelogin serve` advertising a public issuer (`--issuer`, e.g. https://idp.test behind
 * startTlsFront), approving every code itself (`--auto-approve`), with a confidential client
 * { clientId, clientSecret }. Resolves to { issuer, port (its plain-HTTP port), stop() }.
 */
export async function startPublicDevserver({ issuer, clientId, clientSecret, interval = 1 }) {
  const { child, info, stderr, configDir } = await spawnServe(
    [{ client_id: clientId, client_secret: clientSecret, name: 'canary confidential client' }],
    ['--issuer', issuer, '--interval', String(interval), '--auto-approve'], [clientSecret]);
  return {
    issuer: info.issuer,
    port: info.port,
    serverStderr: () => stderr.text(),
    async stop() {
      await stopChild(child);
      await fs.rm(configDir, { recursive: true, force: true });
    },
  };
}

/**
 * Records the argv of every program the suite's commands start, so that a suite can show that no
 * secret ever reached a command line (every user on the machine can read argv). It runs
 * each command under `strace -f` (execve only, filtered in the kernel with seccomp-bpf, one file
 * per process): a complete record of every execve of the command and of all its descendants (git's
 * credential helper, kubectl's exec plugin), however short-lived, and however loaded the machine.
 * (An earlier version polled /proc and counted its scans; on a busy machine it scanned too
 * rarely, and a count never proved that the short-lived helper was seen.)
 *
 * While it is active, startCli()/runCli() run the CLI under it; a suite runs its other programs
 * (git, kubectl) through wrap(file, args, env) -> { file, args, env }. LeakSanitizer cannot stop
 * the world in a process that strace already traces, so a traced command runs with
 * detect_leaks=0 (ASan's other checks stay on; the untraced suites keep the leak check).
 * stop() resolves to { commands (argv lines, for counting), saw(regexp) (some argv, its words
 * joined by spaces, matches), found(secrets) }, where found(secrets) lists the labels of the
 * secrets ({label: value}) that any argv held, whole or as a 16-character piece of its unique
 * part; only labels, never values.
 */
const STRACE = ['/usr/bin/strace', '/bin/strace'].find((file) => {
  try { return spawnSync(file, ['-V'], { stdio: 'ignore' }).status === 0; } catch { return false; }
});
let activeArgvTrace = null;

/** Whether traceArgv() can run here (strace is installed). */
export function canTraceArgv() {
  return Boolean(STRACE);
}

export async function traceArgv() {
  if (!STRACE) throw new Error('strace is not installed (scripts/setup-deps.sh --tests installs it)');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dl-argv-'));
  let count = 0;
  const tracer = {
    wrap(file, args, env = process.env) {
      count += 1;
      const traced = { ...env };
      if (traced.ASAN_OPTIONS) traced.ASAN_OPTIONS += ':detect_leaks=0';
      return {
        file: STRACE,
        args: ['-f', '-ff', '-qq', '--seccomp-bpf', '-e', 'trace=execve', '-e', 'signal=none', '-s', '1048576',
          '-o', path.join(dir, `run${count}`), '--', file, ...args],
        env: traced,
      };
    },
    async stop() {
      if (activeArgvTrace === tracer) activeArgvTrace = null;
      const argvs = [];
      let raw = '';
      for (const name of await fs.readdir(dir)) {
        const text = await fs.readFile(path.join(dir, name), 'latin1');
        raw += `${text}\n`;
        for (const line of text.split('\n')) {
          // execve("/path", ["word", "word", ...], 0x... /* N vars */) = 0
          const open = line.indexOf('execve(');
          const array = open < 0 ? -1 : line.indexOf('[', open);
          if (array < 0) continue;
          const words = [];
          const word = /"((?:[^"\\]|\\.)*)"(\.\.\.)?(, |\])/gy;
          word.lastIndex = array + 1;
          for (let m = word.exec(line); m; m = word.exec(line)) {
            words.push(m[1].replace(/\\(.)/g, '$1'));
            if (m[3] === ']') break;
          }
          argvs.push(words.join(' '));
        }
      }
      await fs.rm(dir, { recursive: true, force: true });
      const haystack = `${raw}\n${argvs.join('\n')}`;
      return {
        commands: argvs.length,
        saw: (pattern) => argvs.some((argv) => pattern.test(argv)),
        found(secrets) {
          const hits = [];
          for (const [label, value] of Object.entries(secrets)) {
            if (!value) continue;
            if (haystack.includes(value)) { hits.push(label); continue; }
            // Pieces of what is unique to the secret: a JWT's header and claims recur in every
            // token of a server, so only its signature (after the last '.') is cut into pieces.
            const unique = value.slice(value.lastIndexOf('.') + 1);
            for (let i = 0; i + 16 <= unique.length; i += 1) {
              if (haystack.includes(unique.slice(i, i + 16))) { hits.push(`${label} (a 16-character piece)`); break; }
            }
          }
          return hits;
        },
      };
    },
  };
  activeArgvTrace = tracer;
  return tracer;
}
