"""DPoP (RFC 9449) and the device code's host fields through the Python package, against
`devicelogin serve`, whose userinfo endpoint refuses a DPoP-bound token without a valid proof:
a DPoP-bound login (Session(dpop=True)), the status's token_type and key thumbprint (jkt), the
requests and httpx adapters (sync and async) sending `Authorization: DPoP ...` with a fresh
`DPoP` proof, one retry on the server's use_dpop_nonce challenge (`serve --dpop-nonce`), and a
canary: no byte of the private key in any Python-visible string."""
from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import traceback
from pathlib import Path

import pytest

import devicelogin

SCOPE = "openid profile offline_access"


def dpop_session(name: str, issuer: str) -> devicelogin.Session:
    return devicelogin.Session(name, issuer=issuer, client_id="devicelogin-demo", scope=SCOPE, store="file",
                               dpop=True)


def stored_key(name: str) -> dict[str, str]:
    """The private JWK stored with the tokens (the file store)."""
    stored = Path(os.environ["XDG_STATE_HOME"]) / f"devicelogin/tokens/{name}.json"
    key: dict[str, str] = json.loads(json.loads(stored.read_text())["dpop_key"])
    assert len(key["d"]) >= 40, "the stored key has its private part"
    return key


def test_dpop_login_status_adapters_and_no_key_in_python_strings(serve, caplog):
    import httpx
    import requests
    caplog.set_level(logging.DEBUG)
    server = serve("--auto-approve=0", "--interval", "1")
    userinfo = server.issuer + "/userinfo"
    s = dpop_session("py-dpop", server.issuer)
    shown: list[devicelogin.DeviceCode] = []
    s.login(on_code=shown.append)  # one argument: the whole DeviceCode
    # The host where the user approves, next to the code (the CLI's "You will approve at").
    assert len(shown) == 1 and isinstance(shown[0], devicelogin.DeviceCode)
    code = shown[0]
    assert code.verification_host == "127.0.0.1" and code.verification_uri == server.issuer + "/device"
    assert len(code.user_code) == 9 and code.host_warning == "" and code.expires_in > 0 and code.interval == 1
    assert "started this sign-in" in devicelogin.DeviceCode.ADVICE

    status = s.status()
    assert status.token_type == "DPoP", status.token_type
    assert status.jkt is not None and len(status.jkt) == 43 and status.jkt in repr(status)
    key = stored_key("py-dpop")

    # The proof is what makes the token usable: without one (or with one used before) the server
    # refuses it, with a fresh one it answers.
    credentials = s.request_credentials("GET", userinfo)
    assert credentials.scheme == "DPoP" and credentials.dpop_proof is not None
    token_only = {"Authorization": credentials.authorization.reveal()}
    assert requests.get(userinfo, headers=token_only).status_code == 401
    assert requests.get(userinfo, headers=credentials.headers()).json()["sub"] == "alice"
    assert requests.get(userinfo, headers=credentials.headers()).status_code == 401, "a replayed proof was taken"

    auth = s.requests_auth()
    answer = requests.get(userinfo, auth=auth)
    assert answer.status_code == 200 and answer.json()["sub"] == "alice" and not answer.history
    assert answer.request.headers["Authorization"].startswith("DPoP ") and answer.request.headers["DPoP"].count(".") == 2
    # POST: the proof is for the method too.
    assert requests.post(userinfo, auth=auth).json()["sub"] == "alice"
    with httpx.Client() as client:
        answer2 = client.get(userinfo, auth=s.httpx_auth())
        assert answer2.status_code == 200 and answer2.json()["sub"] == "alice" and not answer2.history
        assert answer2.request.headers["DPoP"].count(".") == 2

    async def async_get() -> httpx.Response:
        async with httpx.AsyncClient() as client:
            return await client.get(userinfo, auth=s.httpx_auth())
    answer3 = asyncio.run(async_get())
    assert answer3.status_code == 200 and answer3.json()["sub"] == "alice"
    # The library's own request signs too.
    assert s.request("GET", userinfo).json()["sub"] == "alice"

    # Canary: the private key ("d") in no string Python sees.
    texts = [repr(s), repr(status), str(vars(status)), repr(credentials), str(credentials),
             credentials.authorization.reveal(), credentials.dpop_proof.reveal(), repr(auth), repr(s.httpx_auth()),
             repr(code), str(answer.request.headers), str(answer2.request.headers), str(answer3.request.headers)]
    refused = [lambda: s.request_credentials("GET", "https://elsewhere.example/x"),
               lambda: s.request_credentials("get", userinfo),
               lambda: requests.get("https://elsewhere.example/x", auth=auth)]
    for failing in refused:
        try:
            failing()
        except devicelogin.DeviceLoginError as error:
            texts += [str(error), repr(error), "".join(traceback.format_exception(error))]
        else:
            pytest.fail("a refused call succeeded")
    s.logout()
    try:
        s.request_credentials("GET", userinfo)
    except devicelogin.NotLoggedIn as error:
        texts += [str(error), "".join(traceback.format_exception(error))]
    else:
        pytest.fail("credentials after logout")
    texts += [record.getMessage() for record in caplog.records]
    assert any("login" in record.getMessage() for record in caplog.records)  # the logs were captured
    leaked = [i for i, text in enumerate(texts) if key["d"] in text]
    assert not leaked, f"the private key is in texts {leaked} (of {len(texts)})"
    # The proofs carry the public key and never the private part, also inside their base64url.
    proofs = [credentials.dpop_proof.reveal(), answer.request.headers["DPoP"], answer2.request.headers["DPoP"],
              answer3.request.headers["DPoP"]]
    for proof in proofs:
        header, claims = (base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode()
                          for part in proof.split(".")[:2])
        assert key["x"] in header and key["d"] not in header + claims, "a proof's header is not the public key's"


def test_use_dpop_nonce_is_answered_once_by_each_adapter(serve):
    import httpx
    import requests
    server = serve("--auto-approve=0", "--interval", "1", "--dpop-nonce")
    userinfo = server.issuer + "/userinfo"
    hosts: list[str] = []

    async def sign_in() -> None:
        # login_async with a one-argument callback: the DeviceCode, on the event loop.
        await dpop_session("py-nonce", server.issuer).login_async(on_code=lambda code: hosts.append(code.verification_host))
    asyncio.run(sign_in())
    assert hosts == ["127.0.0.1"]

    def stored_token() -> str:
        return devicelogin.Session("py-nonce").token().reveal()
    issued = stored_token()

    # Each adapter on a new session (no nonce learned yet): the server's 401 use_dpop_nonce, then
    # the request once more with its nonce, answered.
    first = requests.get(userinfo, auth=devicelogin.Session("py-nonce").requests_auth())
    assert first.status_code == 200 and first.json()["sub"] == "alice"
    assert [r.status_code for r in first.history] == [401]
    assert 'use_dpop_nonce' in first.history[0].headers["WWW-Authenticate"]
    assert first.history[0].request.headers["DPoP"] != first.request.headers["DPoP"]
    # The same token: a nonce retry is not a refresh (nor does it spend the adapter's one refresh).
    assert first.history[0].request.headers["Authorization"] == first.request.headers["Authorization"]

    with httpx.Client() as client:
        second = client.get(userinfo, auth=devicelogin.Session("py-nonce").httpx_auth())
    assert second.status_code == 200 and [r.status_code for r in second.history] == [401]
    assert stored_token() == issued, "the httpx adapter refreshed on a nonce challenge"

    async def async_get() -> httpx.Response:
        async with httpx.AsyncClient() as client:
            return await client.get(userinfo, auth=devicelogin.Session("py-nonce").httpx_auth())
    third = asyncio.run(async_get())
    assert third.status_code == 200 and [r.status_code for r in third.history] == [401]
    assert stored_token() == issued, "the async httpx adapter refreshed on a nonce challenge"

    # A session that has learned the nonce sends it at once.
    s = devicelogin.Session("py-nonce")
    auth = s.requests_auth()
    assert requests.get(userinfo, auth=auth).history
    again = requests.get(userinfo, auth=auth)
    assert again.status_code == 200 and not again.history
    assert server.stop().count("tokens refreshed") == 0, "a nonce challenge made an adapter refresh"


def test_learn_from_response_and_bearer_credentials(serve):
    server = serve("--auto-approve=0", "--interval", "1")
    userinfo = server.issuer + "/userinfo"
    s = devicelogin.Session("py-bearer", issuer=server.issuer, client_id="devicelogin-demo", scope=SCOPE, store="file")
    three: list[tuple[str, str, str]] = []
    s.login(on_code=lambda code, uri, full: three.append((code, uri, full)))  # the three-argument form
    assert len(three) == 1 and three[0][1] == server.issuer + "/device"
    status = s.status()
    assert status.token_type == "Bearer" and status.jkt is None
    credentials = s.request_credentials("GET", userinfo)
    assert credentials.scheme == "Bearer" and credentials.dpop_proof is None
    assert credentials.headers() == {"Authorization": s.authorization().reveal()}
    assert "DPoP" not in credentials.headers()
    # A malformed use_dpop_nonce challenge (no nonce) is the server's fault: NetworkError.
    assert s.learn_from_response(userinfo, 401, [("WWW-Authenticate", 'DPoP error="use_dpop_nonce"'),
                                                 ("DPoP-Nonce", "n-1")]) is True
    assert s.learn_from_response(userinfo, 200, [("DPoP-Nonce", "n-2")]) is False
    with pytest.raises(devicelogin.NetworkError):
        s.learn_from_response(userinfo, 401, [("WWW-Authenticate", 'DPoP error="use_dpop_nonce"')])
