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
    """Adds the session's token to a request whose URL the session allows (with a DPoP proof for
    a DPoP-bound token), sends it once more when the server asks for a DPoP nonce, and on a 401
    refreshes once and sends it again (as Session.request does). The token is never in its repr."""

    def __init__(self, session: Session, min_ttl: int) -> None:
        self.session = session
        self.min_ttl = min_ttl

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        self.session.check_url(request.url or "")  # raises before anything is sent
        _refuse_host(request.headers.get("Host"), urlsplit(request.url or "").netloc.rpartition("@")[2])
        self._present(request, self.min_ttl)
        request.register_hook("response", self._on_response)  # type: ignore[no-untyped-call]
        return request

    def _present(self, request: requests.PreparedRequest, min_ttl: int) -> None:
        """Authorization (and DPoP, a proof for this method and URL) on `request`."""
        credentials = self.session.request_credentials(request.method or "GET", request.url or "", min_ttl)
        request.headers.update(credentials.headers())
        if credentials.dpop_proof is None:
            request.headers.pop("DPoP", None)  # a proof for another token is not sent along
        request._devicelogin_dpop = credentials.dpop_proof is not None  # type: ignore[attr-defined]

    def _on_response(self, response: requests.Response, **send: Any) -> requests.Response:
        request = response.request
        try:
            self.session.check_url(request.url or "")
        except DeviceLoginError:  # a redirect to another origin answered: its 401 is the answer
            return response
        # RFC 9449 §9: one more try with the resource server's nonce when it asks for one, and
        # (as for any token) one refresh and one more try on a 401; never with a body that was a
        # stream and is gone.
        nonce_retried = refreshed = False
        while True:
            asks_for_nonce = False
            if getattr(request, "_devicelogin_dpop", False):
                headers = [(name, value) for name, value in response.headers.items()]
                asks_for_nonce = self.session.learn_from_response(request.url or "", response.status_code, headers)
            if asks_for_nonce and not nonce_retried:
                nonce_retried = True
                refresh = False
            elif response.status_code == 401 and not refreshed:
                refreshed = refresh = True
            else:
                return response
            if not isinstance(request.body, (bytes, str, type(None))):
                return response
            response = self._send_again(response, send, refresh)
            request = response.request

    def _send_again(self, response: requests.Response, send: Any, refresh: bool) -> requests.Response:
        request = response.request
        response.content  # noqa: B018 (read, so that the connection can be reused)
        response.close()
        if refresh:
            self.session.refresh()
        retry = request.copy()
        extract_cookies_to_jar(retry._cookies, request, response.raw)  # type: ignore[attr-defined,no-untyped-call]
        retry.prepare_cookies(retry._cookies)  # type: ignore[attr-defined]
        self._present(retry, 0 if refresh else self.min_ttl)
        again: requests.Response = response.connection.send(retry, **send)  # type: ignore[attr-defined]
        again.history.extend(response.history)
        again.history.append(response)
        again.request = retry
        return again

    def __repr__(self) -> str:
        return f"RequestsAuth({self.session!r})"
