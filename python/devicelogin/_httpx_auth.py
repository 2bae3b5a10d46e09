"""Session.httpx_auth(): the token on an `httpx` call (imported only when asked for)."""
from __future__ import annotations

from typing import TYPE_CHECKING, AsyncGenerator, Generator, Optional

import httpx

from . import Credentials, DeviceLoginError, _refuse_host

if TYPE_CHECKING:
    from . import Session


class HttpxAuth(httpx.Auth):
    """Adds the session's token to a request whose URL the session allows (with a DPoP proof for
    a DPoP-bound token), sends it once more when the server asks for a DPoP nonce, and on a 401
    refreshes once and sends it again (as Session.request does). With AsyncClient, the native
    calls run on a worker thread. The token is never in its repr."""

    requires_request_body = True  # read first, so that the retry can send it again

    def __init__(self, session: Session, min_ttl: int) -> None:
        self.session = session
        self.min_ttl = min_ttl

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.read()
        self.session.check_url(str(request.url))
        _refuse_host(request.headers.get("Host"), request.url.netloc.decode("ascii"))
        dpop = _present(request, self.session.request_credentials(request.method, str(request.url), self.min_ttl))
        response = yield request
        nonce_retried = refreshed = False
        while True:
            allowed = self._may_retry(response)
            asks_for_nonce = dpop and allowed and \
                self.session.learn_from_response(str(request.url), response.status_code, response.headers.multi_items())
            refresh = _next(response.status_code, allowed, asks_for_nonce, nonce_retried, refreshed)
            if refresh is None:
                return
            nonce_retried, refreshed = nonce_retried or not refresh, refreshed or refresh
            if refresh:
                self.session.refresh()
            credentials = self.session.request_credentials(request.method, str(request.url),
                                                           0 if refresh else self.min_ttl)
            dpop = _present(request, credentials)
            response = yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        await request.aread()
        off_loop = self.session._off_loop
        await off_loop(self.session.check_url, str(request.url))
        _refuse_host(request.headers.get("Host"), request.url.netloc.decode("ascii"))
        dpop = _present(request, await self.session.request_credentials_async(request.method, str(request.url),
                                                                              self.min_ttl))
        response = yield request
        nonce_retried = refreshed = False
        while True:
            allowed = await off_loop(self._may_retry, response)
            asks_for_nonce = dpop and allowed and \
                await off_loop(self.session.learn_from_response, str(request.url), response.status_code,
                               response.headers.multi_items())
            refresh = _next(response.status_code, allowed, asks_for_nonce, nonce_retried, refreshed)
            if refresh is None:
                return
            nonce_retried, refreshed = nonce_retried or not refresh, refreshed or refresh
            if refresh:
                await self.session.refresh_async()
            dpop = _present(request, await self.session.request_credentials_async(
                request.method, str(request.url), 0 if refresh else self.min_ttl))
            response = yield request

    def _may_retry(self, response: httpx.Response) -> bool:
        """A 401 from where the session sends its token (not one from an origin a redirect led to,
        which gets no token and must not make us refresh): as the requests adapter."""
        try:
            self.session.check_url(str(response.request.url))
        except DeviceLoginError:
            return False
        return True

    def __repr__(self) -> str:
        return f"HttpxAuth({self.session!r})"


def _present(request: httpx.Request, credentials: Credentials) -> bool:
    """Authorization (and DPoP, a proof for this method and URL) on `request`; True with a proof."""
    request.headers.update(credentials.headers())
    if credentials.dpop_proof is None and "DPoP" in request.headers:
        del request.headers["DPoP"]  # a proof for another token is not sent along
    return credentials.dpop_proof is not None


def _next(status: int, allowed: bool, asks_for_nonce: bool, nonce_retried: bool, refreshed: bool) -> Optional[bool]:
    """What to do after an answer with `status` from an origin the token may go to (`allowed`):
    None to return it; False to send the request once more with the server's DPoP nonce
    (RFC 9449 §9), True to refresh and send it again (a 401, once)."""
    if asks_for_nonce and not nonce_retried:
        return False
    if status == 401 and allowed and not refreshed:
        return True
    return None
