// Real-browser test of `devicelogin serve`'s approval page: Debian's chromium, driven by
// playwright-core, completes the pages a person would see while a real `devicelogin login` waits,
// and checks what the cross-device BCP (RFC 10027) asks of the page: the request in context (who,
// what, when, from where), the warning, Approve and Deny equal and neither focused, decisions by
// POST with the anti-forgery token only, a linked code confirmed again, one-time codes, clear
// expired and used pages, and attacker-chosen client names and scopes shown as text.
//
//   DEVICELOGIN_BIN=build/devicelogin node --test --test-concurrency=1 browser.test.mjs
//
// Environment:
//   DEVICELOGIN_BIN             the devicelogin executable (required)
//   DEVICELOGIN_CHROMIUM        the browser (default /usr/bin/chromium; a missing browser is a
//                               failure, not a skip: scripts/setup-deps.sh --tests installs it)
//   DEVICELOGIN_SCREENSHOT_DIR  when set, each page state is saved there as approval-page*.png
//                               (docs/approval-page*.png are made this way; unset in CI so the
//                               tree stays clean)
//
// Nothing here prints a token: failures show event names, exit codes and the CLI's stderr with
// anything token-shaped masked.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

const BIN = process.env.DEVICELOGIN_BIN;
const CHROMIUM = process.env.DEVICELOGIN_CHROMIUM || '/usr/bin/chromium';
const SCREENSHOT_DIR = process.env.DEVICELOGIN_SCREENSHOT_DIR || '';
const CLIENT_ID = 'devicelogin-demo';
const CLIENT_NAME = 'devicelogin demo';
const SCOPES = ['openid', 'profile', 'offline_access'];
// A client whose name and scopes an attacker chose (the config file allows any name, and scope
// tokens may hold < > ' /): the page must show them as text.
const EVIL_CLIENT_ID = '<b>evil</b>';
const EVIL_CLIENT_NAME = '<script>alert(1)</script><img src=x onerror=alert(2)>';
const EVIL_SCOPES = ['openid', '<script>alert(3)</script>', "'><img/src=x/onerror=alert(4)>"];
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const STEP_TIMEOUT_MS = 15_000;
const TEST_TIMEOUT_MS = 120_000;
const EXIT_ACCESS_DENIED = 3;

const children = new Set();
const tempDirs = new Set();

function killAll() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
}
process.on('exit', killAll);

function tempDir(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

// Long base64url / JWT-looking runs are masked, so even a misbehaving CLI cannot leak a token
// through this test's failure output.
function mask(text) {
  return text.replace(/[A-Za-z0-9_\-.~+/=]{24,}/g, '[masked]').slice(-2000);
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Starts a child process that writes JSON lines to stdout; collects them as events, and stderr as
// text. `nextEvent(pred)` resolves with the first line (parsed) that satisfies pred.
function startJsonChild(args, env) {
  const child = spawn(BIN, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const state = { events: [], stderr: '', waiters: [], buffer: '' };
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    state.buffer += chunk;
    let newline;
    while ((newline = state.buffer.indexOf('\n')) >= 0) {
      const line = state.buffer.slice(0, newline).trim();
      state.buffer = state.buffer.slice(newline + 1);
      if (!line) continue;
      let event;
      try {
        event = JSON.parse(line);
      } catch {
        event = { unparsed: true };
      }
      state.events.push(event);
      for (const waiter of [...state.waiters]) {
        if (waiter.pred(event)) {
          state.waiters.splice(state.waiters.indexOf(waiter), 1);
          waiter.resolve(event);
        }
      }
    }
  });
  child.stderr.on('data', (chunk) => { state.stderr += chunk; });
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      children.delete(child);
      for (const waiter of state.waiters) waiter.reject(new Error(`exited (${code ?? signal}) first`));
      state.waiters = [];
      resolve({ code, signal });
    });
    child.on('error', (err) => {
      children.delete(child);
      resolve({ code: null, signal: null, error: err });
    });
  });
  return {
    child,
    state,
    exited,
    nextEvent(pred, what) {
      const found = state.events.find(pred);
      if (found) return Promise.resolve(found);
      return withTimeout(new Promise((resolve, reject) => {
        if (child.exitCode !== null || child.signalCode !== null) {
          reject(new Error(`exited (${child.exitCode ?? child.signalCode}) first`));
          return;
        }
        state.waiters.push({ pred, resolve, reject });
      }), STEP_TIMEOUT_MS, what);
    },
    describe() {
      const names = state.events.map((e) => e.event ?? (e.unparsed ? '<not JSON>' : '<no event>'));
      return `events [${names.join(', ')}], exit ${child.exitCode ?? child.signalCode ?? 'still running'}, `
        + `stderr:\n${mask(state.stderr)}`;
    },
  };
}

function cliEnv() {
  const home = tempDir('devicelogin-browser-home-');
  return {
    ...process.env,
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    XDG_STATE_HOME: path.join(home, '.local', 'state'),
    XDG_CACHE_HOME: path.join(home, '.cache'),
    DISPLAY: '',
    WAYLAND_DISPLAY: '',
    BROWSER: '',
  };
}

let server;
let issuer;
let browser;

before(async () => {
  assert.ok(BIN, 'DEVICELOGIN_BIN must name the devicelogin executable');
  assert.ok(fs.existsSync(BIN), `DEVICELOGIN_BIN=${BIN} does not exist`);
  assert.ok(fs.existsSync(CHROMIUM),
    `${CHROMIUM} is missing: this test needs Debian's chromium (apt-get install chromium, or run `
    + 'scripts/setup-deps.sh --tests); set DEVICELOGIN_CHROMIUM to use another Chromium binary');
  const config = path.join(tempDir('devicelogin-browser-config-'), 'devserver.json');
  fs.writeFileSync(config, JSON.stringify({
    clients: [{ client_id: EVIL_CLIENT_ID, name: EVIL_CLIENT_NAME, scopes: EVIL_SCOPES }],
  }));
  ({ server, issuer } = await startServer(['--interval', '1', '--config', config]));
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
});

after(async () => {
  await browser?.close().catch(() => {});
  for (const child of [...children]) {
    if (child.exitCode === null) child.kill('SIGTERM');
  }
  if (server) await withTimeout(server.exited, 5000, 'devicelogin serve stopping').catch(() => {});
  killAll();
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

// Starts `devicelogin serve` on an ephemeral port; returns it and its issuer.
async function startServer(extraArgs) {
  const started = startJsonChild(['serve', '--port', '0', '--json', ...extraArgs], cliEnv());
  const first = await started.nextEvent(() => true, 'devicelogin serve printing its issuer')
    .catch((err) => { throw new Error(`devicelogin serve did not start: ${err.message}; ${started.describe()}`); });
  assert.match(first.issuer ?? '', /^http:\/\/127\.0\.0\.1:\d+$/, 'serve --json first line has the issuer');
  return { server: started, issuer: first.issuer };
}

async function newContext(t) {
  const context = await browser.newContext({ viewport: { width: 720, height: 640 }, deviceScaleFactor: 1 });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
  t.after(() => context.close().catch(() => {}));
  const page = await context.newPage();
  trackReferrerPolicy(page);
  const dialogs = [];
  page.on('dialog', (dialog) => { dialogs.push(dialog.message()); dialog.dismiss().catch(() => {}); });
  return { context, page, dialogs };
}

// Saves the page as DEVICELOGIN_SCREENSHOT_DIR/<name>.png when screenshots are asked for.
async function screenshot(t, page, name) {
  if (!SCREENSHOT_DIR) return;
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  t.diagnostic(`screenshot written to ${file}`);
}

// A form POST to the server over node:http, optionally from another loopback source address (the
// whole of 127.0.0.0/8 is this machine), as a device would make it. Returns status and JSON body,
// which may hold a device code: callers never print it.
function postForm(base, pathname, fields, { localAddress } = {}) {
  const body = new URLSearchParams(fields).toString();
  const url = new URL(pathname, base);
  return withTimeout(new Promise((resolve, reject) => {
    const request = http.request({
      host: url.hostname, port: url.port, path: url.pathname, method: 'POST', localAddress,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': Buffer.byteLength(body) },
    }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => { text += chunk; });
      response.on('end', () => {
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: response.statusCode, headers: response.headers, json });
      });
    });
    request.on('error', reject);
    request.end(body);
  }), STEP_TIMEOUT_MS, `POST ${pathname}`);
}

// A device authorization as a device would request it; the answer's device code stays here.
async function requestCode({ base = issuer, clientId = CLIENT_ID, scope = SCOPES.join(' '), localAddress } = {}) {
  const reply = await postForm(base, '/device_authorization', { client_id: clientId, scope }, { localAddress });
  assert.equal(reply.status, 200, `device authorization answered ${reply.status} (${reply.json?.error ?? ''})`);
  return { deviceCode: reply.json.device_code, userCode: reply.json.user_code, link: reply.json.verification_uri_complete };
}

// The token endpoint's answer to one poll: its status and OAuth error only (never the tokens).
async function pollOnce(deviceCode, { base = issuer, clientId = CLIENT_ID } = {}) {
  const reply = await postForm(base, '/token', {
    grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: deviceCode, client_id: clientId,
  });
  return { status: reply.status, error: reply.json?.error ?? null };
}

// Drives a fresh browser context from the code to the consent page: through the link
// (verification_uri_complete, the code prefilled) or by typing the code on /device.
async function toConsent(t, code, { viaLink = true, shotName = '' } = {}) {
  const { context, page, dialogs } = await newContext(t);
  const response = await page.goto(viaLink ? code.link : `${new URL(code.link).origin}/device`);
  assert.equal(response?.status(), 200, 'the verification page loads');
  await page.getByRole('heading', { name: 'Connect a device' }).waitFor();
  if (viaLink) {
    assert.equal(await page.getByLabel('Code').inputValue(), code.userCode, 'the link pre-fills the code');
    assert.ok((await page.locator('main').innerText()).includes('you will confirm it again before you approve'),
      'the prefilled page says the code will be confirmed again');
    if (shotName) await screenshot(t, page, `${shotName}-enter-code`);
  } else {
    await page.getByLabel('Code').fill(code.userCode);
  }
  await submit(page, 'Continue');
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.getByLabel('Username').fill('alice');
  await page.getByLabel('Password').fill('alice');
  await submit(page, 'Sign in');
  await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
  return { context, page, dialogs };
}

// The element that has keyboard focus, described by tag, type and text.
function focused(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return 'body';
    return el ? `${el.tagName.toLowerCase()}${el.type ? `[${el.type}]` : ''}:${(el.textContent ?? '').trim()}` : '';
  });
}

// Presses Tab until the element `want` describes has focus (a page of a few controls: 8 presses
// reach every one of them); fails naming what had focus instead.
async function tabTo(page, want) {
  const seen = [];
  for (let i = 0; i < 8; i += 1) {
    await page.keyboard.press('Tab');
    const now = await focused(page);
    if (now === want) return;
    seen.push(now);
  }
  assert.fail(`Tab never reached ${want}; focus went ${seen.join(' -> ')}`);
}

// Clicks a form's submit button by its accessible name and checks the server accepted the POST;
// a refusal names the Origin the browser sent, the usual reason a real browser is refused where a
// scripted client is not.
const referrerPolicies = new WeakMap();

function trackReferrerPolicy(page) {
  page.on('response', (response) => {
    if (response.request().isNavigationRequest() && response.frame() === page.mainFrame()) {
      referrerPolicies.set(page, response.headers()['referrer-policy'] ?? '<none>');
    }
  });
}

async function submit(page, buttonName, expectedStatus = 200, press = null) {
  const referrerPolicy = referrerPolicies.get(page) ?? '?';
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && r.request().isNavigationRequest()),
    press ? press() : page.getByRole('button', { name: buttonName, exact: true }).click(),
  ]);
  const sent = await response.request().allHeaders();
  assert.equal(response.status(), expectedStatus,
    `the server answered ${response.status()} to the "${buttonName}" form post `
    + `(the browser sent Origin: ${sent.origin ?? '<none>'}, Sec-Fetch-Site: ${sent['sec-fetch-site'] ?? '<none>'}; `
    + `the page it came from had Referrer-Policy: ${referrerPolicy})`);
  return response;
}

// Runs one login and drives the approval pages to the consent page; returns what the test needs
// to press a decision button and check the outcome.
async function loginUntilConsent(t, { shotName = '' } = {}) {
  const login = startJsonChild(['login', '--issuer', issuer, '--client-id', CLIENT_ID,
    '--scope', SCOPES.join(' '), '--no-browser', '--no-qr', '--json'], cliEnv());
  t.after(() => { if (login.child.exitCode === null) login.child.kill('SIGKILL'); });

  const startedAt = Math.floor(Date.now() / 1000);
  const deviceCode = await login.nextEvent((e) => e.event === 'device_code', 'login printing the device_code event')
    .catch((err) => { throw new Error(`${err.message}; login: ${login.describe()}`); });
  const afterCode = Math.ceil(Date.now() / 1000);
  assert.match(deviceCode.user_code ?? '', /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/,
    'the CLI shows an XXXX-XXXX user code');
  assert.ok(deviceCode.verification_uri_complete?.startsWith(`${issuer}/device`),
    'verification_uri_complete points at the server');

  let page;
  try {
    ({ page } = await toConsent(t, { userCode: deviceCode.user_code, link: deviceCode.verification_uri_complete },
      { shotName }));
    const consent = await page.locator('main').innerText();
    assert.ok(consent.includes('alice'), 'the consent page names the signed-in user');
    assert.ok(consent.includes(CLIENT_NAME), 'the consent page names the client');
    assert.ok(consent.includes(CLIENT_ID), 'the consent page shows the client_id');
    assert.ok(consent.includes(deviceCode.user_code), 'the consent page shows the same user code');
    // What: each scope in plain words, with its name.
    const listed = (await page.locator('main dd li').allInnerTexts()).map((s) => s.trim());
    assert.deepEqual(listed, ['Confirm who you are openid', 'See your name and profile profile',
      'Keep access while you are away, until you sign out offline_access'],
    'the consent page lists the requested scopes in plain words');
    assert.ok(consent.includes('If you approve, this device will be able to act as you (alice) until you sign out.'),
      `the consent page says what approving does:\n${consent}`);
    // When: relative, and the absolute UTC time of the device authorization request.
    const when = consent.match(/Requested\s+less than a minute ago \((\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d) UTC\)/);
    assert.ok(when, `the consent page says when the code was requested:\n${consent}`);
    const shown = Date.UTC(+when[1], +when[2] - 1, +when[3], +when[4], +when[5], +when[6]) / 1000;
    assert.ok(shown >= startedAt && shown <= afterCode,
      `the requested time ${when[0]} lies between starting the login and its code (${startedAt}..${afterCode})`);
    // Where: the CLI runs here, so the page says "this computer".
    assert.match(consent, /From\s+this computer \(127\.0\.0\.1\)/, 'the consent page says where the request came from');
    // The warning.
    assert.ok(consent.includes('Unless you started this sign-in yourself, on a device in front of you, choose Deny.'),
      'the consent page says when to deny');
    assert.ok(consent.includes('Codes are never sent by e-mail or chat'), 'the consent page says codes are never sent');
    await page.getByRole('button', { name: 'Approve', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Deny', exact: true }).waitFor();
  } catch (err) {
    const title = await page?.title().catch(() => '?');
    err.message += `\n  page: ${page?.url()} (title "${title}")\n  login: ${login.describe()}`;
    throw err;
  }
  return { login, page, deviceCode };
}

test('Approve in a real browser: the page shows who, what, when and where; the waiting login exits 0',
  { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const { login, page } = await loginUntilConsent(t, { shotName: 'approval-page' });
    await page.getByRole('checkbox', { name: /The code on my device is/ }).check();
    await screenshot(t, page, 'approval-page');
    await submit(page, 'Approve');
    await page.getByRole('heading', { name: /connected/i }).waitFor();
    await screenshot(t, page, 'approval-page-approved');

    const exit = await withTimeout(login.exited, 30_000, 'login exiting after Approve')
      .catch((err) => { throw new Error(`${err.message}; login: ${login.describe()}`); });
    assert.equal(exit.code, 0, `login exits 0 after Approve; ${login.describe()}`);
    const names = login.state.events.map((e) => e.event);
    assert.ok(names.includes('authorized'), `login printed the authorized event; ${login.describe()}`);
    assert.ok(!names.includes('error'), `login printed no error event; ${login.describe()}`);
  });

test('Deny with the keyboard only: the waiting login exits 3 (access denied)',
  { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const { login, page } = await loginUntilConsent(t);
    await tabTo(page, 'button[submit]:Deny');
    await submit(page, 'Deny', 200, () => page.keyboard.press('Enter'));
    await page.getByRole('heading', { name: /denied/i }).waitFor();
    await screenshot(t, page, 'approval-page-denied');

    const exit = await withTimeout(login.exited, 30_000, 'login exiting after Deny')
      .catch((err) => { throw new Error(`${err.message}; login: ${login.describe()}`); });
    assert.equal(exit.code, EXIT_ACCESS_DENIED, `login exits 3 after Deny; ${login.describe()}`);
    const names = login.state.events.map((e) => e.event);
    assert.ok(!names.includes('authorized'), `login did not print authorized; ${login.describe()}`);
    assert.ok(names.includes('error'), `login printed an error event; ${login.describe()}`);
  });

test('Approve and Deny are equal in size and weight, and neither has focus when the page loads',
  { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const code = await requestCode();
    const { page } = await toConsent(t, code);
    assert.equal(await focused(page), 'body', 'nothing has focus on load');
    assert.equal(await page.locator('[autofocus]').count(), 0, 'no element asks for autofocus');
    const approve = page.getByRole('button', { name: 'Approve', exact: true });
    const deny = page.getByRole('button', { name: 'Deny', exact: true });
    const [a, d] = [await approve.boundingBox(), await deny.boundingBox()];
    assert.ok(a && d && a.width > 0 && a.height > 0, 'both buttons are visible');
    assert.equal(d.width, a.width, 'Deny is as wide as Approve');
    assert.equal(d.height, a.height, 'Deny is as tall as Approve');
    const style = (locator) => locator.evaluate((el) => {
      const css = getComputedStyle(el);
      return { fontWeight: css.fontWeight, fontSize: css.fontSize, color: css.color, background: css.backgroundColor,
        border: `${css.borderTopWidth} ${css.borderTopStyle} ${css.borderTopColor}`, className: el.className };
    });
    assert.deepEqual(await style(deny), await style(approve), 'Deny is styled exactly as Approve');
    assert.equal(await pollOnce(code.deviceCode).then((r) => r.error), 'authorization_pending', 'nothing was decided');
  });

test('Approve with the keyboard only, after confirming the linked code; the code then works once',
  { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const code = await requestCode();
    const { page } = await toConsent(t, code);
    await tabTo(page, 'input[checkbox]:');
    await page.keyboard.press('Space');
    assert.ok(await page.getByRole('checkbox').isChecked(), 'Space ticked the code-matches box');
    await tabTo(page, 'button[submit]:Approve');
    await submit(page, 'Approve', 200, () => page.keyboard.press('Enter'));
    await page.getByRole('heading', { name: /connected/i }).waitFor();
    assert.equal((await pollOnce(code.deviceCode)).status, 200, 'the device gets its tokens');

    // One-time: the same link again ends on a clear "already used" page.
    const again = (await newContext(t)).page;
    await again.goto(code.link);
    await submit(again, 'Continue', 400);
    await again.getByRole('heading', { name: 'Code already used' }).waitFor();
    assert.ok((await again.locator('main').innerText()).includes('a code works only once'));
    await screenshot(t, again, 'approval-page-used');
  });

test('Only a POST with the page\'s anti-forgery token decides, and a linked code must be confirmed',
  { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const code = await requestCode();
    const { context, page } = await toConsent(t, code);
    // Polls here come faster than the interval: slow_down is as undecided as authorization_pending.
    const pending = async (what) => assert.match((await pollOnce(code.deviceCode)).error ?? 'none',
      /^(authorization_pending|slow_down)$/, `${what} left the code pending`);
    const decisionUrl = `${issuer}/device/decision`;
    const csrf = await page.locator('input[name=csrf]').getAttribute('value');
    assert.ok(csrf, 'the consent form carries an anti-forgery token');

    // The browser's own cookies (context.request shares them), so only the token is missing.
    const got = await context.request.get(`${decisionUrl}?decision=approve&code_matches=yes&csrf=${encodeURIComponent(csrf)}`);
    assert.equal(got.status(), 405, 'a GET of the decision URL is refused');
    assert.ok((await got.text()).includes('Use the buttons on the page'), 'with a page saying why');
    await pending('a GET');
    const getPage = (await newContext(t)).page;
    assert.equal((await getPage.goto(decisionUrl))?.status(), 405);
    await screenshot(t, getPage, 'approval-page-get-refused');

    const headers = { Origin: issuer };
    const noToken = await context.request.post(decisionUrl, { headers, form: { decision: 'approve', code_matches: 'yes' } });
    assert.equal(noToken.status(), 403, 'a POST without the anti-forgery token is refused');
    await pending('a POST without the token');
    const wrongToken = await context.request.post(decisionUrl,
      { headers, form: { csrf: `${csrf.slice(0, -1)}${csrf.endsWith('A') ? 'B' : 'A'}`, decision: 'approve', code_matches: 'yes' } });
    assert.equal(wrongToken.status(), 403, 'a POST with a wrong anti-forgery token is refused');
    await pending('a POST with a wrong token');

    // The code came from the link: the box is required in the page, and by the server.
    const box = page.getByRole('checkbox', { name: /The code on my device is/ });
    assert.ok((await page.locator('main').innerText()).includes('You opened a link that filled in the code for you.'),
      'the page says why it asks');
    assert.equal(await box.getAttribute('required'), '', 'the browser requires the box before Approve');
    const unconfirmed = await context.request.post(decisionUrl, { headers, form: { csrf, decision: 'approve' } });
    assert.equal(unconfirmed.status(), 400, 'the server refuses Approve without the confirmation');
    assert.ok((await unconfirmed.text()).includes('Check the box to confirm'));
    await pending('Approve without the confirmation');

    await box.check();
    await submit(page, 'Approve');
    await page.getByRole('heading', { name: /connected/i }).waitFor();
    assert.equal((await pollOnce(code.deviceCode)).status, 200, 'the confirmed approval counts');
  });

test('An expired code ends on a clear page', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const short = await startServer(['--interval', '0', '--code-ttl', '1']);
  t.after(() => { if (short.server.child.exitCode === null) short.server.child.kill('SIGTERM'); });
  const code = await requestCode({ base: short.issuer });
  // Poll until the server itself says the code expired: no guessing at clocks.
  let answer;
  for (let i = 0; i < 100; i += 1) {
    answer = await pollOnce(code.deviceCode, { base: short.issuer });
    if (answer.error !== 'authorization_pending') break;
    await new Promise((resolve) => { setTimeout(resolve, 100); });
  }
  assert.equal(answer.error, 'expired_token', 'the token endpoint reports the code expired');
  const { page } = await newContext(t);
  await page.goto(code.link);
  await submit(page, 'Continue', 400);
  await page.getByRole('heading', { name: 'Code expired' }).waitFor();
  const text = await page.locator('main').innerText();
  assert.ok(text.includes('start the sign-in there again'), 'the page says what to do');
  assert.ok(!/error|exception|stack/i.test(text), `no error dump:\n${text}`);
  await screenshot(t, page, 'approval-page-expired');
});

test('A request from another address is named as such', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const code = await requestCode({ localAddress: '127.0.0.2' });
  const { page } = await toConsent(t, code);
  const text = await page.locator('main').innerText();
  assert.match(text, /From\s+another computer, at address 127\.0\.0\.2/, `the page names the device's address:\n${text}`);
  assert.ok(!text.includes('this computer'), 'and does not call it this computer');
  await screenshot(t, page, 'approval-page-another-computer');
});

test('A client named by an attacker: name and scopes appear as text and no script runs',
  { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const code = await requestCode({ clientId: EVIL_CLIENT_ID, scope: EVIL_SCOPES.join(' ') });
    const { context, page, dialogs } = await toConsent(t, code);
    const text = await page.locator('main').innerText();
    assert.ok(text.includes(EVIL_CLIENT_NAME), 'the client name is shown literally');
    assert.ok(text.includes(EVIL_CLIENT_ID), 'the client id is shown literally');
    for (const scope of EVIL_SCOPES) assert.ok(text.includes(scope), `the scope ${scope} is shown literally`);
    assert.equal(await page.locator('script, img, b, iframe, object, embed').count(), 0,
      'no element came from the client\'s strings');
    assert.deepEqual(dialogs, [], 'no script ran');
    await screenshot(t, page, 'approval-page-escaped');
    const response = await context.request.get(code.link);
    assert.match(response.headers()['content-security-policy'] ?? '', /^default-src 'none';/,
      'the page forbids scripts');
  });
