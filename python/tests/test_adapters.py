"""Session.requests_auth() and Session.httpx_auth() (sync and async) against a loopback API that
checks the Authorization header, and login_async / token_async with task cancellation mid-poll."""
from __future__ import annotations

import asyncio
import http.server
import json
import threading
from pathlib import Path

import os

import pytest

import devicelogin

SCOPE = "openid profile offline_access"
GUARD = 60.0


class Api:
    """A loopback API (its own origin) that answers 401 to an Authorization header in `rejected`
    (or to every one when `reject_all`), 200 otherwise, and records each request's method, header
    and body."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, bytes]] = []
        self.rejected: set[str] = set()
        self.reject_all = False
        self.redirect_to = ""  # when set, every request is answered 302 to it
        self.scheme = "Bearer "  # the scheme it accepts
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def answer(self) -> None:
                authorization = self.headers.get("Authorization", "")
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                api.seen.append((self.command, authorization, body))
                if api.redirect_to:
                    self.send_response(302)
                    self.send_header("Location", api.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                denied = api.reject_all or authorization in api.rejected or not authorization.startswith(api.scheme)
                payload = b'{"ok":%s}' % (b"false" if denied else b"true")
                self.send_response(401 if denied else 200)
                if denied:
                    self.send_header("WWW-Authenticate", 'Bearer error="invalid_token"')
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = answer  # noqa: N815 (http.server's names)

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def headers(self) -> list[str]:
        return [authorization for _, authorization, _ in self.seen]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def apis():
    api, other = Api(), Api()
    yield api, other
    api.close()
    other.close()


def signed_in(serve, name: str, api: Api):
    server = serve("--auto-approve=0", "--interval", "1")
    s = devicelogin.Session(name, issuer=server.issuer, client_id="devicelogin-demo", scope=SCOPE, store="file",
                            api_urls=[api.url + "/v1"])
    s.login()
    return server, s


def check_refusal(caught: pytest.ExceptionInfo, other: Api) -> None:
    assert caught.value.status == 2 and caught.value.remedy == "add_settings" and caught.value.setting == "api_urls"
    assert other.seen == [], "the other origin got a request"


def check_host_refused(send, api: Api) -> None:
    """A Host header naming another virtual host is refused before anything is sent (as by
    Session.request); the URL's own authority is not."""
    before = len(api.seen)
    with pytest.raises(devicelogin.ConfigurationError) as caught:
        send("other.example.com")
    assert caught.value.kind == "usage" and "Host" in str(caught.value)
    assert len(api.seen) == before, "the API got a request with another Host"
    send(api.url.removeprefix("http://"))
    assert len(api.seen) == before + 1


def test_requests_auth_adds_the_token_refreshes_once_on_401_and_refuses_other_origins(serve, apis):
    import requests
    api, other = apis
    server, s = signed_in(serve, "py-requests", api)
    auth = s.requests_auth()
    old = "Bearer " + s.token().reveal()
    assert requests.get(api.url + "/v1/items", auth=auth).json() == {"ok": True}
    assert api.headers() == [old]
    check_host_refused(lambda host: requests.get(api.url + "/v1/items", headers={"Host": host}, auth=auth), api)
    del api.seen[1:]
    # The API revokes the token: one refresh, the request sent again (its body too).
    api.rejected.add(old)
    response = requests.post(api.url + "/v1/items", data=b"payload", auth=auth)
    new = "Bearer " + s.token().reveal()
    assert response.status_code == 200 and new != old and len(response.history) == 1
    assert api.seen[1:] == [("POST", old, b"payload"), ("POST", new, b"payload")]
    # Refused again after the refresh: the 401 is the answer, no second retry.
    api.reject_all = True
    assert requests.get(api.url + "/v1/items", auth=auth).status_code == 401
    assert len(api.seen) == 5
    with pytest.raises(devicelogin.ConfigurationError) as caught:
        requests.get(other.url + "/v1/items", auth=auth)
    check_refusal(caught, other)
    # A redirect to another origin: requests follows it without the token, and the other origin's
    # 401 is the answer (no refresh, no token sent there).
    api.redirect_to, other.reject_all = other.url + "/elsewhere", True
    redirected = requests.get(api.url + "/v1/moved", auth=auth)
    assert redirected.status_code == 401 and other.headers() == [""]
    assert s.token().reveal() not in repr(auth)
    assert server.stop().count("tokens refreshed") == 2  # one for each 401


def test_httpx_auth_sync_and_async(serve, apis):
    import httpx
    api, other = apis
    server, s = signed_in(serve, "py-httpx", api)
    auth = s.httpx_auth()
    old = "Bearer " + s.token().reveal()
    with httpx.Client(auth=auth) as client:
        assert client.get(api.url + "/v1/items").json() == {"ok": True}
        api.rejected.add(old)
        response = client.post(api.url + "/v1/items", content=b"payload")
        new = "Bearer " + s.token().reveal()
        assert response.status_code == 200 and new != old
        assert api.seen[1:] == [("POST", old, b"payload"), ("POST", new, b"payload")]
        with pytest.raises(devicelogin.ConfigurationError) as caught:
            client.get(other.url + "/v1/items")
        check_refusal(caught, other)
        check_host_refused(lambda host: client.get(api.url + "/v1/items", headers={"Host": host}), api)
    # Followed redirect to another origin: httpx drops the token there, and that origin's 401 is
    # the answer: no refresh is made on its account (the requests adapter's rule too).
    before_redirect = len(api.seen)
    with httpx.Client(auth=auth, follow_redirects=True) as client:
        api.redirect_to, other.reject_all = other.url + "/elsewhere", True
        redirected = client.get(api.url + "/v1/moved")
        assert redirected.status_code == 401 and other.headers() == [""]
        api.redirect_to, other.reject_all = "", False
    del api.seen[before_redirect:]  # (the async part below counts from here)
    other.seen.clear()

    async def calls() -> list[int]:
        async with httpx.AsyncClient(auth=auth) as client:
            first = await client.get(api.url + "/v1/async")
            api.rejected.add(new)
            second = await client.post(api.url + "/v1/async", content=b"again")
            with pytest.raises(devicelogin.ConfigurationError) as refused:
                await client.get(other.url + "/v1/items")
            check_refusal(refused, other)
            return [first.status_code, second.status_code]

    assert asyncio.run(calls()) == [200, 200]
    newest = "Bearer " + s.token().reveal()
    assert api.seen[4:] == [("GET", new, b""), ("POST", new, b"again"), ("POST", newest, b"again")]
    assert server.stop().count("tokens refreshed") == 2


def test_login_async_and_token_async_run_off_the_event_loop(serve):
    server = serve("--auto-approve=0", "--interval", "1")
    s = devicelogin.Session("py-async", issuer=server.issuer, client_id="devicelogin-demo", scope=SCOPE,
                            store="file")
    loop_thread: list[int] = []
    shown: list[int] = []

    async def main() -> str:
        loop_thread.append(threading.get_ident())
        await s.login_async(on_code=lambda code, uri, full: shown.append(threading.get_ident()))
        return (await s.token_async()).reveal()

    token = asyncio.run(main())
    assert token == s.token().reveal() and shown == loop_thread, "on_code ran on the event loop"


def test_login_async_task_cancellation_stops_the_poll_and_stores_nothing(serve):
    # Never approved, and the code outlives the guard: only the cancel can end the login in time.
    server = serve("--interval", "1", "--code-ttl", "900")
    s = devicelogin.Session("py-async-cancel", issuer=server.issuer, client_id="devicelogin-demo", scope=SCOPE,
                            store="file")

    async def main() -> None:
        polling = asyncio.Event()
        task = asyncio.create_task(s.login_async(on_wait=lambda seconds: polling.set()))
        await polling.wait()  # the code was shown and the login waits between polls
        task.cancel()
        # No elapsed-time bound: the guard only catches a login that does not stop (it would run
        # for the code's 15 minutes).
        done, _ = await asyncio.wait({task}, timeout=GUARD)
        assert task in done, "the login went on after the task was cancelled"
        assert task.cancelled()

    asyncio.run(main())
    for thread in threading.enumerate():
        if thread.name == "devicelogin-login":
            thread.join(timeout=30)
            assert not thread.is_alive(), "the login thread still runs"
    with pytest.raises(devicelogin.NotLoggedIn):
        s.token()
    tokens = Path(os.environ["XDG_STATE_HOME"]) / "devicelogin/tokens"
    assert not tokens.is_dir() or [p.name for p in tokens.iterdir() if not p.name.endswith(".lock")] == []
    assert "py-async-cancel" not in json.dumps(sorted(p.name for p in Path(os.environ["XDG_CONFIG_HOME"]).rglob("*")))


def set_stored_token_type(name: str, token_type: str) -> None:
    """Rewrites the token type of the profile's stored set (the file store), as a server that
    issued that type would have stored it."""
    path = Path(os.environ["XDG_STATE_HOME"]) / "devicelogin/tokens" / f"{name}.json"
    stored = json.loads(path.read_text())
    stored["token_type"] = token_type
    with open(path, "w") as file:  # the same file: its 0600 mode stays
        json.dump(stored, file)


def test_adapters_send_the_scheme_of_the_token_type(serve, apis):
    # The scheme comes from the library (the token's type as issued), not from the adapters.
    import httpx
    import requests
    api, _ = apis
    server, s = signed_in(serve, "py-scheme", api)
    token = s.token().reveal()
    # "bearer" in another case is sent as "Bearer" (RFC 6750 §2.1).
    set_stored_token_type("py-scheme", "bearer")
    stored = devicelogin.Session("py-scheme")
    assert requests.get(api.url + "/v1/items", auth=stored.requests_auth()).status_code == 200
    # Another type is sent as its own scheme, by both adapters, sync and async.
    set_stored_token_type("py-scheme", "N_A")
    api.scheme = "N_A "
    assert stored.authorization().reveal() == "N_A " + token and token not in repr(stored.authorization())
    assert requests.get(api.url + "/v1/items", auth=stored.requests_auth()).status_code == 200
    with httpx.Client(auth=stored.httpx_auth()) as client:
        assert client.get(api.url + "/v1/items").status_code == 200

    async def call() -> int:
        async with httpx.AsyncClient(auth=stored.httpx_auth()) as client:
            return (await client.get(api.url + "/v1/items")).status_code

    assert asyncio.run(call()) == 200
    assert api.headers() == ["Bearer " + token] + ["N_A " + token] * 3
    assert server.stop().count("tokens refreshed") == 0


class Overlap:
    """The native library, with each dl_session_* call (but cancel and close, which any thread may
    call) counted: how many ran at once at most. Each call leaves room for another to come in
    before it goes on (returning early once one did)."""

    def __init__(self, lib: object) -> None:
        self.lib = lib
        self.inside = self.most = self.calls = 0
        self.lock = threading.Lock()
        self.overlapped = threading.Event()

    def __getattr__(self, name: str):
        function = getattr(self.lib, name)
        if not name.startswith("dl_session_") or name in ("dl_session_cancel", "dl_session_close"):
            return function

        def call(*args):
            with self.lock:
                self.inside += 1
                self.calls += 1
                self.most = max(self.most, self.inside)
                if self.inside > 1:
                    self.overlapped.set()
            try:
                self.overlapped.wait(0.2)
                return function(*args)
            finally:
                with self.lock:
                    self.inside -= 1

        return call


def test_concurrent_tasks_and_threads_on_one_session_take_turns(serve):
    # A login, refreshes, tokens and a synchronous call from another thread, all at once on one
    # Session: they all succeed, and no two of them are ever inside the native session together.
    server = serve("--auto-approve=0", "--interval", "1")
    s = devicelogin.Session("py-turns", issuer=server.issuer, client_id="devicelogin-demo", scope=SCOPE,
                            store="file")
    s.login()
    overlap = Overlap(s._lib)
    s._native.lib = s.__dict__["_lib"] = overlap

    async def main() -> list[object]:
        return await asyncio.gather(
            s.login_async(),
            *[s.token_async(min_ttl=10**9) for _ in range(3)],  # longer than the token lives: refreshes
            *[s.refresh_async() for _ in range(3)],
            s.authorization_async(),
            asyncio.to_thread(s.status))

    results = asyncio.run(main())
    tokens = [result for result in results if isinstance(result, devicelogin.Token)]
    assert len(tokens) == 4 and all(len(token.reveal()) > 20 for token in tokens)
    assert results[-1].logged_in and results[-1].subject == "alice"
    # 8 calls, and the login's 2 (its browser-flow callback is set first).
    assert overlap.calls == 10, overlap.calls
    assert overlap.most == 1, f"{overlap.most} native calls ran at once on one session"
    assert server.stop().count("tokens refreshed") == 6


def test_a_lazily_opened_session_used_by_threads_at_once_opens_once(serve, monkeypatch):
    # A Session made without settings opens its native session on first use (when the token hot
    # path exists): threads that need it together open one, not one each (the others would leak).
    if devicelogin._hot_path() is None:
        pytest.skip("no token hot path: every Session opens at once")
    server = serve("--auto-approve=0", "--interval", "1")
    devicelogin.Session("py-lazy", issuer=server.issuer, client_id="devicelogin-demo", scope=SCOPE,
                        store="file").login()
    from devicelogin import _native
    counted = Overlap(_native.lib)
    opens: list[int] = []
    real_open = _native.lib.dl_session_open

    class Library:
        def __getattr__(self, name: str):
            if name != "dl_session_open":
                return getattr(counted, name)

            def open_session(*args):
                opens.append(1)
                counted.overlapped.wait(0.2)  # room for another thread to open too, were it let
                return real_open(*args)

            return open_session

    monkeypatch.setattr(_native, "lib", Library())
    lazy = devicelogin.Session("py-lazy")
    assert "_native" not in lazy.__dict__
    start = threading.Barrier(4)
    seen: list[str] = []

    def use() -> None:
        start.wait()
        seen.append(lazy.status().subject or "")

    threads = [threading.Thread(target=use) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == ["alice"] * 4
    assert len(opens) == 1, f"{len(opens)} native sessions opened for one Session"
    assert counted.most == 1


def test_a_login_cancelled_while_it_waits_for_its_turn_sends_nothing(serve):
    # A login_async that waits for another thread's call on the Session, and is cancelled meanwhile,
    # ends with the cancellation without asking the server for a code; the call is unharmed.
    server = serve("--interval", "1")
    s = devicelogin.Session("py-turn-cancel", issuer=server.issuer, client_id="devicelogin-demo", scope=SCOPE,
                            store="file")
    entered, go_on = threading.Event(), threading.Event()
    lib = s._lib

    class Library:
        def __getattr__(self, name: str):
            function = getattr(lib, name)
            if name != "dl_session_check_url":
                return function

            def held(*args):  # keeps the turn until the test lets it go
                entered.set()
                go_on.wait(GUARD)
                return function(*args)

            return held

    s._native.lib = s.__dict__["_lib"] = Library()
    refused: list[BaseException] = []

    def check() -> None:
        try:
            s.check_url("https://elsewhere.example/")
        except devicelogin.ConfigurationError as error:
            refused.append(error)

    holder = threading.Thread(target=check)
    holder.start()
    assert entered.wait(GUARD), "the call did not start"

    async def main() -> None:
        task = asyncio.create_task(s.login_async())
        while not [t for t in threading.enumerate() if t.name == "devicelogin-login"]:
            await asyncio.sleep(0.01)  # until the login thread exists (and so waits for its turn)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=GUARD)
        assert task in done and task.cancelled(), "the login did not end while it waited for its turn"

    try:
        asyncio.run(main())
    finally:
        go_on.set()
        holder.join()
    assert len(refused) == 1 and refused[0].setting == "api_urls"
    assert "device code issued" not in server.stop(), "the cancelled login asked for a code"
    with pytest.raises(devicelogin.NotLoggedIn):
        s.token()
