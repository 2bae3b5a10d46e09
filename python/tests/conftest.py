"""Fixtures: `devicelogin serve` on 127.0.0.1 (port 0) and a private HOME per test.

Environment (set by python/tests/run.sh from ctest): DEVICELOGIN_EXE, the CLI that serves;
DEVICELOGIN_LIBRARY, the built libdevicelogin.so; DEVICELOGIN_SOURCE, the source tree."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

SOURCE = Path(os.environ.get("DEVICELOGIN_SOURCE", Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(SOURCE / "python"))


@pytest.fixture(autouse=True)
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local/state"))
    return home


class Server:
    def __init__(self, *args: str) -> None:
        exe = os.environ["DEVICELOGIN_EXE"]
        self.process = subprocess.Popen([exe, "serve", "--port", "0", "-v", *args], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.issuer = self.process.stdout.readline().strip()
        assert self.issuer.startswith("http://127.0.0.1:"), self.issuer

    def stop(self) -> str:
        """Stops the server; its -v log (events, never a secret)."""
        self.process.terminate()
        _, log = self.process.communicate(timeout=10)
        return log


@pytest.fixture
def serve() -> Iterator:
    servers: list[Server] = []

    def start(*args: str) -> Server:
        servers.append(Server(*args))
        return servers[-1]

    yield start
    for server in servers:
        if server.process.poll() is None:
            server.stop()


def deny(uri: str, code: str) -> None:
    """Presses Deny on the dev server's approval page (tests/integration/approve_devserver.mjs)."""
    subprocess.Popen(["node", str(SOURCE / "tests/integration/approve_devserver.mjs"), uri, code, "--deny"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
