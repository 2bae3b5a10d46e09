// Findings of a security review of the client, checked end to end with the real CLI:
// --ca-file adds a CA (a TLS front signed by a test CA on 127.0.0.1), SSL_CERT_FILE replaces the
// bundle; the browser child gets stdin/stdout/stderr only and SIGCHLD is left alone; a token
// directory writable by others is refused with exit 7.

import { strict as assert } from 'node:assert';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  cliPath, describeRun, killAllChildren, loginArgs, makeHome, makeTestPki, runCli, sleep, startCli,
  startPublicDevserver, startServer, startTlsFront,
} from './harness.mjs';

const skip = cliPath() ? false : 'DEVICELOGIN_BIN is not set';
const EXIT = { ok: 0, usage: 2, network: 6, storage: 7 };

describe('--ca-file adds a CA, SSL_CERT_FILE replaces the bundle (TLS on 127.0.0.1)', { skip, timeout: 120000 }, () => {
  const clientId = 'tls-client';
  const clientSecret = `cs-${crypto.randomBytes(18).toString('base64url')}`;
  let pkiDir;
  let pki;
  let server;
  let front;
  let home;
  before(async () => {
    pkiDir = await fs.mkdtemp(path.join(os.tmpdir(), 'devicelogin-pki-'));
    pki = await makeTestPki(pkiDir);
    front = await startTlsFront(pki, () => server.port);
    server = await startPublicDevserver({ issuer: `https://127.0.0.1:${front.port}`, clientId, clientSecret });
    home = await makeHome();
  });
  after(async () => {
    killAllChildren();
    await front?.stop();
    await server?.stop();
    await home?.remove();
    if (pkiDir) await fs.rm(pkiDir, { recursive: true, force: true });
  });
  const login = (profile, extra, env = {}) => {
    const argv = ['login', '--profile', profile, '--issuer', server.issuer, '--client-id', clientId,
      '--scope', 'openid offline_access', '--store', 'file', '--no-browser', '--no-qr', ...extra];
    return runCli(argv, { env: { ...home.env, DEVICELOGIN_CLIENT_SECRET: clientSecret, ...env }, timeoutMs: 30000 })
      .then((result) => ({ argv, result }));
  };

  test('--ca-file with the test CA: login succeeds over TLS', async () => {
    const { argv, result } = await login('with-ca', ['--ca-file', pki.caFile]);
    assert.equal(result.code, EXIT.ok, describeRun(argv, result, [clientSecret]));
    // Later commands read the CA file from the profile.
    const token = await runCli(['token', '--profile', 'with-ca', '--min-ttl', '100000'],
      { env: { ...home.env, DEVICELOGIN_CLIENT_SECRET: clientSecret } });
    assert.equal(token.code, EXIT.ok, describeRun(['token', '--min-ttl', '100000'], token, [clientSecret]));
  });

  test('without --ca-file the test CA is not trusted: exit 6 naming the certificate problem', async () => {
    const { argv, result } = await login('without-ca', []);
    assert.equal(result.code, EXIT.network, describeRun(argv, result, [clientSecret]));
    assert.match(result.stderr, /certificate/i, 'the error names the certificate problem');
  });

  test('SSL_CERT_FILE replaces the system bundle: the test CA alone is trusted', async () => {
    const { argv, result } = await login('env-ca', [], { SSL_CERT_FILE: pki.caFile });
    assert.equal(result.code, EXIT.ok, describeRun(argv, result, [clientSecret]));
  });

  // The base bundle stands in for the system's here (SSL_CERT_FILE replaces it, and the system's
  // cannot sign a loopback certificate): the server's CA is in the base, --ca-file names another
  // CA, and the login must still trust the server. Were --ca-file a replacement, it would not.
  test('--ca-file adds to the base bundle instead of replacing it', async () => {
    const otherDir = await fs.mkdtemp(path.join(os.tmpdir(), 'devicelogin-pki-other-'));
    try {
      const other = await makeTestPki(otherDir);
      const { argv, result } = await login('added-ca', ['--ca-file', other.caFile], { SSL_CERT_FILE: pki.caFile });
      assert.equal(result.code, EXIT.ok, describeRun(argv, result, [clientSecret]));
    } finally {
      await fs.rm(otherDir, { recursive: true, force: true });
    }
  });

  test('--ca-file with a file holding no certificate: exit 2 naming the file', async () => {
    const junk = path.join(pkiDir, 'junk.pem');
    await fs.writeFile(junk, 'not a certificate\n');
    const { argv, result } = await login('junk-ca', ['--ca-file', junk]);
    assert.equal(result.code, EXIT.usage, describeRun(argv, result, [clientSecret]));
    assert.ok(result.stderr.includes(junk), 'the error names the CA file');
  });
});

describe('the browser child (xdg-open) inherits nothing but stdio; SIGCHLD is left alone', { skip, timeout: 60000 }, () => {
  let server;
  let home;
  let fakeBin;
  before(async () => {
    server = await startServer('devserver', { interval: 1 });
    home = await makeHome();
    fakeBin = path.join(home.home, 'fake-bin');
    await fs.mkdir(fakeBin);
    // `exec` so that the listing is of the process xdg-open was started as, with what it inherited
    // (ls itself adds one descriptor: the /proc/self/fd directory it reads).
    await fs.writeFile(path.join(fakeBin, 'xdg-open'),
      '#!/bin/sh\nexec ls -l /proc/self/fd > "$HOME/xdg-open-fds.txt" 2>&1\n', { mode: 0o755 });
  });
  after(async () => {
    killAllChildren();
    await server?.stop();
    await home?.remove();
  });

  test('login opens the browser with fds 0-2 only, and does not ignore SIGCHLD', async () => {
    const argv = loginArgs(server, ['--json']).filter((a) => a !== '--no-browser');
    const env = { ...home.env, DISPLAY: ':99', PATH: `${fakeBin}:${process.env.PATH ?? '/usr/bin:/bin'}` };
    const proc = startCli(argv, { env });
    proc.child.stdin.end();
    const report = path.join(home.home, 'xdg-open-fds.txt');
    try {
      const event = await proc.waitForLine((l) => l.event === 'device_code', 15000);
      // Until the fake xdg-open has written its listing (no count of tries: a loaded machine may
      // take long to start it; the suite's timeout bounds a browser that never runs).
      let listing;
      while (listing === undefined && proc.child.exitCode === null) {
        listing = await fs.readFile(report, 'utf8').catch(() => undefined);
        if (listing === undefined || !listing.includes('/proc/')) {
          listing = undefined;
          await sleep(100);
        }
      }
      assert.ok(listing !== undefined, 'the fake xdg-open ran and listed its descriptors');
      const fds = [...listing.matchAll(/ (\d+) -> (.*)$/gm)].map((m) => ({ fd: Number(m[1]), target: m[2] }));
      assert.ok(fds.some((f) => f.fd === 1), 'the listing shows the descriptors');
      const inherited = fds.filter((f) => f.fd > 2 && !/^\/proc\/\d+\/fd$/.test(f.target));
      assert.deepEqual(inherited.map((f) => `${f.fd} -> ${f.target}`), [], 'descriptors beyond 0-2 reached the browser');

      // The CLI, still waiting for approval: SIGCHLD is not ignored, and it left no zombie.
      const status = await fs.readFile(`/proc/${proc.child.pid}/status`, 'utf8');
      const ignored = BigInt(`0x${/^SigIgn:\s*([0-9a-f]+)$/m.exec(status)[1]}`);
      assert.equal(ignored & (1n << 16n), 0n, 'SIGCHLD (17) is not set to SIG_IGN');
      await sleep(300);
      const zombies = [];
      for (const entry of await fs.readdir('/proc')) {
        if (!/^\d+$/.test(entry)) continue;
        const stat = await fs.readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if (Number(fields[1]) === proc.child.pid && fields[0] === 'Z') zombies.push(entry);
      }
      assert.deepEqual(zombies, [], 'no child of the CLI is left a zombie');

      await server.approve(event.verification_uri_complete ?? event.verification_uri, event.user_code);
    } catch (error) {
      proc.kill();
      throw error;
    }
    const result = await proc.wait(30000);
    assert.equal(result.code, EXIT.ok, describeRun(argv, result));
  });
});

describe('a token directory that others can write to is refused (exit 7)', { skip, timeout: 60000 }, () => {
  let server;
  let home;
  before(async () => {
    server = await startServer('devserver', { interval: 1 });
    home = await makeHome();
  });
  after(async () => {
    killAllChildren();
    await server?.stop();
    await home?.remove();
  });

  test('token exits 7 with one line, and works again once the directory is 0700', async () => {
    const proc = startCli(loginArgs(server, ['--json']), { env: home.env });
    proc.child.stdin.end();
    const event = await proc.waitForLine((l) => l.event === 'device_code', 15000);
    await server.approve(event.verification_uri_complete ?? event.verification_uri, event.user_code);
    const loggedIn = await proc.wait(30000);
    assert.equal(loggedIn.code, EXIT.ok, describeRun(['login'], loggedIn));

    const tokens = path.join(home.stateDir, 'tokens');
    await fs.chmod(tokens, 0o777);
    const refused = await runCli(['token'], { env: home.env });
    assert.equal(refused.code, EXIT.storage, describeRun(['token'], refused));
    assert.equal(refused.stdout, '', 'no token printed');
    const lines = refused.stderr.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, `one line on stderr (${lines.length})`);
    assert.match(lines[0], /writable by group or others/);
    assert.equal((await fs.stat(tokens)).mode & 0o777, 0o777, 'the directory is left as it was');

    await fs.chmod(tokens, 0o700);
    const again = await runCli(['token'], { env: home.env });
    assert.equal(again.code, EXIT.ok, describeRun(['token'], again));
  });
});
