#!/usr/bin/env node
// Calibration for bench/server/run.sh: the cheapest Node.js HTTP server (answers every request
// 200 "ok" after reading its body), an upper bound for any server on Node, oidc-provider included,
// on this machine at this moment. Prints {"issuer":"http://127.0.0.1:PORT","port":PORT} and serves
// until SIGTERM or SIGINT.

import * as http from 'node:http';

const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  process.stdout.write(`${JSON.stringify({ issuer: `http://127.0.0.1:${port}`, port })}\n`);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
