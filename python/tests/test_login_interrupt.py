"""Ctrl-C (once, twice), close() from another thread, and `with`/del+gc while
Session.login() runs, at each stage of the login: before the code is shown (the device
authorization request in flight), while polling (a token poll in flight), and after approval while
the tokens are being saved (the store's lock held by this test). The native session must outlive
the login thread whatever the caller does: no ASan report (the child runs with ASan preloaded in
the ASan build), the documented KeyboardInterrupt exit, and a store holding a complete profile
and token set or nothing, with nothing revoked.

Each stage is reached by an event, never by sleeping: a relay between the child and the dev
server holds the request of the stage and reports it; the store's lock file shows up among the
child's open files; the child's log says when a Ctrl-C was taken."""
from __future__ import annotations

import fcntl
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import devicelogin
from conftest import PACKAGE_DIR, SOURCE, wait_for

PROFILE = "py-int"
GUARD = 120  # seconds: a failure guard for events that do not come, not a bound on how fast anything is


class Relay:
    """TCP on 127.0.0.1 (port 0) in front of the dev server, which advertises the relay's URL as its
    issuer, so that every request of a login passes here. hold(marker) stops the first request
    whose bytes contain `marker` before it reaches the server: `reached` is set then, and the bytes
    go on when `released` is set."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.upstream = 0
        self.marker: bytes | None = None
        self.reached = threading.Event()
        self.released = threading.Event()

    def start(self, upstream_port: int) -> None:
        self.upstream = upstream_port
        threading.Thread(target=self._accept, daemon=True).start()

    def hold(self, marker: bytes) -> None:
        self.marker = marker

    def close(self) -> None:
        self.released.set()
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream))
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, requests: bool) -> None:
        seen = b""
        try:
            while data := source.recv(65536):
                if requests and self.marker and not self.reached.is_set():
                    seen = (seen + data)[-4096:]
                    if self.marker in seen:
                        self.reached.set()
                        self.released.wait()
                sink.sendall(data)
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass


class Lines:
    """The lines of a child's stream, read as they come; wait(text) returns once one contains text."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._fresh: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line)
            self._fresh.put(line)
        self._fresh.put(None)

    def wait(self, text: str) -> None:
        if any(text in line for line in self.lines):
            return
        while True:
            try:
                line = self._fresh.get(timeout=GUARD)
            except queue.Empty:
                pytest.fail(f"the child did not write {text!r}; it wrote: {''.join(self.lines)}")
            if line is None:
                pytest.fail(f"the child ended without writing {text!r}; it wrote: {''.join(self.lines)}")
            if text in line:
                return


def child_environment() -> dict[str, str]:
    env = dict(os.environ)
    preload = os.environ.get("DEVICELOGIN_PYTHON_PRELOAD")  # libasan in the ASan build (tests/install)
    if preload:
        # First in the process, so that ASan sees every allocation of the library under Python;
        # CPython's own leaks at exit are not ours to report.
        env["LD_PRELOAD"] = preload
        env["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
    return env


def lock_path() -> Path:
    return Path(os.environ["XDG_STATE_HOME"]) / "devicelogin/tokens" / f"{PROFILE}.lock"


def has_open(pid: int, path: Path) -> bool:
    fds = Path(f"/proc/{pid}/fd")
    try:
        return any(os.readlink(fds / fd) == str(path) for fd in os.listdir(fds))
    except OSError:  # the child ended, or a descriptor closed while it was listed
        return False


def store_contents() -> tuple[list[str], list[str]]:
    """The token store's and the profile store's files of the profile (the lock file aside)."""
    tokens = Path(os.environ["XDG_STATE_HOME"]) / "devicelogin/tokens"
    profiles = Path(os.environ["XDG_CONFIG_HOME"]) / "devicelogin/profiles"
    listed = lambda directory: sorted(p.name for p in directory.iterdir() if p.name != f"{PROFILE}.lock") \
        if directory.is_dir() else []
    return listed(tokens), listed(profiles)


STAGES = ("before_code", "polling", "saving")
ACTIONS = ("once", "twice", "twice-with", "twice-del", "close")


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("stage", STAGES)
def test_interrupt_at_each_stage(stage: str, action: str) -> None:
    relay = Relay()
    approve = ["--auto-approve=0"] if stage == "saving" else []
    server = subprocess.Popen([os.environ["DEVICELOGIN_EXE"], "serve", "--port", "0", "--issuer", relay.url, "--json",
                               "-v", "--interval", "1", *approve],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    child = None
    held_lock = None
    try:
        assert server.stdout is not None
        relay.start(json.loads(server.stdout.readline())["port"])
        if stage == "before_code":
            relay.hold(b"POST /device_authorization")
        elif stage == "polling":
            relay.hold(b"device_code")  # in a token poll's form (the device request sends none)
        else:
            # The login takes this lock after approval, to save the tokens: it waits here.
            path = lock_path()
            path.parent.mkdir(mode=0o700, parents=True)
            for directory in (path.parent, path.parent.parent):
                directory.chmod(0o700)
            held_lock = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            fcntl.flock(held_lock, fcntl.LOCK_EX)

        child = subprocess.Popen([sys.executable, str(SOURCE / "python/tests/login_interrupt_child.py"),
                                  str(PACKAGE_DIR), relay.url, action],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env=child_environment())
        out, err = Lines(child.stdout), Lines(child.stderr)

        # The stage, reached.
        if stage == "saving":
            wait_for(lambda: has_open(child.pid, lock_path()) or child.poll() is not None, GUARD)
            assert child.poll() is None, "".join(err.lines)
            out.wait("code shown")  # written before the lock was taken: after approval, not before
        else:
            assert relay.reached.wait(GUARD), "".join(err.lines)
            if stage == "polling":
                out.wait("code shown")

        # What the caller does.
        if action == "close":
            assert child.stdin is not None
            child.stdin.write("close\n")
            child.stdin.flush()
        else:
            child.send_signal(signal.SIGINT)
            err.wait("login: interrupted, cancelling")  # the first Ctrl-C was taken
            if action != "once":
                child.send_signal(signal.SIGINT)
        if action == "twice":
            err.wait("KeyboardInterrupt")  # out of login() and the program: the interpreter is exiting
        elif action != "once":
            out.wait("let go")  # closed, or collected: the session's owner let go of it

        # The login goes on: the held request or lock is let through.
        relay.released.set()
        if held_lock is not None:
            os.close(held_lock)
            held_lock = None
        child.wait(timeout=GUARD)
    finally:
        relay.close()
        if held_lock is not None:
            os.close(held_lock)
        if child is not None and child.poll() is None:
            child.kill()
            child.wait()
        server.terminate()
        _, server_log = server.communicate(timeout=GUARD)

    stderr, stdout = "".join(err.lines), "".join(out.lines)
    assert "AddressSanitizer" not in stderr and "runtime error" not in stderr, stderr
    if action == "close":
        assert child.returncode == 0, stderr
        assert ("signed in" if stage == "saving" else "cancelled") in stdout.splitlines(), stdout
    else:
        # An uncaught KeyboardInterrupt: CPython ends the process by SIGINT, as a shell expects.
        assert child.returncode == -signal.SIGINT, (child.returncode, stderr)
        assert "signed in" not in stdout
    if action not in ("once", "twice"):
        assert "freed" in stdout.splitlines(), "the native session was not freed once its login ended"
    if stage == "before_code":
        assert "code shown" not in stdout, "the code was shown after the login was cancelled"

    tokens, profiles = store_contents()
    if stage == "saving":
        # Approved before the Ctrl-C: the login had nothing left to wait for and completed.
        assert (tokens, profiles) == ([f"{PROFILE}.json"], [f"{PROFILE}.json"]), (tokens, profiles)
        status = devicelogin.Session(PROFILE).status()
        assert status.logged_in and status.subject == "alice" and status.has_refresh_token
    else:
        assert (tokens, profiles) == ([], []), (tokens, profiles)
    assert "revoked" not in server_log, "the server revoked a token"
