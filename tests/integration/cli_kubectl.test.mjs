// kubectl's exec credential plugin. `devicelogin setup-kubectl` writes the kubeconfig
// through the real kubectl (the one on PATH: this image's 1.32, or Debian's kubernetes-client
// 1.20 where there is no other), and that kubectl runs `devicelogin kubectl-credential` for
// `kubectl get --raw /version` against a loopback TLS API server (node:https, a throwaway CA)
// that accepts only a bearer token the dev server's introspection calls active. The plugin's own
// answers are checked for both apiVersions (v1, v1beta1), broken KUBERNETES_EXEC_INFO values, a
// profile that needs a login (exit 5, never interactive), and a refresh. While kubectl and the
// plugin run, every command line on the machine is scanned for the token. Secrets are compared,
// never printed: a failing assertion shows redacted output only.
//
// The token goes only to the cluster setup-kubectl recorded. A second loopback API server
// (same CA, so kubectl would talk to it) must see no token when kubectl is pointed at it with
// --server, when the cluster's server is changed after setup (kubectl config set-cluster), or when
// kubectl is told to trust another CA or to skip TLS verification; the plugin exits 2 with one line
// and an empty stdout (seen through a wrapper kubectl runs instead of the plugin).

import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as https from 'node:https';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  cliPath, describeRun, killAllChildren, listFiles, loginWithApproval, makeHome, makeTestPki, redact, runCli,
  startServer, storedDigests, traceArgv,
} from './harness.mjs';

const EXIT = { ok: 0, usage: 2, notLoggedIn: 5 };
const V1 = 'client.authentication.k8s.io/v1';
const V1BETA1 = 'client.authentication.k8s.io/v1beta1';

// The kubectl that exists (scripts/setup-deps.sh installs Debian's only when there is none).
async function findKubectl() {
  if (process.env.DEVICELOGIN_KUBECTL) return process.env.DEVICELOGIN_KUBECTL;
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const candidate = path.join(dir || '.', 'kubectl');
    if (await fs.access(candidate, fs.constants.X_OK).then(() => true, () => false)) return candidate;
  }
  return undefined;
}
const KUBECTL = await findKubectl();
const skip = !cliPath() ? 'DEVICELOGIN_BIN is not set' : !KUBECTL ? 'kubectl is not installed' : false;

// Runs a program to completion: { code, stdout, stderr }.
function run(file, args, { env, input } = {}) {
  return new Promise((resolve) => {
    const child = execFile(file, args, { env, timeout: 60000, maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
  });
}

// A loopback API server with the one endpoint kubectl's `get --raw /version` needs; a request
// passes only with `Authorization: Bearer T` where introspection calls T active.
async function startApiServer(pki, introspect) {
  // Every request: whether it had an Authorization header (its value only in `tokens`, compared, never shown).
  const seen = { tokens: [], unauthorized: 0, requests: [] };
  const srv = https.createServer({ key: pki.key, cert: pki.cert }, async (req, res) => {
    for await (const chunk of req) void chunk;
    const auth = req.headers.authorization ?? '';
    seen.requests.push({ url: req.url, authorization: auth !== '' });
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    if (token) seen.tokens.push(token);
    const active = token !== '' && (await introspect(token)).active === true;
    if (!active) {
      seen.unauthorized += 1;
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({
        kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401,
      }));
      return;
    }
    if (req.url === '/version') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
        major: '1', minor: '32', gitVersion: 'v1.32.0-devicelogin-test', platform: 'linux/amd64',
      }));
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"kind":"Status","code":404}');
  });
  srv.on('tlsClientError', () => {});
  await new Promise((resolve) => { srv.listen(0, '127.0.0.1', resolve); });
  return {
    url: `https://127.0.0.1:${srv.address().port}`,
    seen,
    stop: () => new Promise((resolve) => { srv.closeAllConnections?.(); srv.close(resolve); }),
  };
}

describe('kubectl exec credential plugin', { skip, timeout: 240000 }, () => {
  let server;
  let home;
  let env;
  let api;
  let api2;  // a second API server, the same CA: kubectl would send it the token if the plugin gave one
  let pki;
  let pki2;  // another CA
  let caData;  // pki's CA as kubectl hands it to the plugin (base64 of the file)
  let kubeconfig;
  let argvWatch;
  let kubectlMinor;
  const seen = [];
  const tokens = {};  // every access token seen, by label, for the argv scan

  const cli = async (argv, code, opts = {}) => {
    const result = await runCli(argv, { env, ...opts });
    assert.equal(result.code, code, describeRun(argv, result, seen));
    return result;
  };
  const storedToken = async () => {
    const token = (await cli(['token'], EXIT.ok)).stdout.trim();
    seen.push(token);
    tokens[`access token ${Object.keys(tokens).length + 1}`] = token;
    return token;
  };
  // kubectl (and so the plugin it starts) under the argv trace, once it is on.
  const kubectl = (args, kubeEnv = env) => {
    const traced = argvWatch ? argvWatch.wrap(KUBECTL, args, kubeEnv) : { file: KUBECTL, args, env: kubeEnv };
    return run(traced.file, traced.args, { env: traced.env });
  };
  const show = (what, result) => `${what} -> exit ${result.code}\n  stdout: ${redact(result.stdout, seen).slice(0, 600)}`
    + `\n  stderr: ${redact(result.stderr, seen).slice(0, 600)}`;
  // The plugin as kubectl runs it: KUBERNETES_EXEC_INFO in the environment (or not), no stdin.
  const plugin = (args, execInfo) => {
    const pluginEnv = { ...env };
    if (execInfo !== undefined) pluginEnv.KUBERNETES_EXEC_INFO = execInfo;
    return runCli(['kubectl-credential', ...args], { env: pluginEnv });
  };
  const execInfo = (apiVersion, interactive = false, cluster = { server: api.url, 'certificate-authority-data': caData }) =>
    JSON.stringify({ kind: 'ExecCredential', apiVersion, spec: cluster ? { interactive, cluster } : { interactive } });
  // What setup-kubectl records for cluster test in the plugin's arguments.
  const recorded = () => ['--server', api.url, '--certificate-authority-data', caData];
  // Everything stored that a plugin call must not change.
  const snapshot = () => storedDigests(home);

  before(async () => {
    server = await startServer('devserver', { interval: 1 });
    home = await makeHome();
    kubeconfig = path.join(home.home, 'kube', 'config');
    await fs.mkdir(path.dirname(kubeconfig), { mode: 0o700 });
    env = {
      ...home.env,
      KUBECONFIG: kubeconfig,
      PATH: process.env.PATH,
      LANG: 'C.UTF-8',
    };
    for (const name of ['LD_LIBRARY_PATH', 'ASAN_OPTIONS', 'UBSAN_OPTIONS', 'TSAN_OPTIONS']) {
      if (process.env[name]) env[name] = process.env[name];
    }
    const { result, argv } = await loginWithApproval(server, home, { env });
    assert.equal(result.code, EXIT.ok, describeRun(argv, result));
    const pkiDir = path.join(home.home, 'pki');
    await fs.mkdir(pkiDir);
    pki = await makeTestPki(pkiDir);
    caData = (await fs.readFile(pki.caFile)).toString('base64');
    const pki2Dir = path.join(home.home, 'pki', 'other');
    await fs.mkdir(pki2Dir);
    pki2 = await makeTestPki(pki2Dir);
    api = await startApiServer(pki, (token) => server.introspect(token));
    api2 = await startApiServer(pki, (token) => server.introspect(token));
    const version = await kubectl(['version', '--client', '-o', 'json']);
    assert.equal(version.code, 0, show('kubectl version', version));
    kubectlMinor = Number.parseInt(JSON.parse(version.stdout).clientVersion.minor, 10);
    const set = await kubectl(['config', 'set-cluster', 'test', `--server=${api.url}`, `--certificate-authority=${pki.caFile}`]);
    assert.equal(set.code, 0, show('kubectl config set-cluster', set));
    argvWatch = await traceArgv();
  });
  after(async () => {
    killAllChildren();
    await argvWatch?.stop();
    await api?.stop();
    await api2?.stop();
    await server?.stop();
    await home?.remove();
  });

  test('the plugin prints an ExecCredential in the apiVersion KUBERNETES_EXEC_INFO names', async () => {
    const token = await storedToken();
    const status = JSON.parse((await cli(['status', '--json'], EXIT.ok)).stdout);
    const expected = new Date(status.expires_at * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    for (const [info, apiVersion] of [[execInfo(V1), V1], [execInfo(V1BETA1), V1BETA1]]) {
      const result = await plugin(recorded(), info);
      assert.ok(result.code === EXIT.ok && result.stderr === '', show(`kubectl-credential (${apiVersion})`, result));
      assert.ok(result.stdout.endsWith('}\n') && result.stdout.split('\n').length === 2, show('one line', result));
      const credential = JSON.parse(result.stdout);
      assert.deepEqual(Object.keys(credential), ['apiVersion', 'kind', 'status']);
      assert.equal(credential.apiVersion, apiVersion);
      assert.equal(credential.kind, 'ExecCredential');
      assert.deepEqual(Object.keys(credential.status), ['expirationTimestamp', 'token']);
      assert.equal(credential.status.expirationTimestamp, expected);
      assert.ok(credential.status.token === token, 'status.token is the stored access token');
    }
    // spec.interactive true changes nothing: the answer is the same, nothing is asked.
    const interactive = await plugin(recorded(), execInfo(V1, true));
    assert.ok(interactive.code === EXIT.ok && JSON.parse(interactive.stdout).status.token === token, show('interactive', interactive));
  });

  test('a broken KUBERNETES_EXEC_INFO: one line, exit 2, stdout empty, nothing stored changes', async () => {
    const before = await snapshot();
    const broken = [
      '', 'not json', '[]', '{"kind":"ExecCredential"}', `{"apiVersion":"client.authentication.k8s.io/v1alpha1"}`,
      `{"apiVersion":"${V1}","kind":"Pod"}`, `{"apiVersion":"${V1}","spec":{"interactive":"yes"}}`,
      `{"apiVersion":"${V1}","spec":7}`, `{"apiVersion":"${V1}","spec":{"cluster":"x"}}`,
      `{"apiVersion":"${V1}","spec":{"cluster":{}}}`, `{"apiVersion":"${V1}","spec":{"cluster":{"server":7}}}`,
      `{"apiVersion":"${V1}","spec":{"cluster":{"server":"${api.url}","certificate-authority-data":"-----BEGIN"}}}`,
      `{"apiVersion":"${V1}","spec":{"cluster":{"server":"${api.url}","insecure-skip-tls-verify":"yes"}}}`,
    ];
    for (const info of broken) {
      const result = await plugin(recorded(), info);
      const what = `KUBERNETES_EXEC_INFO=${JSON.stringify(info)} kubectl-credential`;
      assert.ok(result.code === EXIT.usage, show(what, result));
      assert.equal(result.stdout, '', show(what, result));
      assert.match(result.stderr, /^devicelogin kubectl-credential: KUBERNETES_EXEC_INFO[ '][^\n]+\n$/, show(what, result));
    }
    const flag = await plugin([...recorded(), '--min-ttl', '-5'], execInfo(V1));
    assert.ok(flag.code === EXIT.usage && flag.stdout === '', show('--min-ttl -5', flag));
    assert.deepEqual(await snapshot(), before);
  });

  test('a profile that needs a login: exit 5 with one line naming the command, never a login', async () => {
    const before = await snapshot();
    for (const interactive of [false, true]) {
      const result = await plugin(['--profile', 'nobody', ...recorded()], execInfo(V1, interactive));
      assert.ok(result.code === EXIT.notLoggedIn && result.stdout === '', show('kubectl-credential --profile nobody', result));
      assert.match(result.stderr, /^devicelogin kubectl-credential: [^\n]*run: devicelogin login --profile nobody[^\n]*\n$/,
        show('the instruction', result));
    }
    assert.deepEqual(await snapshot(), before);
  });

  test('the token only for the recorded destination: anything else is one line, exit 2, stdout empty', async () => {
    await storedToken();  // fresh: the executable's fast path would answer, so it must refuse (fall through) too
    const before = await snapshot();
    const other = { server: api2.url, 'certificate-authority-data': caData };
    const otherCa = (await fs.readFile(pki2.caFile)).toString('base64');
    const cases = [
      ['another server', recorded(), execInfo(V1, false, other), /about to send the token to https:\/\/127\.0\.0\.1:\d+, not to/],
      ['another scheme', recorded(), execInfo(V1, false, { ...other, server: api.url.replace('https:', 'http:') }), /not to/],
      ['another CA', recorded(), execInfo(V1, false, { server: api.url, 'certificate-authority-data': otherCa }), /another certificate authority/],
      ['no CA', recorded(), execInfo(V1, false, { server: api.url }), /another certificate authority/],
      ['TLS not verified', recorded(), execInfo(V1, false, { server: api.url, 'insecure-skip-tls-verify': true }), /another certificate authority/],
      ['TLS not verified, same CA', recorded(), execInfo(V1, false, { server: api.url, 'certificate-authority-data': caData, 'insecure-skip-tls-verify': true }), /skip TLS verification/],
      ['another TLS name', recorded(), execInfo(V1, false, { server: api.url, 'certificate-authority-data': caData, 'tls-server-name': 'x' }), /TLS server name/],
      ['no spec.cluster', recorded(), execInfo(V1, false, null), /names no spec\.cluster/],
      ['no KUBERNETES_EXEC_INFO', recorded(), undefined, /names no spec\.cluster/],
      ['nothing recorded', [], execInfo(V1), /records no cluster server/],
      ['a recorded CA only', ['--certificate-authority-data', caData], execInfo(V1), /records no cluster server/],
    ];
    for (const [what, args, info, message] of cases) {
      const result = await plugin(args, info);
      assert.ok(result.code === EXIT.usage && result.stdout === '', show(what, result));
      assert.match(result.stderr, /^devicelogin kubectl-credential: [^\n]+\n$/, show(what, result));
      assert.match(result.stderr, message, show(what, result));
    }
    // The same server written differently (case, default port, a trailing slash) is the same server.
    const port = new URL(api.url).port;
    const same = await plugin(['--server', `HTTPS://127.0.0.1:${port}/`, '--certificate-authority-data', caData], execInfo(V1));
    assert.ok(same.code === EXIT.ok && JSON.parse(same.stdout).kind === 'ExecCredential', show('same server', same));
    assert.deepEqual(await snapshot(), before);
  });

  test('setup-kubectl writes the user and context through kubectl config, idempotently', async () => {
    // A cluster whose server is plain http off loopback: refused below (kubectl would send the token unencrypted).
    const plain = await kubectl(['config', 'set-cluster', 'plain', '--server=http://kube.example:8080']);
    assert.equal(plain.code, 0, show('kubectl config set-cluster plain', plain));
    await cli(['setup-kubectl', '--cluster', 'test'], EXIT.ok);
    const first = await fs.readFile(kubeconfig, 'utf8');
    await cli(['setup-kubectl', '--cluster', 'test'], EXIT.ok);
    assert.equal(await fs.readFile(kubeconfig, 'utf8'), first, 'running it again changes nothing');
    const view = JSON.parse((await kubectl(['config', 'view', '-o', 'json'])).stdout);
    const user = view.users.find((u) => u.name === 'devicelogin-default');
    assert.ok(user, 'the user entry devicelogin-default exists');
    const exec = user.user.exec;
    assert.equal(await fs.realpath(exec.command), await fs.realpath(cliPath()));
    // The cluster's server and CA are recorded in the exec entry (not in the cluster, which
    // kubectl config set-cluster changes), and kubectl is asked to say which server it talks to.
    assert.deepEqual(exec.args, ['kubectl-credential', '--profile', 'default', ...recorded()]);
    assert.equal(exec.provideClusterInfo, true);
    assert.equal(exec.apiVersion, kubectlMinor >= 22 ? V1 : V1BETA1);
    if (kubectlMinor >= 22) assert.equal(exec.interactiveMode, 'Never');
    const context = view.contexts.find((c) => c.name === 'test');
    assert.deepEqual(context.context, { cluster: 'test', user: 'devicelogin-default' });
    // Bad arguments: one line, exit 2, the kubeconfig as it was.
    for (const argv of [['setup-kubectl', '--cluster', 'no-such-cluster'], ['setup-kubectl', '--cluster', 'test', '--api-version', 'v2'],
      ['setup-kubectl', '--cluster', 'te st'], ['setup-kubectl', '--cluster', 'test', '--user', 'a.b'], ['setup-kubectl'],
      ['setup-kubectl', '--cluster', 'plain', '--user', 'dl-plain']]) {
      const r = await cli(argv, EXIT.usage);
      assert.equal(r.stderr.trim().split('\n').length, 1, describeRun(argv, r));
    }
    const http = await cli(['setup-kubectl', '--cluster', 'plain'], EXIT.usage);
    assert.match(http.stderr, /server http:\/\/kube\.example:8080 is not https: kubectl would send the token unencrypted/);
    // No kubectl on PATH: one line naming it, exit 2.
    const noKubectl = await runCli(['setup-kubectl', '--cluster', 'test'], { env: { ...env, PATH: '/nonexistent' } });
    assert.equal(noKubectl.code, EXIT.usage, describeRun(['setup-kubectl (no kubectl)'], noKubectl));
    assert.match(noKubectl.stderr, /^devicelogin setup-kubectl: cannot run kubectl[^\n]*\n$/);
    assert.equal(await fs.readFile(kubeconfig, 'utf8'), first);
  });

  test('kubectl get --raw /version signs its request with the stored token, in both apiVersions', async () => {
    const token = await storedToken();
    const versions = kubectlMinor >= 22 ? ['v1', 'v1beta1'] : ['v1beta1'];
    for (const version of versions) {
      const context = `ctx-${version}`;
      await cli(['setup-kubectl', '--cluster', 'test', '--api-version', version, '--user', `dl-${version}`, '--context', context], EXIT.ok);
      const before = api.seen.tokens.length;
      const result = await kubectl(['--context', context, 'get', '--raw', '/version']);
      assert.ok(result.code === 0, show(`kubectl --context ${context} get --raw /version`, result));
      assert.equal(JSON.parse(result.stdout).gitVersion, 'v1.32.0-devicelogin-test');
      const sent = api.seen.tokens.slice(before);
      assert.ok(sent.length >= 1 && sent.every((t) => t === token), `kubectl sent the stored token (${sent.length} request(s))`);
    }
    // Through the context setup-kubectl made by default.
    const result = await kubectl(['--context', 'test', 'get', '--raw', '/version']);
    assert.ok(result.code === 0, show('kubectl --context test get --raw /version', result));
  });

  test('kubectl pointed at another server gets no token: --server, set-cluster after setup, another CA, no TLS verification', async () => {
    const token = await storedToken();
    await cli(['setup-kubectl', '--cluster', 'test', '--user', 'dl-dest', '--context', 'ctx-dest'], EXIT.ok);
    // kubectl runs this wrapper instead of the plugin: it passes the plugin's answer through and
    // keeps its exit status, its stderr and the size of its stdout (never the stdout itself).
    const logDir = path.join(home.home, 'plugin-log');
    await fs.mkdir(logDir, { recursive: true });
    const wrapper = path.join(home.home, 'plugin-wrapper.sh');
    await fs.writeFile(wrapper, `#!/bin/sh
rm -f '${logDir}/rc' '${logDir}/err' '${logDir}/outbytes'
{ '${cliPath()}' "$@" 2>'${logDir}/err'; echo $? >'${logDir}/rc'; } | { tee /dev/fd/3 | wc -c >'${logDir}/outbytes'; } 3>&1
cat '${logDir}/err' >&2
exit $(cat '${logDir}/rc')
`, { mode: 0o700 });
    // A new --exec-command drops the entry's args: they are given again, as setup-kubectl wrote them.
    const useWrapper = async () => {
      const view = JSON.parse((await kubectl(['config', 'view', '-o', 'json'])).stdout);
      const { args } = view.users.find((u) => u.name === 'dl-dest').user.exec;
      assert.ok(args.includes('--server'), 'setup-kubectl recorded the server');
      const set = await kubectl(['config', 'set-credentials', 'dl-dest', `--exec-command=${wrapper}`, ...args.map((a) => `--exec-arg=${a}`)]);
      assert.equal(set.code, 0, show('kubectl config set-credentials --exec-command', set));
    };
    await useWrapper();
    const pluginRun = async () => ({
      code: Number((await fs.readFile(path.join(logDir, 'rc'), 'utf8')).trim()),
      stdoutBytes: Number((await fs.readFile(path.join(logDir, 'outbytes'), 'utf8')).trim()),
      stderr: await fs.readFile(path.join(logDir, 'err'), 'utf8'),
    });
    const refused = async (what, args, message) => {
      const before = { one: api.seen.requests.length, two: api2.seen.requests.length, tokens: api.seen.tokens.length + api2.seen.tokens.length };
      const result = await kubectl(args);
      assert.notEqual(result.code, 0, show(what, result));
      const run = await pluginRun();
      assert.ok(run.code === EXIT.usage && run.stdoutBytes === 0, `${what}: the plugin exited ${run.code} with ${run.stdoutBytes} bytes on stdout`);
      assert.match(run.stderr, /^devicelogin kubectl-credential: [^\n]+\n$/, `${what}: ${redact(run.stderr, seen)}`);
      assert.match(run.stderr, message, `${what}: ${redact(run.stderr, seen)}`);
      // kubectl shows the plugin's line; and no request reached either server (so no token, no header).
      assert.ok(result.stderr.includes(run.stderr.trim()), show(what, result));
      assert.deepEqual(api2.seen.requests.slice(before.two), [], `${what}: the second API server got a request`);
      assert.deepEqual(api.seen.requests.slice(before.one), [], `${what}: the first API server got a request`);
      assert.equal(api.seen.tokens.length + api2.seen.tokens.length, before.tokens, `${what}: a token was sent`);
    };
    // The positive control: through the recorded cluster, kubectl gets the token and sends it.
    const ok = await kubectl(['--context', 'ctx-dest', 'get', '--raw', '/version']);
    assert.ok(ok.code === 0, show('kubectl --context ctx-dest', ok));
    assert.ok((await pluginRun()).code === EXIT.ok && api.seen.tokens.at(-1) === token, 'the recorded cluster got the token');

    // 1. kubectl --server https://127.0.0.1:<other>, the same user and CA.
    await refused('kubectl --server <other>', ['--context', 'ctx-dest', '--server', api2.url, 'get', '--raw', '/version'],
      new RegExp(`about to send the token to ${api2.url.replace(/[.]/g, '\\.')}, not to ${api.url.replace(/[.]/g, '\\.')}`));
    // 2. The cluster's server changed after setup (kubectl config set-cluster): still the old record.
    const moved = await kubectl(['config', 'set-cluster', 'test', `--server=${api2.url}`]);
    assert.equal(moved.code, 0, show('kubectl config set-cluster --server <other>', moved));
    await refused('set-cluster --server <other>', ['--context', 'ctx-dest', 'get', '--raw', '/version'], /about to send the token to/);
    // Running setup-kubectl again records the new server: now it gets the token (and the old one is refused).
    await cli(['setup-kubectl', '--cluster', 'test', '--user', 'dl-dest', '--context', 'ctx-dest'], EXIT.ok);
    await useWrapper();
    const before2 = api2.seen.tokens.length;
    const moved2 = await kubectl(['--context', 'ctx-dest', 'get', '--raw', '/version']);
    assert.ok(moved2.code === 0, show('kubectl after setup-kubectl again', moved2));
    assert.ok(api2.seen.tokens.length > before2 && api2.seen.tokens.slice(before2).every((t) => t === token), 'the newly recorded server got the token');
    await refused('kubectl --server <the old one>', ['--context', 'ctx-dest', '--server', api.url, 'get', '--raw', '/version'], /not to/);
    const back = await kubectl(['config', 'set-cluster', 'test', `--server=${api.url}`]);
    assert.equal(back.code, 0, show('kubectl config set-cluster back', back));
    await cli(['setup-kubectl', '--cluster', 'test', '--user', 'dl-dest', '--context', 'ctx-dest'], EXIT.ok);
    await useWrapper();
    // 3. The same server with another CA (kubectl --certificate-authority, or set-cluster), or without TLS verification.
    await refused('kubectl --certificate-authority <other CA>', ['--context', 'ctx-dest', `--certificate-authority=${pki2.caFile}`,
      'get', '--raw', '/version'], /another certificate authority/);
    await refused('kubectl --insecure-skip-tls-verify --server <other>', ['--context', 'ctx-dest', '--insecure-skip-tls-verify',
      '--server', api2.url, 'get', '--raw', '/version'], /not to/);
    await refused('kubectl --insecure-skip-tls-verify', ['--context', 'ctx-dest', '--insecure-skip-tls-verify', 'get', '--raw', '/version'],
      /another certificate authority|skip TLS verification/);
    const final = await kubectl(['--context', 'ctx-dest', 'get', '--raw', '/version']);
    assert.ok(final.code === 0, show('kubectl --context ctx-dest (restored)', final));
  });

  test('an expiring token is refreshed before kubectl gets it; the old one is not sent', async () => {
    const old = await storedToken();
    await cli(['setup-kubectl', '--cluster', 'test', '--user', 'dl-refresh', '--context', 'ctx-refresh'], EXIT.ok);
    // The plugin with a --min-ttl longer than the token lives: it refreshes first.
    const set = await kubectl(['config', 'set-credentials', 'dl-refresh', '--exec-arg=kubectl-credential',
      '--exec-arg=--profile', '--exec-arg=default', ...recorded().map((a) => `--exec-arg=${a}`),
      '--exec-arg=--min-ttl', '--exec-arg=100000000']);
    assert.equal(set.code, 0, show('kubectl config set-credentials', set));
    const before = api.seen.tokens.length;
    const result = await kubectl(['--context', 'ctx-refresh', 'get', '--raw', '/version']);
    assert.ok(result.code === 0, show('kubectl get --raw /version (refresh)', result));
    const fresh = await storedToken();
    assert.ok(fresh !== old, 'the stored token was refreshed');
    const sent = api.seen.tokens.slice(before);
    assert.ok(sent.length >= 1 && sent.every((t) => t === fresh), 'kubectl sent the refreshed token only');
  });

  test('kubectl with a profile that needs a login fails with the plugin\'s instruction, and does not hang', async () => {
    await cli(['setup-kubectl', '--cluster', 'test', '--profile', 'nobody', '--context', 'ctx-nobody'], EXIT.ok);
    const result = await kubectl(['--context', 'ctx-nobody', 'get', '--raw', '/version']);
    assert.notEqual(result.code, 0, show('kubectl as nobody', result));
    assert.match(result.stderr, /devicelogin kubectl-credential: [^\n]*run: devicelogin login --profile nobody/, show('kubectl as nobody', result));
    assert.equal(result.stdout, '');
  });

  test('setup-kubectl --remove takes out the user and its context; the cluster stays', async () => {
    for (let i = 0; i < 2; i += 1) await cli(['setup-kubectl', '--cluster', 'test', '--remove'], EXIT.ok);
    const view = JSON.parse((await kubectl(['config', 'view', '-o', 'json'])).stdout);
    assert.equal((view.users ?? []).some((u) => u.name === 'devicelogin-default'), false);
    assert.equal((view.contexts ?? []).some((c) => c.name === 'test'), false);
    assert.ok(view.clusters.some((c) => c.name === 'test'));
    assert.ok((view.users ?? []).some((u) => u.name === 'dl-v1beta1'), 'other users are left alone');
  });

  test('no token reached any command line while kubectl and the plugin ran', async () => {
    await storedToken();
    const watch = await argvWatch.stop();
    argvWatch = undefined;
    // What the trace saw proves it covered the runs: kubectl itself, and the plugin it started.
    assert.ok(watch.saw(/kubectl .*get --raw \/version/), `kubectl's command lines were traced (${watch.commands} in all)`);
    assert.ok(watch.saw(/ kubectl-credential( |$)/), `the plugin's command line as kubectl ran it was traced (${watch.commands} in all)`);
    assert.deepEqual(watch.found(tokens), [], `a token was in argv (of ${watch.commands} command lines)`);
    // And nothing outside the store holds one: the kubeconfig names the plugin, never a token.
    for (const file of [kubeconfig, ...(await listFiles(path.join(home.home, 'pki')))]) {
      const text = await fs.readFile(file, 'utf8');
      for (const value of Object.values(tokens)) assert.ok(!text.includes(value), `a token is in ${path.basename(file)}`);
    }
  });
});

