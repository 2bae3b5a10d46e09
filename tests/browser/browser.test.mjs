// Real-browser test of `devicelogin serve`'s approval page: Debian's chromium, driven by
// playwright-core, completes the pages a person would see while a real `devicelogin login` waits.
//
//   DEVICELOGIN_BIN=build/devicelogin node --test --test-concurrency=1 browser.test.mjs
//
// Environment:
//   DEVICELOGIN_BIN         the devicelogin executable (required)
//   DEVICELOGIN_CHROMIUM    the browser (default /usr/bin/chromium; a missing browser is a failure,
//                           not a skip: scripts/setup-deps.sh --tests installs it)
//   DEVICELOGIN_SCREENSHOT  when set, the consent page is saved there as a PNG (docs/approval-page.png
//                           is made this way; unset in CI so the tree stays clean)
//
// Nothing here prints a token: failures show event names, exit codes and the CLI's stderr with
// anything token-shaped masked.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

const BIN = process.env.DEVICELOGIN_BIN;
const CHROMIUM = process.env.DEVICELOGIN_CHROMIUM || '/usr/bin/chromium';
const SCREENSHOT = process.env.DEVICELOGIN_SCREENSHOT || '';
const CLIENT_ID = 'devicelogin-demo';
const CLIENT_NAME = 'devicelogin demo';
const SCOPES = ['openid', 'profile', 'offline_access'];
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

before(async () => {
  assert.ok(BIN, 'DEVICELOGIN_BIN must name the devicelogin executable');
  assert.ok(fs.existsSync(BIN), `DEVICELOGIN_BIN=${BIN} does not exist`);
  assert.ok(fs.existsSync(CHROMIUM),
    `${CHROMIUM} is missing: this test needs Debian's chromium (apt-get install chromium, or run `
    + 'scripts/setup-deps.sh --tests); set DEVICELOGIN_CHROMIUM to use another Chromium binary');
  server = startJsonChild(['serve', '--port', '0', '--json', '--interval', '1'], cliEnv());
  const first = await server.nextEvent(() => true, 'devicelogin serve printing its issuer')
    .catch((err) => { throw new Error(`devicelogin serve did not start: ${err.message}; ${server.describe()}`); });
  assert.match(first.issuer ?? '', /^http:\/\/127\.0\.0\.1:\d+$/, 'serve --json first line has the issuer');
  issuer = first.issuer;
});

after(async () => {
  if (server && server.child.exitCode === null) {
    server.child.kill('SIGTERM');
    await withTimeout(server.exited, 5000, 'devicelogin serve stopping').catch(() => {});
  }
  killAll();
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

async function launchBrowser() {
  const userDataDir = tempDir('devicelogin-chromium-');
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 720, height: 640 },
    deviceScaleFactor: 1,
    timeout: 60_000,
  });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
  return context;
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

async function submit(page, buttonName) {
  const referrerPolicy = referrerPolicies.get(page) ?? '?';
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && r.request().isNavigationRequest()),
    page.getByRole('button', { name: buttonName, exact: true }).click(),
  ]);
  const sent = await response.request().allHeaders();
  assert.equal(response.status(), 200,
    `the server answered ${response.status()} to the "${buttonName}" form post `
    + `(the browser sent Origin: ${sent.origin ?? '<none>'}, Sec-Fetch-Site: ${sent['sec-fetch-site'] ?? '<none>'}; `
    + `the page it came from had Referrer-Policy: ${referrerPolicy})`);
  return response;
}

// Runs one login and drives the approval pages to the consent page; returns what the test needs
// to press a decision button and check the outcome.
async function loginUntilConsent(t, { screenshot = '' } = {}) {
  const login = startJsonChild(['login', '--issuer', issuer, '--client-id', CLIENT_ID,
    '--scope', SCOPES.join(' '), '--no-browser', '--no-qr', '--json'], cliEnv());
  t.after(() => { if (login.child.exitCode === null) login.child.kill('SIGKILL'); });

  const deviceCode = await login.nextEvent((e) => e.event === 'device_code', 'login printing the device_code event')
    .catch((err) => { throw new Error(`${err.message}; login: ${login.describe()}`); });
  assert.match(deviceCode.user_code ?? '', /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/,
    'the CLI shows an XXXX-XXXX user code');
  assert.ok(deviceCode.verification_uri_complete?.startsWith(`${issuer}/device`),
    'verification_uri_complete points at the server');

  const context = await launchBrowser();
  t.after(() => context.close().catch(() => {}));
  const page = context.pages()[0] ?? await context.newPage();
  trackReferrerPolicy(page);

  try {
    const response = await page.goto(deviceCode.verification_uri_complete);
    assert.equal(response?.status(), 200, 'the verification page loads');

    // RFC 8628 §5.4: the code arrives pre-filled, and the user confirms it matches the device.
    await assert.doesNotReject(page.getByRole('heading', { name: 'Connect a device' }).waitFor());
    assert.equal(await page.getByLabel('Code').inputValue(), deviceCode.user_code,
      'the page pre-fills the same user code as the CLI printed');
    await submit(page, 'Continue');

    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    assert.ok((await page.locator('main').innerText()).includes(deviceCode.user_code),
      'the sign-in page names the same user code');
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill('alice');
    await submit(page, 'Sign in');

    await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
    const consent = await page.locator('main').innerText();
    assert.ok(consent.includes('alice'), 'the consent page names the signed-in user');
    assert.ok(consent.includes(CLIENT_NAME), 'the consent page names the client');
    assert.ok(consent.includes(CLIENT_ID), 'the consent page shows the client_id');
    assert.ok(consent.includes(deviceCode.user_code), 'the consent page shows the same user code');
    const listed = await page.locator('main li').allInnerTexts();
    assert.deepEqual(listed.map((s) => s.trim()), SCOPES, 'the consent page lists the requested scopes');
    await page.getByRole('button', { name: 'Approve', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Deny', exact: true }).waitFor();

    if (screenshot) {
      fs.mkdirSync(path.dirname(path.resolve(screenshot)), { recursive: true });
      await page.screenshot({ path: screenshot, fullPage: false });
      t.diagnostic(`approval page screenshot written to ${screenshot}`);
    }
  } catch (err) {
    const title = await page.title().catch(() => '?');
    err.message += `\n  page: ${page.url()} (title "${title}")\n  login: ${login.describe()}`;
    throw err;
  }
  return { login, page, deviceCode };
}

test('Approve in a real browser: the waiting login exits 0 with the authorized event',
  { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const { login, page } = await loginUntilConsent(t, { screenshot: SCREENSHOT });
    await submit(page, 'Approve');
    await page.getByRole('heading', { name: /connected/i }).waitFor();

    const exit = await withTimeout(login.exited, 30_000, 'login exiting after Approve')
      .catch((err) => { throw new Error(`${err.message}; login: ${login.describe()}`); });
    assert.equal(exit.code, 0, `login exits 0 after Approve; ${login.describe()}`);
    const names = login.state.events.map((e) => e.event);
    assert.ok(names.includes('authorized'), `login printed the authorized event; ${login.describe()}`);
    assert.ok(!names.includes('error'), `login printed no error event; ${login.describe()}`);
  });

test('Deny in a real browser: the waiting login exits 3 (access denied)',
  { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const { login, page } = await loginUntilConsent(t);
    await submit(page, 'Deny');
    await page.getByRole('heading', { name: /denied/i }).waitFor();

    const exit = await withTimeout(login.exited, 30_000, 'login exiting after Deny')
      .catch((err) => { throw new Error(`${err.message}; login: ${login.describe()}`); });
    assert.equal(exit.code, EXIT_ACCESS_DENIED, `login exits 3 after Deny; ${login.describe()}`);
    const names = login.state.events.map((e) => e.event);
    assert.ok(!names.includes('authorized'), `login did not print authorized; ${login.describe()}`);
    assert.ok(names.includes('error'), `login printed an error event; ${login.describe()}`);
  });
