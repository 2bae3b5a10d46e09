// No orphaned credentials (a token nothing manages can be neither used nor revoked). A store that
// cannot hold a token set is found out before any request that makes tokens; tokens issued but not
// stored are revoked; a re-login revokes the set it replaces.
//
// The kernel-keyring cases run as a real non-root user (root's key quota is 25 MB, a user's
// 20,000 bytes): the test creates a throwaway user with a temporary HOME, fills that user's key
// quota with a filler key in its user keyring (@u), runs the CLI as that user, and removes the
// keys and the user afterwards. They are skipped (not passed) when not run as root or without
// keyctl/useradd. Save failures after issuance cannot be caused on demand from outside: the CLI
// runs with fail_save_preload.so preloaded (built next to the tests; DEVICELOGIN_FAIL_SAVE_PRELOAD
// names it), which makes the rename that completes a save into the home's token directory fail
// with EIO, as a failing disk would.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  cliPath, describeRun, killAllChildren, loginWithApproval, makeHome, readTokenFile, runCli,
  serverKinds, startServer,
} from './harness.mjs';

const EXIT = { ok: 0, storage: 7 };
/** The environment that makes the save of `home`'s tokens fail after the store proved it had room. */
function failSave(home) {
  const preload = process.env.DEVICELOGIN_FAIL_SAVE_PRELOAD;
  assert.ok(preload, 'DEVICELOGIN_FAIL_SAVE_PRELOAD names the preload library');
  // A sanitizer runtime expects to come first in the list of loaded libraries.
  const asan = [process.env.ASAN_OPTIONS, 'verify_asan_link_order=0'].filter(Boolean).join(':');
  return {
    ...home.env, LD_PRELOAD: preload, DEVICELOGIN_TEST_FAIL_RENAME_INTO: path.join(home.stateDir, 'tokens'),
    ASAN_OPTIONS: asan,
  };
}
/** How the save that failSave() causes is reported (src/core/fs.cpp). */
const FAILED_SAVE = /cannot replace \S+: Input\/output error/;

function which(program) {
  return spawnSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' }).status === 0;
}

const skip = cliPath() ? false : 'DEVICELOGIN_BIN is not set';
let userSkip = skip;
if (!userSkip && process.getuid?.() !== 0) userSkip = 'needs root to create a throwaway user';
const rootSkip = skip || (process.getuid?.() !== 0 ? 'needs root to mount a tmpfs' : false);
if (!userSkip && !(which('useradd') && which('userdel') && which('keyctl'))) userSkip = 'needs useradd, userdel and keyctl';

/** Runs `program args` as `user`; { status, stdout, stderr }. */
function runAs(user, program, args, input) {
  const result = spawnSync(program, args, {
    uid: user.uid, gid: user.gid, input, encoding: 'utf8', timeout: 10000,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: user.home.home },
  });
  return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
}

/** The user's kernel key quota from /proc/key-users: { usedBytes, maxBytes } (as root sees it). */
async function keyQuota(uid) {
  const text = await fs.readFile('/proc/key-users', 'utf8');
  for (const line of text.split('\n')) {
    const m = line.match(/^\s*(\d+):\s+\d+\s+\d+\/\d+\s+(\d+)\/(\d+)\s+(\d+)\/(\d+)/);
    if (m && Number(m[1]) === uid) return { usedKeys: Number(m[2]), usedBytes: Number(m[4]), maxBytes: Number(m[5]) };
  }
  const maxBytes = Number((await fs.readFile('/proc/sys/kernel/keys/maxbytes', 'utf8')).trim());
  return { usedKeys: 0, usedBytes: 0, maxBytes };
}

/**
 * A throwaway user (useradd, no login shell) whose HOME is a fresh private temp directory it owns.
 * remove() clears its user and persistent keyrings (as the user) and deletes it and its HOME.
 */
async function makeTestUser() {
  const name = `dltest${crypto.randomBytes(4).toString('hex')}`;
  const home = await makeHome();
  const added = spawnSync('useradd', ['-M', '-d', home.home, '-s', '/usr/sbin/nologin', '-U', name], { encoding: 'utf8' });
  if (added.status !== 0) {
    await home.remove();
    throw new Error(`useradd failed: ${added.stderr}`);
  }
  const id = (flag) => Number(spawnSync('id', [flag, name], { encoding: 'utf8' }).stdout.trim());
  const user = { name, uid: id('-u'), gid: id('-g'), home };
  await fs.chown(home.home, user.uid, user.gid);
  const clearKeys = () => {
    // A new session keyring of the user's own, so that the persistent keyring can be linked into
    // it and cleared; then the user keyring, which holds the filler.
    runAs(user, 'keyctl', ['session', '-', 'sh', '-c', 'keyctl clear "$(keyctl get_persistent @s)"; keyctl clear @u']);
  };
  clearKeys(); // a uid used before may still own keys
  user.clearKeys = clearKeys;
  user.env = home.env;
  user.remove = async () => {
    clearKeys();
    spawnSync('userdel', [name], { encoding: 'utf8' });
    await home.remove();
  };
  return user;
}

/**
 * Fills the user's key quota with a filler key in its user keyring so that `leftBytes` remain
 * (at least the size of the key's description is charged too). Returns the bytes left after.
 */
async function fillQuota(user, leftBytes) {
  await emptyQuota(user);
  const before = await keyQuota(user.uid);
  user.unfilledBytes = before.usedBytes;
  const description = 'devicelogin-test-filler';
  const size = before.maxBytes - before.usedBytes - leftBytes - description.length - 1;
  assert.ok(size > 0 && size <= 32767, `filler size ${size} is possible for a user key`);
  const added = runAs(user, 'keyctl', ['padd', 'user', description, '@u'], 'x'.repeat(size));
  assert.equal(added.status, 0, `keyctl padd as the test user failed: ${added.stderr}`);
  const afterFill = await keyQuota(user.uid);
  return afterFill.maxBytes - afterFill.usedBytes;
}

/**
 * Removes the filler and waits until the kernel has given its bytes back: unlinked keys are
 * garbage-collected asynchronously, so the quota shrinks a moment after `keyctl clear`.
 */
async function emptyQuota(user) {
  runAs(user, 'keyctl', ['clear', '@u']);
  if (user.unfilledBytes === undefined) return;
  const deadline = Date.now() + 10000;
  while ((await keyQuota(user.uid)).usedBytes > user.unfilledBytes) {
    assert.ok(Date.now() < deadline, 'the filler key\'s quota was given back within 10 s');
    await new Promise((resolve) => { setTimeout(resolve, 50); });
  }
  user.unfilledBytes = undefined;
}

/** The token responses the server gave for refresh_token grants, so far. */
async function refreshTokens(server) {
  return (await server.tokens()).filter((t) => t.grant_type === 'refresh_token');
}

for (const kind of serverKinds()) {
  describe(`kernel keyring quota as a non-root user, against ${kind}`, { skip: userSkip, timeout: 240000 }, () => {
    let server;
    let user;
    before(async () => {
      server = await startServer(kind, { interval: 1 });
      user = await makeTestUser();
    });
    after(async () => {
      killAllChildren();
      await user?.remove();
      await server?.stop();
    });

    for (const store of ['kernel-keyring', 'auto']) {
      test(`login --store ${store} with a full quota fails before any device code is requested`, async () => {
        const left = await fillQuota(user, 1000);
        try {
          const codesBefore = (await server.deviceCodes()).length;
          const argv = ['login', '--issuer', server.issuer, '--client-id', server.clientId, '--scope', server.scope,
            '--no-browser', '--no-qr', '--store', store, '--profile', `full-${store}`, ...(server.recordArgs ?? [])];
          const result = await runCli(argv, { env: user.env, user });
          assert.equal(result.code, EXIT.storage, describeRun(argv, result));
          const lines = result.stderr.trim().split('\n');
          assert.equal(lines.length, 1, `one line: ${result.stderr}`);
          assert.match(result.stderr, /kernel keyring has no room for a token set/);
          assert.match(result.stderr, new RegExp(`uid ${user.uid} has \\d+ of \\d+ bytes left`));
          assert.match(result.stderr, /log out of profiles no longer used, use another token store, or raise kernel\.keys\.maxbytes/);
          assert.ok(left < 16 * 1024, `the quota left (${left}) is below a set's bound`);
          assert.equal((await server.deviceCodes()).length, codesBefore, 'the server saw no device authorization request');
          // Never a silent fallback to a plaintext file.
          assert.equal(await readTokenFile(user.home), undefined, 'no token file was written');
        } finally {
          await emptyQuota(user);
        }
      });
    }

    test('refresh with a full quota fails before anything is sent; with room again the session goes on', async () => {
      const profile = 'refresh-full';
      const { result, argv } = await loginWithApproval(server, user.home, {
        user, record: true, store: 'kernel-keyring', extra: ['--profile', profile],
      });
      assert.equal(result.code, EXIT.ok, describeRun(argv, result));

      const status = await runCli(['status', '--profile', profile, '--json'], { env: user.env, user });
      assert.equal(status.code, EXIT.ok, describeRun(['status'], status));
      const shown = JSON.parse(status.stdout);
      assert.equal(shown.store, 'kernel-keyring');
      assert.ok(shown.stored_bytes > 100 && shown.stored_bytes <= 16 * 1024, `stored_bytes ${shown.stored_bytes}`);
      const quota = await keyQuota(user.uid);
      // The kernel's figure, give or take the process keyring `status` itself held (the kernel
      // gives its few bytes back asynchronously after the process exits).
      assert.ok(Math.abs(shown.quota_used_bytes - quota.usedBytes) <= 64,
        `quota_used_bytes ${shown.quota_used_bytes} is the kernel's ${quota.usedBytes}`);
      assert.ok(shown.quota_used_bytes >= shown.stored_bytes, 'the stored set counts against the quota');
      assert.equal(shown.quota_used_bytes + shown.quota_left_bytes, quota.maxBytes);

      await fillQuota(user, 500);
      try {
        const refreshesBefore = (await refreshTokens(server)).length;
        const refused = await runCli(['refresh', '--profile', profile], { env: user.env, user });
        assert.equal(refused.code, EXIT.storage, describeRun(['refresh'], refused));
        assert.match(refused.stderr, /kernel keyring has no room for a token set/);
        assert.equal((await refreshTokens(server)).length, refreshesBefore, 'no refresh reached the server');
      } finally {
        await emptyQuota(user);
      }
      const refreshed = await runCli(['refresh', '--profile', profile], { env: user.env, user });
      assert.equal(refreshed.code, EXIT.ok, `the session survived (no reuse detected): ${describeRun(['refresh'], refreshed)}`);
      const token = await runCli(['token', '--profile', profile], { env: user.env, user });
      assert.equal(token.code, EXIT.ok, describeRun(['token'], token));
      const latest = (await refreshTokens(server)).at(-1);
      assert.equal(token.stdout.trim(), latest.access_token, 'token gives the refreshed access token');
      if (server.supports.introspection) {
        assert.equal((await server.introspect(latest.refresh_token)).active, true, 'the rotated refresh token is live');
      }
      const logout = await runCli(['logout', '--profile', profile], { env: user.env, user });
      assert.equal(logout.code, EXIT.ok, describeRun(['logout'], logout));
    });
  });

  describe(`file store on a full disk (a 128 KiB tmpfs), against ${kind}`, { skip: rootSkip, timeout: 240000 }, () => {
    let server;
    let home;
    let mounted = false;
    before(async () => {
      server = await startServer(kind, { interval: 1 });
      home = await makeHome();
      await fs.mkdir(home.env.XDG_STATE_HOME, { recursive: true, mode: 0o700 });
      const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=128k,mode=0700', 'tmpfs', home.env.XDG_STATE_HOME],
        { encoding: 'utf8' });
      mounted = mount.status === 0;
    });
    after(async () => {
      killAllChildren();
      if (mounted) spawnSync('umount', [home.env.XDG_STATE_HOME]);
      await home?.remove();
      await server?.stop();
    });

    /** Writes a filler file until the tmpfs is full; returns its path. */
    async function fillDisk() {
      const filler = path.join(home.env.XDG_STATE_HOME, 'filler');
      const handle = await fs.open(filler, 'w');
      try {
        for (;;) await handle.write(Buffer.alloc(4096, 120));
      } catch (error) {
        if (error.code !== 'ENOSPC') throw error;
      } finally {
        await handle.close();
      }
      return filler;
    }

    test('login and refresh fail before any request while the disk is full; the session goes on after', async (t) => {
      if (!mounted) {
        t.skip('cannot mount a tmpfs here');
        return;
      }
      const { result, argv } = await loginWithApproval(server, home, { record: true });
      assert.equal(result.code, EXIT.ok, describeRun(argv, result));
      const kept = await readTokenFile(home);

      const filler = await fillDisk();
      try {
        const refreshesBefore = (await refreshTokens(server)).length;
        const refused = await runCli(['refresh'], { env: home.env });
        assert.equal(refused.code, EXIT.storage, describeRun(['refresh'], refused));
        assert.match(refused.stderr, /the file token store has no room for a token set in .*No space left on device/);
        assert.match(refused.stderr, /free disk space there, log out of profiles no longer used, or use another token store/);
        assert.equal((await refreshTokens(server)).length, refreshesBefore, 'no refresh reached the server');
        assert.deepEqual((await readTokenFile(home)).tokens, kept.tokens, 'the stored set is untouched');

        const codesBefore = (await server.deviceCodes()).length;
        const loginArgv = ['login', '--issuer', server.issuer, '--client-id', server.clientId, '--scope', server.scope,
          '--no-browser', '--no-qr', '--store', 'file', '--profile', 'full-disk', ...(server.recordArgs ?? [])];
        const login = await runCli(loginArgv, { env: home.env });
        assert.equal(login.code, EXIT.storage, describeRun(loginArgv, login));
        assert.match(login.stderr, /the file token store has no room for a token set/);
        assert.equal((await server.deviceCodes()).length, codesBefore, 'the server saw no device authorization request');
      } finally {
        await fs.rm(filler, { force: true });
      }
      const refreshed = await runCli(['refresh'], { env: home.env });
      assert.equal(refreshed.code, EXIT.ok, `the session survived (no reuse detected): ${describeRun(['refresh'], refreshed)}`);
      const latest = (await refreshTokens(server)).at(-1);
      assert.equal((await readTokenFile(home)).tokens.access_token, latest.access_token);
    });
  });

  describe(`tokens issued but not stored are revoked, against ${kind}`, { skip, timeout: 240000 }, () => {
    let server;
    before(async () => { server = await startServer(kind, { interval: 1 }); });
    after(async () => { killAllChildren(); await server?.stop(); });

    test('a login whose save fails revokes the new tokens; the previous set still works', async () => {
      const home = await makeHome();
      try {
        const first = await loginWithApproval(server, home, { record: true });
        assert.equal(first.result.code, EXIT.ok, describeRun(first.argv, first.result));
        const kept = await readTokenFile(home);
        assert.ok(kept, 'the first set is stored');

        const second = await loginWithApproval(server, home, { record: true, env: failSave(home) });
        assert.equal(second.result.code, EXIT.storage, describeRun(second.argv, second.result));
        assert.match(second.result.stderr, FAILED_SAVE);
        assert.match(second.result.stderr, /: Input\/output error; the new tokens were revoked at the server, nothing was stored/);
        const issued = (await server.tokens()).at(-1);
        assert.notEqual(issued.access_token, kept.tokens.access_token, 'the server issued a second set');
        if (server.supports.introspection) {
          assert.equal((await server.introspect(issued.refresh_token)).active, false, 'the new refresh token is inactive');
          assert.equal((await server.introspect(issued.access_token)).active, false, 'the new access token is inactive');
          assert.equal((await server.introspect(kept.tokens.refresh_token)).active, true, 'the kept refresh token is live');
        }
        assert.deepEqual((await readTokenFile(home)).tokens, kept.tokens, 'the stored set is exactly the first one');
        const refreshed = await runCli(['refresh'], { env: home.env });
        assert.equal(refreshed.code, EXIT.ok, `the previous set still works: ${describeRun(['refresh'], refreshed)}`);
      } finally {
        await home.remove();
      }
    });

    test('a refresh whose save fails revokes the new tokens, keeps the stored set and says re-login', async () => {
      const home = await makeHome();
      try {
        const login = await loginWithApproval(server, home, { record: true });
        assert.equal(login.result.code, EXIT.ok, describeRun(login.argv, login.result));
        const kept = await readTokenFile(home);
        const refreshesBefore = (await refreshTokens(server)).length;
        const result = await runCli(['refresh'], { env: failSave(home) });
        assert.equal(result.code, EXIT.storage, describeRun(['refresh'], result));
        assert.equal(result.stderr.trim().split('\n').length, 1, 'one line');
        assert.match(result.stderr, FAILED_SAVE);
        assert.match(result.stderr, /the refreshed tokens were revoked at the server/);
        assert.match(result.stderr, /server has replaced their refresh token.*re-login required/);
        const issued = await refreshTokens(server);
        assert.equal(issued.length, refreshesBefore + 1, 'the refresh reached the server');
        if (server.supports.introspection) {
          assert.equal((await server.introspect(issued.at(-1).refresh_token)).active, false, 'the new refresh token is inactive');
          assert.equal((await server.introspect(issued.at(-1).access_token)).active, false, 'the new access token is inactive');
        }
        assert.deepEqual((await readTokenFile(home)).tokens, kept.tokens, 'the stored set is exactly as before');
      } finally {
        await home.remove();
      }
    });

    test('a re-login revokes the set it replaced, after saving the new one', async () => {
      const home = await makeHome();
      try {
        const first = await loginWithApproval(server, home, { record: true });
        assert.equal(first.result.code, EXIT.ok, describeRun(first.argv, first.result));
        const replaced = await readTokenFile(home);
        const second = await loginWithApproval(server, home, { record: true });
        assert.equal(second.result.code, EXIT.ok, describeRun(second.argv, second.result));
        assert.match(second.result.stderr, /^The tokens of the previous sign-in were revoked\.$/m);
        const current = await readTokenFile(home);
        assert.notEqual(current.tokens.refresh_token, replaced.tokens.refresh_token);
        if (server.supports.introspection) {
          assert.equal((await server.introspect(replaced.tokens.refresh_token)).active, false, 'the replaced refresh token is inactive');
          assert.equal((await server.introspect(replaced.tokens.access_token)).active, false, 'the replaced access token is inactive');
          assert.equal((await server.introspect(current.tokens.refresh_token)).active, true, 'the new refresh token is live');
        }
        const token = await runCli(['token'], { env: home.env });
        assert.equal(token.stdout.trim(), current.tokens.access_token);
        const status = await runCli(['status', '--json'], { env: home.env });
        const shown = JSON.parse(status.stdout);
        assert.equal(shown.stored_bytes, (await fs.stat(current.file)).size, 'stored_bytes is the token file\'s size');
        assert.equal(shown.quota_used_bytes, null, 'the file store has no key quota');
        assert.equal(shown.quota_left_bytes, null);
      } finally {
        await home.remove();
      }
    });
  });
}
