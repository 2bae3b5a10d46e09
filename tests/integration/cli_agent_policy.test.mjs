// The token agent under the machine policy of the agent's machine (/etc/devicelogin/policy.json,
// fixed at build time): its `helpers` list must name `agent` for remote hand-outs, and the policy's
// refusals (an issuer it does not allow, an API origin outside its api_origins) reach the remote
// side as such: one line naming the agent machine's policy and the reason, exit 2 (a policy
// refusal, as locally), nothing handed out, a refusal in the agent's audit trail. The remote side
// is a client of the agent's socket as the forwarded one would be (the OpenSSH path itself is
// cli_agent.test.mjs's). Runs inside scripts/with-policy-dir.sh: a private mount namespace whose
// /etc/devicelogin is this run's own, root's, so that the machine's policy is never touched.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { cliPath, describeRun, loginWithApproval, makeHome, runCli, startCli, startServer } from './harness.mjs';

const POLICY = '/etc/devicelogin/policy.json';
const PROFILE = 'work';
const EXIT = { ok: 0, usage: 2 };

let skip = cliPath() ? false : 'DEVICELOGIN_BIN is not set';
if (!skip && process.getuid?.() !== 0) skip = 'needs root to own the policy';
if (!skip && !process.env.WITH_POLICY_DIR) skip = 'needs scripts/with-policy-dir.sh (a private /etc/devicelogin)';

/** Writes the policy as root (0644), or removes it for `undefined`. */
async function setPolicy(policy) {
  await fs.rm(POLICY, { force: true });
  if (policy === undefined) return;
  await fs.writeFile(POLICY, JSON.stringify(policy), { mode: 0o644 });
  await fs.chmod(POLICY, 0o644);
}

describe('token agent under the machine policy', { skip, timeout: 120000 }, () => {
  let server;
  let local;
  let dir;
  let env;
  let socket;
  const seen = [];
  const auditRecords = async () => (await fs.readFile(path.join(local.stateDir, 'audit.jsonl'), 'utf8').catch(() => ''))
    .split('\n').filter(Boolean).map((line) => JSON.parse(line));
  // The remote side: another HOME, nothing stored, the agent's socket.
  const remoteToken = (argv = ['token', '--profile', PROFILE]) => runCli(argv, { env: { ...env, HOME: dir, DEVICELOGIN_AGENT: socket } });

  before(async () => {
    await setPolicy(undefined);
    server = await startServer('devserver', { interval: 1 });
    local = await makeHome();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'devicelogin-agent-policy-'));
    const { result, argv } = await loginWithApproval(server, local, { extra: ['--profile', PROFILE] });
    assert.equal(result.code, EXIT.ok, describeRun(argv, result));
    const runtime = path.join(dir, 'run');
    await fs.mkdir(runtime, { mode: 0o700 });
    env = { ...local.env, XDG_RUNTIME_DIR: runtime };
    socket = path.join(runtime, 'devicelogin', 'agent.sock');
  });
  after(async () => {
    await setPolicy(undefined);
    await server?.stop();
    await local?.remove();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  test('helpers without "agent": the agent does not start, and one already running refuses each request (exit 2 remotely)', async () => {
    await setPolicy({ helpers: ['exec', 'git'] });
    const refused = await runCli(['agent', '--forward', PROFILE], { env });
    assert.equal(refused.code, EXIT.usage, refused.stderr);
    assert.match(refused.stderr, /^devicelogin agent: the machine policy \/etc\/devicelogin\/policy\.json does not let agent hand out tokens \(allowed: exec, git\).*\n$/);
    const enable = await runCli(['agent', '--enable', '--forward', PROFILE], { env });
    assert.equal(enable.code, EXIT.usage, enable.stderr);

    await setPolicy(undefined);
    const agent = startCli(['agent', '--forward', PROFILE], { env });
    agent.child.stdin.end();
    try {
      await agent.waitForStderr(/listening on/);
      const allowed = await remoteToken();
      seen.push(allowed.stdout.trim());
      assert.equal(allowed.code, EXIT.ok, describeRun(['token'], allowed, seen));
      // Installed while the agent runs: it applies at the next request.
      await setPolicy({ helpers: ['exec', 'git'] });
      const r = await remoteToken();
      seen.push(r.stdout.trim());
      assert.equal(r.code, EXIT.usage, describeRun(['token'], r, seen));
      assert.equal(r.stdout, '', 'no token printed');
      assert.match(r.stderr, /^devicelogin token: the agent at .*: refused by the machine policy on the agent's machine: it does not let agent hand out tokens \(allowed: exec, git\); .*\n$/);
      const record = (await auditRecords()).find((e) => e.event === 'refusal' && e.consumer === 'agent' && /does not let agent/.test(e.reason));
      assert.ok(record, 'the refusal is in the agent machine\'s audit trail');
      assert.equal(record.profile, PROFILE);

      // Named, the agent hands out again.
      await setPolicy({ helpers: ['agent'] });
      const named = await remoteToken();
      seen.push(named.stdout.trim());
      assert.equal(named.code, EXIT.ok, describeRun(['token'], named, seen));
    } finally {
      agent.kill();
      await setPolicy(undefined);
    }
  });

  test('the session\'s own policy refusals (issuer, api_origins) reach the remote side as policy refusals (exit 2)', async () => {
    const agent = startCli(['agent', '--forward', PROFILE], { env });
    agent.child.stdin.end();
    try {
      await agent.waitForStderr(/listening on/);
      await setPolicy({ issuers: [{ issuer: 'https://elsewhere.example' }] });
      const issuer = await remoteToken();
      seen.push(issuer.stdout.trim());
      assert.equal(issuer.code, EXIT.usage, describeRun(['token'], issuer, seen));
      assert.equal(issuer.stdout, '');
      assert.match(issuer.stderr, /^devicelogin token: the agent at .*: refused by the machine policy on the agent's machine: issuer .* is not allowed \(allowed: https:\/\/elsewhere\.example\); .*\n$/);

      await setPolicy({ api_origins: ['https://*.elsewhere.example'] });
      const meta = await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json();
      const api = await remoteToken(['api', '--profile', PROFILE, meta.userinfo_endpoint]);
      assert.equal(api.code, EXIT.usage, describeRun(['api'], api, seen));
      assert.equal(api.stdout, '');
      assert.match(api.stderr, /^devicelogin api: the agent at .*: refused by the machine policy on the agent's machine: .*\n$/);
    } finally {
      agent.kill();
      await setPolicy(undefined);
    }
  });
});
