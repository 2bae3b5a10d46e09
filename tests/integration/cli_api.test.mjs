// `devicelogin api` against the dev server and a test API on 127.0.0.1 that accepts a
// request only when the dev server's introspection calls its bearer token active. The
// credential-host rule: the token goes to the profile's API base URLs and userinfo endpoint only;
// another origin (another port on the same host included) gets no request at all, not even
// through a redirect. Secrets are compared, never printed.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  cliPath, describeRun, killAllChildren, loginWithApproval, makeHome, runCli, startServer, traceArgv,
} from './harness.mjs';

const skip = cliPath() ? false : 'DEVICELOGIN_BIN is not set';
const EXIT = { ok: 0, usage: 2, notLoggedIn: 5, httpStatus: 8 };

// A loopback HTTP server that records every request; `handle` answers.
async function startApi(handle) {
  const requests = [];
  const srv = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const request = { method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() };
    requests.push(request);
    try {
      await handle(request, res);
    } catch (error) {
      res.writeHead(500).end(String(error));
    }
  });
  await new Promise((resolve) => { srv.listen(0, '127.0.0.1', resolve); });
  return {
    url: `http://127.0.0.1:${srv.address().port}`,
    requests,
    stop: () => new Promise((resolve) => { srv.close(resolve); }),
  };
}

describe('api against a test API that introspects the token at the dev server', { skip, timeout: 120000 }, () => {
  let server;
  let home;
  let api;
  let other;
  const rejectedOnce = new Set();
  const seen = [];
  let apiRequests = 0;
  let argvWatch;

  before(async () => {
    server = await startServer('devserver', { interval: 1 });
    home = await makeHome();
    api = await startApi(async (request, res) => {
      apiRequests += 1;
      const auth = request.headers.authorization ?? '';
      const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
      if (token) seen.push(token);
      // As after a revocation: the first token seen here is refused once.
      if (request.url === '/reject-first' && !rejectedOnce.has(token) && rejectedOnce.size === 0) {
        rejectedOnce.add(token);
        res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' }).end('{"error":"invalid_token"}');
        return;
      }
      const info = token ? await server.introspect(token) : { active: false };
      if (!info.active) {
        res.writeHead(401).end('{"error":"invalid_token"}');
        return;
      }
      if (request.url === '/status/404') {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"missing":true}');
        return;
      }
      if (request.url === '/slow') {
      }
      if (request.url === '/redirect') {
        res.writeHead(302, { location: `${other.url}/stolen` }).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'x-api': 'yes' }).end(JSON.stringify({
        active: true, method: request.method, url: request.url, body: request.body,
        content_type: request.headers['content-type'] ?? null, x_test: request.headers['x-test'] ?? null,
      }));
    });
    other = await startApi((request, res) => { res.writeHead(200).end('{"other":true}'); });
    argvWatch = await traceArgv();
    const { result, argv } = await loginWithApproval(server, home, { extra: ['--api-url', `${api.url}/`] });
    assert.equal(result.code, EXIT.ok, describeRun(argv, result));
  });
  after(async () => {
    killAllChildren();
    await api?.stop();
    await other?.stop();
    await server?.stop();
    await home?.remove();
  });

  const run = async (argv, expected, opts = {}) => {
    const result = await runCli(argv, { env: home.env, ...opts });
    assert.equal(result.code, expected, describeRun(argv, result, seen));
    return result;
  };

  test('login --api-url records the base URL in the profile', async () => {
    const profile = JSON.parse(await fs.readFile(path.join(home.configDir, 'profiles', 'default.json'), 'utf8'));
    assert.deepEqual(profile.api_urls, [`${api.url}/`]);
  });

  test('api PATH: GET under the API base URL with an active token; body on stdout, exit 0', async () => {
    const result = await run(['api', '/items/1'], EXIT.ok);
    const body = JSON.parse(result.stdout);
    assert.equal(body.active, true);
    assert.equal(body.method, 'GET');
    assert.equal(body.url, '/items/1', 'the path is joined to the base URL once, without a double slash');
    const relative = JSON.parse((await run(['api', 'items/2'], EXIT.ok)).stdout);
    assert.equal(relative.url, '/items/2');
    // A relative path whose query holds a URL is a path, not a URL of another scheme.
    const query = JSON.parse((await run(['api', 'search?u=https://x.example/'], EXIT.ok)).stdout);
    assert.equal(query.url, '/search?u=https://x.example/');
    await run(['api', 'ftp://x.example/a'], EXIT.usage);
  });

  test('api -X, -H, -d @- (stdin), -d @FILE, --include', async () => {
    let result = await run(['api', '-X', 'PUT', '-H', 'X-Test: 1', '-d', '@-', '/put'], EXIT.ok, { input: '{"a":1}' });
    let body = JSON.parse(result.stdout);
    assert.deepEqual([body.method, body.body, body.content_type, body.x_test], ['PUT', '{"a":1}', 'application/json', '1']);
    const file = path.join(home.home, 'body.txt');
    await fs.writeFile(file, 'a=b');
    result = await run(['api', '-d', `@${file}`, '-H', 'Content-Type: application/x-www-form-urlencoded', '/post'], EXIT.ok);
    body = JSON.parse(result.stdout);
    assert.deepEqual([body.method, body.body, body.content_type], ['POST', 'a=b', 'application/x-www-form-urlencoded']);
    result = await run(['api', '--include', '/inc'], EXIT.ok);
    assert.match(result.stdout, /^HTTP 200\r\n/);
    assert.match(result.stdout, /\r\nx-api: yes\r\n/);
    assert.match(result.stdout, /\r\n\r\n\{"active":true/);
  });

  test('api: a non-2xx status exits 8 with the body on stdout and one line on stderr', async () => {
    const result = await run(['api', '/status/404'], EXIT.httpStatus);
    assert.equal(result.stdout, '{"missing":true}');
    assert.match(result.stderr, /^devicelogin api: HTTP 404 from \/status\/404\n$/);
  });

  test('api: the userinfo endpoint is a credential host', async () => {
    const meta = await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json();
    const result = await run(['api', meta.userinfo_endpoint], EXIT.ok);
    assert.ok(JSON.parse(result.stdout).sub, 'userinfo answered with a subject');
  });

  test('api: another origin (same host, other port) is refused before anything is sent', async () => {
    const before = other.requests.length;
    const result = await run(['api', `${other.url}/steal`], EXIT.usage);
    assert.match(result.stderr, /refusing to send the token/);
    assert.equal(result.stderr.trim().split('\n').length, 1);
    assert.equal(other.requests.length, before, 'the other origin got no request');
    await run(['api', 'ftp://127.0.0.1/x'], EXIT.usage);
  });

  test('api: a redirect to another origin is not followed (exit 8), the other origin gets nothing', async () => {
    const before = other.requests.length;
    const result = await run(['api', '/redirect'], EXIT.httpStatus);
    assert.match(result.stderr, /HTTP 302 .*redirects are not followed/);
    assert.equal(other.requests.length, before, 'the redirect target got no request');
  });

  test('api: after a 401 it refreshes once and retries with the new token', async () => {
    const tokenBefore = (await run(['token'], EXIT.ok)).stdout.trim();
    seen.push(tokenBefore);
    const count = api.requests.length;
    const result = await run(['api', '/reject-first'], EXIT.ok);
    assert.equal(JSON.parse(result.stdout).active, true);
    const sent = api.requests.slice(count).map((r) => r.headers.authorization);
    assert.equal(sent.length, 2, 'two requests: refused, then retried');
    assert.ok(sent[0] === `Bearer ${tokenBefore}`, 'the first carried the stored token');
    const tokenAfter = (await run(['token'], EXIT.ok)).stdout.trim();
    seen.push(tokenAfter);
    assert.notEqual(tokenAfter, tokenBefore, 'the token was refreshed');
    assert.ok(sent[1] === `Bearer ${tokenAfter}`, 'the retry carried the refreshed token');
  });

  test('api --verbose shows the redacted trace, never the token', async () => {
    const token = (await run(['token'], EXIT.ok)).stdout.trim();
    seen.push(token);
    const result = await run(['api', '--verbose', '/v'], EXIT.ok);
    assert.match(result.stderr, /\/v/, 'the trace names the request');
    assert.ok(!result.stderr.includes(token), 'the token is not in the trace');
  });

  test('api usage errors: -H Authorization, a bad header, a lower-case method, not logged in; one line, exit 2/5', async () => {
    for (const argv of [['api', '-H', 'Authorization: Bearer x', '/a'], ['api', '-H', 'no colon', '/a'],
      ['api', '-X', 'get', '/a']]) {
      const result = await run(argv, EXIT.usage);
      assert.equal(result.stderr.trim().split('\n').length, 1, describeRun(argv, result, seen));
    }
    const fresh = await makeHome();
    try {
      const result = await runCli(['api', '/a'], { env: fresh.env });
      assert.equal(result.code, EXIT.notLoggedIn, describeRun(['api', '/a'], result, seen));
    } finally {
      await fresh.remove();
    }
  });

  test('api -H without a colon is refused without echoing the argument (it may hold a credential)', async () => {
    const argv = ['api', '-H', 'X-Api-Key S3CRET-VALUE-123', '/a'];
    const before = apiRequests;
    const result = await run(argv, EXIT.usage);
    assert.equal(result.stderr.trim().split('\n').length, 1, describeRun(argv, result, seen));
    assert.ok(!result.stderr.includes('S3CRET'), 'the -H argument was echoed');
    assert.equal(apiRequests, before);
  });

  test('api -H with Host, Cookie, Proxy-Authorization or DPoP is refused (exit 2) before any request', async () => {
    // Host sent the token to another virtual host of the allowed address.
    for (const header of ['Host: other.example.com', 'host: other.example.com', 'Cookie: session=1',
      'Proxy-Authorization: Basic eDp5', 'DPoP: x.y.z']) {
      const before = apiRequests;
      const argv = ['api', '-H', header, '/a'];
      const result = await run(argv, EXIT.usage);
      assert.equal(result.stderr.trim().split('\n').length, 1, describeRun(argv, result, seen));
      assert.match(result.stderr, /cannot be set on a request that carries the token/, describeRun(argv, result, seen));
      assert.equal(apiRequests, before, `the API got a request for -H ${header.split(':')[0]}`);
    }
  });

  test('login --api-url with a non-https, non-loopback URL is refused (exit 2) and nothing changes', async () => {
    const file = path.join(home.configDir, 'profiles', 'default.json');
    const profileBefore = await fs.readFile(file, 'utf8');
    const argv = ['login', '--api-url', 'http://api.example.com', '--no-browser', '--no-qr'];
    const result = await run(argv, EXIT.usage);
    assert.match(result.stderr, /API base URL/);
    assert.equal(await fs.readFile(file, 'utf8'), profileBefore, 'the profile is unchanged');
  });

  test('no token was ever in a command line while api ran', async () => {
    await run(['api', '/slow'], EXIT.ok);
    const watched = await argvWatch.stop();
    assert.ok(watched.saw(/ api \/slow$/), `the api command lines were traced (${watched.commands} in all)`);
    const secrets = Object.fromEntries([...new Set(seen)].map((value, i) => [`token #${i}`, value]));
    assert.ok(Object.keys(secrets).length >= 2, 'the tokens api sent are known');
    assert.deepEqual(watched.found(secrets), [], 'a token was in some process\'s argv');
  });
});
