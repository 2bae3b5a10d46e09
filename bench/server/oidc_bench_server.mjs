#!/usr/bin/env node
// oidc-provider (v9) configured for the device flow only, as the baseline of bench/server/run.sh.
// The same idea as tests/integration/oidc_server.mjs (one public device-flow client, in-memory
// adapter), minus everything a benchmark does not exercise: no test events, no interval/slow_down
// middleware, no interactions (nothing is ever approved here, so polls stay authorization_pending).
//
// Binds 127.0.0.1 on an ephemeral port and prints ONE line on stdout, then serves until SIGTERM or
// SIGINT (run.sh starts it under `timeout`, so a killed benchmark leaves nothing behind):
//   {"issuer":"http://127.0.0.1:PORT","port":PORT,"client_id":"bench",
//    "device_authorization_endpoint":"...","token_endpoint":"..."}

import * as crypto from 'node:crypto';
import * as http from 'node:http';

import Provider from 'oidc-provider';

const CLIENT_ID = 'bench';
const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(0, '127.0.0.1', resolve);
});
const { port } = server.address();
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: CLIENT_ID,
    token_endpoint_auth_method: 'none',
    grant_types: [DEVICE_CODE_GRANT, 'refresh_token'],
    response_types: [],
    redirect_uris: [],
  }],
  scopes: ['openid', 'profile', 'offline_access'],
  features: {
    deviceFlow: { enabled: true },
    devInteractions: { enabled: false },
  },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  ttl: { DeviceCode: 600 },
  async findAccount(ctx, sub) {
    return { accountId: sub, async claims() { return { sub }; } };
  },
});
provider.on('server_error', (ctx, err) => {
  process.stderr.write(`oidc_bench_server: server_error: ${err?.message ?? err}\n`);
});

server.on('request', provider.callback());
// Keep-alive connections must outlive a 10-second wrk run without being recycled by the server.
server.keepAliveTimeout = 60_000;

function shutdown() {
  server.close();
  server.closeAllConnections?.();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

process.stdout.write(`${JSON.stringify({
  issuer,
  port,
  client_id: CLIENT_ID,
  device_authorization_endpoint: `${issuer}/device/auth`,
  token_endpoint: `${issuer}/token`,
})}\n`);
