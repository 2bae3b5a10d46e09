#!/usr/bin/env node
// A real, certified OpenID provider (the `oidc-provider` npm package, v9) configured for the
// devicelogin integration tests: device flow, refresh-token rotation, revocation and introspection.
//
// Usage: node oidc_server.mjs [--device-code-ttl S] [--access-token-ttl S] [--interval S]
//                             [--slow-down-every N] [--auto-consent] [--jwt-access-tokens] [--bench-client]
//                             [--dpop-nonce]
//                             [--no-device-flow]
// Every flag may also come from the environment: OIDC_DEVICE_CODE_TTL, OIDC_ACCESS_TOKEN_TTL,
// OIDC_INTERVAL, OIDC_SLOW_DOWN_EVERY, OIDC_AUTO_CONSENT=1, OIDC_JWT_ACCESS_TOKENS=1. Defaults:
// 300, 3600, 1, 0 (never slow_down), off (the consent page is shown and approve.mjs submits it, as
// a user would), off (opaque access tokens with expires_in).
//
// --jwt-access-tokens answers as WorkOS does: the access token is a JWT (RFC 9068, oidc-provider's
// own resource-indicator support, for the resource JWT_RESOURCE that every grant of the test
// client gets by default) and the token response has no expires_in, so the JWT's exp is the only
// word on its lifetime. oidc-provider does not store JWT access tokens: introspection calls them
// inactive.
//
// It binds 127.0.0.1 on an ephemeral port and prints exactly ONE line on stdout, then serves until
// killed (SIGTERM/SIGINT):
//   {"issuer":"http://127.0.0.1:PORT","port":PORT,"client_id":"devicelogin-test","browser_client_id":"devicelogin-browser",
//    "introspection_client_id":"devicelogin-introspector","introspection_client_secret":"...",
//    "test_endpoint":"http://127.0.0.1:PORT/__test/events"}
// Diagnostics (oidc-provider's development warnings) go to stderr. OIDC_EXIT_ON_STDIN_EOF=1 makes
// it also stop when its stdin closes (the harness uses that so a killed test run leaves nothing).
// DPoP (RFC 9449) is on, as oidc-provider v9 has it by default (proofs optional; a token issued
// to a request with one is DPoP-bound, and so is a public client's refresh token). --dpop-nonce
// (OIDC_DPOP_NONCE=1) makes its token endpoint require server nonces (400 use_dpop_nonce, §8).
// The client devicelogin-browser ("browser_client_id") signs in with the authorization code flow
// and PKCE (a native app, RFC 8252: loopback redirects to http://127.0.0.1/callback or
// http://[::1]/callback on any port, §7.3). --no-device-flow (OIDC_NO_DEVICE_FLOW=1) turns the device flow off, as a server that has
// only the browser flow (no device_authorization_endpoint in discovery).
// --bench-client adds the confidential client devicelogin-bench (bench/token_hot_path.sh) and its
// "bench_client_id" and "bench_client_secret" to that line.
//
// Two things oidc-provider v9 does not do are added by one small Koa middleware, honestly:
//  - the device authorization response gets an `interval` (RFC 8628 §3.2), the value of --interval;
//  - with --slow-down-every N, every Nth poll of one device code that oidc-provider answered
//    `authorization_pending` is answered `slow_down` instead (RFC 8628 §3.5). Only pending answers
//    are replaced, so no grant is ever consumed or hidden.
//
// Test-only endpoint (never part of a real server): GET /__test/events returns
//   {"device_codes":[...every device_code issued...], "issued":[<ms since epoch of each>],
//    "polls":[{"t":<ms since epoch>,"code_index":<index in device_codes or -1>,"result":"ok"|<error>}],
//    "refreshes":[{"t":<ms since epoch>,"result":"ok"|<error>}],
//    "tokens":[{"t":<ms since epoch>,"grant_type":...,"access_token":...,"refresh_token":...,"id_token":...}],
//    "codes":[{"t":...,"code":...,"code_verifier":...,"redirect_uri":...,"result":"ok"|<error>}]}
// so a test can plant the device codes and every issued token as canaries (cli_canary.test.mjs),
// check the client's polling cadence, and count the refresh_token grants that reached the server
// (cli_race.test.mjs: exactly one).

import * as crypto from 'node:crypto';
import * as http from 'node:http';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
export const TEST_CLIENT_ID = 'devicelogin-test';
export const INTROSPECTION_CLIENT_ID = 'devicelogin-introspector';
export const BROWSER_CLIENT_ID = 'devicelogin-browser';
// Only with --bench-client: a confidential client for oidc-gen (which wants a client secret), used
// by bench/token_hot_path.sh to set up the oidc-agent baseline.
export const BENCH_CLIENT_ID = 'devicelogin-bench';

function numberOption(value, envName, fallback) {
  const raw = value ?? process.env[envName];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) {
    process.stderr.write(`oidc_server: invalid value for ${envName}: ${raw}\n`);
    process.exit(2);
  }
  return n;
}

const { values: args } = parseArgs({
  options: {
    'device-code-ttl': { type: 'string' },
    'access-token-ttl': { type: 'string' },
    interval: { type: 'string' },
    'slow-down-every': { type: 'string' },
    'auto-consent': { type: 'boolean' },
    'jwt-access-tokens': { type: 'boolean' },
    'bench-client': { type: 'boolean' },
    'dpop-nonce': { type: 'boolean' },
    'no-device-flow': { type: 'boolean' },
  },
});
const settings = {
  deviceCodeTtl: numberOption(args['device-code-ttl'], 'OIDC_DEVICE_CODE_TTL', 300),
  accessTokenTtl: numberOption(args['access-token-ttl'], 'OIDC_ACCESS_TOKEN_TTL', 3600),
  interval: numberOption(args.interval, 'OIDC_INTERVAL', 1),
  slowDownEvery: numberOption(args['slow-down-every'], 'OIDC_SLOW_DOWN_EVERY', 0),
  autoConsent: Boolean(args['auto-consent']) || process.env.OIDC_AUTO_CONSENT === '1',
  jwtAccessTokens: Boolean(args['jwt-access-tokens']) || process.env.OIDC_JWT_ACCESS_TOKENS === '1',
  benchClient: Boolean(args['bench-client']),
  dpopNonce: Boolean(args['dpop-nonce']) || process.env.OIDC_DPOP_NONCE === '1',
  noDeviceFlow: Boolean(args['no-device-flow']) || process.env.OIDC_NO_DEVICE_FLOW === '1',
};
const JWT_RESOURCE = 'https://api.devicelogin.test/';

const events = {
  device_codes: [], issued: [], polls: [], refreshes: [], tokens: [], codes: [],
};
const pendingPollsByCode = new Map();
const introspectionSecret = crypto.randomBytes(24).toString('base64url');
const benchSecret = crypto.randomBytes(24).toString('base64url');

// Bind first: the issuer must carry the port the kernel gave us.
const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(0, '127.0.0.1', resolve);
});
const { port } = server.address();
const issuer = `http://127.0.0.1:${port}`;

const accounts = new Map();
function account(sub) {
  if (!accounts.has(sub)) {
    accounts.set(sub, {
      accountId: sub,
      async claims() {
        return {
          sub, name: `Test User ${sub}`, email: `${sub}@example.test`, email_verified: true,
        };
      },
    });
  }
  return accounts.get(sub);
}

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: TEST_CLIENT_ID,
      client_name: 'devicelogin integration tests',
      token_endpoint_auth_method: 'none',
      grant_types: [...(settings.noDeviceFlow ? [] : [DEVICE_CODE_GRANT]), 'refresh_token'],
      response_types: [],
      redirect_uris: [],
    },
    {
      // A native app (RFC 8252): loopback redirects on any port (§7.3). Its own client, because
      // oidc-provider asks native clients for consent every time, which --auto-consent must not.
      client_id: BROWSER_CLIENT_ID,
      client_name: 'devicelogin browser-flow tests',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: ['http://127.0.0.1/callback', 'http://[::1]/callback'],
    },
    {
      client_id: INTROSPECTION_CLIENT_ID,
      client_secret: introspectionSecret,
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: [],
      response_types: [],
      redirect_uris: [],
    },
    ...(settings.benchClient ? [{
      client_id: BENCH_CLIENT_ID,
      client_secret: benchSecret,
      client_name: 'devicelogin bench (oidc-agent)',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: [DEVICE_CODE_GRANT, 'refresh_token'],
      response_types: [],
      redirect_uris: [],
    }] : []),
  ],
  scopes: ['openid', 'profile', 'email', 'offline_access'],
  claims: {
    openid: ['sub'],
    profile: ['name'],
    email: ['email', 'email_verified'],
  },
  features: {
    deviceFlow: { enabled: !settings.noDeviceFlow },
    revocation: { enabled: true },
    introspection: { enabled: true },
    devInteractions: { enabled: true },
    // oidc-provider's default, spelled out; nonces need a secret to make them with.
    dPoP: settings.dpopNonce
      ? { enabled: true, nonceSecret: crypto.randomBytes(32), requireNonce: () => true }
      : { enabled: true },
    ...(settings.jwtAccessTokens ? {
      resourceIndicators: {
        enabled: true,
        async defaultResource(ctx, client, oneOf) { return oneOf ?? JWT_RESOURCE; },
        // The device code's and the refresh token's resource, even though openid is asked for.
        async useGrantedResource() { return true; },
        async getResourceServerInfo(ctx, resourceIndicator) {
          if (resourceIndicator !== JWT_RESOURCE) throw new errors.InvalidTarget();
          return { scope: 'profile email', accessTokenFormat: 'jwt', accessTokenTTL: settings.accessTokenTtl };
        },
      },
    } : {}),
  },
  // Fixed keys keep oidc-provider from warning; the values only sign test cookies.
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  ttl: {
    DeviceCode: settings.deviceCodeTtl,
    AccessToken: settings.accessTokenTtl,
    IdToken: 3600,
    Grant: 14 * 24 * 3600,
    Session: 14 * 24 * 3600,
    Interaction: 3600,
    RefreshToken: 14 * 24 * 3600,
  },
  // Always rotate: every refresh returns a new refresh token and consumes the old one.
  rotateRefreshToken: true,
  // Always issue a refresh token to the test client, with or without offline_access.
  async issueRefreshToken(ctx, client) {
    return client.grantTypeAllowed('refresh_token');
  },
  async findAccount(ctx, sub) {
    return account(sub);
  },
  // The devInteractions login page accepts any login. By default the consent page stays (approve.mjs
  // submits it, as a user would); --auto-consent grants the test client what it asks for instead.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    if (!settings.autoConsent || ![TEST_CLIENT_ID, BENCH_CLIENT_ID, BROWSER_CLIENT_ID].includes(ctx.oidc.client.clientId)
        || !ctx.oidc.session.accountId) {
      return undefined;
    }
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope([...ctx.oidc.requestParamScopes].join(' '));
    await grant.save();
    return grant;
  },
});

provider.on('device_authorization.success', (ctx, body) => {
  events.device_codes.push(body.device_code);
  events.issued.push(Date.now());
});

// RFC 8628 §3.2 interval and §3.5 slow_down, which oidc-provider v9 does not produce itself.
provider.use(async (ctx, next) => {
  await next();
  const route = ctx.oidc?.route;
  if (route === 'device_authorization' && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
    ctx.body = { ...ctx.body, interval: settings.interval };
    return;
  }
  if (route === 'token' && ctx.status === 200 && ctx.body && typeof ctx.body === 'object'
      && settings.jwtAccessTokens) {
    const { expires_in: omitted, ...withoutExpiresIn } = ctx.body;
    ctx.body = withoutExpiresIn;
  }
  if (route === 'token' && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
    const { access_token: accessToken, refresh_token: refreshToken, id_token: idToken } = ctx.body;
    events.tokens.push({
      t: Date.now(), grant_type: ctx.oidc?.params?.grant_type,
      access_token: accessToken, refresh_token: refreshToken, id_token: idToken,
    });
  }
  if (route === 'token' && ctx.oidc?.params?.grant_type === 'authorization_code') {
    events.codes.push({
      t: Date.now(), code: ctx.oidc.params.code, code_verifier: ctx.oidc.params.code_verifier,
      redirect_uri: ctx.oidc.params.redirect_uri, result: ctx.status === 200 ? 'ok' : (ctx.body?.error ?? `http_${ctx.status}`),
    });
  }
  if (route === 'token' && ctx.oidc?.params?.grant_type === 'refresh_token') {
    const error = ctx.body && typeof ctx.body === 'object' ? ctx.body.error : undefined;
    events.refreshes.push({ t: Date.now(), result: ctx.status === 200 ? 'ok' : (error ?? `http_${ctx.status}`) });
    return;
  }
  if (route !== 'token' || ctx.oidc?.params?.grant_type !== DEVICE_CODE_GRANT) return;

  const deviceCode = ctx.oidc.params.device_code;
  const codeIndex = events.device_codes.indexOf(deviceCode);
  const body = ctx.body && typeof ctx.body === 'object' ? ctx.body : {};
  let result = ctx.status === 200 ? 'ok' : (body.error ?? `http_${ctx.status}`);
  if (result === 'authorization_pending' && settings.slowDownEvery > 0) {
    const pending = (pendingPollsByCode.get(deviceCode) ?? 0) + 1;
    pendingPollsByCode.set(deviceCode, pending);
    if (pending % settings.slowDownEvery === 0) {
      ctx.status = 400;
      ctx.body = { error: 'slow_down', error_description: 'polling too frequently' };
      result = 'slow_down';
    }
  }
  events.polls.push({ t: Date.now(), code_index: codeIndex, result });
});

provider.on('server_error', (ctx, err) => {
  process.stderr.write(`oidc_server: server_error: ${err?.stack ?? err}\n`);
});

const callback = provider.callback();
server.on('request', (req, res) => {
  if (req.url === '/__test/events' && req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(events));
    return;
  }
  callback(req, res);
});

function shutdown() {
  server.close();
  server.closeAllConnections?.();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
// With OIDC_EXIT_ON_STDIN_EOF=1 the server also stops when its stdin closes, so a test runner that
// dies (even by SIGKILL) does not leave it behind.
if (process.env.OIDC_EXIT_ON_STDIN_EOF === '1') {
  process.stdin.on('end', shutdown);
  process.stdin.on('error', shutdown);
  process.stdin.resume();
}

process.stdout.write(`${JSON.stringify({
  issuer,
  port,
  client_id: TEST_CLIENT_ID,
  browser_client_id: BROWSER_CLIENT_ID,
  introspection_client_id: INTROSPECTION_CLIENT_ID,
  introspection_client_secret: introspectionSecret,
  test_endpoint: `${issuer}/__test/events`,
  ...(settings.benchClient ? { bench_client_id: BENCH_CLIENT_ID, bench_client_secret: benchSecret } : {}),
})}\n`);
