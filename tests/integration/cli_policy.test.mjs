// The machine policy (/etc/devicelogin/policy.json, fixed at build time) against a real server, with
// the CLI run as a throwaway non-root user and the policy owned by root. Runs inside
// scripts/with-policy-dir.sh: a private mount namespace whose /etc/devicelogin is this run's own
// directory, so that the machine's policy is never touched and parallel suites never see this one.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  cliPath, describeRun, loginWithApproval, makeHome, pythonEnv, runCli, serverKinds, sleep, startServer,
} from './harness.mjs';

const POLICY = '/etc/devicelogin/policy.json';

let skip = cliPath() ? false : 'DEVICELOGIN_BIN is not set';
if (!skip && process.getuid?.() !== 0) skip = 'needs root to create a throwaway user and own the policy';
if (!skip && !process.env.WITH_POLICY_DIR) skip = 'needs scripts/with-policy-dir.sh (a private /etc/devicelogin)';
if (!skip && spawnSync('sh', ['-c', 'command -v useradd && command -v userdel']).status !== 0) skip = 'needs useradd and userdel';

/** A throwaway user (no login shell) whose HOME is a fresh private temp directory it owns. */
async function makeUser() {
  const name = `dlpol${crypto.randomBytes(4).toString('hex')}`;
  const home = await makeHome();
  const added = spawnSync('useradd', ['-M', '-d', home.home, '-s', '/usr/sbin/nologin', '-U', name], { encoding: 'utf8' });
  if (added.status !== 0) {
    await home.remove();
    throw new Error(`useradd failed: ${added.stderr}`);
  }
  const id = (flag) => Number(spawnSync('id', [flag, name], { encoding: 'utf8' }).stdout.trim());
  const user = { name, uid: id('-u'), gid: id('-g'), home, env: home.env };
  await fs.chown(home.home, user.uid, user.gid);
  user.remove = async () => {
    spawnSync('userdel', [name], { encoding: 'utf8' });
    await home.remove();
  };
  return user;
}

/** Writes the policy as root (0644), or removes it for `undefined`. */
async function setPolicy(policy, { text, mode = 0o644, owner } = {}) {
  await fs.rm(POLICY, { force: true });
  if (policy === undefined && text === undefined) return;
  await fs.writeFile(POLICY, text ?? JSON.stringify(policy), { mode });
  await fs.chmod(POLICY, mode);
  if (owner) await fs.chown(POLICY, owner.uid, owner.gid);
}

/** The build's Python package (python/devicelogin with its native parts), or why not. */
const BUILD = process.env.DEVICELOGIN_BUILD_DIR;
const SOURCE = process.env.DEVICELOGIN_SOURCE_DIR;
function pythonSkip() {
  if (!BUILD || !SOURCE) return 'DEVICELOGIN_BUILD_DIR / DEVICELOGIN_SOURCE_DIR not set';
  return spawnSync('python3', ['--version']).status === 0 ? false : 'needs python3';
}
/** A directory (readable by every user) holding the package as installed: sources + native parts. */
async function pythonPackage() {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'devicelogin-policy-py-'));
  await fs.chmod(dir, 0o755);
  const pkg = path.join(dir, 'devicelogin');
  await fs.mkdir(pkg, { mode: 0o755 });
  for (const [from, names] of [[path.join(SOURCE, 'python', 'devicelogin'), null], [path.join(BUILD, 'lib', 'python', 'devicelogin'), null]]) {
    for (const name of names ?? await fs.readdir(from)) {
      if (name === '__pycache__') continue;
      await fs.copyFile(path.join(from, name), path.join(pkg, name));
      await fs.chmod(path.join(pkg, name), 0o755);
    }
  }
  return dir;
}

/** An HTTP server that counts every request it gets (and answers 404): a server logins must not reach. */
async function startCountingServer() {
  let count = 0;
  const srv = http.createServer((req, res) => {
    count += 1;
    res.writeHead(404).end();
  });
  await new Promise((resolve) => { srv.listen(0, '127.0.0.1', resolve); });
  return {
    url: `http://127.0.0.1:${srv.address().port}`,
    requests: () => count,
    stop: () => new Promise((resolve) => { srv.close(resolve); }),
  };
}

for (const kind of serverKinds()) {
  describe(`machine policy (${kind})`, { skip, concurrency: false }, () => {
    let server;
    let user;
    let elsewhere;
    const run = (args, opts = {}) => runCli(args, { env: user.env, user, ...opts });
    const profileArgs = ['--profile', 'work'];
    const login = (extra = []) => loginWithApproval(server, user.home, {
      user, env: user.env, extra: [...profileArgs, ...extra], store: 'file',
    });
    const tokenFile = () => path.join(user.home.stateDir, 'tokens', 'work.json');
    // The audit trail's records (docs/audit.md), oldest first.
    const auditRecords = async () => (await fs.readFile(path.join(user.home.stateDir, 'audit.jsonl'), 'utf8').catch(() => ''))
      .split('\n').filter(Boolean).map((line) => JSON.parse(line));

    before(async () => {
      server = await startServer(kind);
      user = await makeUser();
      elsewhere = await startCountingServer();
    });
    after(async () => {
      await setPolicy(undefined);
      await elsewhere?.stop();
      await server?.stop();
      await user?.remove();
    });

    test('issuers: a login elsewhere, or with another client, is refused before any request', async () => {
      await setPolicy({ issuers: [{ issuer: server.issuer, client_ids: [server.clientId] }] });
      const args = ['login', ...profileArgs, '--issuer', elsewhere.url, '--client-id', server.clientId,
        '--no-browser', '--no-qr', '--store', 'file'];
      const refused = await run(args);
      assert.equal(refused.code, 2, describeRun(args, refused));
      assert.match(refused.stderr, /refused by the machine policy \/etc\/devicelogin\/policy\.json: issuer http:\/\/127\.0\.0\.1:\d+ is not allowed/);
      assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
      assert.equal(elsewhere.requests(), 0, 'the refused issuer got a request');

      const otherClient = await loginWithApproval(server, user.home, {
        user, env: user.env, approval: 'none', store: 'file',
        args: ['login', ...profileArgs, '--issuer', server.issuer, '--client-id', 'someone-else', '--json',
          '--no-browser', '--no-qr', '--store', 'file'],
      }).catch((error) => ({ error }));
      // Refused before a device code was asked for: the CLI exits without a device_code line.
      assert.ok(otherClient.error, 'a login with another client reached the device code');
      assert.match(otherClient.error.message, /client "someone-else" is not allowed/);

      const allowed = await login();
      assert.equal(allowed.result.code, 0, describeRun(allowed.argv, allowed.result));
      await run(['logout', ...profileArgs]);
    });

    test('stores: a store the policy does not allow is refused, at login and for a stored session', async () => {
      await setPolicy({ stores: ['kernel-keyring'] });
      const args = ['login', ...profileArgs, '--issuer', elsewhere.url, '--client-id', 'x', '--no-browser', '--no-qr',
        '--store', 'file'];
      const refused = await run(args);
      assert.equal(refused.code, 2, describeRun(args, refused));
      assert.match(refused.stderr, /token store "file" is not allowed \(allowed: kernel-keyring\)/);
      assert.equal(elsewhere.requests(), 0);

      // A session stored before the policy said so hands out nothing.
      await setPolicy(undefined);
      const signedIn = await login();
      assert.equal(signedIn.result.code, 0, describeRun(signedIn.argv, signedIn.result));
      await setPolicy({ stores: ['kernel-keyring'] });
      const token = await run(['token', ...profileArgs]);
      assert.equal(token.code, 2, describeRun(['token'], token));
      assert.equal(token.stdout, '');
      assert.match(token.stderr, /token store "file" is not allowed/);
      await setPolicy(undefined);
      await run(['logout', ...profileArgs]);
    });

    test('max_session_hours: after it the tokens are revoked and deleted, whatever refresh could do', async () => {
      await setPolicy({ max_session_hours: 8, idle_hours: 8 });
      const signedIn = await login();
      assert.equal(signedIn.result.code, 0, describeRun(signedIn.argv, signedIn.result));
      const status = await run(['status', ...profileArgs]);
      assert.equal(status.code, 0, describeRun(['status'], status));
      assert.match(status.stderr, /Policy: +session ends in (7 h 5\d min|8 h), idle limit 8 h/);
      const token = await run(['token', ...profileArgs]);
      assert.equal(token.code, 0, describeRun(['token'], token, [token.stdout]));
      const accessToken = token.stdout.trim();
      assert.equal((await server.introspect(accessToken)).active, true);

      // 0.0003 h is 1.08 s: the login is certainly older than that after this wait.
      await setPolicy({ max_session_hours: 0.0003 });
      await sleep(1500);
      const ended = await run(['token', ...profileArgs]);
      assert.equal(ended.code, 5, describeRun(['token'], ended, [accessToken]));
      assert.equal(ended.stdout, '');
      assert.match(ended.stderr, /the session ended: the machine policy \/etc\/devicelogin\/policy\.json limits a session to 0\.0003 h from sign-in; its tokens were revoked and deleted/);
      assert.equal((await server.introspect(accessToken)).active, false, 'the access token is still active');
      await assert.rejects(fs.stat(tokenFile()), { code: 'ENOENT' });
      const endedRecord = (await auditRecords()).filter((r) => r.event === 'session_ended').at(-1);
      assert.ok(endedRecord, 'the session the policy ended is recorded');
      assert.equal(endedRecord.outcome, 'revoked');
      assert.match(endedRecord.reason, /limits a session to 0\.0003 h from sign-in/);
      assert.doesNotMatch(JSON.stringify(await auditRecords()), new RegExp(accessToken), 'no token in the audit trail');
    });

    test('idle_hours: no use for that long ends the session the same way', async () => {
      await setPolicy({ idle_hours: 1 });
      const signedIn = await login();
      assert.equal(signedIn.result.code, 0, describeRun(signedIn.argv, signedIn.result));
      const token = await run(['token', ...profileArgs]);
      assert.equal(token.code, 0, describeRun(['token'], token, [token.stdout]));
      const accessToken = token.stdout.trim();
      await setPolicy({ idle_hours: 0.0003, max_session_hours: 100 });
      await sleep(1500);
      const ended = await run(['token', ...profileArgs]);
      assert.equal(ended.code, 5, describeRun(['token'], ended, [accessToken]));
      assert.match(ended.stderr, /the session ended: it was not used for 0\.0003 h/);
      const endedRecord = (await auditRecords()).filter((r) => r.event === 'session_ended').at(-1);
      assert.ok(endedRecord, 'the session the idle limit ended is recorded');
      assert.equal(endedRecord.outcome, 'revoked');
      assert.match(endedRecord.reason, /it was not used for 0\.0003 h/);
      assert.equal((await server.introspect(accessToken)).active, false, 'the access token is still active');
      await assert.rejects(fs.stat(tokenFile()), { code: 'ENOENT' });
    });

    test('the Python package obeys it too (its native fast path steps aside)', { skip: pythonSkip() }, async () => {
      const pkg = await pythonPackage();
      const python = (code) => spawnSync('python3', ['-c', code], {
        uid: user.uid, gid: user.gid, encoding: 'utf8', timeout: 20000,
        env: pythonEnv({ PATH: process.env.PATH ?? '/usr/bin:/bin', ...user.env, PYTHONPATH: pkg }),
      });
      const script = `
import sys, devicelogin
try:
    sys.stdout.write(devicelogin.Session('work').token().reveal())
except devicelogin.ReloginRequired as error:
    sys.stderr.write('relogin: %s' % error); sys.exit(5)
except devicelogin.DeviceLoginError as error:
    sys.stderr.write('error: %s' % error); sys.exit(2)
`;
      try {
        await setPolicy(undefined);
        const signedIn = await login();
        assert.equal(signedIn.result.code, 0, describeRun(signedIn.argv, signedIn.result));
        const first = python(script);
        assert.equal(first.status, 0, first.stderr);
        const accessToken = first.stdout;
        await setPolicy({ max_session_hours: 0.0003 });
        await sleep(1500);
        const ended = python(script);
        assert.equal(ended.status, 5, `python: ${ended.stderr}`);
        assert.equal(ended.stdout, '');
        assert.match(ended.stderr, /limits a session to 0\.0003 h from sign-in; its tokens were revoked and deleted/);
        assert.equal((await server.introspect(accessToken)).active, false, 'the access token is still active');
      } finally {
        await fs.rm(pkg, { recursive: true, force: true });
      }
    });

    test('helpers: only the helpers the policy names hand out tokens; `token` still does', async () => {
      await setPolicy(undefined);
      const signedIn = await login();
      assert.equal(signedIn.result.code, 0, describeRun(signedIn.argv, signedIn.result));
      await setPolicy({ helpers: ['kubectl'] });
      const exec = await run(['exec', ...profileArgs, '--', 'true']);
      assert.equal(exec.code, 2, describeRun(['exec'], exec));
      assert.match(exec.stderr, /does not let exec hand out tokens \(allowed: kubectl\)/);
      const git = await run(['git-credential', ...profileArgs, '--host', 'git.example.com', 'get'],
        { input: 'protocol=https\nhost=git.example.com\n\n' });
      assert.equal(git.code, 2, describeRun(['git-credential'], git));
      assert.equal(git.stdout, '');
      assert.match(git.stderr, /does not let git hand out tokens/);
      // Each refusal is in the audit trail with its reason, and no token.
      const refusals = (await auditRecords()).filter((r) => r.event === 'refusal' && r.detail === 'machine policy');
      for (const consumer of ['exec', 'git']) {
        const refusal = refusals.find((r) => r.consumer === consumer);
        assert.ok(refusal, `the ${consumer} refusal is recorded: ${JSON.stringify(refusals)}`);
        assert.equal(refusal.outcome, 'refused');
        assert.match(refusal.reason, new RegExp(`does not let ${consumer} hand out tokens`));
        assert.equal(refusal.token_id ?? '', '');
      }
      const token = await run(['token', ...profileArgs]);
      assert.equal(token.code, 0, describeRun(['token'], token, [token.stdout]));
      await setPolicy(undefined);
      await run(['logout', ...profileArgs]);
    });

    test('a policy the user owns, or anyone may write, stops every command (even the fast path)', async () => {
      await setPolicy(undefined);
      const signedIn = await login();
      assert.equal(signedIn.result.code, 0, describeRun(signedIn.argv, signedIn.result));
      for (const [options, problem] of [
        [{ owner: user }, new RegExp(`it is owned by uid ${user.uid}, not root`)],
        [{ mode: 0o666 }, /it is writable by group or others/],
      ]) {
        await setPolicy({}, options);
        for (const args of [['token', ...profileArgs], ['status', ...profileArgs], ['policy']]) {
          const result = await run(args);
          assert.equal(result.code, 2, describeRun(args, result, [result.stdout]));
          assert.equal(result.stdout, '');
          assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
          assert.match(result.stderr, /^devicelogin: the machine policy \/etc\/devicelogin\/policy\.json is not honoured: /);
          assert.match(result.stderr, problem);
        }
      }
      await setPolicy(undefined);
      await run(['logout', ...profileArgs]);
    });

    test('the environment cannot point at another policy', async () => {
      await setPolicy({ helpers: [] });
      const decoy = path.join(user.home.home, 'policy.json');
      await fs.writeFile(decoy, '{}');
      const env = {
        ...user.env, DEVICELOGIN_POLICY: decoy, DEVICELOGIN_POLICY_PATH: decoy, DEVICELOGIN_POLICY_FILE: decoy,
        XDG_CONFIG_DIRS: user.home.home, DEVICELOGIN_NO_POLICY: '1',
      };
      const exec = await runCli(['exec', ...profileArgs, '--', 'true'], { env, user });
      assert.equal(exec.code, 2, describeRun(['exec'], exec));
      assert.match(exec.stderr, /the machine policy \/etc\/devicelogin\/policy\.json does not let exec hand out tokens/);
      const shown = await runCli(['policy', '--json'], { env, user });
      assert.equal(shown.code, 0, describeRun(['policy'], shown));
      const doc = JSON.parse(shown.stdout);
      assert.equal(doc.path, POLICY);
      assert.deepEqual(doc.values.helpers, { value: [], source: `machine policy ${POLICY}` });
      assert.equal(doc.values.stores.source, 'default');
    });

    test('a bad policy: one line naming the file and the key, exit 2, nothing stored changes', async () => {
      await setPolicy(undefined);
      const signedIn = await login();
      assert.equal(signedIn.result.code, 0, describeRun(signedIn.argv, signedIn.result));
      const stored = await fs.readFile(tokenFile());
      await setPolicy(undefined, { text: '{"stores": ["file"], "max_session_hours": "8"}' });
      for (const args of [['token', ...profileArgs], ['logout', ...profileArgs], ['refresh', ...profileArgs]]) {
        const result = await run(args);
        assert.equal(result.code, 2, describeRun(args, result, [result.stdout]));
        assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
        assert.match(result.stderr, /the machine policy \/etc\/devicelogin\/policy\.json is invalid: key "max_session_hours": expected a number of hours/);
      }
      assert.deepEqual(await fs.readFile(tokenFile()), stored, 'the stored tokens changed');
      await setPolicy(undefined);
      await run(['logout', ...profileArgs]);
    });
  });
}
