// The client's clock minutes off the server's, as a laptop's often is. Only the CLI runs under
// libfaketime (LD_PRELOAD, FAKETIME="-10m" style relative offsets), never the server: login
// succeeds and says how far the clock is off, `token` (the lean executable, which dlopens its
// plugin only when it must refresh) prints a token introspection calls active, a refresh works, and
// with the WorkOS-shaped answer (no expires_in, the access token's JWT exp alone; devserver
// --omit-expires-in) the refresh comes when the server's token really nears its end.

import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';

import {
  cliPath, describeRun, killAllChildren, loginWithApproval, makeHome, parseJsonOutput, readTokenFile,
  runCli, serverKinds, startServer,
} from './harness.mjs';

const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
const skip = !cliPath() ? 'DEVICELOGIN_BIN is not set'
  : !existsSync(LIBFAKETIME) ? `${LIBFAKETIME} is missing (Debian package faketime; scripts/setup-deps.sh --tests)` : false;
const EXIT = { ok: 0 };

// Clocks as virtual machines, WSL and containers have them: 10 and 3 min behind (each once failed
// the ID token as issued in the future), 10 and 70 min ahead (70 once failed it as expired).
const SKEWS = [
  { spec: '-10m', seconds: -600, words: /your clock is 10 min behind 127\.0\.0\.1:\d+'s; devicelogin adjusts for it/ },
  { spec: '-3m', seconds: -180, words: /your clock is 3 min behind 127\.0\.0\.1:\d+'s/ },
  { spec: '+10m', seconds: 600, words: /your clock is 10 min ahead of 127\.0\.0\.1:\d+'s/ },
  { spec: '+70m', seconds: 4200, words: /your clock is 1 h 10 min ahead of 127\.0\.0\.1:\d+'s/ },
];

// The home's environment with the CLI's wall clock moved by `spec`. Monotonic time stays real so
// that timeouts and sleeps are not affected.
function skewed(home, spec) {
  return {
    ...home,
    env: { ...home.env, LD_PRELOAD: LIBFAKETIME, FAKETIME: spec, DONT_FAKE_MONOTONIC: '1' },
  };
}

// The offset is measured on a live round trip: allow a few seconds for load.
function near(actual, expected, slack = 5) {
  return typeof actual === 'number' && Math.abs(actual - expected) <= slack;
}

for (const kind of serverKinds()) {
  for (const skew of SKEWS) {
    describe(`client clock ${skew.spec} against ${kind}`, { skip, timeout: 120000 }, () => {
      let server;
      let home;
      let clock;
      const state = {};
      const secrets = () => [state.tokens?.access_token, state.tokens?.refresh_token, state.tokens?.id_token];

      before(async () => {
        server = await startServer(kind, { interval: 1, deviceCodeTtl: 120 });
        home = await makeHome();
        clock = skewed(home, skew.spec);
      });
      after(async () => {
        killAllChildren();
        await server?.stop();
        await home?.remove();
      });

      test('the environment really skews a child\'s clock', async () => {
        // `date` here; the login's warning below shows that it reaches devicelogin too.
        const { spawnSync } = await import('node:child_process');
        const out = spawnSync('date', ['+%s'], { env: { ...process.env, ...clock.env }, encoding: 'utf8' });
        assert.ok(near(Number(out.stdout) - Date.now() / 1000, skew.seconds), `date under faketime says ${out.stdout}`);
      });

      test('login succeeds and warns once about the clock', async () => {
        const { result, lines, argv } = await loginWithApproval(server, clock);
        assert.equal(result.code, EXIT.ok, describeRun(argv, result, secrets()));
        const warnings = result.stderr.split('\n').filter((l) => l.includes('your clock is'));
        assert.equal(warnings.length, 1, `one clock warning on stderr:\n${result.stderr}`);
        assert.match(warnings[0], skew.words);
        assert.match(warnings[0], /but other programs may not$/);
        assert.equal(lines.at(-1)?.event, 'authorized');
        const stored = await readTokenFile(home);
        assert.ok(stored, 'the tokens were stored');
        state.tokens = stored.tokens;
        // Stored on the local (skewed) clock: expires_in counted from the local receipt time.
        const localNow = Date.now() / 1000 + skew.seconds;
        assert.ok(stored.tokens.expires_at > localNow + 3500 && stored.tokens.expires_at <= localNow + 3605,
          'expires_at is an hour ahead on the local clock');
      });

      test('status --json carries clock_offset_s (server minus local)', async (t) => {
        if (!state.tokens) return t.skip('login failed');
        const result = await runCli(['status', '--json'], { env: clock.env });
        assert.equal(result.code, EXIT.ok, describeRun(['status', '--json'], result, secrets()));
        const status = parseJsonOutput(result.stdout, 'status --json');
        assert.ok(near(status.clock_offset_s, -skew.seconds), `clock_offset_s ${status.clock_offset_s}`);
      });

      test('token prints the stored token, which introspection calls active', async (t) => {
        if (!state.tokens) return t.skip('login failed');
        const result = await runCli(['token'], { env: clock.env });
        assert.equal(result.code, EXIT.ok, describeRun(['token'], result, secrets()));
        assert.ok(result.stdout === `${state.tokens.access_token}\n`, 'token printed the stored access token');
        assert.equal((await server.introspect(state.tokens.access_token)).active, true, 'introspection: active');
      });

      test('refresh works and keeps the offset with the tokens', async (t) => {
        if (!state.tokens) return t.skip('login failed');
        const result = await runCli(['refresh', '--json'], { env: clock.env });
        assert.equal(result.code, EXIT.ok, describeRun(['refresh', '--json'], result, secrets()));
        const stored = await readTokenFile(home);
        assert.ok(stored.tokens.access_token !== state.tokens.access_token, 'a new access token');
        assert.ok(near(stored.tokens.clock_offset_s, -skew.seconds), 'the refresh learned the offset again');
        const token = await runCli(['token'], { env: clock.env });
        assert.equal(token.code, EXIT.ok, describeRun(['token'], token, secrets()));
        assert.ok(token.stdout === `${stored.tokens.access_token}\n`, 'token prints the refreshed access token');
        assert.equal((await server.introspect(stored.tokens.access_token)).active, true, 'introspection: active');
      });
    });
  }

  // WorkOS sends no expires_in: the access token's JWT exp (server time) is its only lifetime.
  // devserver --omit-expires-in; oidc-provider --jwt-access-tokens (its resource indicators give a
  // JWT access token; it does not store those, so there introspection cannot vouch for them and
  // the refresh is checked in the server's own record of refresh grants instead).
  for (const skew of SKEWS) {
    describe(`client clock ${skew.spec}, JWT exp without expires_in, against ${kind}`, { skip, timeout: 120000 }, () => {
      const ttl = 600;
      let server;
      let home;
      let clock;
      let tokens;
      before(async () => {
        server = await startServer(kind, { interval: 1, deviceCodeTtl: 120, accessTokenTtl: ttl, omitExpiresIn: true });
        home = await makeHome();
        clock = skewed(home, skew.spec);
      });
      after(async () => {
        killAllChildren();
        await server?.stop();
        await home?.remove();
      });

      test('login stores the exp converted to the local clock', async () => {
        const { result, argv } = await loginWithApproval(server, clock);
        assert.equal(result.code, EXIT.ok, describeRun(argv, result));
        tokens = (await readTokenFile(home))?.tokens;
        assert.ok(tokens, 'the tokens were stored');
        // The server's own exp, on its (real) clock.
        const claims = JSON.parse(Buffer.from(tokens.access_token.split('.')[1] ?? '', 'base64url').toString('utf8') || '{}');
        assert.ok(near(claims.exp - Date.now() / 1000, ttl, 10), 'the access token is a JWT whose exp is the server\'s');
        const localNow = Date.now() / 1000 + skew.seconds;
        assert.ok(near(tokens.expires_at - localNow, ttl, 10), `expires in ${tokens.expires_at - localNow} s on the local clock`);
      });

      test('token with --min-ttl under the remaining lifetime does not refresh; over it, it does', async (t) => {
        if (!tokens) return t.skip('login failed');
        // About 600 s left on the server's clock. A clock 10 min behind would see 1200 s (and
        // hand out a token the server has already expired, later); one 70 min ahead would see
        // it expired and refresh on every call.
        const keep = await runCli(['token', '--min-ttl', String(ttl - 120)], { env: clock.env });
        assert.equal(keep.code, EXIT.ok, describeRun(['token'], keep, [tokens.access_token]));
        assert.ok(keep.stdout === `${tokens.access_token}\n`, 'the stored token, not refreshed');
        const renew = await runCli(['token', '--min-ttl', String(ttl + 120)], { env: clock.env });
        assert.equal(renew.code, EXIT.ok, describeRun(['token'], renew, [tokens.access_token]));
        const printed = renew.stdout.slice(0, -1);
        assert.ok(printed !== tokens.access_token, 'refreshed: a new access token');
        if (kind === 'devserver') {
          assert.equal((await server.introspect(printed)).active, true, 'introspection: active');
        } else {
          const refreshes = (await server.tokens()).filter((e) => e.grant_type === 'refresh_token');
          assert.equal(refreshes.length, 1, 'exactly one refresh reached the server');
          assert.ok(refreshes[0].access_token === printed, 'the token printed is the one the refresh issued');
          assert.equal(typeof JSON.parse(Buffer.from(printed.split('.')[1], 'base64url')).exp, 'number',
            'a JWT access token with exp');
        }
        const stored = (await readTokenFile(home))?.tokens;
        const localNow = Date.now() / 1000 + skew.seconds;
        assert.ok(near(stored.expires_at - localNow, ttl, 10), 'the refreshed exp is on the local clock too');
      });
    });
  }
}
