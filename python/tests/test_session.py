"""The Python package against `devicelogin serve`: approve, deny, expiry, refresh, revocation on
logout, Ctrl-C during login, the example end to end, and a canary for secrets."""
from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
import traceback
from pathlib import Path

import pytest

import devicelogin
from conftest import BUILD_LIBRARY, PACKAGE_DIR, SOURCE, deny

SCOPE = "openid profile offline_access"


def session(name: str, issuer: str) -> devicelogin.Session:
    return devicelogin.Session(name, issuer=issuer, client_id="devicelogin-demo", scope=SCOPE, store="file")


def signed_in(serve, name: str = "py"):
    server = serve("--auto-approve=0", "--interval", "1")
    s = session(name, server.issuer)
    shown = []
    s.login(on_code=lambda code, uri, full: shown.append((code, uri, full)))
    assert len(shown) == 1 and len(shown[0][0]) == 9 and shown[0][1] == server.issuer + "/device"
    return server, s


def test_login_token_request_refresh_logout(serve):
    server, s = signed_in(serve)
    status = s.status()
    assert status.logged_in and status.subject == "alice" and status.store == "file"
    assert status.has_refresh_token and status.expires_at > time.time()
    first = s.token()
    assert len(first.reveal()) > 20
    assert s.token().reveal() == first.reveal()  # cached, not refreshed
    s.refresh()
    second = s.token()
    assert second.reveal() != first.reveal()  # refresh rotated the access token
    response = s.request("GET", server.issuer + "/userinfo")
    assert response.status == 200 and response.json()["sub"] == "alice"
    assert "json" in response.headers["content-type"]
    assert s.logout() is True
    with pytest.raises(devicelogin.NotLoggedIn) as caught:
        s.token()
    assert caught.value.status == 5 and caught.value.remedy == "sign_in" and caught.value.profile == "py"
    # Revoked at the server: the old access token no longer works there.
    log = server.stop()
    assert "revoked" in log


class _Api:
    """A loopback HTTP server on its own port (another origin than the dev server's) that records
    the Authorization header of every request."""

    def __init__(self) -> None:
        import http.server
        import threading
        seen = self.seen = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                seen.append(self.headers.get("Authorization", ""))
                body = b'{"ok":true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def test_token_goes_only_to_the_profiles_api_urls_and_userinfo(serve):
    server = serve("--auto-approve=0", "--interval", "1")
    api, other = _Api(), _Api()
    try:
        s = devicelogin.Session("py-api", issuer=server.issuer, client_id="devicelogin-demo", scope=SCOPE,
                                store="file", api_urls=[api.url + "/v1"])
        s.login(on_code=lambda code, uri, full: None)
        token = s.token().reveal()
        assert s.request("GET", api.url + "/v1/items").json() == {"ok": True}
        assert api.seen == ["Bearer " + token]
        assert s.request("GET", server.issuer + "/userinfo").status == 200  # the userinfo endpoint's origin
        with pytest.raises(devicelogin.ConfigurationError) as caught:
            s.request("GET", other.url + "/v1/items")
        assert caught.value.status == 2 and caught.value.remedy == "add_settings"
        assert caught.value.setting == "api_urls" and caught.value.profile == "py-api"
        assert "refusing to send the token" in str(caught.value) and "devicelogin login" not in str(caught.value)
        assert other.seen == [], "the other origin got a request"
        # Kept in the profile: a new Session of it (no settings) may still call the API.
        again = devicelogin.Session("py-api")
        assert again.request("GET", api.url + "/v1/again").status == 200
        # Headers that decide where or as whom the token goes are refused, nothing sent.
        for name in ("Host", "authorization", "Cookie", "Proxy-Authorization", "DPoP"):
            before = len(api.seen)
            with pytest.raises(devicelogin.ConfigurationError) as refused:
                again.request("GET", api.url + "/v1/items", headers={name: "other.example.com"})
            assert refused.value.status == 2 and refused.value.kind == "usage"
            assert "cannot be set on a request that carries the token" in str(refused.value)
            assert len(api.seen) == before, f"the API got a request with {name}"
        with pytest.raises(devicelogin.ConfigurationError):
            again.request("get", api.url + "/v1/items")  # a lower-case method is the caller's mistake
        with pytest.raises(TypeError):
            devicelogin.Session("py-api", api_urls=api.url)
    finally:
        api.close()
        other.close()


def test_refresh_rotates_and_old_refresh_token_is_retired(serve):
    server, s = signed_in(serve)
    s.refresh()
    s.refresh()
    assert s.request("GET", server.issuer + "/userinfo").status == 200
    log = server.stop()
    assert log.count("refreshed") >= 2 and "reuse" not in log


def test_denied(serve):
    server = serve("--interval", "1")
    s = session("py-deny", server.issuer)
    with pytest.raises(devicelogin.AccessDenied) as caught:
        s.login(on_code=lambda code, uri, full: deny(full, code))
    assert caught.value.status == 3 and caught.value.oauth_error == "access_denied"
    with pytest.raises(devicelogin.NotLoggedIn):
        s.token()


def test_expired(serve):
    server = serve("--interval", "1", "--code-ttl", "3")
    s = session("py-expire", server.issuer)
    with pytest.raises(devicelogin.CodeExpired) as caught:
        s.login()
    assert caught.value.status == 4 and isinstance(caught.value, devicelogin.DeviceLoginError)
    with pytest.raises(devicelogin.NotLoggedIn):
        s.token()


def test_not_logged_in_and_configuration_errors():
    with pytest.raises(devicelogin.NotLoggedIn):
        devicelogin.Session("never").token()
    with pytest.raises(devicelogin.ConfigurationError):
        devicelogin.Session("../escape")
    with pytest.raises(devicelogin.ConfigurationError) as caught:
        devicelogin.Session("nothing-saved").login()
    assert caught.value.status == 2


def test_network_error():
    s = session("py-net", "http://127.0.0.1:9")  # discard port: nothing listens
    with pytest.raises(devicelogin.NetworkError) as caught:
        s.login()
    assert caught.value.status == 6


def test_ctrl_c_during_login_cancels_and_stores_nothing(serve, tmp_path):
    server = serve("--interval", "1")
    script = tmp_path / "login.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(PACKAGE_DIR)!r})
        import devicelogin
        s = devicelogin.Session("py-int", issuer={server.issuer!r}, client_id="devicelogin-demo", store="file")
        try:
            s.login(on_code=lambda *a: print("code", flush=True))
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            try:
                s.token()
            except devicelogin.NotLoggedIn:
                print("nothing stored", flush=True)
            sys.exit(130)
        """))
    child = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "code"
    # No sleep and no elapsed-time bound (both depend on load): the code was shown, so the login is
    # waiting; communicate()'s timeout is what catches a login that does not end.
    child.send_signal(signal.SIGINT)
    try:
        out, _ = child.communicate(timeout=20)
    finally:
        child.kill()
    assert child.returncode == 130, out
    assert out.split() == ["interrupted", "nothing", "stored"]


def test_example_end_to_end(serve):
    server = serve("--auto-approve=0", "--interval", "1")
    example = str(SOURCE / "examples/python/todo_cli.py")
    env = dict(os.environ, PYTHONPATH=str(PACKAGE_DIR))
    run = lambda *args: subprocess.run([sys.executable, example, *args], env=env, capture_output=True, text=True,
                                       timeout=60)
    login = run("login", server.issuer)
    assert login.returncode == 0 and "enter" in login.stderr, login.stderr
    whoami = run("whoami")
    assert whoami.returncode == 0 and json.loads(whoami.stdout)["sub"] == "alice", whoami.stderr
    assert run("token").stdout.count(".") == 2  # a JWT, printed only by the token command
    assert run("logout").returncode == 0
    after = run("whoami")
    assert after.returncode == 5 and "token" not in after.stderr.lower().replace("tokens", ""), after.stderr


def test_tutorial_cli_end_to_end_and_as_docs_python_md_shows_it(serve):
    example = SOURCE / "examples/python/todo.py"
    text = example.read_text()
    assert len(text.splitlines()) < 40
    assert f"```python\n{text}```" in (SOURCE / "docs/python.md").read_text(), "docs/python.md shows another todo.py"
    server = serve("--auto-approve=0", "--interval", "1")
    env = dict(os.environ, PYTHONPATH=str(PACKAGE_DIR))
    run = lambda *args: subprocess.run([sys.executable, str(example), *args], env=env, capture_output=True,
                                       text=True, timeout=60)
    login = run("login", "--issuer", server.issuer, "--client-id", "devicelogin-demo")
    assert login.returncode == 0 and login.stdout == "Signed in as alice\n", login.stderr
    whoami = run("whoami", "--me", server.issuer + "/userinfo")
    assert whoami.returncode == 0 and json.loads(whoami.stdout)["sub"] == "alice", whoami.stderr
    refused = run("whoami", "--me", "http://127.0.0.1:9/me")  # not the profile's API: nothing sent
    assert refused.returncode == 2 and "refusing to send the token" in refused.stderr
    assert run("logout").returncode == 0
    assert run("whoami", "--me", server.issuer + "/userinfo").returncode == 5


def test_canary_no_secret_in_repr_errors_tracebacks_or_debug_logs(serve, caplog):
    caplog.set_level(logging.DEBUG)
    server, s = signed_in(serve, "py-canary")
    token = s.token()
    secret = token.reveal()
    stored = Path(os.environ["XDG_STATE_HOME"]) / "devicelogin/tokens/py-canary.json"
    refresh_token = json.loads(stored.read_text())["refresh_token"]
    assert len(refresh_token) > 20
    texts = [repr(token), str(token), f"{token}", repr(s), repr(s.status()),
             repr(s.request("GET", server.issuer + "/userinfo"))]
    s.logout()
    for failing in (lambda: s.token(), lambda: s.refresh(), lambda: s.request("GET", server.issuer + "/userinfo")):
        try:
            failing()
        except devicelogin.DeviceLoginError as error:
            texts += [str(error), repr(error), "".join(traceback.format_exception(error))]
        else:
            pytest.fail("a call after logout succeeded")
    with pytest.raises(TypeError):
        __import__("pickle").dumps(token)
    texts += [record.getMessage() for record in caplog.records]
    assert any("login" in record.getMessage() for record in caplog.records)  # the logs were captured
    # Failures name the text's index only: the failure output must not show the secret either.
    leaked = [i for i, text in enumerate(texts) if secret in text or refresh_token in text]
    assert not leaked, f"a token is in texts {leaked} (of {len(texts)})"
    # The device code never reaches Python, so it is looked for by shape: 256 random bits in
    # base64url, a 43-character run with upper case and digits (file paths and identifiers have
    # neither in such a run).
    import re
    shaped = [i for i, text in enumerate(texts) for run in re.findall(r"[A-Za-z0-9_-]{40,}", text)
              if re.search("[A-Z]", run) and re.search("[0-9]", run)]
    assert not shaped, f"a device-code-shaped string is in texts {shaped} (of {len(texts)})"


def test_import_loads_no_native_library():
    code = ("import sys, devicelogin; maps = open('/proc/self/maps').read(); "
            "print('libcurl' in maps, 'libdevicelogin' in maps, 'devicelogin._native' in sys.modules)")
    env = dict(os.environ, PYTHONPATH=str(PACKAGE_DIR))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False", "False"]


HOT_PATH_PROBE = textwrap.dedent("""
    import hashlib, sys, devicelogin
    token = devicelogin.Session(sys.argv[1]).token(min_ttl=int(sys.argv[2]))
    maps = open('/proc/self/maps').read()
    print(hashlib.sha256(token.reveal().encode()).hexdigest(), 'libcurl' in maps, 'libdevicelogin.so' in maps,
          'devicelogin._native' in sys.modules, 'ctypes' in sys.modules)
    """)


def test_token_hot_path_loads_no_native_library_and_falls_back_when_the_token_expires(serve):
    # A valid stored token comes from devicelogin._fast (no ctypes, libdevicelogin, libcurl); one
    # that expires within min_ttl goes through the C ABI, which refreshes it. Hashes only.
    server, s = signed_in(serve, "py-hot")
    digest = __import__("hashlib").sha256(s.token().reveal().encode()).hexdigest()
    env = dict(os.environ, PYTHONPATH=str(PACKAGE_DIR))
    run = lambda ttl: subprocess.run([sys.executable, "-c", HOT_PATH_PROBE, "py-hot", str(ttl)], env=env,
                                     capture_output=True, text=True, timeout=60)
    fast = run(60)
    assert fast.returncode == 0, fast.stderr[-300:]
    assert fast.stdout.split() == [digest, "False", "False", "False", "False"], "served without the native library"
    slow = run(10 ** 9)  # no token lives that long: the C ABI refreshes
    assert slow.returncode == 0, slow.stderr[-300:]
    fields = slow.stdout.split()
    assert fields[0] != digest and fields[1:3] == ["True", "True"], "refreshed through the C ABI"
    again = run(60)  # the refreshed token, from the store, on the hot path again
    assert again.stdout.split() == [fields[0], "False", "False", "False", "False"]
    assert server.stop().count("refreshed") == 1, "one refresh, by the C ABI"
    lazy = devicelogin.Session("py-hot")
    assert lazy.token().reveal() and "_handle" not in lazy.__dict__, "the hot path opened no native session"
    lazy.close()
    with pytest.raises(devicelogin.ConfigurationError):  # a closed Session answers nothing
        lazy.token()


def test_library_found_without_environment_next_to_the_package_or_in_the_build_tree():
    # The source tree's package, as a checkout uses it: the presets build into build/ and
    # build-asan/, which it looks in, in that order (the first that holds a library; this test's
    # tree is one of them).
    trees = [SOURCE / tree / "lib" for tree in ("build", "build-asan")]
    if Path(BUILD_LIBRARY).parent.resolve() not in [tree.resolve() for tree in trees]:
        pytest.skip("the library under test is not in one of the presets' build trees, where the package looks")
    expected = next(tree for tree in trees if (tree / "libdevicelogin.so.0").exists())
    env = {k: v for k, v in os.environ.items() if k not in ("DEVICELOGIN_LIBRARY", "LD_LIBRARY_PATH")}
    env["PYTHONPATH"] = str(SOURCE / "python")
    code = "import devicelogin, devicelogin._native as n; print(devicelogin.version(), n.lib._name)"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.split()[1]).parent.resolve() == expected.resolve()


RACERS = 32


def test_32_processes_race_one_refresh(serve, tmp_path):
    # Tokens live 20 s; racers ask for 10 s of validity once the first token has less than that.
    # The racers are started first and wait for a go file, so that spawning 32 interpreters on a
    # loaded machine does not turn the race into a queue; the token endpoint answers after 300 ms,
    # so the first refresh is still in flight when the others want theirs. Only hashes are compared.
    server = serve("--auto-approve=0", "--interval", "1", "--access-token-ttl", "20", "--latency-ms", "300")
    s = session("py-race", server.issuer)
    s.login()
    signed_in_at = time.time()
    before = __import__("hashlib").sha256(s.token(min_ttl=0).reveal().encode()).hexdigest()
    go = tmp_path / "go"
    racer = textwrap.dedent(f"""
        import hashlib, os, sys, time
        sys.path.insert(0, {str(PACKAGE_DIR)!r})
        import devicelogin
        s = devicelogin.Session("py-race")
        s.status()  # library loaded, profile read
        print("ready", flush=True)
        while not os.path.exists({str(go)!r}):
            time.sleep(0.005)
        print(hashlib.sha256(s.token(min_ttl=10).reveal().encode()).hexdigest(), flush=True)
        """)
    racers = [subprocess.Popen([sys.executable, "-c", racer], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True) for _ in range(RACERS)]
    for p in racers:
        assert p.stdout.readline().strip() == "ready"
    time.sleep(max(0.0, signed_in_at + 11 - time.time()))  # the first token now has < 10 s left
    go.touch()
    hashes = []
    for p in racers:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err[-300:]
        hashes.append(out.strip())
    assert len(set(hashes)) == 1 and hashes[0] != before, \
        f"the racers got {len(set(hashes))} different tokens, not the one new token"
    log = server.stop()
    assert log.count("tokens refreshed") == 1, f"{log.count('tokens refreshed')} refreshes reached the server"
    assert "reuse" not in log


def test_close_from_another_thread_frees_the_native_session_only_after_the_call_in_flight():
    # Review finding: token()/request()/status() read the raw handle and called C with it while
    # close() from another thread could free it (a use-after-free like the login's). Every call now
    # holds a share for its length; shown on the ownership itself with a stand-in library, so that
    # no timing decides it.
    from devicelogin import _Native, _Use
    freed = []

    class Library:
        def dl_session_close(self, handle):
            freed.append(handle)

        def dl_session_cancel(self, handle):
            pass

    native = _Native(Library(), 1234)
    with _Use(native) as handle:
        assert handle == 1234
        native.close()  # what Session.close() does, from another thread, while the call runs
        assert freed == [], "the session was freed under the call in flight"
    assert freed == [1234], "the last owner's release frees it"
    with _Use(native) as handle:
        assert handle is None  # closed: a later call gets no handle (and fails), nothing freed twice
    assert freed == [1234]
    idle = _Native(Library(), 99)
    idle.close()
    assert freed == [1234, 99], "with no call in flight, close() frees at once"
