// The canary test (no secret leaks through any store or any command): for each token store
// (`file`, `kernel-keyring`, `secret-service`) run every command at --verbose where it has one:
//   login --json --verbose, status --json, token --verbose (fresh: no network),
//   token --verbose --min-ttl 100000 (forces a refresh), refresh --json --verbose,
//   login of a second profile, logout --json --verbose, logout --all --json --verbose,
// collect every secret the session ever held FROM THE WIRE (every access, refresh and ID token a
// token endpoint answered with, every device code a device authorization endpoint issued; keyring
// stores keep nothing on disk to read back), and assert that none of them, nor any 16-character
// piece of one, appears in any stdout, stderr or JSON output, or in any file under the temporary
// HOME. The only permitted appearances: the access token on `token`'s stdout, and the file store's
// own token files ($XDG_STATE_HOME/devicelogin/tokens/PROFILE.json). With a keyring store no file
// may contain any of them. Only labels are ever printed. The DPoP private key has its own case
// at the end (against the dev server, with the file store).
//
// Stores: env DEVICELOGIN_CANARY_STORES (comma/space separated; default "file,kernel-keyring").
// `secret-service` needs a private, unlocked Secret Service: run the suite through
// scripts/with-keyring.sh (ctest integration_<kind>_canary_secret_service does); outside it that
// case is skipped with the reason. Where the kernel refuses the persistent keyring, the
// kernel-keyring case is skipped with the CLI's reason, never passed.

import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';

import * as crypto from 'node:crypto';
import * as os from 'node:os';

import {
  canTraceArgv, cliPath, describeRun, findSecrets, killAllChildren, listFiles, loginWithApproval, makeHome, makeTestPki,
  parseJsonOutput, runCli, serverKinds, startAuthProxy, startCli, startPublicDevserver, startServer, startTlsFront,
  traceArgv,
} from './harness.mjs';

const skip = cliPath() ? false : 'DEVICELOGIN_BIN is not set';
const STORES = (process.env.DEVICELOGIN_CANARY_STORES ?? 'file,kernel-keyring')
  .split(/[\s,]+/).filter(Boolean);
const SECOND_PROFILE = 'canary-second';

// What a --verbose trace must show for this test to mean anything: the HTTP exchange, including
// the (redacted) bodies that carried the secrets. Only the description is printed on failure.
const TRACE = {
  request: ['an HTTP request line', /^> POST \S+ HTTP\/\S+$/m],
  status: ['an HTTP status line', /^< HTTP\/\S+ \d{3}/m],
  deviceBody: ['the device authorization response body', /^< .*"device_code"/m],
  tokenBody: ['a token response body', /^< .*"access_token"/m],
  form: (field) => [`a request body with ${field}=`, new RegExp(`^> .*\\b${field}=`, 'm')],
};
function assertTraced(stderr, what, expected) {
  for (const [description, pattern] of expected) {
    assert.ok(pattern.test(stderr), `\`${what}\`: the --verbose trace on stderr shows ${description}`);
  }
}

// Why a store cannot be tested here (a skip reason), or undefined.
function storeUnavailable(store) {
  if (store === 'secret-service' && !(process.env.WITH_KEYRING_ACTIVE === '1' && process.env.DBUS_SESSION_BUS_ADDRESS)) {
    return 'no private Secret Service: run this suite through scripts/with-keyring.sh';
  }
  return undefined;
}

for (const kind of serverKinds()) {
  for (const store of STORES) {
    describe(`canary: no secret leaks from the CLI against ${kind}, --store ${store}`, { skip, timeout: 150000 }, () => {
      let server;
      let home;
      let loggedIn = false;
      before(async () => {
        server = await startServer(kind, { interval: 1 });
        home = await makeHome();
        // The CLI runs with a scrubbed environment; the Secret Service store needs the session bus.
        if (store === 'secret-service' && process.env.DBUS_SESSION_BUS_ADDRESS) {
          home.env.DBUS_SESSION_BUS_ADDRESS = process.env.DBUS_SESSION_BUS_ADDRESS;
        }
      });
      after(async () => {
        // Keyring entries outlive this HOME's directory: remove them whatever happened below.
        if (loggedIn) await runCli(['logout', '--all'], { env: home.env }).catch(() => {});
        killAllChildren();
        await server?.stop();
        await home?.remove();
      });

      test('every command at --verbose leaks no token or device code', async (t) => {
        const unavailable = storeUnavailable(store);
        if (unavailable) {
          t.skip(unavailable);
          return;
        }
        const runs = []; // { name, stdout, stderr, stdoutIsToken }
        const wireSecrets = async () => {
          const list = [];
          (await server.tokens()).forEach((set, i) => {
            const n = `#${i + 1} (${set.grant_type === 'refresh_token' ? 'refresh grant' : 'device grant'})`;
            for (const [what, value] of [['access token', set.access_token], ['refresh token', set.refresh_token],
              ['ID token', set.id_token]]) {
              const access = what === 'access token';
              const parts = typeof value === 'string' ? value.split('.') : [];
              if (parts.length === 3) {
                // A JWT's header, and the start of its payload, are shared by every token the server
                // signs: the whole token and payload, and any 16 characters of the signature, are the
                // distinctive secrets.
                list.push({ label: `${what} ${n}`, value, pieces: false, access });
                list.push({ label: `${what} ${n} payload`, value: parts[1], pieces: false, access });
                list.push({ label: `${what} ${n} signature`, value: parts[2], access });
              } else {
                list.push({ label: `${what} ${n}`, value, access });
              }
            }
          });
          (await server.deviceCodes()).forEach((code, i) => {
            list.push({ label: `device code #${i + 1}`, value: code });
          });
          return list;
        };
        const redactable = async () => (await wireSecrets()).map((s) => s.value).filter(Boolean);
        const issuedCount = async () => (await server.tokens()).length;
        const lastAccessToken = async () => (await server.tokens()).at(-1)?.access_token;

        // Every file under HOME, read after each step, since a file may come and go (temp files).
        const fileContents = [];
        const snapshotFiles = async (step) => {
          for (const file of await listFiles(home.home)) {
            try {
              fileContents.push({ file, step, data: await fs.readFile(file, 'latin1') });
            } catch { /* vanished between listing and reading */ }
          }
        };
        const tokenFileOf = (profile) => path.join(home.stateDir, 'tokens', `${profile}.json`);
        const permittedFiles = new Set(store === 'file' ? [tokenFileOf('default'), tokenFileOf(SECOND_PROFILE)] : []);

        const run = async (argv, { stdoutIsToken = false } = {}) => {
          const result = await runCli(argv, { env: home.env });
          runs.push({ name: argv.join(' '), stdout: result.stdout, stderr: result.stderr, stdoutIsToken });
          await snapshotFiles(argv.join(' '));
          return result;
        };
        const login = async (profileArgs) => {
          const done = await loginWithApproval(server, home, {
            extra: ['--verbose', ...profileArgs], record: true, store,
          });
          const name = `login --json --verbose --store ${store}${profileArgs.length ? ` ${profileArgs.join(' ')}` : ''}`;
          runs.push({ name, stdout: done.result.stdout, stderr: done.result.stderr });
          await snapshotFiles(name);
          return done;
        };

        // 1. login (default profile). Where the kernel refuses the persistent keyring the CLI says
        // so, before the device flow (login throws) or when it stores the tokens: skipped, not passed.
        const refused = (text) => (store === 'kernel-keyring'
          ? String(text).split('\n').find((line) => /kernel keyring is not available/.test(line)) : undefined);
        let first;
        try {
          first = await login([]);
        } catch (error) {
          const reason = refused(error.message);
          if (reason) {
            t.skip(`the kernel keyring is refused here: ${reason.trim()}`);
            return;
          }
          throw error;
        }
        if (first.result.code !== 0 && refused(first.result.stderr)) {
          t.skip(`the kernel keyring is refused here: ${refused(first.result.stderr).trim()}`);
          return;
        }
        assert.equal(first.result.code, 0, describeRun(first.argv, first.result, await redactable()));
        loggedIn = true;
        assertTraced(first.result.stderr, 'login --verbose', [TRACE.request, TRACE.status, TRACE.deviceBody,
          TRACE.form('device_code'), TRACE.tokenBody]);
        assert.equal(await issuedCount(), 1, 'the login\'s token response was recorded from the wire');
        assert.equal((await server.deviceCodes()).length, 1, 'the login\'s device code was recorded');

        // 2. status (it has no --verbose).
        const statusArgv = ['status', '--json'];
        const status = await run(statusArgv);
        assert.equal(status.code, 0, describeRun(statusArgv, status, await redactable()));
        assert.equal(parseJsonOutput(status.stdout, 'status --json').store, store, `the profile uses the ${store} store`);

        // 3. token with a fresh access token: printed from the store, nothing issued.
        const freshArgv = ['token', '--verbose'];
        const fresh = await run(freshArgv, { stdoutIsToken: true });
        assert.equal(fresh.code, 0, describeRun(freshArgv, fresh, await redactable()));
        assert.equal(await issuedCount(), 1, '`token --verbose` with a fresh token did not refresh');
        assert.ok(fresh.stdout === `${await lastAccessToken()}\n`, '`token --verbose` printed the login\'s access token');
        assert.ok(!/^> /m.test(fresh.stderr), '`token --verbose` with a fresh token sent no HTTP request');

        // 4. token forced to refresh (the access token lives 3600 s < 100000 s).
        const forcedArgv = ['token', '--verbose', '--min-ttl', '100000'];
        const forced = await run(forcedArgv, { stdoutIsToken: true });
        assert.equal(forced.code, 0, describeRun(forcedArgv, forced, await redactable()));
        assert.equal(await issuedCount(), 2, '`token --min-ttl 100000` refreshed once (recorded from the wire)');
        assert.ok(forced.stdout === `${await lastAccessToken()}\n`, '`token --min-ttl 100000` printed the refreshed access token');
        assertTraced(forced.stderr, forcedArgv.join(' '), [TRACE.request, TRACE.status, TRACE.form('refresh_token'),
          TRACE.tokenBody]);

        // 5. refresh.
        const refreshArgv = ['refresh', '--json', '--verbose'];
        const refresh = await run(refreshArgv);
        assert.equal(refresh.code, 0, describeRun(refreshArgv, refresh, await redactable()));
        assert.equal(await issuedCount(), 3, 'refresh was recorded from the wire');
        assertTraced(refresh.stderr, refreshArgv.join(' '), [TRACE.request, TRACE.status, TRACE.form('refresh_token'),
          TRACE.tokenBody]);
        parseJsonOutput(refresh.stdout, 'refresh --json');

        // 6. a second profile, so that logout --all has something left to do after logout.
        const second = await login(['--profile', SECOND_PROFILE]);
        assert.equal(second.result.code, 0, describeRun(second.argv, second.result, await redactable()));
        assertTraced(second.result.stderr, 'login --verbose --profile', [TRACE.request, TRACE.deviceBody, TRACE.tokenBody]);
        assert.equal(await issuedCount(), 4, 'the second login\'s token response was recorded');

        if (store === 'file') {
          // The file store's token files exist (or this test would excuse nothing) and hold what the
          // wire says was issued last, which also proves the wire recording sees the real tokens.
          const tokens = await server.tokens();
          const defaultFile = await fs.readFile(tokenFileOf('default'), 'utf8').catch(() => '');
          const secondFile = await fs.readFile(tokenFileOf(SECOND_PROFILE), 'utf8').catch(() => '');
          assert.ok(defaultFile.includes(tokens[2].access_token), 'the default token file holds the refreshed access token');
          assert.ok(secondFile.includes(tokens[3].access_token), 'the second token file holds its access token');
        }

        // 7. logout of the default profile, then 8. logout --all.
        const logoutArgv = ['logout', '--json', '--verbose'];
        const logout = await run(logoutArgv);
        assert.equal(logout.code, 0, describeRun(logoutArgv, logout, await redactable()));
        assertTraced(logout.stderr, logoutArgv.join(' '), [TRACE.request, TRACE.status, TRACE.form('token')]);
        const logoutAnswer = parseJsonOutput(logout.stdout, 'logout --json');
        assert.equal(logoutAnswer.deleted, true, 'logout deleted the default profile\'s tokens');

        const allArgv = ['logout', '--all', '--json', '--verbose'];
        const all = await run(allArgv);
        assert.equal(all.code, 0, describeRun(allArgv, all, await redactable()));
        assertTraced(all.stderr, allArgv.join(' '), [TRACE.request, TRACE.status, TRACE.form('token')]);
        const allAnswer = parseJsonOutput(all.stdout, 'logout --all --json');
        assert.equal(allAnswer.deleted, true, 'logout --all deleted every profile');
        loggedIn = false;

        const leftArgv = ['status', '--json', '--profile', SECOND_PROFILE];
        const left = await run(leftArgv);
        assert.equal(left.code, 5, describeRun(leftArgv, left, await redactable()));

        // The canaries, all from the wire.
        const secrets = await wireSecrets();
        assert.equal(secrets.filter((s) => s.label.startsWith('device code')).length, 2, 'both device codes were recorded');
        assert.ok(secrets.filter((s) => s.value).length >= 10, 'canaries were collected');

        const leaks = [];
        for (const r of runs) {
          for (const label of findSecrets(r.stderr, secrets)) leaks.push(`stderr of \`${r.name}\`: ${label}`);
          if (!r.stdoutIsToken) {
            for (const label of findSecrets(r.stdout, secrets)) leaks.push(`stdout of \`${r.name}\`: ${label}`);
          } else {
            // `token` prints exactly one issued access token and nothing else.
            const printed = r.stdout.endsWith('\n') ? r.stdout.slice(0, -1) : r.stdout;
            if (!secrets.some((s) => s.access && s.value === printed)) {
              leaks.push(`stdout of \`${r.name}\`: not exactly one issued access token`);
            }
            const others = secrets.filter((s) => !s.access);
            for (const label of findSecrets(r.stdout, others)) leaks.push(`stdout of \`${r.name}\`: ${label}`);
          }
        }
        for (const { file, step, data } of fileContents) {
          if (permittedFiles.has(file)) continue;
          const where = path.relative(home.home, file);
          for (const label of findSecrets(data, secrets)) leaks.push(`file ~/${where} (after \`${step}\`): ${label}`);
        }
        const unique = [...new Set(leaks)];
        t.diagnostic(`${runs.length} runs, ${new Set(fileContents.map((f) => f.file)).size} distinct files, `
          + `${secrets.filter((s) => s.value).length} canaries`);
        assert.ok(unique.length === 0, `secrets leaked:\n  ${unique.join('\n  ')}`);
      });
    });
  }
}

// The secrets of the transport: a proxy password, which libcurl quotes in its trace
// ("Uses proxy env variable https_proxy == 'http://user:password@...'") and sends base64-encoded
// in Proxy-Authorization, and a client secret, sent in Authorization: Basic on every token
// request. The devserver advertises https://idp.test, reached only through an authenticating
// CONNECT proxy on 127.0.0.1 that tunnels to a TLS front (a test CA, given with --ca-file) of the
// devserver: the CLI sends nothing outside loopback. login, a forced refresh and logout run at
// --verbose; no output and no file under HOME may hold either secret, encoded or not.
if (serverKinds().includes('devserver')) {
  describe('canary: proxy password and client secret never leak (devserver behind a proxy)', { skip, timeout: 120000 }, () => {
    const proxyUser = 'proxyuser';
    const proxyPassword = `Pr0xy-${crypto.randomBytes(12).toString('base64url')}`;
    const clientId = 'canary-confidential';
    const clientSecret = `cs-${crypto.randomBytes(18).toString('base64url')}`;
    const issuer = 'https://idp.test';
    let pkiDir;
    let server;
    let front;
    let proxy;
    let home;
    before(async () => {
      pkiDir = await fs.mkdtemp(path.join(os.tmpdir(), 'devicelogin-pki-'));
      const pki = await makeTestPki(pkiDir);
      server = await startPublicDevserver({ issuer, clientId, clientSecret });
      front = await startTlsFront(pki, () => server.port);
      proxy = await startAuthProxy({ user: proxyUser, password: proxyPassword, tunnelPort: front.port });
      home = await makeHome();
      home.caFile = pki.caFile;
    });
    after(async () => {
      killAllChildren();
      await proxy?.stop();
      await front?.stop();
      await server?.stop();
      await home?.remove();
      if (pkiDir) await fs.rm(pkiDir, { recursive: true, force: true });
    });

    test('login, refresh and logout through the proxy at --verbose leak neither secret', async () => {
      const env = { ...home.env, https_proxy: proxy.url, DEVICELOGIN_CLIENT_SECRET: clientSecret };
      const basic = (user, password) => Buffer.from(`${user}:${password}`).toString('base64');
      const secrets = [
        { label: 'proxy password', value: proxyPassword },
        { label: 'proxy password (percent-encoded)', value: encodeURIComponent(proxyPassword) },
        { label: 'proxy credentials (Basic)', value: basic(proxyUser, proxyPassword) },
        { label: 'client secret', value: clientSecret },
        { label: 'client credentials (Basic)', value: basic(encodeURIComponent(clientId), encodeURIComponent(clientSecret)) },
      ];
      const shown = secrets.map((s) => s.value);
      const runs = [];
      const run = async (argv) => {
        const result = await runCli(argv, { env, timeoutMs: 30000 });
        runs.push({ name: argv.join(' '), ...result });
        assert.equal(result.code, 0, describeRun(argv, result, shown));
        return result;
      };
      const login = await run(['login', '--issuer', issuer, '--client-id', clientId, '--scope', 'openid offline_access',
        '--ca-file', home.caFile, '--store', 'file', '--no-browser', '--no-qr', '--json', '--verbose']);
      // The trace shows the exchange (so it could have leaked), and it went through the proxy.
      assert.match(login.stderr, /^> POST \S+ HTTP\/\S+$/m, 'the login trace shows its requests');
      assert.match(login.stderr, new RegExp(`127\\.0\\.0\\.1.*\\b${proxy.port}\\b`), 'the login trace names the proxy');
      await run(['token', '--verbose', '--min-ttl', '100000']);
      await run(['logout', '--json', '--verbose']);
      assert.ok(proxy.stats.authorized.length >= 3, `every command went through the proxy (${proxy.stats.authorized.length} tunnels)`);
      assert.ok(proxy.stats.authorized.every((target) => target === 'idp.test:443'), 'tunnels to idp.test:443 only');

      const leaks = [];
      for (const r of runs) {
        for (const label of findSecrets(r.stderr, secrets)) leaks.push(`stderr of \`${r.name}\`: ${label}`);
        for (const label of findSecrets(r.stdout, secrets)) leaks.push(`stdout of \`${r.name}\`: ${label}`);
      }
      for (const file of await listFiles(home.home)) {
        const data = await fs.readFile(file, 'latin1').catch(() => '');
        for (const label of findSecrets(data, secrets)) leaks.push(`file ~/${path.relative(home.home, file)}: ${label}`);
      }
      assert.ok(leaks.length === 0, `secrets leaked:\n  ${[...new Set(leaks)].join('\n  ')}`);
    });
  });
}

// The DPoP private key: made at login, kept only in the store (the file store's 0600 token file
// here, where the test can read it back), used for every proof. Against the dev server, which
// asks for nonces: login --dpop, status, api (userinfo and a loopback API), refresh, a second
// login (a new key; the old set is revoked with proofs of the old one), logout, all at --verbose
// and under the argv trace. No output, trace, argv or file under HOME other than the token file
// may hold any key's private part `d`: as stored (base64url), as standard base64, as hex, or its
// raw bytes. And a CLI that crashes while it holds the key leaves no core file (it turns core dumps
// off at start): shown by a crash (SIGSEGV) in mid-request with the core limit raised, next to a
// control process that does leave a core there. Runs with the file store's case (the one store
// whose contents a test can read back), once.
if (serverKinds().includes('devserver') && STORES.includes('file')) {
  describe('canary: the DPoP private key never leaves the store', { skip, timeout: 180000 }, () => {
    let server;
    let home;
    let api;
    let releaseHeld;
    let heldSeen;
    const outputs = [];
    const fileContents = [];
    const keys = [];
    let argvWatch;

    before(async () => {
      server = await startServer('devserver', { interval: 1, dpopNonce: true });
      home = await makeHome();
      let held;
      heldSeen = new Promise((resolve) => { held = resolve; });
      api = http.createServer((req, res) => {
        req.resume();
        if (req.url === '/hold') {
          held();
          releaseHeld = () => res.writeHead(200).end('{}');
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
      await new Promise((resolve) => { api.listen(0, '127.0.0.1', resolve); });
      if (canTraceArgv()) argvWatch = await traceArgv();
    });
    after(async () => {
      killAllChildren();
      releaseHeld?.();
      await new Promise((resolve) => { if (api) api.close(resolve); else resolve(); });
      await server?.stop();
      await home?.remove();
    });

    const snapshot = async (step) => {
      for (const file of await listFiles(home.home)) {
        try {
          fileContents.push({ file, step, data: await fs.readFile(file, 'latin1') });
        } catch { /* vanished between listing and reading */ }
      }
    };
    const tokenFile = () => path.join(home.stateDir, 'tokens', 'default.json');
    const rememberKey = async () => {
      const doc = JSON.parse(await fs.readFile(tokenFile(), 'utf8'));
      const set = doc.dpop_key ? doc : Object.values(doc).find((v) => v && typeof v === 'object' && v.dpop_key);
      const { d } = JSON.parse(set.dpop_key);
      assert.ok(typeof d === 'string' && d.length >= 40, 'the stored key has its private part');
      keys.push(d);
    };
    const run = async (argv, expected = 0) => {
      const result = await runCli(argv, { env: home.env });
      outputs.push({ name: argv.join(' '), text: `${result.stdout}\n${result.stderr}` });
      await snapshot(argv.join(' '));
      assert.equal(result.code, expected, describeRun(argv, result));
      return result;
    };
    const login = async () => {
      const { result, argv } = await loginWithApproval(server, home, {
        extra: ['--dpop', '--verbose', '--api-url', `http://127.0.0.1:${api.address().port}`],
      });
      outputs.push({ name: 'login', text: `${result.stdout}\n${result.stderr}` });
      await snapshot('login');
      assert.equal(result.code, 0, describeRun(argv, result));
      await rememberKey();
    };
    // Every form a key's private part could take in text or bytes.
    const forms = () => keys.flatMap((d, i) => {
      const raw = Buffer.from(d, 'base64url');
      return [
        { label: `key ${i + 1} d (base64url)`, value: d },
        { label: `key ${i + 1} d (base64)`, value: raw.toString('base64').replace(/=+$/, '') },
        { label: `key ${i + 1} d (hex)`, value: raw.toString('hex') },
        { label: `key ${i + 1} d (HEX)`, value: raw.toString('hex').toUpperCase() },
        { label: `key ${i + 1} d (raw bytes)`, value: raw.toString('latin1') },
      ];
    });

    test('every command at --verbose: no form of any private key in outputs, traces, argv or files', async () => {
      const meta = await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json();
      await login();
      await run(['status', '--json']);
      const traced = await run(['api', '--verbose', meta.userinfo_endpoint]);
      assert.match(traced.stderr, /^> GET /m, 'the api trace was captured');
      await run(['api', '--verbose', '/thing']);
      await run(['refresh', '--verbose']);
      await login();
      assert.notEqual(keys[0], keys[1], 'the second login made a new key');
      await run(['logout', '--json', '--verbose']);

      const secrets = forms();
      const leaks = [];
      for (const { name, text } of outputs) {
        for (const label of findSecrets(text, secrets)) leaks.push(`output of \`${name}\`: ${label}`);
      }
      for (const { file, step, data } of fileContents) {
        // The token file is the store; after logout it is gone.
        if (file === tokenFile()) continue;
        for (const label of findSecrets(data, secrets)) leaks.push(`file ~/${path.relative(home.home, file)} (after \`${step}\`): ${label}`);
      }
      if (argvWatch) {
        const watched = await argvWatch.stop();
        argvWatch = undefined;
        assert.ok(watched.saw(/ api --verbose \/thing$/), 'the command lines were traced');
        const found = watched.found(Object.fromEntries(secrets.filter((s) => !s.label.endsWith('(raw bytes)'))
          .map((s) => [s.label, s.value])));
        for (const label of found) leaks.push(`argv: ${label}`);
      }
      assert.deepEqual([...new Set(leaks)], [], 'a private key leaked');
    });

    test('a crash while the key is in use leaves no core file', async (t) => {
      // A place of our own for cores: the kernel writes a plain "core" pattern into the crashing
      // process's working directory.
      const pattern = (await fs.readFile('/proc/sys/kernel/core_pattern', 'utf8').catch(() => '')).trim();
      if (!/^core(\.%[a-z])*$/.test(pattern)) {
        t.skip(`core_pattern is "${pattern}": cores do not land in the working directory here`);
        return;
      }
      const cores = async (dir) => (await fs.readdir(dir)).filter((name) => name.startsWith('core'));
      // With the core limit raised, then the command.
      const wrapper = (dir) => ['/bin/sh', '-c', 'ulimit -c unlimited && cd "$1" && shift && exec "$@"', 'sh', dir];
      // The control: a process that does not turn cores off leaves one here.
      const controlDir = await fs.mkdtemp(path.join(home.home, 'control-'));
      const control = spawn(wrapper(controlDir)[0], [...wrapper(controlDir).slice(1), '/bin/sleep', '30'], { stdio: 'ignore' });
      await new Promise((resolve) => { setTimeout(resolve, 200); });
      control.kill('SIGSEGV');
      await new Promise((resolve) => { control.once('exit', resolve); });
      if ((await cores(controlDir)).length === 0) {
        t.skip('no core file even from the control process here (cores are off for this user or filesystem)');
        return;
      }
      // Not under the argv trace (whose strace would be the process signalled).
      if (argvWatch) {
        await argvWatch.stop();
        argvWatch = undefined;
      }
      await login();
      const crashDir = await fs.mkdtemp(path.join(home.home, 'crash-'));
      // In a sanitized build ASan would catch the signal itself (and abort without a core whatever
      // our code does): told to leave SIGSEGV and cores alone, the CLI's own protections are what
      // is tested (the options mean nothing to an unsanitized build).
      const asan = `${process.env.ASAN_OPTIONS ?? ''}:handle_segv=0:disable_coredump=0`;
      const proc = startCli(['api', '/hold'], { env: { ...home.env, ASAN_OPTIONS: asan }, prefix: wrapper(crashDir) });
      proc.child.stdin.end();
      await heldSeen;  // the request is at the API: the key was loaded and a proof signed with it
      const exe = await fs.readlink(`/proc/${proc.child.pid}/exe`);
      assert.match(path.basename(exe), /^devicelogin/, 'the process signalled is the CLI');
      process.kill(proc.child.pid, 'SIGSEGV');
      const result = await proc.wait(20000);
      assert.equal(result.signal, 'SIGSEGV', describeRun(['api', '/hold'], result));
      assert.deepEqual(await cores(crashDir), [], 'the CLI left a core file');
      await snapshot('crash');
      const leaks = [];
      for (const { file, data } of fileContents.filter((f) => f.step === 'crash' && f.file !== tokenFile())) {
        for (const label of findSecrets(data, forms())) leaks.push(`file ~/${path.relative(home.home, file)}: ${label}`);
      }
      assert.deepEqual(leaks, []);
    });
  });
}
