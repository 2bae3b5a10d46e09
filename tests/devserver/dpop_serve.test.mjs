// `serve --dpop-nonce` as a process, driven by node's own HTTP client and WebCrypto (ES256):
// an independent client of the DPoP rules (RFC 9449), with no npm module. DEVSERVER_SERVE_CLI is
// the devserver_serve_cli binary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { webcrypto as crypto, randomUUID, createHash } from 'node:crypto';

const b64url = (bytes) => Buffer.from(bytes).toString('base64url');

async function startServe() {
  const bin = process.env.DEVSERVER_SERVE_CLI;
  assert.ok(bin, 'DEVSERVER_SERVE_CLI must name the devserver_serve_cli binary');
  const child = spawn(bin, ['serve', '--json', '--auto-approve', '--interval', '0', '--dpop-nonce'],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`serve exited with ${code} before its first line`)));
  });
  return { child, issuer: JSON.parse(line).issuer };
}

async function makeKey() {
  const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
  const { kty, crv, x, y } = await crypto.subtle.exportKey('jwk', pair.publicKey);
  const jwk = { kty, crv, x, y };
  // RFC 7638: required members in lexicographic order, no whitespace.
  const thumbprint = b64url(createHash('sha256').update(JSON.stringify({ crv, kty, x, y })).digest());
  return { pair, jwk, thumbprint };
}

// A DPoP proof (RFC 9449 §4.2); WebCrypto's ECDSA signature is already the JWS form r || s.
async function proof(key, htm, htu, { accessToken, nonce } = {}) {
  const header = { typ: 'dpop+jwt', alg: 'ES256', jwk: key.jwk };
  const claims = { jti: randomUUID(), htm, htu, iat: Math.floor(Date.now() / 1000) };
  if (accessToken) claims.ath = b64url(createHash('sha256').update(accessToken).digest());
  if (nonce) claims.nonce = nonce;
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key.pair.privateKey,
    new TextEncoder().encode(input));
  return `${input}.${b64url(signature)}`;
}

const form = (fields, extraHeaders = {}) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded', ...extraHeaders },
  body: new URLSearchParams(fields).toString(),
});

test('serve --dpop-nonce: a DPoP login, nonce retry, userinfo, refresh binding', async (t) => {
  const { child, issuer } = await startServe();
  t.after(() => child.kill('SIGTERM'));
  const discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  assert.ok(discovery.dpop_signing_alg_values_supported.includes('ES256'));

  const key = await makeKey();
  const code = await (await fetch(`${issuer}/device_authorization`, form({ client_id: 'devicelogin-demo' }))).json();
  const tokenRequest = (fields, dpop) => fetch(`${issuer}/token`,
    form({ client_id: 'devicelogin-demo', ...fields }, dpop ? { DPoP: dpop } : {}));
  const poll = { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: code.device_code };

  const first = await tokenRequest(poll, await proof(key, 'POST', `${issuer}/token`));
  assert.equal(first.status, 400);
  assert.equal((await first.json()).error, 'use_dpop_nonce');
  const nonce = first.headers.get('dpop-nonce');
  assert.ok(nonce);
  const tokensAnswer = await tokenRequest(poll, await proof(key, 'POST', `${issuer}/token`, { nonce }));
  const tokens = await tokensAnswer.json();
  assert.equal(tokensAnswer.status, 200, JSON.stringify(tokens.error));
  assert.equal(tokens.token_type, 'DPoP');
  const claims = JSON.parse(Buffer.from(tokens.access_token.split('.')[1], 'base64url'));
  assert.deepEqual(claims.cnf, { jkt: key.thumbprint });

  const asBearer = await fetch(`${issuer}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  assert.equal(asBearer.status, 401);
  assert.match(asBearer.headers.get('www-authenticate'), /^DPoP .*error="invalid_token"/);
  const userProof = await proof(key, 'GET', `${issuer}/userinfo`, { accessToken: tokens.access_token, nonce });
  const me = await fetch(`${issuer}/userinfo`, { headers: { authorization: `DPoP ${tokens.access_token}`, DPoP: userProof } });
  assert.equal(me.status, 200);
  assert.equal((await me.json()).sub, 'alice');
  const replay = await fetch(`${issuer}/userinfo`, { headers: { authorization: `DPoP ${tokens.access_token}`, DPoP: userProof } });
  assert.equal(replay.status, 401);
  assert.match(replay.headers.get('www-authenticate'), /error="invalid_dpop_proof"/);

  const refresh = { grant_type: 'refresh_token', refresh_token: tokens.refresh_token };
  const withoutProof = await tokenRequest(refresh);
  assert.equal(withoutProof.status, 400);
  assert.equal((await withoutProof.json()).error, 'invalid_grant');
  const withProof = await tokenRequest(refresh, await proof(key, 'POST', `${issuer}/token`, { nonce }));
  assert.equal(withProof.status, 200);
  assert.equal((await withProof.json()).token_type, 'DPoP');
});
