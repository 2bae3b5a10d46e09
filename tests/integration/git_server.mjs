// A loopback git smart-HTTP server for the suites that run real git through the credential
// helper (cli_git, cli_agent): `git http-backend` as a CGI behind node:http.

import { spawn } from 'node:child_process';
import * as http from 'node:http';

export const HTTP_BACKEND = '/usr/lib/git-core/git-http-backend';

// git http-backend behind node:http; every request needs Basic auth whose password is a token
// that introspection calls active and that is not in `rejected`.
export async function startGitServer(root, introspect) {
  const rejected = new Set();
  const passwords = [];
  const srv = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    const auth = req.headers.authorization ?? '';
    let user = '';
    let password = '';
    if (auth.startsWith('Basic ')) {
      const decoded = Buffer.from(auth.slice(6), 'base64').toString();
      user = decoded.slice(0, decoded.indexOf(':'));
      password = decoded.slice(decoded.indexOf(':') + 1);
    }
    if (password) passwords.push(password);
    const active = password && !rejected.has(password) && (await introspect(password)).active === true;
    if (!active) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="test"' }).end('unauthorized\n');
      return;
    }
    const url = new URL(req.url, 'http://127.0.0.1');
    const cgi = spawn(HTTP_BACKEND, [], {
      env: {
        GIT_PROJECT_ROOT: root, GIT_HTTP_EXPORT_ALL: '1', REQUEST_METHOD: req.method, PATH_INFO: url.pathname,
        QUERY_STRING: url.search.slice(1), CONTENT_TYPE: req.headers['content-type'] ?? '',
        CONTENT_LENGTH: String(body.length), REMOTE_USER: user, REMOTE_ADDR: '127.0.0.1',
        HTTP_CONTENT_ENCODING: req.headers['content-encoding'] ?? '', GIT_PROTOCOL: req.headers['git-protocol'] ?? '',
        PATH: process.env.PATH,
      },
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    // http-backend may answer (an error, or a request it needs no body for) and exit before it
    // has read the body: EPIPE on this pipe is then the CGI's choice, not a failure of the test.
    // Unhandled, it surfaced as an uncaught exception charged to the `before` hook (CI, stop 34).
    cgi.stdin.on('error', () => {});
    cgi.stdin.end(body);
    const out = [];
    for await (const chunk of cgi.stdout) out.push(chunk);
    const all = Buffer.concat(out);
    let split = all.indexOf('\r\n\r\n');
    let skipBytes = 4;
    if (split < 0) { split = all.indexOf('\n\n'); skipBytes = 2; }
    const headers = {};
    let status = 200;
    for (const line of all.subarray(0, split).toString().split(/\r?\n/)) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'status') status = parseInt(value, 10);
      else if (name) headers[name] = value;
    }
    res.writeHead(status, headers).end(all.subarray(split + skipBytes));
  });
  await new Promise((resolve) => { srv.listen(0, '127.0.0.1', resolve); });
  return {
    origin: `http://127.0.0.1:${srv.address().port}`,
    rejected,
    passwords,
    stop: () => new Promise((resolve) => { srv.close(resolve); }),
  };
}

