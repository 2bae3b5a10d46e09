// The browser flow (`login --flow browser`: authorization code + PKCE S256 + state + nonce on a
// loopback redirect, RFC 8252 §7.3 / RFC 7636) against the real oidc-provider:
//  - headless Chromium (Debian's, driven by playwright-core from tests/browser) opens the URL the
//    CLI prints, signs in and consents; the tokens are stored and `token` works;
//  - hostile requests to the CLI's listener (wrong state, no code, another path, a POST, a
//    slow-loris connection, a 1 MiB query, an error with a wrong state) are each refused with 400
//    and store nothing, and the real callback still works after them; a second callback finds the
//    listener closed;
//  - an error callback (access_denied) exits 3 as the device flow's denial does; the deadline
//    (--timeout) exits 4;
//  - `auto` picks the device flow without a local browser, the browser flow for a server without
//    a device endpoint, and the browser flow after a device authorization refused as turned off
//    (a stub server with recorded answers);
//  - the canary: the authorization code and the PKCE verifier never appear in the CLI's output,
//    its --verbose trace or any argv;
//  - the same against our dev server (`devicelogin serve`): its sign-in and consent pages, Approve
//    (tokens stored and active at its introspection) and Deny (exit 3, nothing stored).
//
// Environment: DEVICELOGIN_BIN (required); DEVICELOGIN_CHROMIUM (default /usr/bin/chromium);
// playwright-core is taken from tests/browser/node_modules (the browser_npm_ci fixture).

import { strict as assert } from 'node:assert';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import { signInUntilCallback } from './sign_in_browser.mjs';
import {
  canTraceArgv, cliPath, describeRun, findSecrets, killAllChildren, makeHome, readTokenFile, runCli, sleep,
  startCli, startServer, traceArgv,
} from './harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const skip = cliPath() ? false : 'DEVICELOGIN_BIN is not set';
const EXIT = { ok: 0, other: 1, denied: 3, expired: 4, server: 6 };
const CHROMIUM = process.env.DEVICELOGIN_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

function loadPlaywright() {
  try {
    const require = createRequire(path.join(HERE, '..', 'browser', 'package.json'));
    return require('playwright-core');
  } catch {
    return undefined;
  }
}

/** A home whose PATH starts with a fake xdg-open that records the URL it was given. */
async function homeWithFakeBrowser() {
  const home = await makeHome();
  const fakeBin = path.join(home.home, 'fake-bin');
  await fs.mkdir(fakeBin);
  await fs.writeFile(path.join(fakeBin, 'xdg-open'), '#!/bin/sh\nprintf "%s\\n" "$1" >> "$HOME/opened-urls.txt"\n',
    { mode: 0o755 });
  const withBrowser = { ...home.env, DISPLAY: ':99', PATH: `${fakeBin}:${process.env.PATH ?? '/usr/bin:/bin'}` };
  const openedUrls = async () => (await fs.readFile(path.join(home.home, 'opened-urls.txt'), 'utf8').catch(() => ''))
    .split('\n').filter(Boolean);
  return { ...home, withBrowser, openedUrls };
}

function browserArgs(server, extra = []) {
  return ['login', '--issuer', server.issuer, '--client-id', server.browserClientId, '--scope', server.scope,
    '--flow', 'browser', '--no-qr', '--store', 'file', '--json', ...extra];
}

/** One raw HTTP/1.1 request to the listener; resolves to { status, body } or { error }. */
function rawRequest(port, host, text) {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    let answer = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => { answer += chunk; });
    socket.on('error', (error) => resolve({ error: error.code ?? String(error) }));
    socket.on('end', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
      resolve({ status, body: answer.slice(answer.indexOf('\r\n\r\n') + 4) });
    });
    socket.on('connect', () => { socket.write(text); });
  });
}

function get(port, host, target) {
  return rawRequest(port, host, `GET ${target} HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`);
}

/** Starts a browser-flow login and waits for its `browser` event. */
async function startBrowserLogin(argv, env) {
  const proc = startCli(argv, { env });
  proc.child.stdin.end();
  try {
    const event = await proc.waitForLine((l) => l.event === 'browser', 15000);
    const redirect = new URL(event.redirect_uri);
    return {
      proc, event, port: Number(redirect.port), host: redirect.hostname.replace(/^\[|\]$/g, ''),
      state: new URL(event.authorization_url).searchParams.get('state'),
    };
  } catch (error) {
    proc.kill();
    const result = await proc.wait(5000);
    throw new Error(`${error.message}\n${describeRun(argv, result)}`);
  }
}

describe('browser flow against oidc-provider', { skip, timeout: 240000 }, () => {
  let server;
  let home;

  before(async () => {
    server = await startServer('oidc-provider', { interval: 1 });
    home = await homeWithFakeBrowser();
  });
  after(async () => {
    killAllChildren();
    await server?.stop();
    await home?.remove();
  });

  const playwright = loadPlaywright();
  const chromiumMissing = !playwright ? 'playwright-core is not installed (tests/browser: npm ci)' : false;

  test('Chromium signs in at the printed URL; tokens are stored and token works', { skip: chromiumMissing }, async () => {
    await fs.access(CHROMIUM);
    const argv = browserArgs(server, ['--profile', 'chromium']);
    const login = await startBrowserLogin(argv, home.withBrowser);
    const url = new URL(login.event.authorization_url);
    assert.match(login.event.redirect_uri, /^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    assert.equal(url.origin, server.issuer);
    assert.equal(url.searchParams.get('response_type'), 'code');
    assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
    assert.match(url.searchParams.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
    assert.match(url.searchParams.get('state'), /^[A-Za-z0-9_-]{43}$/);
    assert.match(url.searchParams.get('nonce'), /^[A-Za-z0-9_-]{43}$/);
    assert.equal(login.event.authorization_host, new URL(server.issuer).host);

    const browser = await playwright.chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    let finalTitle;
    try {
      const page = await browser.newPage();
      await page.goto(login.event.authorization_url);
      await page.fill('input[name=login]', 'alice');
      await page.fill('input[name=password]', 'any password');
      await page.click('button[type=submit]');
      await page.waitForSelector('input[name=prompt][value=consent]', { state: 'attached' });
      await page.click('button[type=submit]');
      await page.waitForURL((u) => u.href.startsWith(login.event.redirect_uri));
      finalTitle = await page.title();
    } finally {
      await browser.close();
    }
    assert.equal(finalTitle, 'Signed in', 'the listener answered the browser with its page');
    const result = await login.proc.wait(30000);
    assert.equal(result.code, EXIT.ok, describeRun(argv, result));
    // The same launcher as the device flow's (xdg-open) got the URL.
    assert.ok((await home.openedUrls()).includes(login.event.authorization_url), 'xdg-open was given the URL');

    const token = await runCli(['token', '--profile', 'chromium'], { env: home.env });
    assert.equal(token.code, EXIT.ok, describeRun(['token'], token));
    const introspection = await server.introspect(token.stdout.trim());
    assert.equal(introspection.active, true, 'the stored access token is active');
    assert.equal(introspection.sub, 'alice');
    const profile = JSON.parse(await fs.readFile(path.join(home.configDir, 'profiles', 'chromium.json'), 'utf8'));
    assert.equal(profile.login_flow, 'browser', 'the flow is remembered in the profile');
    assert.equal(profile.authorization_endpoint, `${server.issuer}/auth`);
  });

  test('hostile requests are refused with 400 and store nothing; the real callback still works', async () => {
    const fresh = await makeHome();
    const argv = browserArgs(server, ['--profile', 'hostile', '--no-browser']);
    const login = await startBrowserLogin(argv, fresh.env);
    const { port, host, state } = login;
    try {
      const callback = new URL(await signInUntilCallback(login.event.authorization_url, login.event.redirect_uri));
      const code = callback.searchParams.get('code');
      assert.ok(code, 'the provider redirected with a code');
      assert.equal(callback.searchParams.get('state'), state);
      const with_ = (params) => `/callback?${new URLSearchParams(params)}`;

      // A slow-loris connection: a request head that never ends, held open throughout.
      const slow = net.connect({ port, host });
      await new Promise((resolve) => slow.once('connect', resolve));
      slow.write('GET /callback?state=');
      slow.on('error', () => {});

      const refused = {
        'wrong state': await get(port, host, with_({ code, state: `${state.slice(0, -1)}A` })),
        'missing code': await get(port, host, with_({ state })),
        'missing state': await get(port, host, with_({ code })),
        'another path': await get(port, host, `/other?${callback.searchParams}`),
        'an error with a wrong state': await get(port, host, with_({ error: 'access_denied', state: 'x' })),
        'a POST': await rawRequest(port, host,
          `POST ${callback.pathname}${callback.search} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n`),
        'a 1 MiB query': await get(port, host, with_({ state, code, junk: 'j'.repeat(1024 * 1024) })),
        'not HTTP': await rawRequest(port, host, 'HELLO\r\n\r\n'),
      };
      for (const [what, answer] of Object.entries(refused)) {
        assert.equal(answer.status, 400, `${what}: ${JSON.stringify({ ...answer, body: undefined })}`);
      }
      // The listener is bound to loopback: this machine's other addresses do not reach it.
      const external = Object.values(os.networkInterfaces()).flat().find((a) => a?.family === 'IPv4' && !a.internal);
      if (external) {
        const outside = await get(port, external.address, `${callback.pathname}${callback.search}`);
        assert.equal(outside.error, 'ECONNREFUSED', `from ${external.address}: ${JSON.stringify(outside)}`);
      }
      assert.equal(login.proc.child.exitCode, null, 'the CLI is still waiting');
      assert.ok((await readTokenFile(fresh)) === undefined, 'nothing was stored');

      const good = await get(port, host, `${callback.pathname}${callback.search}`);
      assert.equal(good.status, 200);
      assert.match(good.body, /<title>Signed in<\/title>/);
      assert.doesNotMatch(good.body, new RegExp(code), 'the page does not repeat the code');
      const result = await login.proc.wait(30000);
      assert.equal(result.code, EXIT.ok, describeRun(argv, result, [code]));
      slow.destroy();

      // A second callback finds the listener closed.
      const second = await get(port, host, `${callback.pathname}${callback.search}`);
      assert.ok(second.error === 'ECONNREFUSED' || second.status === 400, JSON.stringify(second));
      const events = await (await fetch(`${server.issuer}/__test/events`)).json();
      assert.equal(events.codes.filter((c) => c.code === code).length, 1, 'the code was exchanged once');
      assert.ok((await readTokenFile(fresh)) !== undefined, 'the tokens were stored');
    } finally {
      login.proc.kill();
      await fresh.remove();
    }
  });

  test('an access_denied callback exits 3 and stores nothing', async () => {
    const fresh = await makeHome();
    try {
      const argv = browserArgs(server, ['--no-browser']);
      const login = await startBrowserLogin(argv, fresh.env);
      const answer = await get(login.port, login.host,
        `/callback?${new URLSearchParams({ error: 'access_denied', error_description: 'no', state: login.state })}`);
      assert.equal(answer.status, 200);
      assert.match(answer.body, /Sign-in failed/);
      const result = await login.proc.wait(20000);
      assert.equal(result.code, EXIT.denied, describeRun(argv, result));
      assert.ok((await readTokenFile(fresh)) === undefined, 'nothing was stored');
    } finally {
      await fresh.remove();
    }
  });

  test('the deadline (--timeout) exits 4', async () => {
    const fresh = await makeHome();
    try {
      const argv = browserArgs(server, ['--no-browser', '--timeout', '1']);
      const result = await runCli(argv, { env: fresh.env, timeoutMs: 20000 });
      assert.equal(result.code, EXIT.expired, describeRun(argv, result));
      assert.match(result.stderr, /browser sign-in was not completed within 1 s/);
    } finally {
      await fresh.remove();
    }
  });

  test('canary: the code and the PKCE verifier are in no output, --verbose trace or argv', async () => {
    const fresh = await homeWithFakeBrowser();
    const tracer = canTraceArgv() ? await traceArgv() : undefined;
    let trace;
    try {
      const argv = browserArgs(server, ['--verbose']);
      const login = await startBrowserLogin(argv, fresh.withBrowser);
      const callback = await signInUntilCallback(login.event.authorization_url, login.event.redirect_uri);
      const answer = await get(login.port, login.host, callback.slice(callback.indexOf('/callback')));
      assert.equal(answer.status, 200);
      const result = await login.proc.wait(30000);
      trace = await tracer?.stop();
      assert.equal(result.code, EXIT.ok, describeRun(argv, result));
      const token = await runCli(['token'], { env: fresh.env });
      assert.equal(token.code, EXIT.ok);

      const events = await (await fetch(`${server.issuer}/__test/events`)).json();
      const exchanged = events.codes.at(-1);
      assert.equal(exchanged.redirect_uri, login.event.redirect_uri);
      assert.equal(exchanged.result, 'ok');
      const secrets = [
        { label: 'authorization code', value: exchanged.code },
        { label: 'PKCE verifier', value: exchanged.code_verifier },
      ];
      assert.match(exchanged.code_verifier, /^[A-Za-z0-9_-]{43}$/);
      // The verifier is the one the challenge was made of (S256).
      const challenge = createHash('sha256').update(exchanged.code_verifier).digest('base64url');
      assert.equal(new URL(login.event.authorization_url).searchParams.get('code_challenge'), challenge);
      assert.ok(result.stderr.includes('token endpoint') || result.stderr.includes('/token'), 'the verbose trace ran');
      assert.deepEqual(findSecrets(`${result.stdout}\n${result.stderr}\n${token.stderr}`, secrets), []);
      assert.deepEqual(findSecrets((await fresh.openedUrls()).join('\n'), secrets), []);
      if (trace) {
        assert.ok(trace.saw(/xdg-open/), 'the argv trace saw the browser start');
        assert.deepEqual(trace.found({ code: exchanged.code, verifier: exchanged.code_verifier }), []);
      }
    } finally {
      if (tracer && !trace) await tracer.stop();
      await fresh.remove();
    }
  });
});

describe('browser flow against our dev server (devicelogin serve)', { skip, timeout: 240000 }, () => {
  let server;
  let home;
  before(async () => {
    server = await startServer('devserver', { interval: 1 });
    home = await homeWithFakeBrowser();
  });
  after(async () => {
    killAllChildren();
    await server?.stop();
    await home?.remove();
  });
  const playwright = loadPlaywright();
  const chromiumMissing = !playwright ? 'playwright-core is not installed (tests/browser: npm ci)' : false;

  // Signs in on the dev server's own pages and presses `decision` on its consent page; resolves
  // to the title of the page the CLI's listener answered with.
  async function decideInChromium(login, decision) {
    const browser = await playwright.chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage();
      await page.goto(login.event.authorization_url);
      await page.getByLabel('Username').fill('alice');
      await page.getByLabel('Password').fill('alice');
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
      await page.getByRole('button', { name: decision, exact: true }).click();
      await page.waitForURL((u) => u.href.startsWith(login.event.redirect_uri));
      return await page.title();
    } finally {
      await browser.close();
    }
  }

  test('Chromium signs in and approves on its pages; tokens are stored, active, and token works', { skip: chromiumMissing }, async () => {
    await fs.access(CHROMIUM);
    const argv = browserArgs(server, ['--profile', 'dev']);
    const login = await startBrowserLogin(argv, home.withBrowser);
    assert.equal(new URL(login.event.authorization_url).origin, server.issuer, 'the dev server\'s authorization endpoint');
    assert.equal(await decideInChromium(login, 'Approve'), 'Signed in', 'the listener answered the browser');
    const result = await login.proc.wait(30000);
    assert.equal(result.code, EXIT.ok, describeRun(argv, result));
    const token = await runCli(['token', '--profile', 'dev'], { env: home.env });
    assert.equal(token.code, EXIT.ok, describeRun(['token'], token));
    const introspection = await server.introspect(token.stdout.trim());
    assert.equal(introspection.active, true, 'the stored access token is active at the dev server');
    const profile = JSON.parse(await fs.readFile(path.join(home.configDir, 'profiles', 'dev.json'), 'utf8'));
    assert.equal(profile.login_flow, 'browser');
  });

  test('Deny on its consent page: exit 3, nothing stored', { skip: chromiumMissing }, async () => {
    const argv = browserArgs(server, ['--profile', 'dev-denied']);
    const login = await startBrowserLogin(argv, home.withBrowser);
    await decideInChromium(login, 'Deny');
    const result = await login.proc.wait(30000);
    assert.equal(result.code, EXIT.denied, describeRun(argv, result));
    const token = await runCli(['token', '--profile', 'dev-denied'], { env: home.env });
    assert.notEqual(token.code, EXIT.ok, 'no token was stored');
  });
});

describe('auto chooses the flow', { skip, timeout: 180000 }, () => {
  let server;
  let browserOnly;
  let home;

  before(async () => {
    [server, browserOnly] = await Promise.all([
      startServer('oidc-provider', { interval: 1 }),
      startServer('oidc-provider', { interval: 1, noDeviceFlow: true }),
    ]);
    home = await homeWithFakeBrowser();
  });
  after(async () => {
    killAllChildren();
    await server?.stop();
    await browserOnly?.stop();
    await home?.remove();
  });

  async function firstEvent(argv, env) {
    const proc = startCli(argv, { env });
    proc.child.stdin.end();
    try {
      return await proc.waitForLine((l) => ['device_code', 'browser', 'error'].includes(l.event), 15000);
    } finally {
      proc.kill();
      await proc.wait(5000);
    }
  }

  test('no display: the device flow, even where a browser flow exists', async () => {
    const argv = ['login', '--issuer', server.issuer, '--client-id', server.clientId, '--no-qr', '--store', 'file',
      '--json', '--flow', 'auto', '--profile', 'nodisplay'];
    const event = await firstEvent(argv, home.env);
    assert.equal(event.event, 'device_code');
  });

  test('an SSH session with a display: the device flow', async () => {
    const argv = ['login', '--issuer', server.issuer, '--client-id', server.clientId, '--no-qr', '--store', 'file',
      '--json', '--profile', 'ssh'];
    const event = await firstEvent(argv, { ...home.withBrowser, SSH_CONNECTION: '10.0.0.1 5555 10.0.0.2 22' });
    assert.equal(event.event, 'device_code');
  });

  test('a server without a device endpoint: the browser flow', async () => {
    const argv = ['login', '--issuer', browserOnly.issuer, '--client-id', browserOnly.browserClientId, '--no-qr',
      '--store', 'file', '--json', '--profile', 'nodevice'];
    const event = await firstEvent(argv, home.env);
    assert.equal(event.event, 'browser');
    assert.ok(event.authorization_url.startsWith(`${browserOnly.issuer}/auth?`));
  });

  // A stub server whose device authorization endpoint refuses as turned off by policy, and whose
  // authorization code flow works: its token endpoint checks the verifier against the challenge.
  // With idTokenNonce, the token answer carries an ES256 ID token (key in jwks_uri) whose nonce is
  // that function's answer to the authorization request's nonce.
  async function startBlockingStub(deviceAnswer, { idTokenNonce } = {}) {
    const seen = { challenge: undefined, exchanged: [], nonce: undefined };
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const idToken = (issuer) => {
      const now = Math.floor(Date.now() / 1000);
      const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
      const input = `${part({ alg: 'ES256', kid: 'k1', typ: 'JWT' })}.${part({
        iss: issuer, aud: 'cli', sub: 'stub-user', iat: now, exp: now + 300, nonce: idTokenNonce(seen.nonce),
      })}`;
      return `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
    };
    const srv = http.createServer(async (req, res) => {
      const chunks = [];
      for await (const chunk of req) chunks.push(chunk);
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const json = (status, body) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      const base = `http://127.0.0.1:${srv.address().port}`;
      if (req.url === '/.well-known/openid-configuration') {
        json(200, {
          issuer: base, device_authorization_endpoint: `${base}/device`, token_endpoint: `${base}/token`,
          authorization_endpoint: `${base}/authorize`, jwks_uri: `${base}/jwks`,
        });
      } else if (req.url === '/jwks') {
        json(200, { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256', use: 'sig' }] });
      } else if (req.url === '/device') {
        json(deviceAnswer.status, deviceAnswer.body);
      } else if (req.url === '/token' && form.get('grant_type') === 'authorization_code') {
        const verifier = form.get('code_verifier') ?? '';
        seen.exchanged.push({ code: form.get('code'), redirect_uri: form.get('redirect_uri') });
        seen.dpop = req.headers.dpop;
        if (form.get('code') !== 'stub-code'
            || createHash('sha256').update(verifier).digest('base64url') !== seen.challenge) {
          json(400, { error: 'invalid_grant' });
          return;
        }
        json(200, {
          access_token: 'stub-access-token', token_type: req.headers.dpop ? 'DPoP' : 'Bearer', expires_in: 3600,
          ...(idTokenNonce ? { id_token: idToken(base) } : {}),
        });
      } else {
        json(404, { error: 'not_found' });
      }
    });
    await new Promise((resolve) => { srv.listen(0, '127.0.0.1', resolve); });
    return {
      issuer: `http://127.0.0.1:${srv.address().port}`,
      seen,
      stop: () => new Promise((resolve) => { srv.closeAllConnections?.(); srv.close(resolve); }),
    };
  }

  for (const [name, answer] of [
    ['unauthorized_client', { status: 400, body: { error: 'unauthorized_client' } }],
    ['Entra AADSTS53003', { status: 400, body: { error: 'invalid_request', error_description: 'AADSTS53003: Access has been blocked by Conditional Access policies.', error_codes: [53003] } }],
    ['GitHub device_flow_disabled', { status: 400, body: { error: 'device_flow_disabled' } }],
  ]) {
    test(`a device authorization refused as turned off (${name}): the browser flow, to the end`, async () => {
      const stub = await startBlockingStub(answer);
      const fresh = await homeWithFakeBrowser();
      try {
        const argv = ['login', '--issuer', stub.issuer, '--client-id', 'cli', '--scope', 'api', '--no-qr',
          '--store', 'file', '--json', '--profile', 'blocked'];
        const login = await startBrowserLogin(argv, fresh.withBrowser);
        const change = login.proc.lines().find((l) => l.event === 'flow_change');
        assert.ok(change, 'a flow_change event came first');
        assert.equal(change.flow, 'browser');
        stub.seen.challenge = new URL(login.event.authorization_url).searchParams.get('code_challenge');
        const answered = await get(login.port, login.host,
          `/callback?${new URLSearchParams({ code: 'stub-code', state: login.state })}`);
        assert.equal(answered.status, 200);
        const result = await login.proc.wait(20000);
        assert.equal(result.code, EXIT.ok, describeRun(argv, result));
        assert.deepEqual(stub.seen.exchanged, [{ code: 'stub-code', redirect_uri: login.event.redirect_uri }]);
        const token = await runCli(['token', '--profile', 'blocked'], { env: fresh.env });
        assert.equal(token.stdout.trim(), 'stub-access-token');
      } finally {
        await stub.stop();
        await fresh.remove();
      }
    });
  }

  test('a DPoP profile: the code exchange carries a proof of the key named by dpop_jkt', async () => {
    const stub = await startBlockingStub({ status: 400, body: { error: 'unauthorized_client' } });
    const fresh = await makeHome();
    try {
      const argv = ['login', '--issuer', stub.issuer, '--client-id', 'cli', '--no-qr', '--store', 'file', '--json',
        '--flow', 'browser', '--dpop', '--no-browser'];
      const login = await startBrowserLogin(argv, fresh.env);
      const jkt = new URL(login.event.authorization_url).searchParams.get('dpop_jkt');
      assert.match(jkt ?? '', /^[A-Za-z0-9_-]{43}$/, 'the authorization request names the key (RFC 9449 §10)');
      stub.seen.challenge = new URL(login.event.authorization_url).searchParams.get('code_challenge');
      await get(login.port, login.host, `/callback?${new URLSearchParams({ code: 'stub-code', state: login.state })}`);
      const result = await login.proc.wait(20000);
      assert.equal(result.code, EXIT.ok, describeRun(argv, result));
      // RFC 9449 §4.2: the proof's header carries the public key; its RFC 7638 thumbprint is dpop_jkt.
      const [header, claims] = stub.seen.dpop.split('.').slice(0, 2)
        .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')));
      assert.equal(header.typ, 'dpop+jwt');
      assert.equal(claims.htm, 'POST');
      assert.equal(claims.htu, `${stub.issuer}/token`);
      const members = header.jwk.kty === 'EC' ? ['crv', 'kty', 'x', 'y'] : ['crv', 'kty', 'x'];
      const canonical = JSON.stringify(Object.fromEntries(members.map((m) => [m, header.jwk[m]])));
      assert.equal(createHash('sha256').update(canonical).digest('base64url'), jkt);
    } finally {
      await stub.stop();
      await fresh.remove();
    }
  });

  for (const [name, nonceOf, expected] of [
    ['the nonce of the request', (nonce) => nonce, EXIT.ok],
    ['another nonce', () => 'not-the-nonce-of-this-sign-in', EXIT.server],
    ['no nonce', () => undefined, EXIT.server],
  ]) {
    test(`an ID token with ${name}: exit ${expected}`, async () => {
      const stub = await startBlockingStub({ status: 400, body: { error: 'unauthorized_client' } },
        { idTokenNonce: nonceOf });
      const fresh = await makeHome();
      try {
        const argv = ['login', '--issuer', stub.issuer, '--client-id', 'cli', '--scope', 'openid', '--no-qr',
          '--store', 'file', '--json', '--flow', 'browser', '--no-browser'];
        const login = await startBrowserLogin(argv, fresh.env);
        const url = new URL(login.event.authorization_url);
        stub.seen.challenge = url.searchParams.get('code_challenge');
        stub.seen.nonce = url.searchParams.get('nonce');
        await get(login.port, login.host, `/callback?${new URLSearchParams({ code: 'stub-code', state: login.state })}`);
        const result = await login.proc.wait(20000);
        assert.equal(result.code, expected, describeRun(argv, result));
        if (expected !== EXIT.ok) {
          assert.match(result.stderr, /ID token is invalid/);
          assert.ok((await readTokenFile(fresh)) === undefined, 'nothing was stored');
        }
      } finally {
        await stub.stop();
        await fresh.remove();
      }
    });
  }

  test('refused as turned off without a local browser: the one-line error naming the browser flow', async () => {
    const stub = await startBlockingStub({ status: 400, body: { error: 'device_flow_disabled' } });
    const fresh = await makeHome();
    try {
      const argv = ['login', '--issuer', stub.issuer, '--client-id', 'cli', '--no-qr', '--store', 'file'];
      const result = await runCli(argv, { env: fresh.env });
      assert.equal(result.code, EXIT.other, describeRun(argv, result));
      assert.match(result.stderr, /--flow browser/);
      await sleep(0);
    } finally {
      await stub.stop();
      await fresh.remove();
    }
  });
});
