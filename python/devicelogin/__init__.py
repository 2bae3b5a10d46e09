"""Device login (OAuth 2.0 Device Authorization Grant, RFC 8628) for Python CLIs.

A thin binding over libdevicelogin's C ABI (devicelogin.h): the library keeps the tokens in a
keyring or a private file, refreshes once under racing processes, revokes on logout and validates
ID tokens. Tokens come back as `Token` objects that never print their value; `reveal()` reads it.

    import devicelogin
    session = devicelogin.Session("todo", issuer="https://id.example.com", client_id="todo-cli",
                                  api_urls=["https://api.example.com"])
    session.login(on_code=lambda code, uri, uri_complete: print(code, uri))
    response = session.request("GET", "https://api.example.com/me")

The native library is loaded on the first Session, not at import.
"""
from __future__ import annotations

# Only what a bare interpreter has already loaded is imported here, so that `import devicelogin`
# costs well under 5 ms: json, logging, threading and ctypes are imported where they are used, and
# the native library (with libcurl and OpenSSL) by the first Session.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, TypeVar

    import httpx
    import requests.auth

    _T = TypeVar("_T")

__all__ = [
    "Session", "Token", "Credentials", "DeviceCode", "Response", "Status", "DeviceLoginError", "ConfigurationError", "AccessDenied",
    "CodeExpired", "NotLoggedIn", "ReloginRequired", "NetworkError", "StorageError", "Cancelled", "version",
]



def _debug(message: str, *args: object) -> None:
    """Logs to the "devicelogin" logger at DEBUG (events only, never a secret)."""
    import logging
    logging.getLogger("devicelogin").debug(message, *args)


class DeviceLoginError(Exception):
    """A failed call: `status` is the devicelogin exit code, `kind` its stable name; `oauth_error`,
    `http_status`, `remedy` ("sign_in", "add_settings", ...), `profile` and `setting` as the
    library gave them. The message never holds a secret."""

    status = 1

    def __init__(self, message: str, *, status: int = 1, kind: str = "internal", oauth_error: str = "",
                 http_status: int = 0, remedy: str = "none", profile: str = "", setting: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.oauth_error = oauth_error
        self.http_status = http_status
        self.remedy = remedy
        self.profile = profile
        self.setting = setting


class ConfigurationError(DeviceLoginError):
    """Bad argument, missing or wrong setting (status 2)."""


class AccessDenied(DeviceLoginError):
    """The user or the server refused the authorization (status 3)."""


class CodeExpired(DeviceLoginError):
    """The device code expired before approval (status 4)."""


class NotLoggedIn(DeviceLoginError):
    """Nothing is stored for the profile (status 5): sign in."""


class ReloginRequired(NotLoggedIn):
    """The stored tokens can no longer be used (status 5): sign in again."""


class NetworkError(DeviceLoginError):
    """Connection, TLS, timeout, or a failing server (status 6)."""


class StorageError(DeviceLoginError):
    """The token store or the profile store failed (status 7)."""


class Cancelled(DeviceLoginError):
    """The login was cancelled (status 130)."""


_BY_STATUS: dict[int, type[DeviceLoginError]] = {
    2: ConfigurationError, 3: AccessDenied, 4: CodeExpired, 5: NotLoggedIn, 6: NetworkError, 7: StorageError,
    130: Cancelled,
}


def _ffi() -> Any:
    from . import _native as native  # loads libdevicelogin.so.0 (and libcurl) on first use
    return native


_FAST: Any = None  # devicelogin._fast once looked for; False when there is none


def _hot_path() -> Any:
    """The native token hot path (python/fast_module.cpp), or None: it answers Session.token() with
    a stored token that is still valid, without ctypes, libcurl or OpenSSL, and returns None for
    everything else. Looked for next to this package (the wheel carries it), else
    where the library is (DEVICELOGIN_LIBRARY's directory, or this checkout's build trees)."""
    global _FAST
    if _FAST is None:
        _FAST = False
        import os
        here = os.path.dirname(__file__)
        library = os.environ.get("DEVICELOGIN_LIBRARY")
        if library:
            places = [os.path.join(os.path.dirname(library), "python", "devicelogin")]
        else:
            checkout = os.path.dirname(os.path.dirname(here))
            places = [os.path.join(checkout, build, "lib", "python", "devicelogin") for build in ("build", "build-asan")]
        # A submodule is found along the package's __path__: the package's own directory first.
        __path__.extend(place for place in places if os.path.isdir(place) and place not in __path__)
        try:
            from . import _fast as module  # type: ignore[attr-defined]
            _FAST = module
        except ImportError as error:  # none built (no python3-dev), or one for another platform
            _debug("no native token hot path: %s", error)
    return _FAST or None


def version() -> str:
    """The native library's version (loads it)."""
    return str(_ffi().lib.dl_version().decode())


if TYPE_CHECKING:
    __version__: str  # the package's version: the library's
else:
    def __getattr__(name: str) -> str:
        # __version__ without a cost at import: the wheel's _version.py (python/setup.py writes
        # the build's project version), else (the source tree) the native library's own.
        if name != "__version__":
            raise AttributeError(f"module 'devicelogin' has no attribute {name!r}")
        try:
            from . import _version
            value = _version.version
        except ImportError:
            value = version()
        globals()["__version__"] = value
        return value


def _refuse_host(header: Optional[str], authority: str) -> None:
    """The adapters' rule for a Host header (as Session.request's): one that names
    another authority than the URL's would move the token to another virtual host of an allowed
    address, so it is refused (ConfigurationError, kind "usage") before anything is sent."""
    if header is not None and header.strip().lower() != authority.lower():
        raise ConfigurationError("request header Host cannot be set on a request that carries the token: it decides"
                                 " where the token goes", status=2, kind="usage")


def _refuse_nul(text: str, what: str) -> None:
    """A NUL would end the string the C library reads early: the check and the sender would read
    two different strings (a URL cut at its NUL passes the origin check, the whole one is sent)."""
    if "\x00" in text:
        raise ConfigurationError(f"the {what} holds a NUL character", status=2, kind="usage")


def _text(value: Optional[bytes]) -> str:
    return value.decode("utf-8", "replace") if value else ""


def _error_for(status: int, error: Any) -> DeviceLoginError:
    """The exception for a failed call's status and error handle (which it frees)."""
    lib = _ffi().lib
    try:
        if error:
            kind = _text(lib.dl_error_kind(error))
            fields = dict(status=status, kind=kind, oauth_error=_text(lib.dl_error_oauth_error(error)),
                          http_status=lib.dl_error_http_status(error), remedy=_text(lib.dl_error_remedy(error)),
                          profile=_text(lib.dl_error_profile(error)), setting=_text(lib.dl_error_setting(error)))
            message = _text(lib.dl_error_message(error))
        else:
            kind, fields, message = "internal", dict(status=status), f"devicelogin call failed ({status})"
    finally:
        if error:
            lib.dl_error_free(error)
    cls: type[DeviceLoginError] = _BY_STATUS.get(status, DeviceLoginError)
    if kind == "relogin_required":
        cls = ReloginRequired
    _debug("devicelogin error: status %d kind %s", status, kind)
    return cls(message, **fields)


def _raise_for(status: int, error: Any) -> None:
    raise _error_for(status, error)


def _call(function: Callable[..., int], *args: Any) -> None:
    import ctypes
    error = ctypes.c_void_p()
    status = function(*args, ctypes.byref(error))
    if status != 0:
        _raise_for(status, error)


class Token:
    """An access token. `repr()`/`str()` never show it; `reveal()` is the one way to read it.

    Python cannot wipe it: the value is an immutable `str` that lives until the garbage collector
    frees it (the library's own copy is wiped as soon as it is copied here)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The token itself, e.g. for an Authorization header."""
        return self._value

    def __repr__(self) -> str:
        return "Token(<hidden>)"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __reduce__(self) -> Any:
        raise TypeError("a Token cannot be pickled")


class Credentials:
    """What one request sent by your own HTTP client carries to present the token
    (Session.request_credentials): `authorization`, the Authorization header's value
    ("<scheme> <token>", "DPoP" for a token bound to a key), and `dpop_proof`, the DPoP header's
    value for a DPoP-bound token (a proof for that one method and URL), else None. Both are
    hidden like a token; `headers()` gives the two headers to send."""

    __slots__ = ("authorization", "dpop_proof")

    def __init__(self, authorization: Token, dpop_proof: Optional[Token]) -> None:
        self.authorization = authorization
        self.dpop_proof = dpop_proof

    @property
    def scheme(self) -> str:
        """The Authorization scheme ("Bearer", "DPoP", ...); not a secret."""
        return self.authorization.reveal().partition(" ")[0]

    def headers(self) -> dict[str, str]:
        """{"Authorization": ..., "DPoP": ...} (DPoP only for a DPoP-bound token): the values
        revealed, to put on the request."""
        found = {"Authorization": self.authorization.reveal()}
        if self.dpop_proof is not None:
            found["DPoP"] = self.dpop_proof.reveal()
        return found

    def __repr__(self) -> str:
        return f"Credentials(scheme={self.scheme!r}, dpop_proof={'<hidden>' if self.dpop_proof else None})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("Credentials cannot be pickled")


class DeviceCode:
    """The code a login shows, as `on_code` receives it when it takes one argument: what to show
    the user. `verification_host` is where the user approves (lower case, an internationalised
    name in its xn-- form): show it prominently, so that a page elsewhere stands out;
    `host_warning` is one sentence when that host deserves a second look, else "". `message` is
    the provider's own instructions (may be ""). All server text with control characters
    removed; never a secret."""

    __slots__ = ("user_code", "verification_uri", "verification_uri_complete", "verification_host",
                 "host_warning", "message", "expires_in", "interval")

    # What to show next to the code (device-code phishing hands the victim a code that the
    # attacker's own login asked for; only the user can tell that they did not start this one).
    ADVICE = ("Only continue if you started this sign-in. If a website, an e-mail or another person gave you this"
              " code, stop.")

    def __init__(self, user_code: str, verification_uri: str, verification_uri_complete: str = "",
                 verification_host: str = "", host_warning: str = "", message: str = "", expires_in: int = 0,
                 interval: int = 0) -> None:
        self.user_code = user_code
        self.verification_uri = verification_uri
        self.verification_uri_complete = verification_uri_complete
        self.verification_host = verification_host
        self.host_warning = host_warning
        self.message = message
        self.expires_in = expires_in
        self.interval = interval

    def __repr__(self) -> str:
        return (f"DeviceCode(user_code={self.user_code!r}, verification_uri={self.verification_uri!r}, "
                f"verification_host={self.verification_host!r})")


def _code_caller(on_code: Optional[Callable[..., None]]) -> Optional[Callable[[DeviceCode], None]]:
    """`on_code` as a callable of one DeviceCode: a callback that takes one argument gets the
    DeviceCode; any other (three arguments, *args, or one whose signature cannot be read, such as
    a builtin) is called as before, with (user_code, verification_uri, verification_uri_complete)."""
    if on_code is None:
        return None
    function: Callable[..., None] = on_code
    takes_one = False
    try:
        import inspect
        signature = inspect.signature(function)
        try:
            signature.bind(None)
            takes_one = True
            signature.bind(None, None, None)
            takes_one = False  # takes three as well (*args, defaults): the old form
        except TypeError:
            pass
    except (TypeError, ValueError):
        takes_one = False
    if takes_one:
        return function

    def three(code: DeviceCode) -> None:
        function(code.user_code, code.verification_uri, code.verification_uri_complete)

    return three


def _device_code(lib: Any, handle: Any, user_code: str, uri: str, uri_complete: str, expires_in: int) -> DeviceCode:
    """The DeviceCode of the login running on `handle`, read inside its on_code (the C ABI's
    dl_session_code_info; with an older library, the callback's own fields only)."""
    code = DeviceCode(user_code, uri, uri_complete, expires_in=expires_in)
    if getattr(lib, "dl_session_code_info", None) is None:
        return code
    for field in ("verification_host", "host_warning", "message"):
        setattr(code, field, _text(lib.dl_session_code_info(handle, field.encode())))
    interval = lib.dl_session_code_info(handle, b"interval")
    code.interval = int(interval) if interval else 0
    return code


class Response:
    """An API's answer. The body may hold secrets: its repr shows the status only."""

    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        import json
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def __repr__(self) -> str:
        return f"Response(status={self.status})"


class Status:
    """What is stored for a profile; never a secret."""

    FIELDS = ("profile", "issuer", "client_id", "store", "store_location", "token_type", "scope", "subject",
              "expires_at", "has_refresh_token", "relogin_required", "relogin_reason", "clock_offset_s", "jkt")

    def __init__(self, logged_in: bool, fields: dict[str, Optional[str]]) -> None:
        self.logged_in = logged_in
        self.profile = fields.get("profile") or ""
        self.issuer = fields.get("issuer") or ""
        self.client_id = fields.get("client_id") or ""
        self.store = fields.get("store") or ""
        self.store_location = fields.get("store_location") or ""
        self.token_type = fields.get("token_type")
        self.scope = fields.get("scope")
        self.subject = fields.get("subject")
        expires = fields.get("expires_at")
        self.expires_at = int(expires) if expires else None
        self.has_refresh_token = fields.get("has_refresh_token") == "1"
        self.relogin_required = fields.get("relogin_required") == "1"
        self.relogin_reason = fields.get("relogin_reason") or ""
        # The RFC 7638 thumbprint of the DPoP key the token is bound to (RFC 9449's jkt); None
        # for a token not bound to a key. The key itself never leaves the library.
        self.jkt = fields.get("jkt")

    def __repr__(self) -> str:
        return (f"Status(profile={self.profile!r}, logged_in={self.logged_in}, subject={self.subject!r}, "
                f"expires_at={self.expires_at!r}, store={self.store!r}, token_type={self.token_type!r}, "
                f"jkt={self.jkt!r})")


_HEADERS_WE_READ = ("content-type", "www-authenticate", "retry-after", "location", "etag")


def _open_browser(url: str) -> None:
    """The browser flow's default: the URL on stderr, and the system browser asked to open it."""
    import sys
    import webbrowser
    sys.stderr.write(f"To sign in, open this address in your browser on this computer:\n\n    {url}\n\n")
    sys.stderr.flush()
    try:
        webbrowser.open(url)
    except Exception:  # best effort: the URL is shown  # noqa: BLE001
        pass


class _Login:
    """One run of dl_session_login on a worker thread: its outcome, and whether it was asked to
    stop (a cancel made before the native login starts would be lost: dl_session_login starts
    uncancelled, so the callbacks, which run inside it, cancel again while this is set)."""

    __slots__ = ("native", "worker", "done", "cancelled", "started", "abandoned", "error", "raised", "notify")

    def __init__(self, native: Optional["_Native"]) -> None:
        import threading
        self.native = native
        self.worker: Any = None
        self.done = threading.Event()  # set once the thread has let go of the native session
        self.cancelled = False
        self.started = False
        self.abandoned = False
        self.error: Optional[DeviceLoginError] = None
        self.raised: Optional[BaseException] = None
        self.notify: Optional[Callable[[], None]] = None  # login_async's: called once done is set

    def stop(self) -> None:
        """Asks this login to stop (dl_session_cancel on its session)."""
        if self.native is not None:
            self.native.cancel(self)

    def outcome(self) -> None:
        """Raises what the finished login ended with (a callback's exception, then its error)."""
        if self.raised is not None:
            raise self.raised
        if self.error is not None:
            raise self.error

    def wait(self) -> None:
        """Returns once the thread has let go of the native session (at once if it never ran);
        KeyboardInterrupt leaves the wait."""
        while self.worker is not None and self.worker.is_alive() and not self.done.wait(0.1):
            pass


# The logins whose threads may still run, for the interpreter's exit (_finish_logins).
_RUNNING: list[_Login] = []
_AT_EXIT = False


def _finish_logins() -> None:
    """At interpreter exit: cancels the logins still running (a caller that left login() on a
    second Ctrl-C, a daemon thread's) and waits for their threads, so that the process never ends
    while one is saving tokens (a token set without its profile). Each returns at its next wait
    for the user, or once the request in flight ends (bounded by its timeout); Ctrl-C does not cut
    this short."""
    while True:
        try:
            for login in list(_RUNNING):
                login.stop()
            for login in list(_RUNNING):
                login.wait()
            return
        except KeyboardInterrupt:
            _debug("exit: a cancelled login is still finishing")


class _Native:
    """The native session (dl_session*) and its owners: the Session and each login thread running
    on it. The last to let go frees it, so that close(), __del__ (the garbage collector, the
    interpreter's exit) or a caller leaving login() on a second Ctrl-C never frees it under a
    running login. Callable from any thread; the RLock because a collection in the middle of a
    locked section may run Session.__del__ on the same thread.

    The C ABI takes one thread at a time on a session: the calls and the logins of all threads
    (asyncio's workers included) take turns. `holder` has the turn: the thread (its ident) whose
    call runs, or the _Login whose thread runs dl_session_login; a call made on the holder's own
    thread (nested, or from a login callback that runs on the login thread) goes in at once."""

    def __init__(self, lib: Any, handle: int) -> None:
        import threading
        self.lib = lib
        self.handle: Optional[int] = handle  # None once freed
        self.closed = False
        self.logins: list[_Login] = []
        self.users = 0  # calls (token, request, ...) running on the handle now
        self.lock = threading.RLock()
        self.turn = threading.Condition(self.lock)  # notified whenever the turn is given back
        self.holder: object = None

    def _may_enter(self, thread: int) -> bool:
        holder = self.holder
        if holder is None or holder == thread:
            return True
        return isinstance(holder, _Login) and holder.worker is not None and holder.worker.ident == thread

    def acquire(self) -> Optional[int]:
        """A call begins on the handle (an owner until release()) once no other thread uses it;
        None when the session is closed. KeyboardInterrupt leaves the wait."""
        import threading
        thread = threading.get_ident()
        with self.lock:
            while not self.closed and self.handle is not None and not self._may_enter(thread):
                self.turn.wait(0.1)
            if self.closed or self.handle is None:
                return None
            if self.holder is None:
                self.holder = thread
            self.users += 1
            return self.handle

    def release(self) -> None:
        """The call has returned: gives the turn back, and frees the session if it was closed
        meanwhile and nobody else uses it."""
        import threading
        with self.lock:
            self.users -= 1
            if self.users == 0 and self.holder == threading.get_ident():
                self.holder = None
                self.turn.notify_all()
            handle = self._take_unowned()
        if handle is not None:
            self.lib.dl_session_close(handle)

    def begin(self, login: _Login) -> Optional[int]:
        """Makes `login` an owner; the handle, or None when the session is closed."""
        with self.lock:
            if self.closed or self.handle is None:
                return None
            self.logins.append(login)
            _RUNNING.append(login)
            return self.handle

    def start(self, login: _Login) -> bool:
        """Called first by the login thread: False when login() gave up on it before it ran; else
        True once `login` has the turn, or was cancelled while it waited for it."""
        with self.lock:
            login.started = not login.abandoned
            if not login.started:
                return False
            while not login.cancelled and self.holder is not None:
                self.turn.wait(0.1)
            if self.holder is None:
                self.holder = login
            return True

    def abandon(self, login: _Login) -> None:
        """login() could not start the thread (or was interrupted starting it): unless the thread
        already runs (and so owns its share), `login` lets go here."""
        with self.lock:
            if login.started:
                return
            login.abandoned = True
        self.end(login)

    def end(self, login: _Login) -> None:
        """`login` lets go (its thread's last call): frees the session if closed meanwhile."""
        with self.lock:
            if login in self.logins:
                self.logins.remove(login)
            if login in _RUNNING:
                _RUNNING.remove(login)
            if self.holder is login:
                self.holder = None
                self.turn.notify_all()
            handle = self._take_unowned()
        if handle is not None:
            self.lib.dl_session_close(handle)
        login.done.set()
        if login.notify is not None:
            login.notify()

    def cancel(self, only: Optional[_Login] = None) -> None:
        """Asks the logins running on this session (or `only`) to stop (dl_session_cancel)."""
        with self.lock:
            running = [login for login in self.logins if only is None or login is only]
            for login in running:
                login.cancelled = True
            if running and self.handle is not None:
                self.lib.dl_session_cancel(self.handle)
            self.turn.notify_all()  # a login still waiting for its turn gives up

    def close(self) -> None:
        """The Session lets go: frees the session now, or cancels its logins and leaves the free
        to the last of their threads. Never waits."""
        with self.lock:
            self.closed = True
            self.turn.notify_all()  # the calls waiting for their turn fail: the session is closed
            handle = self._take_unowned()
        if handle is not None:
            self.lib.dl_session_close(handle)
        else:
            self.cancel()

    def _take_unowned(self) -> Optional[int]:
        if not self.closed or self.logins or self.users:
            return None
        handle, self.handle = self.handle, None
        return handle


class _Use:
    """`with _Use(native) as handle:` one native call on the session: it owns a share of the
    handle for the call's length, so that close() from another thread (or the collector) frees it
    only after the call returned, never under it. The handle is None once closed (the call then
    fails with a usage error)."""

    __slots__ = ("native", "handle")

    def __init__(self, native: Optional[_Native]) -> None:
        self.native = native
        self.handle: Optional[int] = None

    def __enter__(self) -> Optional[int]:
        if self.native is None:
            return None
        self.handle = self.native.acquire()  # waits for the call or login in progress
        return self.handle

    def __exit__(self, *exc: object) -> None:
        if self.handle is not None and self.native is not None:
            self.native.release()


class Session:
    """The session of a named profile. Usable from many threads and asyncio tasks: their calls
    take turns on the native session (a call waits for the one in progress, or for a running
    login, to return), except cancel() and close(), which never wait (a close() from another
    thread frees the native session once the call in flight returned). Sessions of one profile in
    many threads or processes refresh once together. Settings given here are used by `login`;
    without any, `login` signs in again with the saved profile. `dpop=True` binds the tokens to a
    key the library makes and keeps with them (DPoP, RFC 9449; a copied token is then useless
    without the key): request(), requests_auth() and httpx_auth() sign every request with it;
    None keeps what the saved profile says."""

    def __init__(self, name: str, *, issuer: str = "", client_id: str = "", scope: str = "", provider: str = "",
                 tenant: str = "", audience: str = "", store: str = "", ca_file: str = "",
                 api_urls: Sequence[str] = (), profile_directory: Optional[str] = None,
                 dpop: Optional[bool] = None) -> None:
        self.name = name
        self._directory = profile_directory
        if isinstance(api_urls, (str, bytes)):
            raise TypeError("api_urls is a list of URLs, not one string")
        settings = (("issuer", issuer), ("client_id", client_id), ("scope", scope), ("provider", provider),
                    ("tenant", tenant), ("audience", audience), ("store", store), ("ca_file", ca_file)) + \
            tuple(("api_url", url) for url in api_urls) + \
            ((("dpop", "1" if dpop else "0"),) if dpop is not None else ())
        fast = _hot_path()
        if fast is not None and not any(value for _, value in settings) and fast.valid_profile_name(name):
            # Opened on first use (__getattr__): token() with a valid stored token never needs the
            # native library, so it is not loaded.
            return
        self._open()
        with _Use(self._native) as handle:
            for key, value in settings:
                if value:
                    _call(self._lib.dl_session_set, handle, key.encode(), value.encode())

    def _open(self) -> None:
        import ctypes
        lib = _ffi().lib
        handle = ctypes.c_void_p()
        _call(lib.dl_session_open, self.name.encode(), self._directory.encode() if self._directory else None,
              ctypes.byref(handle))
        self._lib, self._native = lib, _Native(lib, handle.value or 0)

    def __getattr__(self, attribute: str) -> Any:
        # Only for what __init__ left unset: the native session of a lazily opened Session.
        if attribute in ("_lib", "_native") and "name" in self.__dict__:
            import threading
            # One opening when threads ask at once (a second native session would never be closed).
            with globals().setdefault("_OPENING", threading.Lock()):
                if attribute in self.__dict__:  # another thread opened it meanwhile
                    return self.__dict__[attribute]
                if "_native" in self.__dict__:  # closed before it was opened: the library, no session
                    self.__dict__["_lib"] = _ffi().lib
                else:
                    self._open()
            return self.__dict__[attribute]
        raise AttributeError(attribute)

    def close(self) -> None:
        """Lets go of the native session: frees it, or, while a login runs on it (in another
        thread, or one a second Ctrl-C left), cancels that login and leaves the free to its
        thread. Never waits. Also done when the object is collected."""
        native = self.__dict__.get("_native")  # never opens a session to close it
        self.__dict__["_native"] = None
        self.__dict__["_source"] = False  # nor does a closed one answer from the hot path
        if native is not None:
            native.close()

    def __del__(self) -> None:
        self.close()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Session({self.name!r})"

    def login(self, on_code: Optional[Callable[..., None]] = None,
              on_wait: Optional[Callable[[int], None]] = None, *, flow: Optional[str] = None,
              on_browser: Optional[Callable[[str], None]] = None) -> None:
        """Signs in with the profile's flow, or `flow`: "device", "browser" or "auto" (remembered
        in the profile; auto is the device flow unless this machine has a browser and the server
        has no device flow or has turned it off). Device flow: `on_code` is called once to show
        the code, with one DeviceCode when it takes one argument (the code, the verification URIs
        and the host where the user approves, `verification_host`, to show prominently), else as
        `on_code(user_code, verification_uri, verification_uri_complete)`; `on_wait(seconds_left)`
        before each poll. Browser flow (authorization code with PKCE on a loopback redirect):
        `on_browser(authorization_url)` is called once to open the URL in the browser on this
        machine (default: print it on stderr and open it with the `webbrowser` module). Ctrl-C
        (KeyboardInterrupt) cancels and is raised again once the login has
        stopped: nothing is stored, unless the user had already approved (the tokens are then
        saved with the profile). A second Ctrl-C raises at once and the login ends on its own.
        An exception raised by a callback cancels the login and is raised."""
        # The login runs in a worker thread so that the calling thread stays able to take Ctrl-C.
        # It waits on an Event, not Thread.join: a join interrupted by KeyboardInterrupt may return
        # at once the next time (before the thread has ended).
        started: list[_Login] = []
        try:
            login = self._start_login(_code_caller(on_code), on_wait, started=started, flow=flow,
                                      on_browser=on_browser)
            while not login.done.wait(0.1):
                pass
        except KeyboardInterrupt:
            if not started:
                raise
            login = started[0]
            login.stop()
            _debug("login: interrupted, cancelling")
            # The login returns at its next wait; another KeyboardInterrupt leaves this wait, and
            # the thread then finishes (and frees the session if it was closed) on its own.
            while not login.done.wait(0.1):
                pass
            raise
        login.outcome()
        _debug("login: signed in")

    async def login_async(self, on_code: Optional[Callable[..., None]] = None,
                          on_wait: Optional[Callable[[int], None]] = None, *, flow: Optional[str] = None,
                          on_browser: Optional[Callable[[str], None]] = None) -> None:
        """login() for asyncio: the login runs on a worker thread and the event loop stays
        free; `on_code`, `on_wait` and `on_browser` are called on the event loop. Cancelling the task cancels
        the login: the poll stops at its current wait (a request in flight ends first), nothing
        is stored (unless the user had already approved), and CancelledError is raised once the
        login has stopped; a second cancellation raises at once and the login ends on its own."""
        import asyncio
        loop = asyncio.get_running_loop()
        finished = loop.create_future()
        holder: list[_Login] = []

        def on_loop(callback: Optional[Callable[..., None]]) -> Optional[Callable[..., None]]:
            if callback is None:
                return None
            function: Callable[..., None] = callback

            def call(*args: Any) -> None:
                try:
                    function(*args)
                except BaseException as error:  # cancels the login, raised by login_async
                    login = holder[0]
                    if login.raised is None:
                        login.raised = error
                    login.stop()

            def schedule(*args: Any) -> None:  # on the login thread
                loop.call_soon_threadsafe(call, *args)

            return schedule

        def settle() -> None:
            if not finished.done():
                finished.set_result(None)

        def notify() -> None:  # on the login thread, once it has let go
            try:
                loop.call_soon_threadsafe(settle)
            except RuntimeError:  # the loop was closed meanwhile
                pass

        login = self._start_login(on_loop(_code_caller(on_code)), on_loop(on_wait), notify, started=holder, flow=flow,
                                  on_browser=on_loop(on_browser) if on_browser is not None else None)
        if login.done.is_set():
            settle()
        try:
            await asyncio.shield(finished)
        except asyncio.CancelledError:
            login.stop()
            _debug("login: task cancelled, cancelling")
            await finished  # once the login has stopped; cancelling again leaves at once
            raise
        login.outcome()
        _debug("login: signed in")

    def _start_login(self, on_code: Optional[Callable[[DeviceCode], None]],
                     on_wait: Optional[Callable[[int], None]],
                     notify: Optional[Callable[[], None]] = None, started: Optional[list[_Login]] = None,
                     flow: Optional[str] = None, on_browser: Optional[Callable[[str], None]] = None) -> _Login:
        """Starts dl_session_login on a worker thread that owns its share of the native session;
        the _Login whose `done` is set (and `notify` called) once the thread has let go. It is
        appended to `started` once its thread is about to start (for a KeyboardInterrupt that
        comes before this returns)."""
        import atexit
        import ctypes
        import threading
        global _AT_EXIT
        native_module = _ffi()
        native = self._native
        if native is None:
            raise ConfigurationError("the session is closed", status=2, kind="usage")
        login = _Login(native)
        login.notify = notify
        # Set by native.begin() right before the thread starts, inside the try that lets go of it
        # again when anything (Ctrl-C included) stops the start: the callbacks read it when they run.
        handle: Optional[int] = None
        lib = native.lib

        # Both callbacks run inside dl_session_login, on its thread, which owns the session.
        def code(_user: Any, user_code: bytes, uri: bytes, uri_complete: bytes, expires: int) -> None:
            if login.cancelled:  # a cancel made before dl_session_login began; the code is not shown
                lib.dl_session_cancel(handle)
                return
            _debug("login: code shown")
            if on_code is not None:
                try:
                    on_code(_device_code(lib, handle, _text(user_code), _text(uri), _text(uri_complete), int(expires)))
                except BaseException as error:  # handed to the calling thread
                    login.raised, login.cancelled = error, True
                    lib.dl_session_cancel(handle)

        def wait(_user: Any, seconds_left: int) -> None:
            if login.cancelled:
                lib.dl_session_cancel(handle)
                return
            if on_wait is not None:
                try:
                    on_wait(int(seconds_left))
                except BaseException as error:
                    login.raised, login.cancelled = error, True
                    lib.dl_session_cancel(handle)

        def browser(_user: Any, url: bytes, _redirect_uri: bytes, _expires: int) -> None:
            if login.cancelled:
                lib.dl_session_cancel(handle)
                return
            _debug("login: browser flow started")
            try:
                (on_browser or _open_browser)(_text(url))
            except BaseException as error:
                login.raised, login.cancelled = error, True
                lib.dl_session_cancel(handle)

        code_cb, wait_cb = native_module.CODE_CALLBACK(code), native_module.WAIT_CALLBACK(wait)
        browser_cb = native_module.BROWSER_CALLBACK(browser)
        if flow is not None and flow not in ("auto", "device", "browser"):
            raise ConfigurationError(f"flow is auto, device or browser, not {flow!r}", status=2, kind="usage")

        def run() -> None:
            # Refers to the native session, not to this Session: the Session may be closed or
            # collected meanwhile; the session is freed by native.end once it is not.
            if not native.start(login):  # waits for the call or login in progress
                return
            try:
                if login.cancelled:  # while it waited for its turn: nothing was sent
                    login.error = Cancelled("the login was cancelled", status=130, kind="cancelled")
                    return
                error = ctypes.c_void_p()
                status = lib.dl_session_set_browser_callback(handle, browser_cb, None, ctypes.byref(error))
                if status == 0 and flow is not None:
                    status = lib.dl_session_set(handle, b"flow", flow.encode(), ctypes.byref(error))
                if status != 0:
                    login.error = _error_for(status, error)
                    return
                status = lib.dl_session_login(handle, code_cb, wait_cb, None, ctypes.byref(error))
                if status != 0:
                    login.error = _error_for(status, error)
            finally:
                native.end(login)

        if not _AT_EXIT:
            atexit.register(_finish_logins)
            _AT_EXIT = True
        worker = login.worker = threading.Thread(target=run, name="devicelogin-login", daemon=True)
        try:
            handle = native.begin(login)
            if handle is None:
                raise ConfigurationError("the session is closed", status=2, kind="usage")
            # Only a login that holds its share is one login() may stop and wait for.
            if started is not None:
                started.append(login)
            worker.start()
        except BaseException:
            native.abandon(login)
            raise
        return login

    def cancel(self) -> None:
        """Cancels a login running on this session in another thread (thread-safe)."""
        native = self.__dict__.get("_native")
        if native is not None:
            native.cancel()

    def token(self, min_ttl: int = 60) -> Token:
        """A valid access token, refreshed first when it expires within `min_ttl` seconds."""
        fast = _hot_path()
        if fast is not None and isinstance(min_ttl, int) and min_ttl >= 0:
            source = self.__dict__.get("_source")
            if source is None:
                # The profile and its store, read once; False: not a local store, use the C ABI.
                source = self.__dict__["_source"] = fast.open(self.name, self._directory) or False
            if source:
                value = fast.token(source, min_ttl)
                if value is not None:
                    return Token(value)
        import ctypes
        buffer = ctypes.c_void_p()
        length = ctypes.c_size_t()
        with _Use(self._native) as handle:
            _call(self._lib.dl_session_token, handle, min_ttl, ctypes.byref(buffer), ctypes.byref(length))
        try:
            value = ctypes.string_at(buffer, length.value).decode()
        finally:
            self._lib.dl_secret_free(buffer)
        return Token(value)

    def authorization(self, min_ttl: int = 60) -> Token:
        """The value of an Authorization header for a valid access token, "<scheme> <token>",
        refreshed first as token() does. The scheme is the token's type as the server issued it
        ("Bearer" for any case of "bearer" and for a missing or malformed type, RFC 6750 §2.1).
        Hidden like a token: `reveal()` reads it. What the requests and httpx adapters send."""
        import ctypes
        buffer = ctypes.c_void_p()
        length = ctypes.c_size_t()
        with _Use(self._native) as handle:
            _call(self._lib.dl_session_authorization, handle, min_ttl, ctypes.byref(buffer), ctypes.byref(length))
        try:
            value = ctypes.string_at(buffer, length.value).decode()
        finally:
            self._lib.dl_secret_free(buffer)
        return Token(value)

    async def authorization_async(self, min_ttl: int = 60) -> Token:
        """authorization() for asyncio, on a worker thread."""
        return await self._off_loop(self.authorization, min_ttl)

    def request_credentials(self, method: str, url: str, min_ttl: int = 60) -> Credentials:
        """What a `method` request to `url` sent by your own HTTP client carries to present a valid
        access token (refreshed first as token() does): the Authorization header's value and, for a
        DPoP-bound token, a fresh DPoP proof for that one method and URL (with the token's hash,
        the time on the server's clock and the server's latest nonce). Make new credentials for
        every request, retries included, and pass the answer to learn_from_response(). Raises
        ConfigurationError, before any token is read, for a URL check_url() refuses or a method
        that is not upper-case letters; ReloginRequired when a DPoP token's key is lost."""
        import ctypes
        for text, what in ((method, "method"), (url, "URL")):
            _refuse_nul(text, what)
        lib = self._lib
        if getattr(lib, "dl_session_request_credentials", None) is None:
            raise ConfigurationError("the devicelogin library is older than this package: it has no"
                                     " dl_session_request_credentials (DEVICELOGIN_0.3)", status=2, kind="usage")
        authorization, proof = ctypes.c_void_p(), ctypes.c_void_p()
        with _Use(self._native) as handle:
            _call(lib.dl_session_request_credentials, handle, method.encode(), url.encode(), min_ttl,
                  ctypes.byref(authorization), ctypes.byref(proof))
        try:
            header = Token(ctypes.string_at(authorization).decode()) if authorization else None
            dpop = Token(ctypes.string_at(proof).decode()) if proof else None
        finally:
            lib.dl_secret_free(authorization)
            lib.dl_secret_free(proof)
        if header is None:
            raise DeviceLoginError("dl_session_request_credentials returned no Authorization value")
        return Credentials(header, dpop)

    async def request_credentials_async(self, method: str, url: str, min_ttl: int = 60) -> Credentials:
        """request_credentials() for asyncio, on a worker thread."""
        return await self._off_loop(self.request_credentials, method, url, min_ttl)

    def learn_from_response(self, url: str, status: int, headers: Iterable[tuple[str, str]]) -> bool:
        """Learns from the answer (`status`, and its `headers` as (name, value) pairs; a header
        sent twice given twice) to a request that carried request_credentials()' DPoP proof: keeps
        the server's DPoP-Nonce for later proofs, and returns True when the answer asks for the
        request again with that nonce (a 401 with WWW-Authenticate: DPoP error="use_dpop_nonce"):
        make new credentials and send it once more. NetworkError when such an answer carries no
        valid nonce."""
        import ctypes
        _refuse_nul(url, "URL")
        lib = self._lib
        if getattr(lib, "dl_session_learn_from_response", None) is None:
            return False
        lines = [f"{name}: {value}".encode() for name, value in headers
                 if name.lower() in ("www-authenticate", "dpop-nonce") and "\x00" not in f"{name}{value}"]
        array = (ctypes.c_char_p * (len(lines) + 1))(*lines, None)
        retry = ctypes.c_int(0)
        with _Use(self._native) as handle:
            _call(lib.dl_session_learn_from_response, handle, url.encode(), int(status), array, ctypes.byref(retry))
        return bool(retry.value)

    async def token_async(self, min_ttl: int = 60) -> Token:
        """token() for asyncio, on a worker thread (the event loop is not blocked by a refresh).
        Cancelling the task returns at once; a refresh under way still completes and is stored."""
        return await self._off_loop(self.token, min_ttl)

    async def refresh_async(self) -> None:
        """refresh() for asyncio, on a worker thread."""
        await self._off_loop(self.refresh)

    async def _off_loop(self, function: Callable[..., _T], *args: Any) -> _T:
        # On a worker thread, which waits there for its turn on the native session (the event loop
        # never waits for it).
        import asyncio
        return await asyncio.to_thread(function, *args)

    def check_url(self, url: str) -> None:
        """Raises ConfigurationError (remedy "add_settings", setting "api_urls") when request()
        would refuse to send the token to `url`: its origin is not one of the profile's API base
        URLs nor its userinfo endpoint. What the requests and httpx adapters check first."""
        _refuse_nul(url, "URL")
        with _Use(self._native) as handle:
            _call(self._lib.dl_session_check_url, handle, url.encode())

    def requests_auth(self, min_ttl: int = 60) -> requests.auth.AuthBase:
        """An authentication for `requests` (Debian's python3-requests, imported here):
        `requests.get(url, auth=session.requests_auth())`. It refuses a URL that request() would
        refuse (check_url, raised before anything is sent) and a Host header naming another host
        than the URL's, adds `Authorization: <scheme> <token>` (the scheme of the token's type;
        refreshed when it expires within `min_ttl` seconds) and, for a DPoP-bound token, `DPoP:` a
        fresh proof for the request's method and URL (request_credentials()); when the server
        answers 401 use_dpop_nonce it sends the request once more with the server's nonce, and on
        a 401 it refreshes once and sends the request again (not a streamed body, which cannot be
        sent twice)."""
        from ._requests_auth import RequestsAuth
        return RequestsAuth(self, min_ttl)

    def httpx_auth(self, min_ttl: int = 60) -> httpx.Auth:
        """An authentication for `httpx` (Debian's python3-httpx, imported here), for Client and
        AsyncClient alike: what requests_auth() does; with AsyncClient the token and the refresh
        run on a worker thread (token_async, refresh_async)."""
        from ._httpx_auth import HttpxAuth
        return HttpxAuth(self, min_ttl)

    def refresh(self) -> None:
        """Refreshes now."""
        with _Use(self._native) as handle:
            _call(self._lib.dl_session_refresh, handle)
        _debug("refresh: done")

    def logout(self) -> bool:
        """Revokes the tokens at the server when it can, then deletes them; True when revoked."""
        import ctypes
        revoked = ctypes.c_int(0)
        with _Use(self._native) as handle:
            _call(self._lib.dl_session_logout, handle, ctypes.byref(revoked))
        return bool(revoked.value)

    def forget(self) -> None:
        """Removes the saved profile (log out first)."""
        with _Use(self._native) as handle:
            _call(self._lib.dl_session_forget, handle)

    def request(self, method: str, url: str, *, headers: Optional[Mapping[str, str]] = None,
                body: Optional[bytes | str] = None, min_ttl: int = 60) -> Response:
        """Sends an authenticated request (refreshing first when needed, and once more on a 401)
        and returns the API's answer whatever its status. The token goes only to the origins of
        the profile's API base URLs (`api_urls` at login) and of its userinfo endpoint: any other
        URL raises ConfigurationError (remedy "add_settings", setting "api_urls") before anything
        is sent, and so do (kind "usage") headers that decide where or as whom the token goes
        (Host, Authorization, Proxy-Authorization, Cookie, DPoP), a method that is not upper-case
        letters and a GET or HEAD with a body."""
        import ctypes
        for text, what in [(method, "method"), (url, "URL")] + \
                [(f"{k}: {v}", "request header") for k, v in (headers or {}).items()]:
            _refuse_nul(text, what)
        lines = [f"{k}: {v}".encode() for k, v in (headers or {}).items()]
        array = (ctypes.c_char_p * (len(lines) + 1))(*lines, None)
        data = body.encode() if isinstance(body, str) else body
        response = ctypes.c_void_p()
        with _Use(self._native) as handle:
            _call(self._lib.dl_session_request, handle, method.encode(), url.encode(), array, data,
                  len(data) if data else 0, min_ttl, ctypes.byref(response))
        try:
            length = ctypes.c_size_t()
            pointer = self._lib.dl_response_body(response, ctypes.byref(length))
            content = ctypes.string_at(pointer, length.value) if pointer else b""
            found = {}
            for name in _HEADERS_WE_READ:
                value = self._lib.dl_response_header(response, name.encode())
                if value is not None:
                    found[name] = _text(value)
            return Response(self._lib.dl_response_status(response), found, content)
        finally:
            self._lib.dl_response_free(response)

    def status(self) -> Status:
        """What is stored for this profile. NotLoggedIn when the profile was never saved."""
        import ctypes
        status = ctypes.c_void_p()
        with _Use(self._native) as handle:
            _call(self._lib.dl_session_status, handle, ctypes.byref(status))
        try:
            fields = {}
            for field in Status.FIELDS:
                value = self._lib.dl_status_get(status, field.encode())
                fields[field] = None if value is None else _text(value)
            return Status(bool(self._lib.dl_status_logged_in(status)), fields)
        finally:
            self._lib.dl_status_free(status)
