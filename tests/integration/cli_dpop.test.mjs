// DPoP (RFC 9449) end to end against `devicelogin serve`, which checks every proof: `login --dpop`
// binds the tokens to a key stored with them; `status` shows the type and the key's thumbprint;
// `api` to the userinfo endpoint signs its request; `token` refuses the bound token; `refresh`
// signs with the same key; the stored token without its key is useless (as Bearer the server
// refuses it, and without the key the CLI sends nothing). Once without and once with server
// nonces (`serve --dpop-nonce`), which the client must pick up and retry with. The canary: no
// byte of the private key ("d") in any output, --verbose traces included.

import { strict as assert } from 'node:assert';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  cliPath, describeRun, findSecrets, killAllChildren, loginWithApproval, makeHome, readTokenFile, runCli, startCli,
  startPublicDevserver, startServer,
} from './harness.mjs';

const skip = cliPath() ? false : 'DEVICELOGIN_BIN is not set';
const EXIT = { ok: 0, usage: 2, notLoggedIn: 5, server: 6 };

// The RFC 7638 thumbprint of an EC or OKP public JWK.
function thumbprint(jwk) {
  const members = jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
  return crypto.createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

for (const nonces of [false, true]) {
  describe(`DPoP against devicelogin serve${nonces ? ' --dpop-nonce' : ''}`, { skip, timeout: 180000 }, () => {
    let server;
    let home;
    let userinfo;
    // A loopback API (one of the profile's API base URLs) that records what reaches it.
    let api;
    const apiRequests = [];
    // Everything the CLI wrote, for the canary.
    const outputs = [];
    // The private part ("d") of every key a login made.
    const privateKeys = [];
    const secrets = () => [];

    const stored = async () => {
      const found = await readTokenFile(home);
      assert.ok(found, 'a token file is stored');
      return found;
    };
    const storedKey = async () => {
      const { tokens } = await stored();
      assert.equal(typeof tokens.dpop_key, 'string', 'the key is stored with the tokens');
      return JSON.parse(tokens.dpop_key);
    };
    const run = async (argv, expected) => {
      const result = await runCli(argv, { env: home.env });
      outputs.push(result.stdout, result.stderr);
      assert.equal(result.code, expected, describeRun(argv, result, secrets()));
      return result;
    };
    const login = async (extra) => {
      const { result, argv } = await loginWithApproval(server, home, { extra: [...extra, '--verbose'] });
      outputs.push(result.stdout, result.stderr);
      assert.equal(result.code, EXIT.ok, describeRun(argv, result));
      privateKeys.push((await storedKey()).d);
    };
    const status = async () => JSON.parse((await run(['status', '--json'], EXIT.ok)).stdout);

    before(async () => {
      server = await startServer('devserver', { interval: 1, dpopNonce: nonces, verbose: true });
      home = await makeHome();
      const meta = await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json();
      userinfo = meta.userinfo_endpoint;
      api = http.createServer((req, res) => {
        apiRequests.push({ url: req.url, authorization: req.headers.authorization ?? '' });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
      await new Promise((resolve) => { api.listen(0, '127.0.0.1', resolve); });
      await login(['--dpop', '--api-url', `http://127.0.0.1:${api.address().port}`]);
    });
    after(async () => {
      killAllChildren();
      await new Promise((resolve) => { if (api) api.close(resolve); else resolve(); });
      await server?.stop();
      await home?.remove();
    });

    test('login --dpop: the profile remembers it, status shows token_type DPoP and the stored key\'s jkt', async () => {
      const profile = JSON.parse(await fs.readFile(path.join(home.configDir, 'profiles', 'default.json'), 'utf8'));
      assert.equal(profile.dpop, true);
      const shown = await status();
      assert.equal(shown.token_type, 'DPoP');
      const key = await storedKey();
      assert.equal(key.kty, 'OKP', 'an Ed25519 key: discovery offers EdDSA');
      assert.equal(profile.dpop_signing_alg_values_supported.includes('EdDSA'), true);
      assert.equal(shown.jkt, thumbprint(key));
      const { file, tokens } = await stored();
      assert.equal((await fs.stat(file)).mode & 0o777, 0o600, 'the key lives in the 0600 token file');
      // The server bound the token to that key.
      const info = await server.introspect(tokens.access_token);
      assert.equal(info.active, true);
      assert.equal(info.cnf?.jkt, shown.jkt);
      const text = (await run(['status'], EXIT.ok)).stderr;
      assert.match(text, new RegExp(`Type: +DPoP \\(bound to the key with thumbprint ${shown.jkt}\\)`));
    });

    test('api to the userinfo endpoint: Authorization DPoP with a proof the server accepts', async () => {
      const result = await run(['api', '--verbose', userinfo], EXIT.ok);
      assert.ok(JSON.parse(result.stdout).sub, 'userinfo answered with a subject');
      assert.match(result.stderr, /DPoP/i, 'the trace shows the DPoP header (redacted)');
    });

    test('token refuses the bound token in one line (exit 2), printing nothing', async () => {
      const result = await run(['token'], EXIT.usage);
      assert.equal(result.stdout, '');
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    });

    test('the stored token is useless without its key: as Bearer (or DPoP without a proof) the server refuses it', async () => {
      const { tokens } = await stored();
      for (const authorization of [`Bearer ${tokens.access_token}`, `DPoP ${tokens.access_token}`]) {
        const response = await fetch(userinfo, { headers: { authorization } });
        assert.equal(response.status, 401, authorization.split(' ')[0]);
      }
    });

    test('refresh signs with the same key: a new DPoP token bound to the same jkt, and api still works', async () => {
      const before = await stored();
      const jkt = (await status()).jkt;
      await run(['refresh', '--verbose'], EXIT.ok);
      const afterwards = await stored();
      assert.notEqual(afterwards.tokens.access_token, before.tokens.access_token, 'a new access token');
      const shown = await status();
      assert.equal(shown.token_type, 'DPoP');
      assert.equal(shown.jkt, jkt);
      assert.equal((await server.introspect(afterwards.tokens.access_token)).cnf?.jkt, jkt);
      await run(['api', userinfo], EXIT.ok);
      // The API gets the DPoP scheme and a proof (its checks are the dev server's, above).
      await run(['api', '/seen'], EXIT.ok);
      const seen = apiRequests.filter((r) => r.url === '/seen');
      assert.equal(seen.length, 1);
      assert.match(seen[0].authorization, /^DPoP /);
    });

    // The dev server logs each revocation request with the thumbprint of the proof's key, if it had
    // one (the access token's is of a token the refresh token's revocation already ended).
    const revokedWith = (jkt) => server.serverStderr().split('\n')
      .filter((line) => / by devicelogin-demo with a DPoP proof of key (\S+)$/.exec(line)?.[1] === jkt).length;

    test('a re-login without --dpop keeps DPoP and makes a new key; the replaced set is revoked with proofs of the old key', async () => {
      const old = (await status()).jkt;
      const replaced = (await stored()).tokens;
      await login([]);
      const shown = await status();
      assert.equal(shown.token_type, 'DPoP');
      assert.notEqual(shown.jkt, old, 'a new key for the new login');
      assert.equal(shown.jkt, thumbprint(await storedKey()));
      assert.equal((await server.introspect(replaced.refresh_token)).active, false, 'the replaced refresh token is revoked');
      assert.equal(revokedWith(old), 2, 'refresh and access token revoked, each with a proof of the old key');
    });

    test('a stored DPoP token without its key: sign in again (exit 5), never sent as Bearer', async () => {
      const { file, tokens } = await stored();
      const original = await fs.readFile(file, 'utf8');
      try {
        const { dpop_key: removed, ...keyless } = tokens;
        assert.ok(removed);
        await fs.writeFile(file, JSON.stringify(keyless), { mode: 0o600 });
        const result = await run(['api', '/keyless'], EXIT.notLoggedIn);
        assert.equal(result.stdout, '');
        assert.deepEqual(apiRequests.filter((r) => r.url === '/keyless'), [], 'nothing was sent, as Bearer or otherwise');
        assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
        const shown = JSON.parse((await run(['status', '--json'], EXIT.notLoggedIn)).stdout);
        assert.equal(shown.relogin_required, true);
      } finally {
        await fs.writeFile(file, original, { mode: 0o600 });
      }
    });

    test('logout revokes the DPoP-bound tokens with proofs of their key and deletes them with the key', async () => {
      const { tokens } = await stored();
      const { jkt } = await status();
      const result = JSON.parse((await run(['logout', '--json', '--verbose'], EXIT.ok)).stdout);
      assert.equal(result.revoked, true, JSON.stringify(result));
      assert.equal((await server.introspect(tokens.access_token)).active, false);
      assert.equal(revokedWith(jkt), 2, 'both tokens revoked with a proof of their key');
      assert.equal(await readTokenFile(home), undefined, 'nothing is left in the store');
    });

    test('a login without --dpop to a server that offers DPoP says so in one line, and stays Bearer', async () => {
      const plain = await makeHome();
      try {
        const { result, argv } = await loginWithApproval(server, plain);
        assert.equal(result.code, EXIT.ok, describeRun(argv, result));
        const notes = result.stderr.split('\n').filter((line) => line.includes('--dpop'));
        assert.equal(notes.length, 1, result.stderr);
        const shown = JSON.parse((await runCli(['status', '--json'], { env: plain.env })).stdout);
        assert.equal(shown.token_type, 'Bearer');
        assert.equal(shown.jkt, null);
      } finally {
        await plain.remove();
      }
    });

    test('canary: no output or trace holds the private key', async () => {
      assert.equal(privateKeys.length, 2, 'two logins, two keys');
      for (const d of privateKeys) assert.ok(d && d.length >= 40, 'the stored key has its private part');
      const leaks = findSecrets(outputs.join('\n'), privateKeys.map((value, i) => ({ label: `private key ${i + 1}`, value })));
      assert.deepEqual(leaks, [], 'the private key appeared in an output');
      assert.ok(outputs.join('').includes('POST'), 'the traces were captured');
    });
  });
}

// A stub authorization server and API on 127.0.0.1 that misbehave on purpose, per test: a Bearer
// (or untyped) token for a DPoP request, a malformed DPoP-Nonce, a malformed WWW-Authenticate.
// Its device authorization answers at once and its first poll gets tokens (no approval step).
describe('DPoP against a misbehaving server (stub)', { skip, timeout: 120000 }, () => {
  let srv;
  let base;
  // What /token answers to a request with a proof, set by each test.
  let tokenAnswer;
  // What /api answers, set by each test.
  let apiAnswer;
  const revoked = [];
  const issued = [];

  const answer = (res, [status, headers, body]) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
  const freshTokens = (tokenType) => {
    const tokens = {
      access_token: `at-${crypto.randomBytes(12).toString('hex')}`,
      refresh_token: `rt-${crypto.randomBytes(12).toString('hex')}`,
      expires_in: 3600,
      ...(tokenType === undefined ? {} : { token_type: tokenType }),
    };
    issued.push(tokens);
    return tokens;
  };

  before(async () => {
    srv = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (chunk) => chunks.push(chunk));
      req.on('end', () => {
        const form = new URLSearchParams(Buffer.concat(chunks).toString());
        if (req.url === '/device') {
          answer(res, [200, {}, { device_code: 'stub-device-code', user_code: 'WDJB-MJHT',
            verification_uri: `${base}/verify`, expires_in: 600, interval: 1 }]);
        } else if (req.url === '/token') {
          answer(res, tokenAnswer(req));
        } else if (req.url === '/revoke') {
          revoked.push({ token: form.get('token'), hint: form.get('token_type_hint'), proof: Boolean(req.headers.dpop) });
          answer(res, [200, {}, '']);
        } else if (req.url.startsWith('/api')) {
          answer(res, apiAnswer(req));
        } else {
          answer(res, [404, {}, {}]);
        }
      });
    });
    await new Promise((resolve) => { srv.listen(0, '127.0.0.1', resolve); });
    base = `http://127.0.0.1:${srv.address().port}`;
  });
  after(async () => {
    killAllChildren();
    await new Promise((resolve) => { if (srv) srv.close(resolve); else resolve(); });
  });

  const loginArgv = () => ['login', '--dpop', '--device-authorization-endpoint', `${base}/device`, '--token-endpoint',
    `${base}/token`, '--revocation-endpoint', `${base}/revoke`, '--client-id', 'stub-client', '--api-url', `${base}/api`,
    '--no-browser', '--no-qr', '--store', 'file'];
  // The lines of stderr but the notices printed before the server answers (the code, the store).
  const problemLines = (stderr) => stderr.split('\n').filter((l) => /^devicelogin [a-z-]+: /.test(l));
  const runIn = async (home, argv) => {
    const proc = startCli(argv(), { env: home.env });
    proc.child.stdin.end();
    return proc.wait(30000);
  };

  for (const tokenType of ['Bearer', undefined]) {
    test(`a DPoP login answered with ${tokenType ? `a ${tokenType}` : 'an untyped'} token: exit 6 in one line, the issued tokens revoked`, async () => {
      const home = await makeHome();
      try {
        tokenAnswer = (req) => [200, {}, freshTokens(tokenType)];
        revoked.length = 0;
        const result = await runIn(home, loginArgv);
        assert.equal(result.code, EXIT.server, describeRun(loginArgv(), result));
        const problems = problemLines(result.stderr);
        assert.equal(problems.length, 1, result.stderr);
        assert.match(problems[0], /answered a DPoP request with a Bearer token .*its tokens were revoked at the server/);
        const tokens = issued.at(-1);
        assert.deepEqual(revoked.map((r) => [r.token, r.hint]),
          [[tokens.refresh_token, 'refresh_token'], [tokens.access_token, 'access_token']], 'both revoked, refresh first');
        assert.equal(await readTokenFile(home), undefined, 'nothing stored');
      } finally {
        await home.remove();
      }
    });
  }

  test('a malformed DPoP-Nonce with use_dpop_nonce: exit 6 in one line, nothing stored', async () => {
    const home = await makeHome();
    try {
      tokenAnswer = () => [400, { 'DPoP-Nonce': 'bad "nonce" with spaces' }, { error: 'use_dpop_nonce' }];
      const result = await runIn(home, loginArgv);
      assert.equal(result.code, EXIT.server, describeRun(loginArgv(), result));
      const problems = problemLines(result.stderr);
      assert.equal(problems.length, 1, result.stderr);
      assert.match(problems[0], /DPoP-Nonce/);
      assert.equal(await readTokenFile(home), undefined, 'nothing stored');
    } finally {
      await home.remove();
    }
  });

  test('api answered with a malformed WWW-Authenticate or DPoP-Nonce: exit 6 in one line', async () => {
    const home = await makeHome();
    try {
      tokenAnswer = () => [200, {}, freshTokens('DPoP')];
      const login = await runIn(home, loginArgv);
      assert.equal(login.code, EXIT.ok, describeRun(loginArgv(), login));
      for (const headers of [
        { 'WWW-Authenticate': 'DPoP error="use_dpop_nonce' },        // unterminated quoted string
        { 'WWW-Authenticate': 'DPoP error="use_dpop_nonce", error="x"' }, // a repeated parameter
        { 'WWW-Authenticate': 'DPoP error="use_dpop_nonce"', 'DPoP-Nonce': 'has space' },
        { 'WWW-Authenticate': 'DPoP error="use_dpop_nonce"' },        // no nonce at all
      ]) {
        apiAnswer = () => [401, headers, {}];
        const argv = ['api', `${base}/api/x`];
        const result = await runCli(argv, { env: home.env });
        assert.equal(result.code, EXIT.server, `${JSON.stringify(headers)}: ${describeRun(argv, result)}`);
        assert.equal(result.stdout, '');
        assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      }
    } finally {
      await home.remove();
    }
  });
});

// The CLI's own proofs, taken off the wire and misused. `devicelogin serve` sits behind a loopback
// proxy that records every request and whose URL is the server's issuer (--issuer), so the proofs
// the CLI makes name URLs the server checks them against. The server approves every code itself.
describe('DPoP proofs the CLI made, replayed or moved, against devicelogin serve', { skip, timeout: 180000 }, () => {
  let server;
  let proxy;
  let home;
  let issuer;
  // Every request through the proxy: { method, url, dpop, authorization, grant, status }.
  const seen = [];
  let target;
  const clientId = 'dpop-replay-client';
  const clientSecret = crypto.randomBytes(24).toString('base64url');

  before(async () => {
    proxy = http.createServer(async (req, res) => {
      const chunks = [];
      for await (const chunk of req) chunks.push(chunk);
      const body = Buffer.concat(chunks);
      const entry = {
        method: req.method, url: req.url, dpop: req.headers.dpop, authorization: req.headers.authorization,
        grant: new URLSearchParams(body.toString()).get('grant_type'), status: undefined,
      };
      seen.push(entry);
      const headers = { ...req.headers };
      delete headers.host;
      const answer = await fetch(`${target}${req.url}`, { method: req.method, headers, body: body.length ? body : undefined });
      entry.status = answer.status;
      const out = {};
      answer.headers.forEach((value, name) => { if (name !== 'content-length' && name !== 'transfer-encoding') out[name] = value; });
      res.writeHead(answer.status, out).end(Buffer.from(await answer.arrayBuffer()));
    });
    await new Promise((resolve) => { proxy.listen(0, '127.0.0.1', resolve); });
    issuer = `http://127.0.0.1:${proxy.address().port}`;
    server = await startPublicDevserver({ issuer, clientId, clientSecret });
    target = `http://127.0.0.1:${server.port}`;
    home = await makeHome();
    const secretFile = path.join(home.home, 'client-secret');
    await fs.writeFile(secretFile, clientSecret, { mode: 0o600 });
    const argv = ['login', '--dpop', '--issuer', issuer, '--client-id', clientId, '--client-secret-file', secretFile,
      '--no-browser', '--no-qr', '--store', 'file'];
    const result = await runCli(argv, { env: home.env, timeoutMs: 60000 });
    assert.equal(result.code, EXIT.ok, describeRun(argv, result));
  });
  after(async () => {
    killAllChildren();
    await new Promise((resolve) => { if (proxy) proxy.close(resolve); else resolve(); });
    await server?.stop();
    await home?.remove();
  });

  const userinfo = () => `${issuer}/userinfo`;
  // The last request to `path` through the proxy that the server answered with `status`.
  const last = (pathname, status) => seen.filter((r) => r.url === pathname && r.status === status).at(-1);
  const present = (method, authorization, dpop) => fetch(`${target}/userinfo`, {
    method, headers: { authorization, ...(dpop ? { dpop } : {}) },
  });
  const proofError = (response) => /error="invalid_dpop_proof"/.test(response.headers.get('www-authenticate') ?? '');

  test('a replayed proof (same jti) is refused, though the token and proof were just accepted', async () => {
    const result = await runCli(['api', userinfo()], { env: home.env });
    assert.equal(result.code, EXIT.ok, describeRun(['api', userinfo()], result));
    const used = last('/userinfo', 200);
    assert.ok(used?.dpop, 'the accepted request carried a proof');
    const again = await present('GET', used.authorization, used.dpop);
    assert.equal(again.status, 401);
    assert.ok(proofError(again), 'refused for its proof');
  });

  test('a proof for another method or another URL is refused', async () => {
    // A fresh accepted request, then its token with proofs the CLI made for other requests.
    assert.equal((await runCli(['api', '-X', 'POST', userinfo()], { env: home.env })).code, EXIT.ok);
    const post = last('/userinfo', 200);
    assert.equal(post.method, 'POST');
    const tokenProof = seen.filter((r) => r.url === '/token' && r.dpop).at(-1);
    assert.ok(tokenProof, 'the login polled with a proof');
    // The POST's proof, unused so far for GET: another method.
    const asGet = await present('GET', post.authorization, post.dpop);
    assert.equal(asGet.status, 401);
    assert.ok(proofError(asGet));
    // A token endpoint proof (never used at /userinfo, its jti is not what is refused): another URL.
    const elsewhere = await present('POST', post.authorization, tokenProof.dpop);
    assert.equal(elsewhere.status, 401);
    assert.ok(proofError(elsewhere));
  });

  test('a copied token file without its key, in another HOME: nothing is sent, sign in again (exit 5)', async () => {
    const thief = await makeHome();
    try {
      const { file, tokens } = await readTokenFile(home);
      const { dpop_key: key, ...stolen } = tokens;
      assert.ok(key);
      const copy = path.join(thief.stateDir, path.relative(home.stateDir, file));
      await fs.mkdir(path.dirname(copy), { recursive: true, mode: 0o700 });
      await fs.writeFile(copy, JSON.stringify(stolen), { mode: 0o600 });
      await fs.mkdir(path.join(thief.configDir, 'profiles'), { recursive: true, mode: 0o700 });
      await fs.copyFile(path.join(home.configDir, 'profiles', 'default.json'), path.join(thief.configDir, 'profiles', 'default.json'));
      const before = seen.length;
      const result = await runCli(['api', userinfo()], { env: thief.env });
      assert.equal(result.code, EXIT.notLoggedIn, describeRun(['api', userinfo()], result));
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      assert.deepEqual(seen.slice(before).filter((r) => r.url === '/userinfo'), [], 'nothing reached the server');
      // And the token itself, as Bearer, is refused by the server.
      assert.equal((await present('GET', `Bearer ${stolen.access_token}`)).status, 401);
    } finally {
      await thief.remove();
    }
  });

  test('32 racing api calls on an expired token refresh once (counted at the server), each signed', async () => {
    const { file, tokens } = await readTokenFile(home);
    // Expired a minute ago: every racer needs a refresh.
    await fs.writeFile(file, JSON.stringify({ ...tokens, expires_at: Math.floor(Date.now() / 1000) - 60 }), { mode: 0o600 });
    const refreshesBefore = seen.filter((r) => r.grant === 'refresh_token').length;
    const okBefore = seen.filter((r) => r.url === '/userinfo' && r.status === 200).length;
    const results = await Promise.all(Array.from({ length: 32 }, () => runCli(['api', userinfo()], { env: home.env, timeoutMs: 60000 })));
    for (const result of results) assert.equal(result.code, EXIT.ok, describeRun(['api', userinfo()], result));
    const refreshes = seen.filter((r) => r.grant === 'refresh_token').slice(refreshesBefore);
    assert.equal(refreshes.length, 1, 'one refresh_token grant reached the server');
    assert.equal(refreshes[0].status, 200);
    assert.ok(refreshes[0].dpop, 'the refresh carried a proof');
    const answered = seen.filter((r) => r.url === '/userinfo' && r.status === 200).slice(okBefore);
    assert.equal(answered.length, 32);
    assert.ok(answered.every((r) => r.dpop && /^DPoP /.test(r.authorization)));
  });

  test('a new login makes a new key: jkt changes, and introspection binds the new token to it', async () => {
    const old = JSON.parse((await runCli(['status', '--json'], { env: home.env })).stdout).jkt;
    const secretFile = path.join(home.home, 'client-secret');
    const argv = ['login', '--issuer', issuer, '--client-id', clientId, '--client-secret-file', secretFile,
      '--no-browser', '--no-qr', '--store', 'file'];
    assert.equal((await runCli(argv, { env: home.env, timeoutMs: 60000 })).code, EXIT.ok);
    const shown = JSON.parse((await runCli(['status', '--json'], { env: home.env })).stdout);
    assert.equal(shown.token_type, 'DPoP');
    assert.notEqual(shown.jkt, old);
    assert.equal(shown.jkt, thumbprint(JSON.parse((await readTokenFile(home)).tokens.dpop_key)));
  });
});
