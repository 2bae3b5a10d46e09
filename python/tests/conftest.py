"""Fixtures: `devicelogin serve` on 127.0.0.1 (port 0) and a private HOME per test.

Environment (set by python/tests/run.sh from ctest): DEVICELOGIN_EXE, the CLI that serves;
DEVICELOGIN_SOURCE, the source tree; DEVICELOGIN_BUILD_LIBRARY, the build tree's libdevicelogin.so.
The package under test is the source tree's (python/, with DEVICELOGIN_LIBRARY set to the build's
library), or, with DEVICELOGIN_PYTHON_INSTALLED=1, the one installed from the wheel into the
interpreter running the tests (run.sh --wheel), which then finds its own library."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

SOURCE = Path(os.environ.get("DEVICELOGIN_SOURCE", Path(__file__).resolve().parents[2]))
INSTALLED = os.environ.get("DEVICELOGIN_PYTHON_INSTALLED") == "1"
BUILD_LIBRARY = os.environ.get("DEVICELOGIN_BUILD_LIBRARY") or os.environ["DEVICELOGIN_LIBRARY"]
if not INSTALLED:
    sys.path.insert(0, str(SOURCE / "python"))
import devicelogin  # noqa: E402

# The directory the package under test is imported from, for the Python programs the tests start
# (on their sys.path or PYTHONPATH): the source tree's python/, or the venv's site-packages.
PACKAGE_DIR = Path(devicelogin.__file__).resolve().parent.parent
if INSTALLED:
    assert SOURCE.resolve() not in PACKAGE_DIR.parents, f"the package under test is the source tree's: {PACKAGE_DIR}"


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
