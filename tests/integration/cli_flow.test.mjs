// The CLI's main path against a real authorization server:
// login (approved) -> status -> token (introspection: active) -> refresh rotates -> token
// --min-ttl refreshes -> logout revokes (introspection: inactive) -> token says "not logged in".
// Assertions compare secrets with booleans so that a failure never prints a token.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';

import {
  cliPath, describeRun, killAllChildren, loginArgs, loginWithApproval, makeHome, readTokenFile,
  parseJsonOutput, redact, runCli, serverKinds, startCli, startServer,
} from './harness.mjs';

const skip = cliPath() ? false : 'DEVICELOGIN_BIN is not set';
const EXIT = { ok: 0, usage: 2, denied: 3, expired: 4, notLoggedIn: 5, network: 6, storage: 7 };

for (const kind of serverKinds()) {
  describe(`CLI main path against ${kind}`, { skip, timeout: 120000 }, () => {
    let server;
    let home;
    const state = {}; // filled by the tests in order; later tests skip when an earlier one failed
    const secrets = () => [state.tokens?.access_token, state.tokens?.refresh_token,
      state.tokens?.id_token, state.printedToken, state.refreshedTokens?.access_token,
      state.refreshedTokens?.refresh_token, state.minTtlToken];

    before(async () => {
      server = await startServer(kind, { interval: 1, deviceCodeTtl: 120 });
      home = await makeHome();
    });
    after(async () => {
      killAllChildren();
      await server?.stop();
      await home?.remove();
    });

    test('login --json: device_code event, approval, authorized event, exit 0', async () => {
      const { result, lines, deviceEvent, argv } = await loginWithApproval(server, home);
      assert.equal(result.code, EXIT.ok, describeRun(argv, result));

      assert.equal(typeof deviceEvent.user_code, 'string');
      assert.ok(deviceEvent.user_code.length >= 4, 'user_code is not empty');
      assert.equal(typeof deviceEvent.verification_uri, 'string');
      assert.ok(deviceEvent.verification_uri.startsWith(server.issuer), 'verification_uri on the issuer');
      assert.ok(deviceEvent.verification_uri_complete === null
        || deviceEvent.verification_uri_complete.startsWith(server.issuer), 'verification_uri_complete');
      assert.equal(typeof deviceEvent.expires_in, 'number');
      assert.ok(deviceEvent.expires_in > 110 && deviceEvent.expires_in <= 120,
        'expires_in from the server (code lifetime 120 s)');
      assert.equal(deviceEvent.interval, 1, 'interval from the server');
      assert.ok(!('device_code' in deviceEvent), 'the device code is not in the JSON');

      assert.equal(lines.length, 2, 'exactly two JSON lines: device_code, authorized');
      assert.ok(lines.every((l) => !l.unparsable), 'every stdout line is JSON');
      const authorized = lines[1];
      assert.equal(authorized.event, 'authorized');
      assert.equal(authorized.profile, 'default');
      const now = Date.now() / 1000;
      assert.ok(typeof authorized.expires_at === 'number'
        && authorized.expires_at > now + 3000 && authorized.expires_at < now + 3700,
      'expires_at is about one hour from now (the server gives 3600 s)');
      assert.ok(typeof authorized.scope === 'string' && authorized.scope.split(' ').includes('openid'),
        'scope names openid');
      // Both servers' approval helpers sign in as alice, and the openid scope brings an ID token.
      assert.equal(authorized.subject, 'alice', 'subject is the signed-in user');
      for (const key of ['access_token', 'refresh_token', 'id_token', 'device_code']) {
        assert.ok(!(key in authorized), `no ${key} in the authorized event`);
      }

      const stored = await readTokenFile(home);
      assert.ok(stored, 'exactly one token file under $XDG_STATE_HOME/devicelogin/');
      assert.equal(typeof stored.tokens.refresh_token, 'string', 'a refresh token is stored');
      const mode = (await fs.stat(stored.file)).mode & 0o777;
      assert.equal(mode, 0o600, 'token file is 0600');
      state.tokens = stored.tokens;
    });

    test('status --json reports the session without secrets', async (t) => {
      if (!state.tokens) return t.skip('login failed');
      const result = await runCli(['status', '--json'], { env: home.env });
      assert.equal(result.code, EXIT.ok, describeRun(['status', '--json'], result, secrets()));
      const status = parseJsonOutput(result.stdout, 'status --json');
      for (const key of ['profile', 'issuer', 'logged_in', 'expires_at', 'scope', 'subject', 'store', 'relogin_required']) {
        assert.ok(key in status, `status has ${key}`);
      }
      assert.equal(status.profile, 'default');
      assert.equal(status.issuer, server.issuer);
      assert.equal(status.logged_in, true);
      assert.equal(status.relogin_required, false);
      assert.equal(typeof status.expires_at, 'number');
      assert.ok(typeof status.scope === 'string' && status.scope.includes('openid'), 'scope');
      assert.equal(status.subject, 'alice', 'subject is the signed-in user');
      assert.equal(typeof status.store, 'string');
      const all = result.stdout + result.stderr;
      assert.ok(!secrets().some((s) => s && all.includes(s)), 'status prints no token');
    });

    test('token prints the stored access token, which introspection calls active', async (t) => {
      if (!state.tokens) return t.skip('login failed');
      const result = await runCli(['token'], { env: home.env });
      assert.equal(result.code, EXIT.ok, describeRun(['token'], result, secrets()));
      assert.ok(result.stdout.endsWith('\n') && result.stdout.split('\n').length === 2,
        'stdout is one line ending in a newline');
      const printed = result.stdout.slice(0, -1);
      assert.ok(printed === state.tokens.access_token, 'token printed the stored access token');
      assert.equal(result.stderr, '', 'token writes nothing on stderr when the token is fresh');
      state.printedToken = printed;
      if (server.supports.introspection) {
        const info = await server.introspect(printed);
        assert.equal(info.active, true, 'introspection: active');
        assert.equal(info.client_id, server.clientId);
        assert.equal(info.sub, 'alice');
      }
    });

    test('refresh --json rotates the refresh token and replaces the access token', async (t) => {
      if (!state.printedToken) return t.skip('token failed');
      const result = await runCli(['refresh', '--json'], { env: home.env });
      assert.equal(result.code, EXIT.ok, describeRun(['refresh', '--json'], result, secrets()));
      parseJsonOutput(result.stdout, 'refresh --json');
      const stored = await readTokenFile(home);
      assert.ok(stored, 'the token file is still there');
      assert.ok(stored.tokens.refresh_token && stored.tokens.refresh_token !== state.tokens.refresh_token,
        'the stored refresh token was replaced by the rotated one');
      assert.ok(stored.tokens.access_token !== state.tokens.access_token, 'the access token was replaced');
      state.refreshedTokens = stored.tokens;
      if (server.supports.introspection) {
        assert.equal((await server.introspect(stored.tokens.access_token)).active, true, 'new access token active');
        assert.equal((await server.introspect(stored.tokens.refresh_token)).active, true, 'new refresh token active');
        assert.equal((await server.introspect(state.tokens.refresh_token)).active, false, 'old refresh token consumed');
      }
      const token = await runCli(['token'], { env: home.env });
      assert.equal(token.code, EXIT.ok, describeRun(['token'], token, secrets()));
      assert.ok(token.stdout === `${stored.tokens.access_token}\n`, 'token prints the refreshed access token');
    });

    test('token --min-ttl longer than the token lifetime refreshes first', async (t) => {
      if (!state.refreshedTokens) return t.skip('refresh failed');
      const result = await runCli(['token', '--min-ttl', '7200'], { env: home.env });
      assert.equal(result.code, EXIT.ok, describeRun(['token', '--min-ttl', '7200'], result, secrets()));
      const printed = result.stdout.slice(0, -1);
      assert.ok(result.stdout.endsWith('\n') && !printed.includes('\n'), 'one line on stdout');
      assert.ok(printed !== state.refreshedTokens.access_token, 'a new access token was obtained');
      const stored = await readTokenFile(home);
      assert.ok(stored && stored.tokens.access_token === printed, 'the new token was stored');
      assert.ok(stored.tokens.refresh_token !== state.refreshedTokens.refresh_token, 'rotated again');
      state.minTtlToken = printed;
      state.refreshedTokens = stored.tokens;
      if (server.supports.introspection) {
        assert.equal((await server.introspect(printed)).active, true, 'introspection: active');
      }
    });

    test('logout --json revokes and deletes; introspection then says inactive', async (t) => {
      if (!state.refreshedTokens) return t.skip('refresh failed');
      const last = state.refreshedTokens;
      const result = await runCli(['logout', '--json'], { env: home.env });
      assert.equal(result.code, EXIT.ok, describeRun(['logout', '--json'], result, secrets()));
      const answer = parseJsonOutput(result.stdout, 'logout --json');
      assert.equal(answer.revoked, true, 'revoked: true');
      assert.equal(answer.deleted, true, 'deleted: true');
      assert.ok((await readTokenFile(home)) === undefined, 'the token file is gone');
      if (server.supports.introspection) {
        assert.equal((await server.introspect(last.access_token)).active, false, 'access token inactive');
        assert.equal((await server.introspect(last.refresh_token)).active, false, 'refresh token inactive');
      }
    });

    test('after logout: token exits 5 and says how to log in; status says logged_in false', async (t) => {
      if (!state.refreshedTokens) return t.skip('refresh failed');
      const token = await runCli(['token'], { env: home.env });
      assert.equal(token.code, EXIT.notLoggedIn, describeRun(['token'], token, secrets()));
      assert.equal(token.stdout, '', 'nothing on stdout');
      assert.match(token.stderr, /devicelogin login/, 'stderr names the next step');
      const status = await runCli(['status', '--json'], { env: home.env });
      assert.ok([EXIT.ok, EXIT.notLoggedIn].includes(status.code), describeRun(['status', '--json'], status));
      assert.equal(parseJsonOutput(status.stdout, 'status --json').logged_in, false);
    });
  });

  describe(`CLI human output and profiles against ${kind}`, { skip, timeout: 120000 }, () => {
    let server;
    let home;
    let loggedIn = false;
    before(async () => {
      server = await startServer(kind, { interval: 1 });
      home = await makeHome();
    });
    after(async () => {
      killAllChildren();
      await server?.stop();
      await home?.remove();
    });

    test('login without --json shows the URI and the user code on stderr, nothing on stdout', async () => {
      const argv = loginArgs(server, ['--profile', 'work']);
      const proc = startCli(argv, { env: home.env });
      proc.child.stdin.end();
      try {
        // Wait until the verification URI and something that looks like a user code are shown.
        const deadline = Date.now() + 15000;
        let userCode;
        while (Date.now() < deadline && !userCode) {
          const err = proc.stderr();
          if (err.includes(`${server.issuer}/`)) {
            userCode = /\b([A-Z0-9]{4}-[A-Z0-9]{4})\b/.exec(err)?.[1];
          }
          if (proc.child.exitCode !== null) break;
          if (!userCode) await new Promise((r) => { setTimeout(r, 100); });
        }
        assert.ok(userCode, 'stderr shows the verification URI and a XXXX-XXXX user code:\n'
          + `${redact(proc.stderr()).slice(0, 1500)}`);
        const approved = await server.approve(`${server.issuer}/device`, userCode);
        assert.equal(approved.outcome, 'approved');
        const result = await proc.wait(20000);
        assert.equal(result.code, EXIT.ok, describeRun(argv, result));
        assert.equal(result.stdout, '', 'human mode writes nothing on stdout');
        loggedIn = true;
      } finally {
        proc.kill();
      }
    });

    test('profiles are separate: work is logged in, default is not', async (t) => {
      if (!loggedIn) return t.skip('login failed');
      const work = await runCli(['token', '--profile', 'work'], { env: home.env });
      assert.equal(work.code, EXIT.ok, describeRun(['token', '--profile', 'work'], work));
      const def = await runCli(['token'], { env: home.env });
      assert.equal(def.code, EXIT.notLoggedIn, describeRun(['token'], def));
      const status = await runCli(['status', '--profile', 'work', '--json'], { env: home.env });
      assert.equal(status.code, EXIT.ok, describeRun(['status', '--profile', 'work', '--json'], status));
      const parsed = parseJsonOutput(status.stdout, 'status --json');
      assert.equal(parsed.profile, 'work');
      assert.equal(parsed.issuer, server.issuer, 'the profile remembers the issuer');
      assert.equal(parsed.logged_in, true);
    });

    test('the profile remembers the issuer and client: refresh and logout need only --profile', async (t) => {
      if (!loggedIn) return t.skip('login failed');
      const refresh = await runCli(['refresh', '--profile', 'work'], { env: home.env });
      assert.equal(refresh.code, EXIT.ok, describeRun(['refresh', '--profile', 'work'], refresh));
      const logout = await runCli(['logout', '--profile', 'work', '--json'], { env: home.env });
      assert.equal(logout.code, EXIT.ok, describeRun(['logout', '--profile', 'work', '--json'], logout));
      assert.equal(parseJsonOutput(logout.stdout, 'logout --json').deleted, true);
    });
  });
  describe(`CLI with the store it chooses itself against ${kind}`, { skip, timeout: 120000 }, () => {
    let server;
    let home;
    // The kernel keyring is shared by every HOME of this user: a unique profile avoids collisions.
    const profile = `it-${process.pid}-${Date.now()}`;
    before(async () => {
      server = await startServer(kind, { interval: 1 });
      home = await makeHome();
    });
    after(async () => {
      // Leave nothing in a shared keyring, whatever happened above.
      await runCli(['logout', '--profile', profile], { env: home.env }).catch(() => {});
      killAllChildren();
      await server?.stop();
      await home?.remove();
    });

    test('login -> token (active) -> logout (inactive) without --store', async (t) => {
      const { result, argv } = await loginWithApproval(server, home, {
        store: null, extra: ['--profile', profile],
      });
      assert.equal(result.code, EXIT.ok, describeRun(argv, result));
      const status = await runCli(['status', '--profile', profile, '--json'], { env: home.env });
      assert.equal(status.code, EXIT.ok, describeRun(['status', '--profile', profile, '--json'], status));
      t.diagnostic(`store chosen: ${parseJsonOutput(status.stdout, 'status --json').store}`);

      const token = await runCli(['token', '--profile', profile], { env: home.env });
      assert.equal(token.code, EXIT.ok, describeRun(['token', '--profile', profile], token));
      const printed = token.stdout.slice(0, -1);
      assert.ok(token.stdout.endsWith('\n') && printed.length > 0 && !printed.includes('\n'), 'one token line');
      if (server.supports.introspection) {
        assert.equal((await server.introspect(printed)).active, true, 'introspection: active');
      }
      const logout = await runCli(['logout', '--profile', profile, '--json'], { env: home.env });
      assert.equal(logout.code, EXIT.ok, describeRun(['logout', '--profile', profile, '--json'], logout, [printed]));
      const answer = parseJsonOutput(logout.stdout, 'logout --json');
      assert.equal(answer.revoked, true);
      assert.equal(answer.deleted, true);
      if (server.supports.introspection) {
        assert.equal((await server.introspect(printed)).active, false, 'introspection: inactive');
      }
      const afterLogout = await runCli(['token', '--profile', profile], { env: home.env });
      assert.equal(afterLogout.code, EXIT.notLoggedIn, describeRun(['token', '--profile', profile], afterLogout));
    });
  });
}
