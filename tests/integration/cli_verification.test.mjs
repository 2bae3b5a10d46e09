// What `devicelogin login` shows so that a phished code stands out (RFC 8628 §5.4): where the
// user will approve (the verification URI's host), the user code, and the warning to stop unless
// they started the sign-in; in human output, with --json (fields of the device_code event) and
// with --quiet. Against `devicelogin serve`; and against a stub server whose answers are the ones
// a preset must refuse (a page on a foreign host) or name (device-code sign-in turned off).

import { strict as assert } from 'node:assert';
import * as http from 'node:http';
import { after, before, describe, test } from 'node:test';

import {
  cliPath, describeRun, killAllChildren, loginArgs, loginWithApproval, makeHome, redact, startCli, startServer,
} from './harness.mjs';

const skip = cliPath() ? false : 'DEVICELOGIN_BIN is not set';
const WARNING = 'Only continue if you started this sign-in. If a website, an e-mail or another person gave you this code, stop.';
const EXIT = { ok: 0, other: 1, denied: 3, server: 6 };

describe('login shows where to approve, the code and the warning (devicelogin serve)', { skip, timeout: 120000 }, () => {
  let server;
  let home;
  let host;

  before(async () => {
    server = await startServer('devserver', { interval: 1, deviceCodeTtl: 120 });
    home = await makeHome();
    host = new URL(server.issuer).hostname;
  });
  after(async () => {
    killAllChildren();
    await server?.stop();
    await home?.remove();
  });

  // Human output: read from stderr as a user reads it, then approve with the code read there.
  async function humanLogin(extra) {
    const argv = loginArgs(server, ['--profile', `p${extra.length}`, ...extra]);
    const proc = startCli(argv, { env: home.env });
    proc.child.stdin.end();
    try {
      const [, userCode] = await proc.waitForStderr(/\n {4}([A-Z0-9]{4}-[A-Z0-9]{4})\n/);
      await proc.waitForStderr(/Only continue if you started this sign-in/);
      const approved = await server.approve(`${server.issuer}/device`, userCode);
      assert.equal(approved.outcome, 'approved');
      const result = await proc.wait(20000);
      assert.equal(result.code, EXIT.ok, describeRun(argv, result));
      return { result, userCode, argv };
    } finally {
      proc.kill();
    }
  }

  function assertShown(stderr, userCode, argv) {
    const shown = `${describeRun(argv, { code: 0, stderr })}`;
    assert.ok(stderr.includes(`You will approve at: ${host}\n`), `the host line:\n${shown}`);
    assert.ok(stderr.includes(`\n    ${userCode}\n`), `the user code on a line of its own:\n${shown}`);
    assert.ok(stderr.includes(`${WARNING}\n`), `the warning:\n${shown}`);
    // Next to the code: the warning follows the code and the host line before anything else.
    const lines = stderr.split('\n');
    const codeLine = lines.indexOf(`    ${userCode}`);
    assert.deepEqual(lines.slice(codeLine + 1, codeLine + 4), ['', `You will approve at: ${host}`, WARNING], shown);
    assert.ok(!stderr.includes('warning: the verification page'), `the page is on the issuer's host:\n${shown}`);
  }

  test('human output: the host line, the user code and the warning', async () => {
    const { result, userCode, argv } = await humanLogin([]);
    assertShown(result.stderr, userCode, argv);
    assert.match(result.stderr, /Waiting for approval/);
    assert.match(result.stderr, /Signed in/);
  });

  test('--quiet keeps the host line, the code and the warning, without the countdown or the closing line', async () => {
    const { result, userCode, argv } = await humanLogin(['--quiet']);
    assertShown(result.stderr, userCode, argv);
    assert.doesNotMatch(result.stderr, /Waiting for approval/, describeRun(argv, result));
    assert.doesNotMatch(result.stderr, /Signed in/, describeRun(argv, result));
  });

  test('--json: the device_code event carries the host and the warning', async () => {
    const { result, deviceEvent, argv } = await loginWithApproval(server, home, { extra: ['--profile', 'json'] });
    assert.equal(result.code, EXIT.ok, describeRun(argv, result));
    assert.equal(deviceEvent.warning, WARNING);
    assert.equal(deviceEvent.verification_host, host);
    assert.equal(deviceEvent.host_warning, null);
    assert.equal(typeof deviceEvent.user_code, 'string');
    assertShown(result.stderr, deviceEvent.user_code, argv);
  });
});

// A stub authorization server on 127.0.0.1 whose device authorization endpoint answers `device`
// (status, body) and whose token endpoint answers access_denied.
async function startStub(device) {
  const srv = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const [status, body] = req.url === '/device/code' ? device : [400, { error: 'access_denied' }];
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    });
  });
  await new Promise((resolve) => { srv.listen(0, '127.0.0.1', resolve); });
  const base = `http://127.0.0.1:${srv.address().port}`;
  return {
    args: ['--device-authorization-endpoint', `${base}/device/code`, '--token-endpoint', `${base}/token`,
      '--client-id', 'stub-client', '--no-browser', '--no-qr', '--store', 'file'],
    close: () => new Promise((resolve) => { srv.close(resolve); }),
  };
}

const CODE = 'WDJB-MJHT';
function deviceAnswer(verificationUri) {
  return [200, {
    device_code: 'stub-device-code', user_code: CODE, verification_uri: verificationUri, expires_in: 600, interval: 1,
  }];
}

// The lines of stderr but the notice that --store file was chosen (printed before the server is asked).
const errorLines = (stderr) => stderr.split('\n').filter((l) => l !== '' && !l.startsWith('warning: tokens will be kept'));

async function run(args, home, env = {}) {
  const proc = startCli(args, { env: { ...home.env, ...env } });
  proc.child.stdin.end();
  return proc.wait(20000);
}

describe('preset verification hosts and blocked device-code sign-in (stub server)', { skip, timeout: 120000 }, () => {
  let home;
  before(async () => { home = await makeHome(); });
  after(async () => {
    killAllChildren();
    await home?.remove();
  });

  for (const [provider, page] of [['github', 'https://github.com.evil.example/login/device'],
    ['microsoft', 'https://microsoft-devicelogin.example/devicelogin'],
    ['google', 'https://www.google.com.evil.example/device'],
    ['workos', 'https://authkit.app.evil.example/device']]) {
    test(`--provider ${provider}: a page on a foreign host is refused, exit 6, no code shown`, async () => {
      const stub = await startStub(deviceAnswer(page));
      try {
        const args = ['login', '--provider', provider, ...stub.args];
        // Google's device flow needs the client secret before it asks for a code.
        const result = await run(args, home, provider === 'google' ? { DEVICELOGIN_CLIENT_SECRET: 'stub-secret' } : {});
        assert.equal(result.code, EXIT.server, describeRun(args, result));
        const foreign = new URL(page).hostname;
        const lines = errorLines(result.stderr);
        assert.equal(lines.length, 1, describeRun(args, result));
        assert.match(lines[0], new RegExp(`^devicelogin login: the verification page is on ${foreign.replaceAll('.', '\\.')}, `
          + `which is not ${provider}'s \\([^)]+\\); refusing to show its code$`), describeRun(args, result));
        assert.ok(!result.stderr.includes(CODE) && !result.stdout.includes(CODE), 'the user code is never shown');
      } finally {
        await stub.close();
      }
    });
  }

  test('a plain server whose page is on another host: shown, with a warning (also in --json)', async () => {
    const stub = await startStub(deviceAnswer('https://login.other.example/device'));
    try {
      const args = ['login', '--json', ...stub.args];
      const result = await run(args, home);
      assert.equal(result.code, EXIT.denied, describeRun(args, result));
      assert.ok(result.stderr.includes('You will approve at: login.other.example\n'), describeRun(args, result));
      assert.ok(result.stderr.includes('warning: the verification page is on login.other.example, not on 127.0.0.1'),
        describeRun(args, result));
      assert.ok(result.stderr.includes(`    ${CODE}\n`) && result.stderr.includes(WARNING), describeRun(args, result));
      const event = JSON.parse(result.stdout.split('\n')[0]);
      assert.equal(event.event, 'device_code');
      assert.equal(event.verification_host, 'login.other.example');
      assert.match(event.host_warning, /^the verification page is on login\.other\.example, not on 127\.0\.0\.1/);
      assert.equal(event.warning, WARNING);
    } finally {
      await stub.close();
    }
  });

  test('GitHub device_flow_disabled is named in one line with the browser flow as the way out', async () => {
    const stub = await startStub([200, {
      error: 'device_flow_disabled', error_description: 'Device flow must be explicitly enabled for this App',
      error_uri: 'https://docs.github.com/developers/apps/authorizing-oauth-apps#device-flow',
    }]);
    try {
      const args = ['login', '--provider', 'github', '--profile', 'gh', '--json', ...stub.args];
      const result = await run(args, home);
      assert.equal(result.code, EXIT.other, describeRun(args, result));
      assert.deepEqual(errorLines(result.stderr), ['devicelogin login: your administrator has turned off device-code '
        + 'sign-in for this app (the server answered device_flow_disabled); sign in with the browser flow instead '
        + '(devicelogin login --flow browser --profile gh, on a computer with a browser), or ask your administrator to '
        + 'allow device-code sign-in'], redact(result.stderr));
      const event = JSON.parse(result.stdout.split('\n')[0]);
      assert.equal(event.event, 'error');
      assert.equal(event.error, 'device_flow_disabled');
    } finally {
      await stub.close();
    }
  });
});
