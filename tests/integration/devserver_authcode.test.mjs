// `devicelogin serve`'s authorization endpoint (RFC 6749 §4.1 with PKCE S256, RFC 7636, on
// loopback redirects, RFC 8252), over real HTTP: a whole code flow done by Debian's Chromium
// (driven by playwright-core from tests/browser) on the same sign-in and consent pages as the device
// flow, redirected to a node listener on 127.0.0.1, then the token exchange with the verifier; and
// the refusals: a wrong verifier, a reused code (which revokes its tokens), an expired code
// (`--auth-code-ttl 1`), redirect URIs on another host, on `localhost` or on an unregistered path,
// plain PKCE, a missing challenge, a denial; `state` passed back when present.
//
//   DEVICELOGIN_BIN=build/devicelogin node --test devserver_authcode.test.mjs
//
// Environment: DEVICELOGIN_BIN (required), DEVICELOGIN_CHROMIUM (default /usr/bin/chromium; a
// missing browser is a failure: scripts/setup-deps.sh --tests installs it). playwright-core comes
// from tests/browser/node_modules (the browser_node_modules fixture runs its npm ci).
//
// Secrets (codes, verifiers, tokens) stay in variables: assertion messages show statuses, error
// codes and redacted text only, and the server's whole output (run with --verbose) is checked for
// every one of them at the end.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes, randomUUID, webcrypto } from 'node:crypto';
import * as fs from 'node:fs/promises';
import { existsSync } from 'node:fs';
import * as http from 'node:http';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';

import { pageTitle, parseForms } from './approve.mjs';
import { cliPath, findSecrets, redact, sleep, withTimeout } from './harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BROWSER_DIR = path.join(HERE, '..', 'browser');
const CHROMIUM = process.env.DEVICELOGIN_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const STEP_MS = 15_000;

const DEMO_CLIENT = 'devicelogin-demo';
const APP_CLIENT = 'authcode-app';
const APP_NAME = 'Authorization code test app';
const NO_REDIRECT_CLIENT = 'no-redirects';

const b64url = (bytes) => Buffer.from(bytes).toString('base64url');
const sha256 = (text) => createHash('sha256').update(text).digest();

// Every secret this suite sees, to be looked for in the server's output at the end.
const secrets = [];
function remember(label, value) {
  if (value) secrets.push({ label, value });
  return value;
}

function pkce() {
  const verifier = remember('code_verifier', b64url(randomBytes(32)));
  return { verifier, challenge: b64url(sha256(verifier)) };
}

// ---- the server ---------------------------------------------------------------------------------

const servers = [];

async function startServe(extraArgs = []) {
  const bin = cliPath();
  assert.ok(bin && existsSync(bin), 'DEVICELOGIN_BIN must name the devicelogin executable');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'devicelogin-authcode-'));
  const config = path.join(dir, 'config.json');
  await fs.writeFile(config, JSON.stringify({
    clients: [
      { client_id: APP_CLIENT, name: APP_NAME, redirect_uris: ['http://127.0.0.1/cb', 'http://[::1]/cb'] },
      { client_id: NO_REDIRECT_CLIENT },
    ],
  }), { mode: 0o600 });
  const child = spawn(bin, ['serve', '--port', '0', '--json', '--verbose', '--interval', '1', '--config', config,
    ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOME: dir } });
  const output = { text: '' };
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => { output.text += chunk; });
  const exited = new Promise((resolve) => { child.once('exit', resolve); });
  const first = await withTimeout(new Promise((resolve, reject) => {
    let buffered = '';
    child.stdout.on('data', (chunk) => {
      output.text += chunk;
      buffered += chunk;
      const newline = buffered.indexOf('\n');
      if (newline >= 0) resolve(buffered.slice(0, newline));
    });
    exited.then((code) => reject(new Error(`serve exited (${code}) first: ${redact(output.text)}`)));
  }), STEP_MS, 'devicelogin serve printing its issuer').catch(async (err) => {
    child.kill('SIGKILL');
    await fs.rm(dir, { recursive: true, force: true });
    throw err;
  });
  const server = { child, dir, output, issuer: JSON.parse(first).issuer };
  servers.push(server);
  return server;
}

async function stopServe(server) {
  if (server.child.exitCode === null && server.child.signalCode === null) {
    const exited = new Promise((resolve) => { server.child.once('exit', resolve); });
    server.child.kill('SIGTERM');
    await withTimeout(exited, 5000, 'serve stopping').catch(() => server.child.kill('SIGKILL'));
  }
  await fs.rm(server.dir, { recursive: true, force: true });
}

// ---- the client side ----------------------------------------------------------------------------

function authorizeUrl(issuer, params) {
  const url = new URL('/authorize', issuer);
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined) url.searchParams.set(name, value);
  }
  return url.href;
}

function goodParams({ clientId = APP_CLIENT, redirectUri, challenge, state, nonce, scope = 'openid profile offline_access' }) {
  return {
    response_type: 'code', client_id: clientId, redirect_uri: redirectUri, code_challenge: challenge,
    code_challenge_method: 'S256', state, nonce, scope,
  };
}

// GET /authorize without following redirects: { status, location (a URL or null), html }.
async function getAuthorize(issuer, params) {
  const response = await fetch(authorizeUrl(issuer, params), { redirect: 'manual' });
  const location = response.headers.get('location');
  return { status: response.status, location: location ? new URL(location) : null, html: await response.text(),
    headers: response.headers };
}

// The visible text of a page (for messages: pages never carry a secret).
const visible = (html) => html.replace(/<style[\s\S]*?<\/style>/gi, '').replace(/<[^>]+>/g, ' ')
  .replace(/\s+/g, ' ').trim().slice(0, 400);

// The pages walked with plain HTTP, as a browser would (cookie, CSRF field, the request's id):
// sign in as alice, then approve or deny. Resolves to the URL the decision redirects to.
async function signInAndDecide(issuer, params, decision = 'approve') {
  const start = await fetch(authorizeUrl(issuer, params), { redirect: 'manual' });
  const startHtml = await start.text();
  assert.equal(start.status, 200, `GET /authorize: ${start.status} ${visible(startHtml)}`);
  const cookie = start.headers.getSetCookie().map((line) => line.split(';')[0]).join('; ');
  const post = async (form, fields) => fetch(form.action, {
    method: 'POST', redirect: 'manual',
    headers: { cookie, origin: issuer, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...form.fields, ...fields }).toString(),
  });
  const signIn = parseForms(startHtml, start.url).find((f) => 'username' in f.fields);
  assert.ok(signIn, `the authorization endpoint shows the sign-in form: ${visible(startHtml)}`);
  assert.ok(signIn.fields.auth_request, 'the sign-in form names the authorization request');
  const consent = await post(signIn, { username: 'alice', password: 'alice' });
  const consentHtml = await consent.text();
  assert.equal(consent.status, 200, `sign-in: ${consent.status} ${visible(consentHtml)}`);
  assert.equal(pageTitle(consentHtml), 'Allow access? · devicelogin');
  const decide = parseForms(consentHtml, consent.url).find((f) => f.action.endsWith('/device/decision'));
  assert.ok(decide, 'the consent page has the decision form');
  const decided = await post(decide, { decision });
  assert.equal(decided.status, 303, `the decision is answered with a redirect (got ${decided.status})`);
  return new URL(decided.headers.get('location'));
}

function codeFrom(location, { redirectUri }) {
  assert.equal(`${location.origin}${location.pathname}`, redirectUri.replace(/\?.*$/, ''),
    'the browser is sent to the redirect URI of the request');
  assert.equal(location.searchParams.get('error'), null,
    `no error: ${location.searchParams.get('error')} ${location.searchParams.get('error_description')}`);
  return remember('authorization code', location.searchParams.get('code'));
}

async function tokenRequest(issuer, fields, headers = {}) {
  const response = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  });
  const body = await response.json().catch(() => ({}));
  for (const name of ['access_token', 'refresh_token', 'id_token']) remember(name, body[name]);
  return { status: response.status, body, error: body.error ?? null, description: body.error_description ?? '' };
}

const exchange = (issuer, { code, verifier, redirectUri, clientId = APP_CLIENT }, headers) => tokenRequest(issuer, {
  grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: redirectUri, client_id: clientId,
}, headers);

const userinfo = async (issuer, accessToken) => (await fetch(`${issuer}/userinfo`,
  { headers: { authorization: `Bearer ${accessToken}` } })).status;

function jwtClaims(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
}

// A one-request loopback listener, the client's redirect target: resolves with the request URL.
async function startCallbackListener(host = '127.0.0.1') {
  let resolveHit;
  const hit = new Promise((resolve) => { resolveHit = resolve; });
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>Signed in</title><p>You can close this tab.</p>');
    resolveHit(new URL(req.url, `http://${req.headers.host}`));
  });
  await new Promise((resolve) => { server.listen(0, host, resolve); });
  return { port: server.address().port, hit, close: () => new Promise((resolve) => { server.close(resolve); }) };
}

// A DPoP proof (RFC 9449 §4.2) with an ES256 key from WebCrypto (whose signature is r || s).
async function dpopKey() {
  const pair = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
  const { kty, crv, x, y } = await webcrypto.subtle.exportKey('jwk', pair.publicKey);
  return { pair, jwk: { kty, crv, x, y }, thumbprint: b64url(sha256(JSON.stringify({ crv, kty, x, y }))) };
}
async function dpopProof(key, htm, htu) {
  const header = { typ: 'dpop+jwt', alg: 'ES256', jwk: key.jwk };
  const claims = { jti: randomUUID(), htm, htu, iat: Math.floor(Date.now() / 1000) };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const signature = await webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key.pair.privateKey,
    new TextEncoder().encode(input));
  return `${input}.${b64url(signature)}`;
}

// ---- the suite ----------------------------------------------------------------------------------

let server;
let issuer;

before(async () => {
  server = await startServe();
  issuer = server.issuer;
});

after(async () => {
  for (const s of servers) await stopServe(s);
});

test('discovery advertises the authorization endpoint, code only and PKCE S256 only', async () => {
  const meta = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  assert.equal(meta.authorization_endpoint, `${issuer}/authorize`);
  assert.deepEqual(meta.response_types_supported, ['code']);
  assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
  assert.ok(meta.grant_types_supported.includes('authorization_code'));
  assert.ok(meta.grant_types_supported.includes('urn:ietf:params:oauth:grant-type:device_code'));
  const rfc8414 = await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json();
  assert.equal(rfc8414.authorization_endpoint, `${issuer}/authorize`);
});

test('Chromium signs in and approves on the device flow\'s pages; the code and verifier get tokens; a reused code revokes them',
  { timeout: 120_000 }, async (t) => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: scripts/setup-deps.sh --tests installs Debian's chromium`);
    let chromium;
    try {
      ({ chromium } = createRequire(path.join(BROWSER_DIR, 'package.json'))('playwright-core'));
    } catch (err) {
      throw new Error(`playwright-core is not installed in tests/browser (the browser_npm_ci test, or `
        + `node scripts/npm-ensure.mjs tests/browser, installs it): ${err.message}`);
    }
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
    t.after(() => browser.close().catch(() => {}));
    const listener = await startCallbackListener();
    t.after(() => listener.close());
    // The built-in demo client has http://127.0.0.1/callback registered: any port goes.
    const redirectUri = `http://127.0.0.1:${listener.port}/callback`;
    const { verifier, challenge } = pkce();
    const state = b64url(randomBytes(12));
    const nonce = b64url(randomBytes(12));

    const context = await browser.newContext();
    context.setDefaultTimeout(STEP_MS);
    const page = await context.newPage();
    const refused = [];
    page.on('console', (message) => { if (/Content Security Policy/i.test(message.text())) refused.push(message.text()); });
    const first = await page.goto(authorizeUrl(issuer, goodParams({ clientId: DEMO_CLIENT, redirectUri, challenge, state, nonce })));
    assert.equal(first?.status(), 200, 'the authorization endpoint answers with a page');
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    assert.ok((await page.locator('main').innerText()).includes('devicelogin demo'), 'the sign-in page names the app');
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill('alice');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
    const consent = await page.locator('main').innerText();
    assert.ok(consent.includes('Signed in as alice'), 'the consent page names the user');
    assert.ok(consent.includes('devicelogin demo') && consent.includes(DEMO_CLIENT), 'and the app, with its client_id');
    assert.ok(consent.includes('Unless you started this sign-in yourself, in an app on this computer, choose Deny.'),
      `and says when to deny:\n${consent}`);
    assert.match(consent, /Returns to\s+an app on this computer, at http:\/\/127\.0\.0\.1:\d+\/callback/,
      'and where the browser goes next (RFC 10027: the request in context)');
    assert.match(consent, /Requested\s+less than a minute ago/, 'and when the request was made');
    const scopes = (await page.locator('main dd li').allInnerTexts()).map((s) => s.trim());
    assert.deepEqual(scopes, ['Confirm who you are openid', 'See your name and profile profile',
      'Keep access while you are away, until you sign out offline_access'], 'and the scopes in words');
    assert.equal(await page.locator('input[name=code_matches]').count(), 0, 'no user code to confirm here');

    await page.getByRole('button', { name: 'Approve', exact: true }).click();
    const callback = await withTimeout(listener.hit, STEP_MS, 'the browser reaching the redirect URI')
      .catch(async (err) => {
        throw new Error(`${err.message}; page title "${await page.title().catch(() => '?')}", `
          + `CSP console messages: ${refused.length}`);
      });
    await page.getByText('You can close this tab.').waitFor();
    assert.equal(callback.pathname, '/callback');
    assert.equal(callback.searchParams.get('state'), state, 'state comes back unchanged');
    assert.equal(callback.searchParams.get('iss'), issuer, 'the response names the issuer (RFC 9207)');
    const code = codeFrom(callback, { redirectUri });
    // assert.ok, not assert.match: a failed match would print the code as its `actual`.
    assert.ok(/^[A-Za-z0-9_-]{43}$/.test(code ?? ''), 'a 256-bit code, in base64url');

    const tokens = await exchange(issuer, { code, verifier, redirectUri, clientId: DEMO_CLIENT });
    assert.equal(tokens.status, 200, `token exchange: ${tokens.status} ${tokens.error} ${tokens.description}`);
    assert.equal(tokens.body.token_type, 'Bearer');
    assert.ok(tokens.body.refresh_token, 'a refresh token, as for the device grant');
    const id = jwtClaims(tokens.body.id_token);
    assert.equal(id.sub, 'alice');
    assert.equal(id.aud, DEMO_CLIENT);
    assert.equal(id.iss, issuer);
    assert.equal(id.nonce, nonce, 'the ID token carries the request\'s nonce');
    assert.equal(await userinfo(issuer, tokens.body.access_token), 200, 'the access token works');

    const again = await exchange(issuer, { code, verifier, redirectUri, clientId: DEMO_CLIENT });
    assert.equal(again.status, 400);
    assert.equal(again.error, 'invalid_grant', 'a code works once');
    assert.match(again.description, /already used/);
    assert.equal(await userinfo(issuer, tokens.body.access_token), 401, 'the reuse revoked the access token');
    const refreshed = await tokenRequest(issuer, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token,
      client_id: DEMO_CLIENT });
    assert.equal(refreshed.error, 'invalid_grant', 'and the refresh token');
  });

test('Deny sends access_denied and the state to the redirect URI', async () => {
  const { challenge } = pkce();
  const redirectUri = 'http://127.0.0.1:40001/cb';
  const location = await signInAndDecide(issuer, goodParams({ redirectUri, challenge, state: 'deny-state' }), 'deny');
  assert.equal(`${location.origin}${location.pathname}`, 'http://127.0.0.1:40001/cb');
  assert.equal(location.searchParams.get('error'), 'access_denied');
  assert.equal(location.searchParams.get('state'), 'deny-state');
  assert.ok(!location.searchParams.has('code'), 'no code after Deny');
});

test('[::1] redirects work too, and a state with reserved characters comes back intact', async () => {
  const { verifier, challenge } = pkce();
  const redirectUri = 'http://[::1]:40002/cb';
  const state = 'a b&c=d/é?#';
  const location = await signInAndDecide(issuer, goodParams({ redirectUri, challenge, state }));
  assert.equal(location.hostname, '[::1]');
  assert.equal(location.searchParams.get('state'), state);
  const code = codeFrom(location, { redirectUri });
  const tokens = await exchange(issuer, { code, verifier, redirectUri });
  assert.equal(tokens.status, 200, `${tokens.error} ${tokens.description}`);
});

test('a missing state is fine: none comes back', async () => {
  const { verifier, challenge } = pkce();
  const redirectUri = 'http://127.0.0.1:40003/cb';
  const location = await signInAndDecide(issuer, goodParams({ redirectUri, challenge }));
  assert.equal(location.searchParams.has('state'), false);
  const tokens = await exchange(issuer, { code: codeFrom(location, { redirectUri }), verifier, redirectUri });
  assert.equal(tokens.status, 200, `${tokens.error} ${tokens.description}`);
});

test('a wrong verifier is refused, and spends the code', async () => {
  const { verifier, challenge } = pkce();
  const other = pkce();
  const redirectUri = 'http://127.0.0.1:40004/cb';
  const code = codeFrom(await signInAndDecide(issuer, goodParams({ redirectUri, challenge })), { redirectUri });
  const wrong = await exchange(issuer, { code, verifier: other.verifier, redirectUri });
  assert.equal(wrong.error, 'invalid_grant');
  assert.match(wrong.description, /code_verifier/);
  const right = await exchange(issuer, { code, verifier, redirectUri });
  assert.equal(right.error, 'invalid_grant', 'the code was spent by the first presentation');
});

test('a missing or malformed verifier is invalid_request and leaves the code usable', async () => {
  const { verifier, challenge } = pkce();
  const redirectUri = 'http://127.0.0.1:40005/cb';
  const code = codeFrom(await signInAndDecide(issuer, goodParams({ redirectUri, challenge })), { redirectUri });
  const missing = await tokenRequest(issuer, { grant_type: 'authorization_code', code, redirect_uri: redirectUri,
    client_id: APP_CLIENT });
  assert.equal(missing.error, 'invalid_request');
  const short = await exchange(issuer, { code, verifier: 'too-short', redirectUri });
  assert.equal(short.error, 'invalid_request');
  const tokens = await exchange(issuer, { code, verifier, redirectUri });
  assert.equal(tokens.status, 200, `${tokens.error} ${tokens.description}`);
});

test('the token request must repeat the redirect_uri exactly (port included) and come from the same client', async () => {
  for (const [what, change] of [
    ['another port', { redirectUri: 'http://127.0.0.1:40007/cb' }],
    ['another client', { clientId: DEMO_CLIENT }],
  ]) {
    const { verifier, challenge } = pkce();
    const redirectUri = 'http://127.0.0.1:40006/cb';
    const code = codeFrom(await signInAndDecide(issuer, goodParams({ redirectUri, challenge })), { redirectUri });
    const refused = await exchange(issuer, { code, verifier, redirectUri, ...change });
    assert.equal(refused.error, 'invalid_grant', what);
  }
});

test('a DPoP proof at the exchange binds the tokens to its key, as for the device grant', async () => {
  const { verifier, challenge } = pkce();
  const redirectUri = 'http://127.0.0.1:40008/cb';
  const code = codeFrom(await signInAndDecide(issuer, goodParams({ redirectUri, challenge })), { redirectUri });
  const key = await dpopKey();
  const tokens = await exchange(issuer, { code, verifier, redirectUri },
    { DPoP: await dpopProof(key, 'POST', `${issuer}/token`) });
  assert.equal(tokens.status, 200, `${tokens.error} ${tokens.description}`);
  assert.equal(tokens.body.token_type, 'DPoP');
  assert.deepEqual(jwtClaims(tokens.body.access_token).cnf, { jkt: key.thumbprint });
  assert.equal(await userinfo(issuer, tokens.body.access_token), 401, 'refused as a bearer token');
});

test('redirect URIs that are not registered loopback ones get a page, never a redirect', async () => {
  const { challenge } = pkce();
  const cases = [
    ['another host', APP_CLIENT, 'http://evil.example:40010/cb'],
    ['localhost (RFC 8252 §8.3)', APP_CLIENT, 'http://localhost:40010/cb'],
    ['another loopback address', APP_CLIENT, 'http://127.0.0.2:40010/cb'],
    ['an unregistered path', APP_CLIENT, 'http://127.0.0.1:40010/other'],
    ['a longer path', APP_CLIENT, 'http://127.0.0.1:40010/cb/more'],
    ['https', APP_CLIENT, 'https://127.0.0.1:40010/cb'],
    ['a fragment', APP_CLIENT, 'http://127.0.0.1:40010/cb#x'],
    ['no redirect_uri', APP_CLIENT, undefined],
    ['a client without redirect URIs', NO_REDIRECT_CLIENT, 'http://127.0.0.1:40010/cb'],
  ];
  for (const [what, clientId, redirectUri] of cases) {
    const answer = await getAuthorize(issuer, goodParams({ clientId, redirectUri, challenge, state: 's' }));
    assert.equal(answer.status, 400, what);
    assert.equal(answer.location, null, `${what}: not redirected`);
    assert.match(pageTitle(answer.html), /^Return address not registered/, what);
  }
  for (const clientId of ['unknown-client', undefined]) {
    const answer = await getAuthorize(issuer, {
      ...goodParams({ redirectUri: 'http://127.0.0.1:40010/cb', challenge, state: 's' }), client_id: clientId,
    });
    const what = clientId ? 'an unknown client' : 'no client_id';
    assert.equal(answer.status, 400, what);
    assert.equal(answer.location, null, `${what}: not redirected`);
    assert.match(pageTitle(answer.html), /^Unknown app/, what);
  }
});

test('other request errors go back to the redirect URI with error, error_description and state', async () => {
  const { challenge } = pkce();
  const redirectUri = 'http://127.0.0.1:40011/cb';
  const base = goodParams({ redirectUri, challenge, state: 'st-1' });
  const cases = [
    ['plain PKCE', { code_challenge_method: 'plain', code_challenge: 'a'.repeat(43) }, 'invalid_request'],
    ['no method (plain by default)', { code_challenge_method: undefined }, 'invalid_request'],
    ['no code_challenge', { code_challenge: undefined }, 'invalid_request'],
    ['a malformed challenge', { code_challenge: 'short' }, 'invalid_request'],
    ['response_type token', { response_type: 'token' }, 'unsupported_response_type'],
    ['no response_type', { response_type: undefined }, 'invalid_request'],
    ['a scope the client may not have', { scope: 'openid bad"scope' }, 'invalid_scope'],
  ];
  for (const [what, change, error] of cases) {
    const answer = await getAuthorize(issuer, { ...base, ...change });
    assert.equal(answer.status, 302, what);
    assert.ok(answer.location, `${what}: redirected`);
    assert.equal(`${answer.location.origin}${answer.location.pathname}`, 'http://127.0.0.1:40011/cb', what);
    assert.equal(answer.location.searchParams.get('error'), error, what);
    assert.ok(answer.location.searchParams.get('error_description'), `${what}: error_description`);
    assert.equal(answer.location.searchParams.get('state'), 'st-1', `${what}: state`);
    assert.ok(!answer.location.searchParams.has('code'), `${what}: no code`);
  }
  const stateless = await getAuthorize(issuer, { ...base, state: undefined, code_challenge_method: 'plain' });
  assert.equal(stateless.location?.searchParams.has('state'), false, 'no state sent, none passed back');
});

test('an expired code is refused (serve --auth-code-ttl 1)', async () => {
  const short = await startServe(['--auth-code-ttl', '1']);
  const { verifier, challenge } = pkce();
  const redirectUri = 'http://127.0.0.1:40012/cb';
  const code = codeFrom(await signInAndDecide(short.issuer, goodParams({ redirectUri, challenge })), { redirectUri });
  // Past the one-second lifetime on this machine's clock, which the server reads too.
  await sleep(2100);
  const late = await exchange(short.issuer, { code, verifier, redirectUri });
  assert.equal(late.error, 'invalid_grant');
  assert.match(late.description, /expired/);
});

test('serve refuses an --auth-code-ttl outside 1-600 seconds', async () => {
  for (const ttl of ['0', '601']) {
    await assert.rejects(startServe(['--auth-code-ttl', ttl]), /auth-code-ttl/, ttl);
  }
});

test('no code, verifier or token ever reaches the server\'s output', async () => {
  // Runs last (node:test keeps file order): every secret of the suite is known by now.
  assert.ok(secrets.some((s) => s.label === 'authorization code'), 'the suite did see codes');
  for (const s of servers) {
    assert.ok(s.output.text.includes('authorization request from'), 'the server logged (--verbose)');
    assert.deepEqual(findSecrets(s.output.text, secrets), [], 'secrets in the server output');
  }
});
