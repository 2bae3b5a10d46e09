// Proves the test harness itself (oidc_server.mjs + approve.mjs) with plain fetch, independently of
// the CLI: a full RFC 8628 device flow, refresh with rotation, revocation and introspection.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { makeHome, readTokenFile, startServer, sleep } from './harness.mjs';

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

async function postForm(url, form) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(form).toString(),
  });
  const text = await response.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: response.status, json };
}

async function discover(server) {
  return (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json();
}

async function deviceAuthorization(server, meta, scope = server.scope) {
  const { status, json } = await postForm(meta.device_authorization_endpoint, {
    client_id: server.clientId, scope,
  });
  assert.equal(status, 200, 'device authorization succeeds');
  return json;
}

function pollOnce(server, meta, deviceCode) {
  return postForm(meta.token_endpoint, {
    grant_type: DEVICE_CODE_GRANT, device_code: deviceCode, client_id: server.clientId,
  });
}

describe('oidc_server.mjs + approve.mjs (no CLI involved)', { timeout: 60000 }, () => {
  let server;
  let meta;
  before(async () => {
    server = await startServer('oidc-provider', { interval: 1 });
    meta = await discover(server);
  });
  after(async () => { await server?.stop(); });

  test('discovery: http loopback issuer, device flow, revocation, introspection', () => {
    assert.equal(meta.issuer, server.issuer);
    assert.match(server.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(meta.device_authorization_endpoint, 'device_authorization_endpoint');
    assert.ok(meta.revocation_endpoint, 'revocation_endpoint');
    assert.ok(meta.introspection_endpoint, 'introspection_endpoint');
    assert.ok(meta.grant_types_supported.includes(DEVICE_CODE_GRANT));
  });

  test('approve -> token -> refresh rotates -> revoke -> introspection inactive', async () => {
    const da = await deviceAuthorization(server, meta);
    assert.equal(da.interval, 1, 'middleware adds interval');
    assert.ok(da.verification_uri_complete.includes(encodeURIComponent(da.user_code)) || da.verification_uri_complete.includes(da.user_code));
    assert.ok((await server.deviceCodes()).includes(da.device_code), 'server records the device code');

    const pending = await pollOnce(server, meta, da.device_code);
    assert.equal(pending.status, 400);
    assert.equal(pending.json.error, 'authorization_pending');

    const result = await server.approve(da.verification_uri_complete, da.user_code);
    assert.equal(result.outcome, 'approved');
    assert.deepEqual(result.steps, ['user_code_prefilled', 'login', 'consent', 'success']);

    const granted = await pollOnce(server, meta, da.device_code);
    assert.equal(granted.status, 200, 'token response after approval');
    const tokens = granted.json;
    assert.equal(typeof tokens.access_token, 'string');
    assert.equal(typeof tokens.refresh_token, 'string');
    assert.equal(typeof tokens.id_token, 'string');

    const active = await server.introspect(tokens.access_token);
    assert.equal(active.active, true);
    assert.equal(active.sub, 'alice');

    const refreshed = await postForm(meta.token_endpoint, {
      grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: server.clientId,
    });
    assert.equal(refreshed.status, 200, 'refresh succeeds');
    assert.equal(typeof refreshed.json.refresh_token, 'string');
    assert.ok(refreshed.json.refresh_token !== tokens.refresh_token, 'refresh token rotated');
    assert.ok(refreshed.json.access_token !== tokens.access_token, 'new access token');
    assert.equal((await server.introspect(tokens.refresh_token)).active, false, 'old refresh token consumed');

    const revoked = await postForm(meta.revocation_endpoint, {
      token: refreshed.json.refresh_token, token_type_hint: 'refresh_token', client_id: server.clientId,
    });
    assert.equal(revoked.status, 200);
    const revokedAccess = await postForm(meta.revocation_endpoint, {
      token: refreshed.json.access_token, token_type_hint: 'access_token', client_id: server.clientId,
    });
    assert.equal(revokedAccess.status, 200);
    assert.equal((await server.introspect(refreshed.json.access_token)).active, false);
    assert.equal((await server.introspect(refreshed.json.refresh_token)).active, false);

    const polls = await server.polls();
    assert.deepEqual(polls.map((p) => p.result), ['authorization_pending', 'ok']);
  });

  test('a device code is redeemable once; reuse revokes the grant', async () => {
    const da = await deviceAuthorization(server, meta);
    await server.approve(da.verification_uri_complete, da.user_code);
    const granted = await pollOnce(server, meta, da.device_code);
    assert.equal(granted.status, 200);
    const again = await pollOnce(server, meta, da.device_code);
    assert.equal(again.json.error, 'invalid_grant');
    assert.equal((await server.introspect(granted.json.access_token)).active, false);
  });

  test('approve via verification_uri and typed user code', async () => {
    const da = await deviceAuthorization(server, meta);
    const result = await server.approve(da.verification_uri, da.user_code);
    assert.deepEqual(result.steps, ['user_code', 'login', 'consent', 'success']);
    assert.equal((await pollOnce(server, meta, da.device_code)).status, 200);
  });

  test('deny at the code confirmation -> access_denied', async () => {
    const da = await deviceAuthorization(server, meta);
    const result = await server.approve(da.verification_uri_complete, da.user_code, { deny: true });
    assert.equal(result.outcome, 'denied');
    const answer = await pollOnce(server, meta, da.device_code);
    assert.equal(answer.status, 400);
    assert.equal(answer.json.error, 'access_denied');
  });

  test('deny at the consent prompt -> access_denied', async () => {
    const da = await deviceAuthorization(server, meta);
    const result = await server.approve(da.verification_uri_complete, da.user_code, { deny: 'consent' });
    assert.equal(result.outcome, 'denied');
    const answer = await pollOnce(server, meta, da.device_code);
    assert.equal(answer.json.error, 'access_denied');
  });

  test('a refresh token is issued without offline_access too', async () => {
    const da = await deviceAuthorization(server, meta, 'openid');
    await server.approve(da.verification_uri_complete, da.user_code);
    const granted = await pollOnce(server, meta, da.device_code);
    assert.equal(granted.status, 200);
    assert.equal(typeof granted.json.refresh_token, 'string');
  });
});

describe('oidc_server.mjs knobs', { timeout: 60000 }, () => {
  test('--device-code-ttl 2 -> expired_token', async () => {
    const server = await startServer('oidc-provider', { deviceCodeTtl: 2 });
    try {
      const meta = await discover(server);
      const da = await deviceAuthorization(server, meta);
      assert.equal(da.expires_in, 2);
      await sleep(2500);
      const answer = await pollOnce(server, meta, da.device_code);
      assert.equal(answer.json.error, 'expired_token');
    } finally {
      await server.stop();
    }
  });

  test('--slow-down-every 2 answers every second pending poll with slow_down', async () => {
    const server = await startServer('oidc-provider', { slowDownEvery: 2, interval: 3 });
    try {
      const meta = await discover(server);
      const da = await deviceAuthorization(server, meta);
      assert.equal(da.interval, 3);
      const results = [];
      for (let i = 0; i < 4; i += 1) results.push((await pollOnce(server, meta, da.device_code)).json.error);
      assert.deepEqual(results, ['authorization_pending', 'slow_down', 'authorization_pending', 'slow_down']);
      await server.approve(da.verification_uri_complete, da.user_code);
      assert.equal((await pollOnce(server, meta, da.device_code)).status, 200, 'approval is never hidden');
    } finally {
      await server.stop();
    }
  });

  test('--auto-consent skips the consent page', async () => {
    const server = await startServer('oidc-provider', { autoConsent: true });
    try {
      const meta = await discover(server);
      const da = await deviceAuthorization(server, meta);
      const result = await server.approve(da.verification_uri_complete, da.user_code);
      assert.deepEqual(result.steps, ['user_code_prefilled', 'login', 'success']);
      const granted = await pollOnce(server, meta, da.device_code);
      assert.equal(granted.status, 200);
      assert.equal(typeof granted.json.refresh_token, 'string');
    } finally {
      await server.stop();
    }
  });
});

// readTokenFile tells "nothing stored", "exactly one token file" and "debris" apart, so that a
// suite cannot mistake leftovers for a stored token.
describe('readTokenFile', () => {
  let home;
  const tokensDir = () => path.join(home.stateDir, 'tokens');
  const write = async (name, text) => {
    await fs.mkdir(tokensDir(), { recursive: true });
    await fs.writeFile(path.join(tokensDir(), name), text);
  };
  const tokenSet = JSON.stringify({ access_token: 'a', refresh_token: 'r' });
  before(async () => { home = await makeHome(); });
  after(async () => { await home?.remove(); });

  test('nothing stored: undefined (also without the state directory)', async () => {
    assert.equal(await readTokenFile(home), undefined);
    await fs.mkdir(tokensDir(), { recursive: true });
    assert.equal(await readTokenFile(home), undefined);
  });
  test('one token file: its path and token set', async () => {
    await write('default.json', tokenSet);
    const stored = await readTokenFile(home);
    assert.equal(stored.file, path.join(tokensDir(), 'default.json'));
    assert.equal(stored.tokens.refresh_token, 'r');
  });
  test('two token files: throws', async () => {
    await write('work.json', tokenSet);
    await assert.rejects(readTokenFile(home), /2 token files/);
    await fs.rm(path.join(tokensDir(), 'work.json'));
  });
  test('a temporary leftover: throws, with or without a token file', async () => {
    await write('default.json.tmp.1234.0', tokenSet.slice(0, 5));
    await assert.rejects(readTokenFile(home), /temporary leftovers tokens\/default\.json\.tmp\.1234\.0/);
    await fs.rm(path.join(tokensDir(), 'default.json'));
    await assert.rejects(readTokenFile(home), /temporary leftovers/);
    await fs.rm(path.join(tokensDir(), 'default.json.tmp.1234.0'));
  });
  test('an unreadable JSON file: throws', async () => {
    await write('default.json', '{"access_token": "a", "refr');
    await assert.rejects(readTokenFile(home), /unreadable JSON tokens\/default\.json/);
    await fs.rm(path.join(tokensDir(), 'default.json'));
    assert.equal(await readTokenFile(home), undefined);
  });
});
