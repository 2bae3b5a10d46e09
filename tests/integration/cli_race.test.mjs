// One refresh when processes race: 32 `devicelogin token` processes started at once on
// an expiring access token, against a server that rotates refresh tokens and revokes the grant
// when a rotated-out refresh token comes back (oidc-provider; our devserver, RFC 9700 §4.14.2).
// Expected: exactly ONE refresh_token grant reaches the server, all 32 exit 0 and print the same
// token, that token is not the pre-race one, and the grant is still alive afterwards.
//
// Refreshes are counted by a loopback proxy in front of the token endpoint (the profile is logged
// in with --token-endpoint pointing at it, so every refresh passes through it) and, for
// oidc-provider, also by the server itself (/__test/events "refreshes"). The proxy holds each
// refresh answer back until every racer has found the stale token and is contending for the
// profile's lock (it has the lock file open, seen in /proc/PID/fd): an event, not a duration, so a
// slow spawn on a loaded machine cannot turn the race into a queue decided by spawn order.
// Tokens are compared in the test and never printed.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  cliPath, describeRun, forwardAnswer, killAllChildren, loginWithApproval, makeHome, parseJsonOutput, runCli,
  serverKinds, sleep, startCli, startServer,
} from './harness.mjs';

const skip = cliPath() ? false : 'DEVICELOGIN_BIN is not set';
const EXIT = { ok: 0 };
const RACERS = 32;
// Access tokens live ACCESS_TTL s; racers ask for MIN_TTL s of validity. The pre-race token is
// raced once it has less than MIN_TTL s left; the new one then satisfies every racer for the next
// ACCESS_TTL - MIN_TTL s, far longer than the race takes.
const ACCESS_TTL = 20;
const MIN_TTL = 10;
// The hold ends when every racer contends for the lock, or after this cap (then the test fails:
// not a real race). The new token must still have MIN_TTL s left when the racers read it, so the
// cap stays below ACCESS_TTL - MIN_TTL = 10 s; 32 spawns took well under 1 s on a quiet 2-core
// machine, so 8 s is a margin of more than 7 s for load.
const REFRESH_HOLD_CAP_MS = 8000;
const LOCK_SCAN_MS = 20;
const REFRESH_GRANT = 'refresh_token';
// Stores: env DEVICELOGIN_RACE_STORES (comma/space separated; default "file,kernel-keyring"); ctest
// runs one store per entry. `secret-service` needs scripts/with-keyring.sh around the suite.
const STORES = (process.env.DEVICELOGIN_RACE_STORES ?? 'file,kernel-keyring').split(/[\s,]+/).filter(Boolean);

/**
 * A loopback proxy for one token endpoint that counts refresh_token grants and holds their answers
 * until `proxy.hold()` (set by the test; resolves at once by default) resolves. Resolves to
 * { url, refreshes: [{started, answered, status, contending}], hold, stop() }.
 */
async function startCountingProxy(tokenEndpoint) {
  const refreshes = [];
  const srv = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    const isRefresh = new URLSearchParams(body.toString('utf8')).get('grant_type') === REFRESH_GRANT;
    const entry = isRefresh ? { started: Date.now(), answered: undefined, status: undefined, contending: undefined }
      : undefined;
    if (entry) refreshes.push(entry);
    const headers = {};
    for (const name of ['content-type', 'accept', 'authorization', 'user-agent', 'dpop']) {
      if (req.headers[name]) headers[name] = req.headers[name];
    }
    let answer;
    try {
      answer = await fetch(tokenEndpoint, { method: req.method, headers, body, redirect: 'manual' });
    } catch (error) {
      if (entry) entry.failure = String(error.cause?.code ?? error.cause?.message ?? error.message);
      res.writeHead(502).end();
      return;
    }
    const answerBody = Buffer.from(await answer.arrayBuffer());
    if (entry) {
      const holdStarted = Date.now();
      entry.contending = await proxy.hold();
      entry.heldMs = Date.now() - holdStarted;
      entry.status = answer.status;
      entry.answered = Date.now();
    }
    forwardAnswer(res, answer, answerBody);
  });
  await new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', resolve);
  });
  const proxy = {
    url: `http://127.0.0.1:${srv.address().port}/token`,
    refreshes,
    hold: async () => undefined,
    async stop() {
      srv.closeAllConnections?.();
      await new Promise((resolve) => { srv.close(resolve); });
    },
  };
  return proxy;
}

// Whether process `pid` has a file open for which isLock(path) holds (a racer waiting for, or
// holding, the profile's lock).
async function hasOpen(pid, isLock) {
  let fds;
  try {
    fds = await fs.readdir(`/proc/${pid}/fd`);
  } catch {
    return false; // exited
  }
  for (const fd of fds) {
    try {
      if (isLock(await fs.readlink(`/proc/${pid}/fd/${fd}`))) return true;
    } catch { /* closed meanwhile */ }
  }
  return false;
}

/**
 * Resolves, once all `expected` racers were spawned (racers() returns them), with how many of them
 * have the lock file open (isLock); waits until all do, one exited (it cannot have a token: the
 * test reports it), or `capMs` passed.
 */
async function whenAllContend(racers, expected, isLock, capMs) {
  const deadline = Date.now() + capMs;
  for (;;) {
    const spawned = racers();
    let contending = 0;
    let exited = false;
    for (const proc of spawned) {
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) exited = true;
      else if (await hasOpen(proc.child.pid, isLock)) contending += 1;
    }
    if ((spawned.length === expected && contending === expected) || exited || Date.now() >= deadline) {
      return contending;
    }
    await sleep(LOCK_SCAN_MS);
  }
}

// Refresh grants oidc-provider itself saw (undefined for servers without a test endpoint).
async function serverRefreshCount(server) {
  if (server.kind !== 'oidc-provider') return undefined;
  const events = await (await fetch(`${server.issuer}/__test/events`)).json();
  return events.refreshes?.length;
}

for (const kind of serverKinds()) {
  describe(`${RACERS} racing token processes against ${kind}`, { skip, timeout: 240000 }, () => {
    for (const store of STORES) {
      describe(`--store ${store}`, () => {
        let server;
        let home;
        let proxy;
        let loggedIn = false;

        before(async () => {
          server = await startServer(kind, { interval: 1, accessTokenTtl: ACCESS_TTL });
          home = await makeHome();
          // The CLI runs with a scrubbed environment; the Secret Service store needs the session bus.
          if (store === 'secret-service' && process.env.DBUS_SESSION_BUS_ADDRESS) {
            home.env.DBUS_SESSION_BUS_ADDRESS = process.env.DBUS_SESSION_BUS_ADDRESS;
          }
          const meta = await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json();
          proxy = await startCountingProxy(meta.token_endpoint);
        });
        after(async () => {
          killAllChildren();
          // The kernel keyring outlives this HOME: delete the key whatever happened above.
          if (loggedIn) await runCli(['logout'], { env: home.env }).catch(() => {});
          await proxy?.stop();
          await server?.stop();
          await home?.remove();
        });

        test('exactly one refresh reaches the server; all print the same new token; grant alive', async (t) => {
          if (store === 'secret-service' && process.env.WITH_KEYRING_ACTIVE !== '1') {
            t.skip('no private Secret Service: run this suite through scripts/with-keyring.sh');
            return;
          }
          const { result, argv } = await loginWithApproval(server, home, {
            store, extra: ['--token-endpoint', proxy.url],
          });
          if (result.code !== EXIT.ok && store === 'kernel-keyring'
              && /kernel keyring is not available/.test(result.stderr)) {
            const reason = result.stderr.trim().split('\n').pop();
            t.skip(`the kernel keyring is refused here: ${reason}`);
            return;
          }
          assert.equal(result.code, EXIT.ok, describeRun(argv, result));
          loggedIn = true;

          const status = await runCli(['status', '--json'], { env: home.env });
          assert.equal(status.code, EXIT.ok, describeRun(['status', '--json'], status));
          const info = parseJsonOutput(status.stdout, 'status --json');
          assert.equal(info.store, store, `the profile uses the ${store} store`);
          assert.equal(typeof info.expires_at, 'number', 'status reports expires_at');

          const preArgs = ['token', '--min-ttl', '0'];
          const pre = await runCli(preArgs, { env: home.env });
          assert.equal(pre.code, EXIT.ok, describeRun(preArgs, pre));
          const preToken = pre.stdout;
          assert.ok(preToken.length > 1, 'the pre-race token is printed');
          assert.equal(proxy.refreshes.length, 0, 'no refresh before the race');

          // Wait until the stored token has less than MIN_TTL s left (expiring, not yet expired).
          const waitMs = (info.expires_at - MIN_TTL + 1) * 1000 - Date.now();
          if (waitMs > 0) await sleep(waitMs);
          const serverBefore = await serverRefreshCount(server);

          const raceArgs = ['token', '--min-ttl', String(MIN_TTL)];
          const racers = [];
          // The profile's lock is a default.lock under $XDG_STATE_HOME/devicelogin/ (its folder
          // depends on the store). /proc shows resolved paths: resolve the temporary HOME.
          const stateDir = path.join(await fs.realpath(home.home), path.relative(home.home, home.stateDir));
          const isLock = (file) => file.startsWith(`${stateDir}/`) && file.endsWith('/default.lock');
          proxy.hold = () => whenAllContend(() => racers, RACERS, isLock, REFRESH_HOLD_CAP_MS);
          for (let i = 0; i < RACERS; i += 1) {
            const proc = startCli(raceArgs, { env: home.env });
            proc.child.stdin.end();
            racers.push(proc);
          }
          const results = await Promise.all(racers.map((proc) => proc.wait(60000)));
          const secrets = [preToken.trim(), ...new Set(results.map((r) => r.stdout.trim()))];

          const failed = results.map((r, i) => ({ r, i })).filter(({ r }) => r.code !== EXIT.ok);
          const failures = proxy.refreshes.filter((e) => e.failure).map((e) => e.failure);
          assert.equal(failed.length, 0, `${failed.length} of ${RACERS} racers failed; first: `
            + `${failed.length ? describeRun(raceArgs, failed[0].r, secrets) : ''}`
            + `${failures.length ? `; the proxy could not forward ${failures.length} refreshes: ${[...new Set(failures)].join(', ')}` : ''}`);

          const refreshCount = proxy.refreshes.length;
          const serverCount = serverBefore === undefined ? undefined
            : (await serverRefreshCount(server)) - serverBefore;
          t.diagnostic(`refresh requests through the proxy: ${refreshCount}`
            + `${serverCount === undefined ? '' : `; seen by oidc-provider: ${serverCount}`}`
            + `; statuses: ${proxy.refreshes.map((e) => e.status).join(',')}`
            + `; first answer held ${proxy.refreshes[0]?.heldMs} ms until ${proxy.refreshes[0]?.contending} racers contended`);
          assert.equal(refreshCount, 1, 'exactly one refresh request reached the token endpoint');
          if (serverCount !== undefined) assert.equal(serverCount, 1, 'oidc-provider saw exactly one refresh');
          assert.equal(proxy.refreshes[0].status, 200, 'the refresh succeeded');
          assert.equal(proxy.refreshes[0].contending, RACERS,
            `all ${RACERS} racers contended for the lock before the refresh was answered (a real race)`);

          const printed = new Set(results.map((r) => r.stdout));
          assert.equal(printed.size, 1, `all ${RACERS} racers printed the same token (${printed.size} distinct)`);
          const [raceToken] = printed;
          assert.ok(raceToken.endsWith('\n') && raceToken.length > 1 && !raceToken.slice(0, -1).includes('\n'),
            'one token line');
          assert.ok(raceToken !== preToken, 'the raced token is a new one');

          // Reuse detection would have revoked the grant: it must still be alive.
          if (server.supports.introspection) {
            assert.equal((await server.introspect(raceToken.trim())).active, true,
              'introspection: the raced token is active');
          }
          // A later call reuses it: asked with --min-ttl 0, so that a slow machine (the racers under
          // ASan take seconds each) is not taken for a refresh that MIN_TTL would rightly ask for;
          // only a token that has really expired since (20 s) would be refreshed again.
          const againArgs = ['token', '--min-ttl', '0'];
          const again = await runCli(againArgs, { env: home.env });
          assert.equal(again.code, EXIT.ok, describeRun(againArgs, again, secrets));
          assert.ok(again.stdout === raceToken, 'a later token call reuses the raced token');
          assert.equal(proxy.refreshes.length, 1, 'without another refresh');

          const refresh = await runCli(['refresh', '--json'], { env: home.env });
          assert.equal(refresh.code, EXIT.ok, describeRun(['refresh', '--json'], refresh, secrets));
          assert.equal(proxy.refreshes.length, 2, 'refresh sent one more refresh request');
          assert.equal(proxy.refreshes[1].status, 200, 'the grant still refreshes (not revoked)');
        });
      });
    }
  });
}
