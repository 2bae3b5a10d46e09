// The canary test (issue 2): run login, token, refresh and logout with --verbose and --json, collect
// every secret the session ever held (access tokens, refresh tokens, ID tokens from the token file
// and from `token`'s stdout; device codes as issued by the server), and assert that none of them,
// nor any 16-character piece of one, appears in any stderr, in any JSON output, or in any file
// under the temporary HOME other than the token store file. Only labels are ever printed.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  cliPath, describeRun, findSecrets, killAllChildren, listFiles, loginWithApproval, makeHome,
  readTokenFile, runCli, serverKinds, startServer,
} from './harness.mjs';

const skip = cliPath() ? false : 'DEVICELOGIN_BIN is not set';

for (const kind of serverKinds()) {
  describe(`canary: no secret leaks from the CLI against ${kind}`, { skip, timeout: 120000 }, () => {
    let server;
    let home;
    before(async () => {
      server = await startServer(kind, { interval: 1 });
      home = await makeHome();
    });
    after(async () => {
      killAllChildren();
      await server?.stop();
      await home?.remove();
    });

    test('login, token, refresh, logout with --verbose --json leak nothing', async (t) => {
      const runs = []; // { name, stdout, stderr, stdoutIsToken }
      const tokenSets = [];
      const storeFiles = new Set();
      const snapshotStore = async () => {
        const stored = await readTokenFile(home);
        if (stored) {
          tokenSets.push(stored.tokens);
          storeFiles.add(stored.file);
        }
        return stored;
      };
      // Every file under HOME, read after each step, since a file may come and go (temp files).
      const fileContents = new Map();
      const snapshotFiles = async () => {
        for (const file of await listFiles(home.home)) {
          try {
            fileContents.set(`${file}#${fileContents.size}`, { file, data: await fs.readFile(file, 'latin1') });
          } catch { /* vanished between listing and reading */ }
        }
      };

      const login = await loginWithApproval(server, home, { extra: ['--verbose'], record: true });
      runs.push({ name: 'login --json --verbose', stdout: login.result.stdout, stderr: login.result.stderr });
      assert.equal(login.result.code, 0, describeRun(login.argv, login.result));
      const first = await snapshotStore();
      assert.ok(first, 'a token file was written');
      await snapshotFiles();

      // --min-ttl longer than the token's lifetime makes `token` refresh, so it talks to the server.
      const tokenArgv = ['token', '--verbose', '--min-ttl', '7200'];
      const token = await runCli(tokenArgv, { env: home.env });
      runs.push({ name: tokenArgv.join(' '), stdout: token.stdout, stderr: token.stderr, stdoutIsToken: true });
      assert.equal(token.code, 0, describeRun(tokenArgv, token, tokenSets.map((s) => s.access_token)));
      await snapshotStore();
      await snapshotFiles();

      const plainToken = await runCli(['token'], { env: home.env });
      runs.push({ name: 'token', stdout: plainToken.stdout, stderr: plainToken.stderr, stdoutIsToken: true });
      assert.equal(plainToken.code, 0, describeRun(['token'], plainToken, tokenSets.map((s) => s.access_token)));

      const refreshArgv = ['refresh', '--json', '--verbose'];
      const refresh = await runCli(refreshArgv, { env: home.env });
      runs.push({ name: refreshArgv.join(' '), stdout: refresh.stdout, stderr: refresh.stderr });
      assert.equal(refresh.code, 0, describeRun(refreshArgv, refresh));
      await snapshotStore();
      await snapshotFiles();

      const statusArgv = ['status', '--json'];
      const status = await runCli(statusArgv, { env: home.env });
      runs.push({ name: statusArgv.join(' '), stdout: status.stdout, stderr: status.stderr });

      const logoutArgv = ['logout', '--json', '--verbose'];
      const logout = await runCli(logoutArgv, { env: home.env });
      runs.push({ name: logoutArgv.join(' '), stdout: logout.stdout, stderr: logout.stderr });
      assert.equal(logout.code, 0, describeRun(logoutArgv, logout));
      await snapshotFiles();

      // The --verbose trace must actually be there, or this test proves nothing.
      assert.ok(login.result.stderr.length > 0, 'login --verbose wrote a trace on stderr');
      assert.ok(refresh.stderr.length > 0, 'refresh --verbose wrote a trace on stderr');

      // Collect the canaries.
      const secrets = [];
      tokenSets.forEach((set, i) => {
        secrets.push({ label: `access token #${i + 1}`, value: set.access_token });
        secrets.push({ label: `refresh token #${i + 1}`, value: set.refresh_token });
        // JWT headers are shared by every token of a server; only the whole ID token is a secret.
        secrets.push({ label: `ID token #${i + 1}`, value: set.id_token, pieces: false });
        if (set.id_token) {
          secrets.push({ label: `ID token #${i + 1} signature`, value: set.id_token.split('.')[2] });
        }
      });
      for (const run of runs.filter((r) => r.stdoutIsToken)) {
        const printed = run.stdout.trim();
        if (printed) secrets.push({ label: `access token printed by \`${run.name}\``, value: printed });
      }
      if (server.supports.deviceCodes) {
        (await server.deviceCodes()).forEach((code, i) => {
          secrets.push({ label: `device code #${i + 1}`, value: code });
        });
        assert.ok(secrets.some((s) => s.label.startsWith('device code')), 'the device code was recorded');
      } else {
        t.diagnostic(`${kind}: device codes are not observable; checking tokens only`);
      }
      assert.ok(secrets.filter((s) => s.value).length >= 4, 'canaries were collected');

      const leaks = [];
      for (const run of runs) {
        for (const label of findSecrets(run.stderr, secrets)) leaks.push(`stderr of \`${run.name}\`: ${label}`);
        if (!run.stdoutIsToken) {
          for (const label of findSecrets(run.stdout, secrets)) leaks.push(`stdout of \`${run.name}\`: ${label}`);
        } else {
          // `token` prints exactly one access token and nothing else: no refresh token, no device code.
          const others = secrets.filter((s) => !s.label.startsWith('access token'));
          for (const label of findSecrets(run.stdout, others)) leaks.push(`stdout of \`${run.name}\`: ${label}`);
        }
      }
      for (const { file, data } of fileContents.values()) {
        if (storeFiles.has(file)) continue;
        const where = path.relative(home.home, file);
        for (const label of findSecrets(data, secrets)) leaks.push(`file ~/${where}: ${label}`);
      }
      const unique = [...new Set(leaks)];
      assert.ok(unique.length === 0, `secrets leaked:\n  ${unique.join('\n  ')}`);
    });
  });
}
