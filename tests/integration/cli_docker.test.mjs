// The docker credential helper, run as docker runs it: the real
// `docker-credential-devicelogin` (the symlink in the build tree) with the operation in argv and
// the input on stdin, after `devicelogin setup-docker`, against the dev server. The answers are
// compared byte for byte with the docker-credential-helpers protocol. Then a real client:
// Debian's skopeo inspects an image at a loopback registry (node:http) that accepts only Basic
// auth whose password the dev server's introspection calls active, finding the helper through
// credHelpers in $DOCKER_CONFIG/config.json. Secrets are compared, never printed: a failing
// assertion shows redacted output only.

import { strict as assert } from 'node:assert';
import { execFile, spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  cliPath, describeRun, isAuditTrail, killAllChildren, listFiles, loginWithApproval, makeHome, redact, runCli, startServer, storedDigests,
} from './harness.mjs';

const EXIT = { ok: 0, notFound: 1, usage: 2, notLoggedIn: 5, storage: 7 };
const NOT_FOUND = 'credentials not found in native keychain\n';
const HUB = 'https://index.docker.io/v1/';

const bin = cliPath();
// build/docker-credential-devicelogin (a symlink to bin/docker-credential-devicelogin, itself one
// to bin/devicelogin), as docker would find it on PATH.
const helper = process.env.DEVICELOGIN_DOCKER_HELPER
  || (bin ? path.join(path.dirname(path.dirname(bin)), 'docker-credential-devicelogin') : undefined);
const SKOPEO = '/usr/bin/skopeo';
const haveSkopeo = await fs.access(SKOPEO).then(() => true, () => false);
const skip = !bin ? 'DEVICELOGIN_BIN is not set' : false;
// Sanitizer runtimes reserve their shadow memory as data: a sanitizer build runs without RLIMIT_DATA.
const sanitized = bin ? await fs.readFile(bin).then((b) => b.includes('libasan.so') || b.includes('libtsan.so')) : false;

// Runs a program to completion: { code, stdout, stderr }.
function run(file, args, { env, input } = {}) {
  return new Promise((resolve) => {
    const child = execFile(file, args, { env, timeout: 60000, maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
    // A child that exits without reading all of its input closes the pipe first: not an error here.
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
  });
}

// A loopback registry (the /v2/ API skopeo needs to inspect one image) that wants Basic auth whose
// password introspection calls active.
async function startRegistry(introspect) {
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [] },
  }));
  const digest = (bytes) => `sha256:${crypto.createHash('sha256').update(bytes).digest('hex')}`;
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: config.length, digest: digest(config) },
    layers: [],
  }));
  const seen = { passwords: [], users: [], unauthorized: 0 };
  const srv = http.createServer(async (req, res) => {
    for await (const chunk of req) void chunk;
    const auth = req.headers.authorization ?? '';
    let user = '';
    let password = '';
    if (auth.startsWith('Basic ')) {
      const decoded = Buffer.from(auth.slice(6), 'base64').toString();
      user = decoded.slice(0, decoded.indexOf(':'));
      password = decoded.slice(decoded.indexOf(':') + 1);
      seen.users.push(user);
      seen.passwords.push(password);
    }
    const active = password !== '' && (await introspect(password)).active === true;
    const head = { 'docker-distribution-api-version': 'registry/2.0' };
    if (!active) {
      seen.unauthorized += 1;
      res.writeHead(401, { ...head, 'www-authenticate': 'Basic realm="devicelogin-test"', 'content-type': 'application/json' })
        .end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}\n');
      return;
    }
    const send = (type, body, extra = {}) => {
      res.writeHead(200, { ...head, 'content-type': type, 'content-length': body.length, ...extra });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const url = new URL(req.url, 'http://127.0.0.1');
    if (url.pathname === '/v2/') return send('application/json', Buffer.from('{}'));
    if (url.pathname === '/v2/demo/app/tags/list') return send('application/json', Buffer.from('{"name":"demo/app","tags":["1.0"]}'));
    if (url.pathname === '/v2/demo/app/manifests/1.0' || url.pathname === `/v2/demo/app/manifests/${digest(manifest)}`) {
      return send('application/vnd.docker.distribution.manifest.v2+json', manifest, { 'docker-content-digest': digest(manifest) });
    }
    if (url.pathname === `/v2/demo/app/blobs/${digest(config)}`) return send('application/octet-stream', config);
    res.writeHead(404, { ...head, 'content-type': 'application/json' }).end('{"errors":[{"code":"NAME_UNKNOWN"}]}\n');
    return undefined;
  });
  await new Promise((resolve) => { srv.listen(0, '127.0.0.1', resolve); });
  return {
    host: `127.0.0.1:${srv.address().port}`,
    manifestDigest: digest(manifest),
    seen,
    stop: () => new Promise((resolve) => { srv.close(resolve); }),
  };
}

// The bytes of a JSON string as Go's encoding/json writes it, for the ASCII without <, >, & that
// these tests use (JSON.stringify agrees there).
const goString = (text) => {
  assert.ok(/^[\x20-\x7e]*$/.test(text) && !/[<>&]/.test(text), 'goString() is only for plain ASCII');
  return JSON.stringify(text);
};

describe('docker credential helper (docker-credential-helpers protocol)', { skip, timeout: 240000 }, () => {
  let server;
  let home;
  let env;
  let registry;
  let dockerConfig;
  const seen = [];
  const originalConfig = {
    auths: { 'other.example': { auth: 'dXNlcjpwYXNz' } },
    psFormat: 'table {{.ID}}',
    credHelpers: { 'gcr.io': 'gcloud' },
    currentContext: 'default',
  };

  const cli = async (argv, code, opts = {}) => {
    const result = await runCli(argv, { env, ...opts });
    assert.equal(result.code, code, describeRun(argv, result, seen));
    return result;
  };
  const storedToken = async () => {
    const token = (await cli(['token'], EXIT.ok)).stdout.trim();
    seen.push(token);
    return token;
  };
  // docker-credential-devicelogin OP with `input` on stdin, in the test's environment.
  const dockerHelper = (op, input, helperEnv = env) => run(helper, op === undefined ? [] : [op], { env: helperEnv, input });
  const show = (what, result) => `${what} -> exit ${result.code}\n  stdout: ${redact(result.stdout, seen).slice(0, 500)}`
    + `\n  stderr: ${redact(result.stderr, seen).slice(0, 500)}`;
  const expectHelper = async (op, input, { code, stdout, stderrLines = 0 }, helperEnv = env) => {
    const result = await dockerHelper(op, input, helperEnv);
    const what = `docker-credential-devicelogin ${op ?? ''} <<< ${JSON.stringify(redact(String(input ?? '').slice(0, 80), seen))}`;
    // (assert.ok, not assert.equal: equal would print both strings, and they may hold a token)
    assert.ok(result.code === code, `expected exit ${code}: ${show(what, result)}`);
    if (stdout !== undefined) assert.ok(result.stdout === stdout, `unexpected stdout: ${show(what, result)}`);
    const lines = result.stderr === '' ? 0 : result.stderr.replace(/\n$/, '').split('\n').length;
    assert.ok(lines === stderrLines, `expected ${stderrLines} stderr line(s): ${show(what, result)}`);
    return result;
  };
  // Everything stored that a helper call must not change: the token file, the profile, the map.
  const snapshot = () => storedDigests(home);

  before(async () => {
    server = await startServer('devserver', { interval: 1 });
    home = await makeHome();
    dockerConfig = path.join(home.home, 'docker-config');  // not ~/.docker: DOCKER_CONFIG is respected
    await fs.mkdir(path.join(home.home, 'run'), { mode: 0o700 });
    env = {
      ...home.env,
      DOCKER_CONFIG: dockerConfig,
      XDG_RUNTIME_DIR: path.join(home.home, 'run'),
      // docker (and skopeo) find docker-credential-devicelogin on PATH.
      PATH: `${path.dirname(helper)}:${process.env.PATH}`,
      LANG: 'C.UTF-8',
    };
    for (const name of ['LD_LIBRARY_PATH', 'ASAN_OPTIONS', 'UBSAN_OPTIONS', 'TSAN_OPTIONS']) {
      if (process.env[name]) env[name] = process.env[name];
    }
    const { result, argv } = await loginWithApproval(server, home, { env });
    assert.equal(result.code, EXIT.ok, describeRun(argv, result));
    registry = await startRegistry((token) => server.introspect(token));
    await fs.mkdir(dockerConfig, { mode: 0o700 });
    await fs.writeFile(path.join(dockerConfig, 'config.json'), JSON.stringify(originalConfig, null, 2), { mode: 0o644 });
  });
  after(async () => {
    killAllChildren();
    await registry?.stop();
    await server?.stop();
    await home?.remove();
  });

  test('setup-docker adds credHelpers (every other key kept, in order) and the registry map, idempotently', async () => {
    for (let i = 0; i < 2; i += 1) {
      await cli(['setup-docker', '--registry', registry.host], EXIT.ok);
      await cli(['setup-docker', '--registry', 'docker.io', '--username', 'hub-user'], EXIT.ok);
    }
    const file = path.join(dockerConfig, 'config.json');
    const text = await fs.readFile(file, 'utf8');
    const config = JSON.parse(text);
    assert.deepEqual(Object.keys(config), ['auths', 'psFormat', 'credHelpers', 'currentContext'], 'key order kept');
    assert.deepEqual(config.credHelpers, {
      'gcr.io': 'gcloud', [registry.host]: 'devicelogin', [HUB]: 'devicelogin', 'docker.io': 'devicelogin',
    });
    for (const key of ['auths', 'psFormat', 'currentContext']) assert.deepEqual(config[key], originalConfig[key]);
    assert.equal((await fs.stat(file)).mode & 0o777, 0o644, 'the config keeps its mode');
    assert.deepEqual((await fs.readdir(dockerConfig)).sort(), ['config.json'], 'no temp file left');
    const mapFile = path.join(home.configDir, 'docker-registries.json');
    assert.equal((await fs.stat(mapFile)).mode & 0o777, 0o600);
    assert.deepEqual(JSON.parse(await fs.readFile(mapFile, 'utf8')), {
      registries: { [registry.host]: { profile: 'default' }, 'docker.io': { profile: 'default', username: 'hub-user' } },
    });
    // Bad arguments: one line, exit 2, nothing written.
    const before = await snapshot();
    for (const argv of [['setup-docker', '--registry', 'ftp://x'], ['setup-docker', '--registry', 'user:pw@r.example'],
      ['setup-docker', '--registry', 'r.example', '--username', '<token>'], ['setup-docker']]) {
      const r = await cli(argv, EXIT.usage);
      assert.equal(r.stderr.trim().split('\n').length, 1, describeRun(argv, r));
    }
    assert.deepEqual(await snapshot(), before);
    assert.equal(await fs.readFile(file, 'utf8'), text);
  });

  test('get answers {"ServerURL","Username","Secret"} with the access token, byte for byte', async () => {
    const token = await storedToken();
    const answer = (url, user) => `{"ServerURL":${goString(url)},"Username":${goString(user)},"Secret":${goString(token)}}\n`;
    await expectHelper('get', registry.host, { code: EXIT.ok, stdout: answer(registry.host, 'oauth2accesstoken') });
    // The server URL is echoed as sent (trimmed); scheme, path and a newline do not change the registry.
    await expectHelper('get', `https://${registry.host}/v2/\n`, { code: EXIT.ok, stdout: answer(`https://${registry.host}/v2/`, 'oauth2accesstoken') });
    // Docker Hub as docker names it, and as skopeo names it.
    await expectHelper('get', HUB, { code: EXIT.ok, stdout: answer(HUB, 'hub-user') });
    await expectHelper('get', 'docker.io', { code: EXIT.ok, stdout: answer('docker.io', 'hub-user') });
    // Through `devicelogin docker-credential` as well (the same command).
    const r = await runCli(['docker-credential', 'get'], { env, input: registry.host });
    assert.ok(r.code === EXIT.ok && r.stdout === answer(registry.host, 'oauth2accesstoken'), describeRun(['docker-credential', 'get'], r, seen));
    assert.equal(await storedToken(), token, 'a fresh token is served as it is');
  });

  test('list prints the configured registries; version prints one line', async () => {
    const entries = [[registry.host, 'oauth2accesstoken'], [HUB, 'hub-user']].sort(([a], [b]) => (a < b ? -1 : 1));
    const expected = `{${entries.map(([k, v]) => `${goString(k)}:${goString(v)}`).join(',')}}\n`;
    await expectHelper('list', 'unused', { code: EXIT.ok, stdout: expected });
    const v = await expectHelper('version', '', { code: EXIT.ok });
    assert.match(v.stdout, /^docker-credential-devicelogin \(devicelogin\) \d+\.\d+\.\d+\n$/);
    for (const flag of ['--version', '-v']) await expectHelper(flag, '', { code: EXIT.ok, stdout: v.stdout });
  });

  test('a registry nobody configured gets the not-found answer docker recognises (exit 1, stderr silent)', async () => {
    const before = await snapshot();
    for (const url of ['other.example.com', 'https://other.example.com/v2/', 'localhost:5000', '127.0.0.1:1']) {
      await expectHelper('get', url, { code: EXIT.notFound, stdout: NOT_FOUND });
      await expectHelper('erase', url, { code: EXIT.notFound, stdout: NOT_FOUND });
    }
    assert.deepEqual(await snapshot(), before);
  });

  test('store accepts and drops what docker login gives it; nothing stored changes', async () => {
    const token = await storedToken();
    const before = await snapshot();
    const canary = `docker-store-canary-${crypto.randomBytes(12).toString('hex')}`;
    seen.push(canary);
    const input = JSON.stringify({ ServerURL: registry.host, Username: 'someone', Secret: canary });
    await expectHelper('store', input, { code: EXIT.ok, stdout: '' });
    assert.deepEqual(await snapshot(), before, 'store changed nothing stored');
    for (const file of await listFiles(home.home)) {
      const bytes = await fs.readFile(file).catch(() => Buffer.alloc(0));
      assert.ok(!bytes.includes(canary), `the stored secret reached ${path.relative(home.home, file)}`);
    }
    assert.equal(await storedToken(), token);
  });

  test('malformed stdin: one line on stderr, exit 2 (the protocol\'s own message on stdout where it has one); nothing changes', async () => {
    const token = await storedToken();
    const before = await snapshot();
    const cases = [
      ['get', '', 'no credentials server URL\n'], ['get', ' \n', 'no credentials server URL\n'],
      ['erase', '', 'no credentials server URL\n'],
      ['get', `${registry.host}\nother.example\n`, ''], ['get', `${registry.host}\0`, ''],
      ['get', `reg\x1bistry.example`, ''], ['get', 'r'.repeat(70000), ''], ['get', 'ftp://registry.example.com', ''],
      ['get', 'user:pw@registry.example.com', ''], ['erase', `${registry.host}\nx`, ''],
      ['store', 'not json', ''], ['store', '["a"]', ''],
      ['store', JSON.stringify({ Username: 'u', Secret: 's' }), 'no credentials server URL\n'],
      ['store', JSON.stringify({ ServerURL: registry.host, Secret: 's' }), 'no credentials username\n'],
      ['store', JSON.stringify({ ServerURL: 1, Username: 'u' }), ''],
      ['fetch', registry.host, ''], [undefined, '', ''],
    ];
    for (const [op, input, stdout] of cases) {
      await expectHelper(op, input, { code: EXIT.usage, stdout, stderrLines: 1 });
    }
    assert.deepEqual(await snapshot(), before, 'bad input changed nothing stored');
    assert.equal(await storedToken(), token);
  });

  test('an error line quotes at most a short prefix of the input; a huge input is not read whole', async () => {
    const before = await snapshot();
    for (const [op, input] of [['get', `ftp://${'r'.repeat(60000)}`], ['erase', `${'r'.repeat(60000)}@x`],
      ['get', 'r'.repeat(200000)], ['store', `{"ServerURL":"${'r'.repeat(200000)}"}`]]) {
      const r = await expectHelper(op, input, { code: EXIT.usage, stdout: '', stderrLines: 1 });
      assert.ok(r.stderr.length < 300, `${op}: a ${r.stderr.length}-byte error line`);
    }
    // 64 MiB in 1 MiB chunks under a 32 MiB RLIMIT_DATA (prlimit): the helper stops at its limit.
    for (const op of ['get', 'store']) {
      const r = await new Promise((resolve) => {
        const argv = [`--data=${32 * 1024 * 1024}`, '--', helper, op];
        const child = spawn(sanitized ? helper : 'prlimit', sanitized ? [op] : argv, { env, stdio: ['pipe', 'pipe', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (chunk) => { stderr += chunk; });
        child.stdin.on('error', () => {});
        const chunk = Buffer.alloc(1 << 20, 'r');
        let sent = 0;
        const pump = () => {
          while (sent < 64 * chunk.length && !child.stdin.destroyed) {
            sent += chunk.length;
            if (!child.stdin.write(chunk)) { child.stdin.once('drain', pump); return; }
          }
          child.stdin.end();
        };
        pump();
        child.on('close', (code) => resolve({ code, stderr }));
      });
      assert.equal(r.code, EXIT.usage, `${op}: ${r.stderr.slice(0, 300)}`);
      assert.match(r.stderr, /^devicelogin docker-credential: more than 64 KiB of input\n$/);
    }
    assert.deepEqual(await snapshot(), before);
  });

  test('erase (docker logout) refreshes the token and keeps the login', async () => {
    const token = await storedToken();
    await expectHelper('erase', registry.host, { code: EXIT.ok, stdout: '' });
    const refreshed = await storedToken();
    assert.ok(refreshed !== token, 'erase refreshed the stored token');
    const status = await cli(['status', '--json'], EXIT.ok);
    assert.equal(JSON.parse(status.stdout).logged_in, true, 'erase kept the login');
    assert.equal((await server.introspect(refreshed)).active, true);
  });

  test('not logged in: one line naming the login command, exit 5, stdout empty; no login is started', async () => {
    const other = await makeHome();
    try {
      const otherEnv = { ...env, ...other.env, DOCKER_CONFIG: path.join(other.home, 'docker') };
      const setup = await runCli(['setup-docker', '--registry', registry.host, '--profile', 'work'], { env: otherEnv });
      assert.equal(setup.code, EXIT.ok, describeRun(['setup-docker'], setup));
      const started = Date.now();
      const r = await expectHelper('get', registry.host, { code: EXIT.notLoggedIn, stdout: '', stderrLines: 1 }, otherEnv);
      assert.match(r.stderr, /run: devicelogin login --profile work/);
      assert.ok(Date.now() - started < 10000, 'the helper answered at once');
      await expectHelper('erase', registry.host, { code: EXIT.notFound, stdout: NOT_FOUND }, otherEnv);
      assert.deepEqual((await listFiles(other.stateDir)).filter((f) => !isAuditTrail(other, f)), [], 'nothing was stored');
    } finally {
      await other.remove();
    }
  });

  test('~/.docker/config.json without DOCKER_CONFIG: a symlink is refused (exit 7); a malformed file is refused and left; an unsafe map is refused', async () => {
    const other = await makeHome();
    try {
      const otherEnv = { ...env, ...other.env };
      delete otherEnv.DOCKER_CONFIG;
      const dotDocker = path.join(other.home, '.docker');
      const dotfiles = path.join(other.home, 'dotfiles');
      await fs.mkdir(dotDocker, { mode: 0o700 });
      await fs.mkdir(dotfiles, { mode: 0o700 });
      // A symlinked config.json led the rewrite into whatever file it named (one of
      // another owner included). Refused, one line, exit 7; the target is untouched.
      const linked = '{"auths": {}, "n": 12345678901234567890123}\n';
      await fs.writeFile(path.join(dotfiles, 'docker.json'), linked, { mode: 0o600 });
      await fs.symlink(path.join(dotfiles, 'docker.json'), path.join(dotDocker, 'config.json'));
      let r = await runCli(['setup-docker', '--registry', 'registry.example.com'], { env: otherEnv });
      assert.equal(r.code, EXIT.storage, describeRun(['setup-docker'], r));
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /symbolic link/);
      assert.ok((await fs.lstat(path.join(dotDocker, 'config.json'))).isSymbolicLink(), 'config.json is still the symlink');
      assert.equal(await fs.readFile(path.join(dotfiles, 'docker.json'), 'utf8'), linked, 'the target is untouched');
      await fs.rm(path.join(dotDocker, 'config.json'));
      // DOCKER_CONFIG naming the directory of the file is the way to a config kept elsewhere.
      await fs.writeFile(path.join(dotfiles, 'config.json'), '{"auths": {}}\n', { mode: 0o600 });
      r = await runCli(['setup-docker', '--registry', 'registry.example.com'], { env: { ...otherEnv, DOCKER_CONFIG: dotfiles } });
      assert.equal(r.code, EXIT.ok, describeRun(['setup-docker'], r));
      assert.deepEqual(JSON.parse(await fs.readFile(path.join(dotfiles, 'config.json'), 'utf8')),
        { auths: {}, credHelpers: { 'registry.example.com': 'devicelogin' } });

      const broken = '{"auths": {"x": {"auth": "dXNlcjpwYXNz"}},';  // cut short
      await fs.writeFile(path.join(dotDocker, 'config.json'), broken);
      r = await runCli(['setup-docker', '--registry', 'other.example.com'], { env: otherEnv });
      assert.equal(r.code, EXIT.usage, describeRun(['setup-docker'], r));
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.ok(!r.stderr.includes('dXNlcjpwYXNz'), 'the message does not quote the file');
      assert.equal(await fs.readFile(path.join(dotDocker, 'config.json'), 'utf8'), broken, 'left as it was');
      const map = JSON.parse(await fs.readFile(path.join(other.configDir, 'docker-registries.json'), 'utf8'));
      assert.deepEqual(Object.keys(map.registries), ['registry.example.com'], 'nor was the registry recorded');

      // A registry map others can read is refused, as token and profile files are (exit 7).
      await fs.chmod(path.join(other.configDir, 'docker-registries.json'), 0o644);
      await expectHelper('get', 'registry.example.com', { code: 7, stdout: '', stderrLines: 1 }, otherEnv);
      await expectHelper('list', '', { code: 7, stdout: '', stderrLines: 1 }, otherEnv);
    } finally {
      await other.remove();
    }
  });

  test('8 parallel setup-docker keep all 8; numbers are kept as written; a config.json of another owner is refused', async () => {
    const other = await makeHome();
    try {
      const dir = path.join(other.home, 'docker');
      const otherEnv = { ...env, ...other.env, DOCKER_CONFIG: dir };
      await fs.mkdir(dir, { mode: 0o700 });
      const original = '{"auths": {}, "big": 12345678901234567890123, "precise": 0.1000000000000000055511151231257827, '
        + '"list": [1.50, 2e-7, -0]}';
      await fs.writeFile(path.join(dir, 'config.json'), original, { mode: 0o600 });
      const hosts = Array.from({ length: 8 }, (_, i) => `registry-${i}.example.com`);
      const runs = await Promise.all(hosts.map((host) => runCli(['setup-docker', '--registry', host], { env: otherEnv })));
      runs.forEach((r, i) => assert.equal(r.code, EXIT.ok, describeRun(['setup-docker', '--registry', hosts[i]], r)));
      const text = await fs.readFile(path.join(dir, 'config.json'), 'utf8');
      const config = JSON.parse(text);
      assert.deepEqual(Object.keys(config.credHelpers).sort(), hosts, 'every run\'s entry is in config.json');
      const map = JSON.parse(await fs.readFile(path.join(other.configDir, 'docker-registries.json'), 'utf8'));
      assert.deepEqual(Object.keys(map.registries).sort(), hosts, 'and in the registry map');
      for (const lexeme of ['12345678901234567890123', '0.1000000000000000055511151231257827', '1.50', '2e-7']) {
        assert.ok(text.includes(lexeme), `${lexeme} kept as written in:\n${text}`);
      }
      assert.deepEqual((await fs.readdir(dir)).sort(), ['config.json'], 'no temp file left');

      // Another owner's config.json (as root: chown it to nobody) is refused and left as it was.
      if (process.getuid() === 0) {
        await fs.chown(path.join(dir, 'config.json'), 65534, 65534);
        const r = await runCli(['setup-docker', '--registry', 'one-more.example.com'], { env: otherEnv });
        assert.equal(r.code, EXIT.storage, describeRun(['setup-docker'], r));
        assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
        assert.equal(await fs.readFile(path.join(dir, 'config.json'), 'utf8'), text);
        assert.equal((await fs.stat(path.join(dir, 'config.json'))).uid, 65534);
      }
    } finally {
      await other.remove();
    }
  });

  test('skopeo (Debian) inspects an image at a registry that takes the token as Basic password', { skip: !haveSkopeo && 'skopeo is not installed' }, async () => {
    const token = await storedToken();
    const image = `docker://${registry.host}/demo/app:1.0`;
    // --tls-verify=false: the test registry speaks plain HTTP on loopback.
    const r = await run(SKOPEO, ['--debug', 'inspect', '--tls-verify=false', image], { env });
    assert.ok(r.code === 0, `skopeo inspect failed (exit ${r.code}): ${redact(r.stderr, seen).slice(-3000)}`);
    assert.equal(JSON.parse(r.stdout).Digest, registry.manifestDigest);
    assert.ok(registry.seen.passwords.includes(token), 'skopeo authenticated with the token the helper gave it');
    assert.ok(registry.seen.users.includes('oauth2accesstoken'));
    assert.match(r.stderr, /Looking up in credential helper devicelogin based on credHelpers entry/, 'through the helper');
  });

  test('setup-docker --remove undoes both, idempotently; then get is not-found and skopeo is refused', async () => {
    for (let i = 0; i < 2; i += 1) {
      await cli(['setup-docker', '--registry', registry.host, '--remove'], EXIT.ok);
      await cli(['setup-docker', '--registry', 'docker.io', '--remove'], EXIT.ok);
    }
    const config = JSON.parse(await fs.readFile(path.join(dockerConfig, 'config.json'), 'utf8'));
    assert.deepEqual(config, originalConfig, 'the config is as it was');
    assert.deepEqual(JSON.parse(await fs.readFile(path.join(home.configDir, 'docker-registries.json'), 'utf8')), { registries: {} });
    await expectHelper('get', registry.host, { code: EXIT.notFound, stdout: NOT_FOUND });
    await expectHelper('list', '', { code: EXIT.ok, stdout: '{}\n' });
    if (haveSkopeo) {
      const r = await run(SKOPEO, ['inspect', '--tls-verify=false', `docker://${registry.host}/demo/app:1.0`], { env });
      assert.notEqual(r.code, 0, 'without the helper skopeo cannot authenticate');
    }
  });
});
