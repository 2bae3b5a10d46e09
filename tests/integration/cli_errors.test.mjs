// The CLI's failure paths and their documented exit codes (README "Exit codes"): not logged in ->
// 5, access denied -> 3, device code expired -> 4, usage -> 2, network -> 6, refresh rejected -> 5,
// unsafe token file -> 7; and polling that honours interval and slow_down (RFC 8628 §3.5).

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';

import {
  cliPath, closedPort, describeRun, killAllChildren, loginArgs, loginWithApproval, makeHome,
  readTokenFile, runCli, serverKinds, startCli, startServer,
} from './harness.mjs';

const skip = cliPath() ? false : 'DEVICELOGIN_BIN is not set';
const EXIT = { ok: 0, usage: 2, denied: 3, expired: 4, notLoggedIn: 5, network: 6, storage: 7 };

function errorEvent(lines) {
  return lines.find((l) => l.event === 'error');
}

describe('CLI without any server', { skip, timeout: 60000 }, () => {
  let home;
  before(async () => { home = await makeHome(); });
  after(async () => { killAllChildren(); await home?.remove(); });

  test('token with nothing stored -> exit 5, nothing on stdout, one line naming the next step', async () => {
    const result = await runCli(['token'], { env: home.env });
    assert.equal(result.code, EXIT.notLoggedIn, describeRun(['token'], result));
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /devicelogin login/, 'stderr says to run devicelogin login');
  });

  test('refresh with nothing stored -> exit 5', async () => {
    const result = await runCli(['refresh'], { env: home.env });
    assert.equal(result.code, EXIT.notLoggedIn, describeRun(['refresh'], result));
  });

  test('token for an unknown profile -> exit 5', async () => {
    const result = await runCli(['token', '--profile', 'nosuchprofile'], { env: home.env });
    assert.equal(result.code, EXIT.notLoggedIn, describeRun(['token', '--profile', 'nosuchprofile'], result));
  });

  test('usage errors -> exit 2', async () => {
    for (const argv of [
      ['login', '--issuer', 'http://127.0.0.1:1', '--no-browser'], // no --client-id
      ['login', '--client-id', 'x', '--no-browser'], // neither --issuer nor --provider
      ['no-such-subcommand'],
      ['token', '--min-ttl', 'not-a-number'],
    ]) {
      const result = await runCli(argv, { env: home.env });
      assert.equal(result.code, EXIT.usage, describeRun(argv, result));
    }
  });

  test('an issuer that is not loopback http is refused before anything is sent -> exit 2', async () => {
    const argv = ['login', '--issuer', 'http://example.invalid', '--client-id', 'x', '--no-browser', '--no-qr'];
    const result = await runCli(argv, { env: home.env });
    assert.equal(result.code, EXIT.usage, describeRun(argv, result));
  });

  test('an issuer nobody listens on -> exit 6', async () => {
    const port = await closedPort();
    const argv = ['login', '--issuer', `http://127.0.0.1:${port}`, '--client-id', 'x', '--no-browser', '--no-qr', '--json'];
    const result = await runCli(argv, { env: home.env, timeoutMs: 60000 });
    assert.equal(result.code, EXIT.network, describeRun(argv, result));
  });
});

for (const kind of serverKinds()) {
  describe(`CLI failure paths against ${kind}`, { skip, timeout: 180000 }, () => {
    let server;
    before(async () => { server = await startServer(kind, { interval: 1 }); });
    after(async () => { killAllChildren(); await server?.stop(); });

    test('deny -> exit 3, error event access_denied, nothing stored', async () => {
      const home = await makeHome();
      try {
        const { result, lines, argv } = await loginWithApproval(server, home, { approval: 'deny' });
        assert.equal(result.code, EXIT.denied, describeRun(argv, result));
        const error = errorEvent(lines);
        assert.ok(error, 'an error event is printed');
        assert.equal(error.error, 'access_denied');
        assert.equal(typeof error.message, 'string');
        assert.ok((await readTokenFile(home)) === undefined, 'no token stored');
        const token = await runCli(['token'], { env: home.env });
        assert.equal(token.code, EXIT.notLoggedIn, describeRun(['token'], token));
      } finally {
        await home.remove();
      }
    });

    test('a profiles directory that cannot be made is refused before any code is shown -> exit 7', async () => {
      const home = await makeHome();
      try {
        // The profiles "directory" is a file from the start: nothing may be asked of the server.
        await fs.mkdir(home.configDir, { recursive: true, mode: 0o700 });
        await fs.writeFile(`${home.configDir}/profiles`, 'not a directory\n', { mode: 0o600 });
        const codesBefore = (await server.deviceCodes()).length;
        const argv = loginArgs(server, ['--json'], { record: true });
        const result = await runCli(argv, { env: home.env, timeoutMs: 30000 });
        assert.equal(result.code, EXIT.storage, describeRun(argv, result));
        assert.ok(!result.stdout.includes('"device_code"'), 'no code was shown');
        assert.match(result.stderr, /profiles/, describeRun(argv, result));
        assert.equal(result.stderr.trim().split('\n').length, 1, describeRun(argv, result));
        assert.ok((await readTokenFile(home)) === undefined, 'no token stored');
        assert.equal((await server.deviceCodes()).length, codesBefore, 'no device code was asked for');
      } finally {
        await home.remove();
      }
    });

    test('a profile that cannot be saved after approval -> exit 7, and the new tokens are revoked and deleted', async () => {
      const home = await makeHome();
      try {
        // The profiles directory is made a file while the user looks at the code: the login
        // succeeds at the server, the profile save fails.
        const breakProfiles = async () => {
          await fs.rm(`${home.configDir}/profiles`, { recursive: true, force: true });
          await fs.writeFile(`${home.configDir}/profiles`, 'not a directory\n', { mode: 0o600 });
        };
        const { result, argv } = await loginWithApproval(server, home, { record: true, beforeApproval: breakProfiles });
        assert.equal(result.code, EXIT.storage, describeRun(argv, result));
        assert.match(result.stderr, /the new tokens were revoked and deleted/, describeRun(argv, result));
        assert.ok((await readTokenFile(home)) === undefined, 'the tokens were left behind');
        if (server.supports.introspection) {
          // No live token is left that nothing manages.
          const issued = (await server.tokens()).at(-1);
          assert.equal((await server.introspect(issued.refresh_token)).active, false, 'the new refresh token is inactive');
        }
      } finally {
        await home.remove();
      }
    });

    test('Ctrl-C during login cancels promptly and stores nothing', async () => {
      const home = await makeHome();
      try {
        const argv = loginArgs(server, ['--json']);
        const proc = startCli(argv, { env: home.env });
        proc.child.stdin.end();
        try {
          await proc.waitForLine((l) => l.event === 'device_code', 15000);
          const started = Date.now();
          proc.child.kill('SIGINT');
          const result = await proc.wait(10000);
          assert.ok(!result.timedOut, 'login stopped within 10 s of SIGINT');
          assert.ok(result.code !== 0, describeRun(argv, result));
          assert.ok(Date.now() - started < 5000, 'login stopped within 5 s of SIGINT');
          assert.ok((await readTokenFile(home)) === undefined, 'no token stored');
        } finally {
          proc.kill();
        }
      } finally {
        await home.remove();
      }
    });

    test('refresh rejected by the server (grant revoked elsewhere) -> exit 5', async (t) => {
      if (!server.supports.introspection) return t.skip('needs a server-side revocation path');
      const home = await makeHome();
      try {
        const login = await loginWithApproval(server, home);
        assert.equal(login.result.code, EXIT.ok, describeRun(login.argv, login.result));
        const stored = await readTokenFile(home);
        assert.ok(stored?.tokens.refresh_token, 'a refresh token is stored');
        // Revoke the grant behind the CLI's back, as a user would from the provider's settings.
        const meta = await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json();
        const revoked = await fetch(meta.revocation_endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ token: stored.tokens.refresh_token, client_id: server.clientId }),
        });
        assert.equal(revoked.status, 200);
        const result = await runCli(['refresh'], { env: home.env });
        assert.equal(result.code, EXIT.notLoggedIn, describeRun(['refresh'], result));
        assert.match(result.stderr, /devicelogin login/, 'stderr says to log in again');
      } finally {
        await home.remove();
      }
    });

    test('a token file that others can read is refused -> exit 7', async () => {
      const home = await makeHome();
      try {
        const login = await loginWithApproval(server, home);
        assert.equal(login.result.code, EXIT.ok, describeRun(login.argv, login.result));
        const stored = await readTokenFile(home);
        assert.ok(stored, 'token file exists');
        await fs.chmod(stored.file, 0o644);
        const result = await runCli(['token'], { env: home.env });
        assert.equal(result.code, EXIT.storage, describeRun(['token'], result, [stored.tokens.access_token]));
        assert.ok(!result.stdout.includes(stored.tokens.access_token), 'the token is not printed');
      } finally {
        await home.remove();
      }
    });
  });

  describe(`CLI code expiry against ${kind}`, { skip, timeout: 60000 }, () => {
    let server;
    before(async () => { server = await startServer(kind, { interval: 1, deviceCodeTtl: 3 }); });
    after(async () => { killAllChildren(); await server?.stop(); });

    test('a 3-second code lifetime, never approved -> exit 4 within a few seconds', async () => {
      const home = await makeHome();
      try {
        const started = Date.now();
        const { result, lines, deviceEvent, argv } = await loginWithApproval(server, home, {
          approval: 'none', timeoutMs: 20000,
        });
        const elapsed = (Date.now() - started) / 1000;
        assert.equal(result.code, EXIT.expired, describeRun(argv, result));
        assert.equal(deviceEvent.expires_in, 3);
        assert.ok(elapsed < 12, `login gave up soon after expiry (took ${elapsed.toFixed(1)} s)`);
        const error = errorEvent(lines);
        assert.ok(error, 'an error event is printed');
        assert.equal(typeof error.error, 'string');
        assert.ok((await readTokenFile(home)) === undefined, 'no token stored');
      } finally {
        await home.remove();
      }
    });
  });

  describe(`CLI polling cadence against ${kind}`, { skip, timeout: 90000 }, () => {
    let server;
    before(async () => { server = await startServer(kind, { interval: 1, slowDownEvery: 2 }); });
    after(async () => { killAllChildren(); await server?.stop(); });

    test('polls no faster than the interval, and 5 s slower after slow_down (RFC 8628 §3.5)', async (t) => {
      if (!server.supports.slowDown) return t.skip('server cannot inject slow_down');
      const home = await makeHome();
      try {
        // Approve only once a slow_down was answered, so that the next poll shows the new cadence.
        const argv = loginArgs(server, ['--json'], { record: true });
        const proc = startCli(argv, { env: home.env });
        proc.child.stdin.end();
        try {
          const deviceEvent = await proc.waitForLine((l) => l.event === 'device_code', 15000);
          const deadline = Date.now() + 20000;
          let polls = [];
          while (Date.now() < deadline) {
            polls = await server.polls();
            const slowIndex = polls.findIndex((p) => p.result === 'slow_down');
            if (slowIndex >= 0) break;
            if (proc.child.exitCode !== null) break;
            await new Promise((r) => { setTimeout(r, 200); });
          }
          const approved = await server.approve(
            deviceEvent.verification_uri_complete ?? deviceEvent.verification_uri, deviceEvent.user_code,
          );
          assert.equal(approved.outcome, 'approved');
          const result = await proc.wait(30000);
          assert.equal(result.code, EXIT.ok, describeRun(argv, result));

          polls = await server.polls();
          const issuedAt = (await server.issued()).at(-1);
          const times = polls.map((p) => p.t);
          const results = polls.map((p) => p.result);
          assert.ok(results.includes('slow_down'), `a slow_down was answered (polls: ${results.join(',')})`);
          const tolerance = 150; // ms of scheduling slack
          assert.ok(times[0] - issuedAt >= 1000 - tolerance,
            `the first poll waits one interval (came ${times[0] - issuedAt} ms after the code was issued)`);
          for (let i = 1; i < polls.length; i += 1) {
            const gap = times[i] - times[i - 1];
            const slowDownsBefore = results.slice(0, i).filter((r) => r === 'slow_down').length;
            const expected = (1 + 5 * slowDownsBefore) * 1000;
            assert.ok(gap >= expected - tolerance,
              `poll ${i} came ${gap} ms after the previous one; expected >= ${expected} ms `
              + `(interval 1 s + 5 s per slow_down so far; polls: ${results.join(',')})`);
          }
          assert.equal(results.at(-1), 'ok');
        } finally {
          proc.kill();
        }
      } finally {
        await home.remove();
      }
    });
  });
}
