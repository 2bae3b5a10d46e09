"""Session.httpx_auth(): the token on an `httpx` call (imported only when asked for)."""
from __future__ import annotations

from typing import TYPE_CHECKING, AsyncGenerator, Generator

import httpx

from . import DeviceLoginError, _refuse_host

if TYPE_CHECKING:
    from . import Session


class HttpxAuth(httpx.Auth):
    """Adds the session's token to a request whose URL the session allows, and on a 401 refreshes
    once and sends it again (as Session.request does). With AsyncClient, the native calls run on a
    worker thread. The token is never in its repr."""

    requires_request_body = True  # read first, so that the retry can send it again

    def __init__(self, session: Session, min_ttl: int) -> None:
        self.session = session
        self.min_ttl = min_ttl

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.read()
        self.session.check_url(str(request.url))
        _refuse_host(request.headers.get("Host"), request.url.netloc.decode("ascii"))
        request.headers["Authorization"] = self.session.authorization(self.min_ttl).reveal()
        response = yield request
        if response.status_code == 401 and self._may_retry(response):
            self.session.refresh()
            request.headers["Authorization"] = self.session.authorization(0).reveal()
            yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        await request.aread()
        await self.session._off_loop(self.session.check_url, str(request.url))
        _refuse_host(request.headers.get("Host"), request.url.netloc.decode("ascii"))
        request.headers["Authorization"] = (await self.session.authorization_async(self.min_ttl)).reveal()
        response = yield request
        if response.status_code == 401 and self._may_retry(response):
            await self.session.refresh_async()
            request.headers["Authorization"] = (await self.session.authorization_async(0)).reveal()
            yield request

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
