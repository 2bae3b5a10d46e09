// DPoP (RFC 9449) interop with a real authorization server, `oidc-provider` v9 (DPoP on, as it
// ships): `login --dpop` gets token_type DPoP bound to the stored key (introspection's cnf.jkt);
// the refresh token is bound too (a refresh without a proof, sent straight from the test, is
// refused; the CLI's, with its proof, succeeds); `api` reaches oidc-provider's userinfo (which
// checks the proof and ath) and a resource server written here that checks each proof itself
// (signature, typ, htm, htu, ath, jti, nonce) against introspection's cnf.jkt; the token presented
// as Bearer is refused. Once without and once with nonces required (oidc-provider's token and
// userinfo endpoints, and the test's resource server): every nonce is picked up and retried with.
// Tokens are read from the store or the server's test events and never printed.

import { strict as assert } from 'node:assert';
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import { after, before, describe, test } from 'node:test';

import {
  cliPath, describeRun, findSecrets, killAllChildren, loginWithApproval, makeHome, readTokenFile, runCli, startServer,
} from './harness.mjs';

const skip = cliPath() ? false : 'DEVICELOGIN_BIN is not set';
const EXIT = { ok: 0 };

function thumbprint(jwk) {
  const members = jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
  return crypto.createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}
const b64json = (part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));

/**
 * A resource server on 127.0.0.1 that accepts only DPoP: it introspects the token at `server` and
 * checks the proof as RFC 9449 §4.3 and §7.1 say. With `nonces`, a proof without its current
 * nonce gets 401 use_dpop_nonce and a DPoP-Nonce. Records every request's verdict in `seen`.
 */
async function startResourceServer(server, nonces) {
  const seen = [];
  const jtis = new Set();
  const nonce = crypto.randomBytes(16).toString('base64url');
  const srv = http.createServer(async (req, res) => {
    req.resume();
    const refuse = (reason, error = 'invalid_token') => {
      seen.push({ ok: false, reason });
      res.writeHead(401, {
        'www-authenticate': `DPoP error="${error}", algs="ES256 EdDSA"`, ...(nonces ? { 'dpop-nonce': nonce } : {}),
      }).end();
    };
    const [scheme, token, extra] = (req.headers.authorization ?? '').split(' ');
    if (scheme !== 'DPoP' || !token || extra !== undefined) return refuse(`scheme ${scheme}`);
    const info = await server.introspect(token);
    if (!info.active || !info.cnf?.jkt) return refuse('inactive or unbound token');
    const proof = req.headers.dpop;
    if (typeof proof !== 'string') return refuse('no proof', 'invalid_dpop_proof');
    const [h, p, s] = proof.split('.');
    const header = b64json(h);
    const claims = b64json(p);
    if (header.typ !== 'dpop+jwt' || !['ES256', 'EdDSA'].includes(header.alg) || header.jwk?.d !== undefined) {
      return refuse('header', 'invalid_dpop_proof');
    }
    const key = crypto.createPublicKey({ key: header.jwk, format: 'jwk' });
    const signed = crypto.verify(header.alg === 'ES256' ? 'sha256' : null, Buffer.from(`${h}.${p}`),
      header.alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key, Buffer.from(s, 'base64url'));
    if (!signed) return refuse('signature', 'invalid_dpop_proof');
    if (thumbprint(header.jwk) !== info.cnf.jkt) return refuse('key is not cnf.jkt', 'invalid_dpop_proof');
    const url = new URL(req.url, `http://127.0.0.1:${srv.address().port}`);
    if (claims.htm !== req.method || claims.htu !== `${url.origin}${url.pathname}`) return refuse('htm/htu', 'invalid_dpop_proof');
    if (claims.ath !== crypto.createHash('sha256').update(token).digest('base64url')) return refuse('ath', 'invalid_dpop_proof');
    if (typeof claims.jti !== 'string' || jtis.has(claims.jti)) return refuse('jti', 'invalid_dpop_proof');
    jtis.add(claims.jti);
    if (Math.abs(claims.iat - Date.now() / 1000) > 60) return refuse('iat', 'invalid_dpop_proof');
    if (nonces && claims.nonce !== nonce) return refuse('nonce', 'use_dpop_nonce');
    seen.push({ ok: true, url: req.url, jkt: info.cnf.jkt, nonce: claims.nonce });
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  await new Promise((resolve) => { srv.listen(0, '127.0.0.1', resolve); });
  return { url: `http://127.0.0.1:${srv.address().port}`, seen, close: () => new Promise((resolve) => { srv.close(resolve); }) };
}

for (const nonces of [false, true]) {
  describe(`DPoP interop with oidc-provider${nonces ? ' (nonces required)' : ''}`, { skip, timeout: 180000 }, () => {
    let server;
    let home;
    let rs;
    let meta;
    const outputs = [];

    const stored = async () => (await readTokenFile(home)).tokens;
    const run = async (argv) => {
      const result = await runCli(argv, { env: home.env });
      outputs.push(result.stdout, result.stderr);
      assert.equal(result.code, EXIT.ok, describeRun(argv, result));
      return result;
    };
    const status = async () => JSON.parse((await run(['status', '--json'])).stdout);

    before(async () => {
      server = await startServer('oidc-provider', { interval: 1, dpopNonce: nonces });
      meta = await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json();
      rs = await startResourceServer(server, nonces);
      home = await makeHome();
      const { result, argv } = await loginWithApproval(server, home, { extra: ['--dpop', '--api-url', rs.url, '--verbose'] });
      outputs.push(result.stdout, result.stderr);
      assert.equal(result.code, EXIT.ok, describeRun(argv, result));
    });
    after(async () => {
      killAllChildren();
      await rs?.close();
      await server?.stop();
      await home?.remove();
    });

    test('login --dpop: token_type DPoP, bound (introspection cnf.jkt) to the stored key', async () => {
      assert.ok(meta.dpop_signing_alg_values_supported?.length > 0, 'oidc-provider advertises DPoP');
      const shown = await status();
      assert.equal(shown.token_type, 'DPoP');
      const tokens = await stored();
      assert.equal(shown.jkt, thumbprint(JSON.parse(tokens.dpop_key)));
      const info = await server.introspect(tokens.access_token);
      assert.equal(info.active, true);
      assert.equal(info.token_type, 'DPoP');
      assert.equal(info.cnf?.jkt, shown.jkt);
      if (nonces) {
        const polls = (await server.polls()).map((p) => p.result);
        assert.equal(polls[0], 'use_dpop_nonce', 'the first poll was asked for a nonce');
        assert.equal(polls.at(-1), 'ok', 'and the login went on with it');
        assert.equal(polls.filter((r) => r === 'use_dpop_nonce').length, 1, 'one nonce, kept for the later polls');
      }
    });

    test('the refresh token is bound: without a proof oidc-provider refuses it, the CLI\'s refresh (with one) succeeds', async () => {
      const before = await stored();
      const response = await fetch(meta.token_endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: before.refresh_token, client_id: server.clientId }),
      });
      assert.equal(response.status, 400);
      assert.equal((await response.json()).error, 'invalid_grant');
      const jkt = (await status()).jkt;
      const refreshesBefore = (await (await fetch(`${server.issuer}/__test/events`)).json()).refreshes.length;
      await run(['refresh', '--verbose']);
      const after = await stored();
      assert.notEqual(after.access_token, before.access_token, 'a new access token');
      assert.notEqual(after.refresh_token, before.refresh_token, 'oidc-provider rotated the refresh token');
      const info = await server.introspect(after.access_token);
      assert.equal(info.cnf?.jkt, jkt, 'bound to the same key');
      const refreshes = (await (await fetch(`${server.issuer}/__test/events`)).json()).refreshes.slice(refreshesBefore).map((r) => r.result);
      assert.deepEqual(refreshes, nonces ? ['use_dpop_nonce', 'ok'] : ['ok']);
    });

    test('api to oidc-provider\'s userinfo: it checks the proof (and ath) and answers; as Bearer the token is refused', async () => {
      const result = await run(['api', meta.userinfo_endpoint]);
      assert.ok(JSON.parse(result.stdout).sub, 'userinfo answered with a subject');
      const { access_token: token } = await stored();
      const bearer = await fetch(meta.userinfo_endpoint, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(bearer.status, 401, 'a DPoP-bound token presented as Bearer');
      const noProof = await fetch(meta.userinfo_endpoint, { headers: { authorization: `DPoP ${token}` } });
      // oidc-provider answers a missing proof as a malformed request (400), not a bad token.
      assert.ok([400, 401].includes(noProof.status), `the DPoP scheme without a proof: HTTP ${noProof.status}`);
    });

    test('api to a resource server that checks each proof against introspection\'s cnf.jkt', async () => {
      const before = rs.seen.length;
      const result = await run(['api', '/items?page=2']);
      assert.deepEqual(JSON.parse(result.stdout), { ok: true });
      const seen = rs.seen.slice(before);
      const jkt = (await status()).jkt;
      if (nonces) {
        assert.deepEqual(seen.map((s) => s.ok ? 'ok' : s.reason), ['nonce', 'ok'], 'one use_dpop_nonce, then the nonce');
      } else {
        assert.deepEqual(seen.map((s) => s.ok ? 'ok' : s.reason), ['ok']);
      }
      assert.equal(seen.at(-1).jkt, jkt);
      // The token as Bearer: refused by the resource server.
      const { access_token: token } = await stored();
      const bearer = await fetch(`${rs.url}/items`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(bearer.status, 401);
    });

    test('canary: no output or trace holds the private key', async () => {
      const d = JSON.parse((await stored()).dpop_key).d;
      assert.ok(d && d.length >= 40);
      assert.deepEqual(findSecrets(outputs.join('\n'), [{ label: 'private key', value: d }]), []);
    });
  });
}
