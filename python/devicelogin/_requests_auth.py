"""Session.requests_auth(): the token on a `requests` call (imported only when asked for)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests.auth
from requests.cookies import extract_cookies_to_jar

from . import DeviceLoginError, _refuse_host

if TYPE_CHECKING:
    from . import Session


class RequestsAuth(requests.auth.AuthBase):
    """Adds the session's token to a request whose URL the session allows, and on a 401 refreshes
    once and sends it again (as Session.request does). The token is never in its repr."""

    def __init__(self, session: Session, min_ttl: int) -> None:
        self.session = session
        self.min_ttl = min_ttl

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        self.session.check_url(request.url or "")  # raises before anything is sent
        _refuse_host(request.headers.get("Host"), urlsplit(request.url or "").netloc.rpartition("@")[2])
        request.headers["Authorization"] = self.session.authorization(self.min_ttl).reveal()
        request.register_hook("response", self._on_response)  # type: ignore[no-untyped-call]
        return request

    def _on_response(self, response: requests.Response, **send: Any) -> requests.Response:
        request = response.request
        # Once per request; never after a redirect took the request elsewhere (requests carries
        # this hook along), nor with a body that was a stream and is gone.
        if response.status_code != 401 or getattr(request, "_devicelogin_retried", False) or \
                not isinstance(request.body, (bytes, str, type(None))):
            return response
        try:
            self.session.check_url(request.url or "")
        except DeviceLoginError:  # a redirect to another origin answered: its 401 is the answer
            return response
        response.content  # noqa: B018 (read, so that the connection can be reused)
        response.close()
        self.session.refresh()
        retry = request.copy()
        retry._devicelogin_retried = True  # type: ignore[attr-defined]
        extract_cookies_to_jar(retry._cookies, request, response.raw)  # type: ignore[attr-defined,no-untyped-call]
        retry.prepare_cookies(retry._cookies)  # type: ignore[attr-defined]
        retry.headers["Authorization"] = self.session.authorization(0).reveal()
        again: requests.Response = response.connection.send(retry, **send)  # type: ignore[attr-defined]
        again.history.append(response)
        again.request = retry
        return again

    def __repr__(self) -> str:
        return f"RequestsAuth({self.session!r})"
