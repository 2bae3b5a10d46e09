// No credential request is sent twice by the transport (a server may revoke a grant it sees twice).
// `devicelogin serve` reads the first N polls / refreshes whole and closes their connection without
// an answer (--hang-up-polls, --hang-up-refreshes) and logs each request it gets (-v); this suite
// timestamps those lines as they arrive and checks that every attempt reached the server exactly
// once and that the gaps follow the protocol: RFC 8628 §3.5 interval then exponential backoff for
// polls; one attempt then the error for a refresh (RFC 9700 §4.14.2: a refresh token seen twice may
// revoke the grant). The poll after the device authorization goes on the connection that answered
// it, the very case where libcurl re-sends by itself ("Connection died, retrying a fresh connect").

import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { after, before, describe, test } from 'node:test';

import { cliPath, describeRun, killAllChildren, makeHome, runCli, sleep } from './harness.mjs';

const skip = cliPath() ? false : 'DEVICELOGIN_BIN is not set';
const EXIT = { ok: 0, network: 6 };

/** `devicelogin serve -v` with the given extra flags; its stderr lines are kept with arrival times. */
async function startServe(extra) {
  // --keep-alive 10: an answered connection outlives the 1 s poll interval, so the client may reuse
  // it, as with most servers (the devserver's default of 1 s would close it first).
  const child = spawn(cliPath(), ['serve', '--port', '0', '--json', '--interval', '1', '--auto-approve', '-v',
    '--keep-alive', '10', ...extra],
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { PATH: process.env.PATH, LANG: 'C.UTF-8' } });
  const events = [];
  let partial = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    const now = performance.now();
    partial += chunk;
    const lines = partial.split('\n');
    partial = lines.pop();
    for (const line of lines) events.push({ t: now, line });
  });
  const issuer = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('devicelogin serve printed no issuer')), 15000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const newline = out.indexOf('\n');
      if (newline >= 0) {
        clearTimeout(timer);
        resolve(JSON.parse(out.slice(0, newline)).issuer);
      }
    });
    child.once('exit', () => { clearTimeout(timer); reject(new Error('devicelogin serve exited')); });
  });
  return {
    issuer,
    events,
    matching: (pattern) => events.filter((e) => pattern.test(e.line)),
    stop() { try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ } },
  };
}

function loginArgv(server) {
  return ['login', '--issuer', server.issuer, '--client-id', 'devicelogin-demo', '--store', 'file',
    '--no-browser', '--no-qr', '--json'];
}

function show(server) {
  return server.events.map((e) => `${e.t.toFixed(0)} ms ${e.line}`).join('\n');
}

describe('a credential request whose connection closes unanswered is not re-sent', { skip, timeout: 90000 }, () => {
  let home;
  let server;
  before(async () => { home = await makeHome(); });
  after(async () => { server?.stop(); killAllChildren(); await home?.remove(); });

  test('polling: each poll arrives once; gaps are interval, then 2x, 4x (RFC 8628 §3.5 backoff)', async () => {
    server = await startServe(['--hang-up-polls', '3']);
    const argv = loginArgv(server);
    const result = await runCli(argv, { env: home.env, timeoutMs: 40000 });
    assert.equal(result.code, EXIT.ok, describeRun(argv, result));
    await sleep(500); // a late duplicate would show up here
    const issued = server.matching(/device code issued/);
    const hungUp = server.matching(/hung up without an answer on device code poll/);
    const answered = server.matching(/tokens issued to devicelogin-demo/);
    const log = show(server);
    assert.equal(issued.length, 1, log);
    assert.deepEqual(hungUp.map((e) => e.line.replace(/.* poll /, '')), ['1 of 3', '2 of 3', '3 of 3'],
      `each of the 3 hung-up polls arrives once, and a 4th arrives only after the backoff:\n${log}`);
    assert.equal(answered.length, 1, log);
    const arrivals = [issued[0], ...hungUp, answered[0]].map((e) => e.t);
    // device authorization -> poll 1: the interval (1 s); then 1 s, 2 s, 4 s after 1, 2, 3
    // consecutive failures. 150 ms of slack for the timestamps taken from a pipe.
    const expected = [1000, 1000, 2000, 4000];
    for (let i = 0; i < expected.length; i += 1) {
      const gap = arrivals[i + 1] - arrivals[i];
      assert.ok(gap >= expected[i] - 150, `gap ${i + 1} is ${gap.toFixed(0)} ms, below ${expected[i]} ms:\n${log}`);
      assert.ok(gap <= expected[i] + 3000, `gap ${i + 1} is ${gap.toFixed(0)} ms, far above ${expected[i]} ms:\n${log}`);
    }
    server.stop();
    server = undefined;
  });

  test('refresh: one attempt, then the error (exit 6); the refresh token still works', async () => {
    server = await startServe(['--hang-up-refreshes', '2']);
    const argv = loginArgv(server);
    const login = await runCli(argv, { env: home.env, timeoutMs: 30000 });
    assert.equal(login.code, EXIT.ok, describeRun(argv, login));

    const refresh = await runCli(['refresh'], { env: home.env });
    assert.equal(refresh.code, EXIT.network, describeRun(['refresh'], refresh));
    // `token` that must refresh goes the same way.
    const token = await runCli(['token', '--min-ttl', '999999999'], { env: home.env });
    assert.equal(token.code, EXIT.network, describeRun(['token'], token));
    assert.equal(token.stdout, '');
    await sleep(1500); // a re-send, immediate or delayed, would arrive in this window
    const log = show(server);
    assert.deepEqual(server.matching(/hung up without an answer on refresh/).map((e) => e.line.replace(/.* refresh /, '')),
      ['1 of 2', '2 of 2'], `one arrival per command:\n${log}`);
    assert.equal(server.matching(/tokens refreshed/).length, 0, `nothing was re-sent after the hang-up:\n${log}`);

    // The refresh token was never presented twice, so the grant is intact.
    const again = await runCli(['refresh'], { env: home.env });
    assert.equal(again.code, EXIT.ok, describeRun(['refresh'], again));
    assert.equal(server.matching(/tokens refreshed/).length, 1, show(server));
    assert.equal(server.matching(/reuse detected/).length, 0, show(server));
  });
});
