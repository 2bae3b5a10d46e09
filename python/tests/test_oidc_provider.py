"""The Python package against the real `oidc-provider` (tests/integration/oidc_server.mjs): approve
and deny through its pages (approve.mjs), refresh with rotation, revocation on logout (checked by
introspection), and a canary with every device code and token the server issued."""
from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import traceback
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

import devicelogin
from conftest import SOURCE

INTEGRATION = SOURCE / "tests/integration"


@pytest.fixture
def provider():
    if not (INTEGRATION / "node_modules/oidc-provider").is_dir():
        pytest.fail("tests/integration/node_modules is missing: node scripts/npm-ensure.mjs tests/integration")
    child = subprocess.Popen(["node", str(INTEGRATION / "oidc_server.mjs"), "--interval", "1"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
    info = json.loads(child.stdout.readline())
    meta = json.load(urllib.request.urlopen(info["issuer"] + "/.well-known/openid-configuration", timeout=10))
    info["meta"] = meta
    yield info
    child.terminate()
    child.wait(timeout=10)


def approve(uri: str, code: str, deny: bool = False) -> None:
    args = ["node", str(INTEGRATION / "approve.mjs"), uri, code] + (["--deny"] if deny else [])
    subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def session(name: str, info: dict) -> devicelogin.Session:
    return devicelogin.Session(name, issuer=info["issuer"], client_id=info["client_id"],
                               scope="openid offline_access", store="file")


def stored(name: str) -> dict:
    return json.loads((Path(os.environ["XDG_STATE_HOME"]) / f"devicelogin/tokens/{name}.json").read_text())


def events(info: dict) -> dict:
    return json.load(urllib.request.urlopen(info["test_endpoint"], timeout=10))


def active(info: dict, token: str) -> bool:
    credentials = f"{info['introspection_client_id']}:{info['introspection_client_secret']}".encode()
    request = urllib.request.Request(info["meta"]["introspection_endpoint"],
                                     data=urllib.parse.urlencode({"token": token}).encode(),
                                     headers={"Authorization": "Basic " + base64.b64encode(credentials).decode()})
    return json.load(urllib.request.urlopen(request, timeout=10))["active"]


def test_approve_refresh_rotation_and_revocation_on_logout(provider):
    s = session("op", provider)
    s.login(on_code=lambda code, uri, full: approve(full or uri, code))
    assert s.status().logged_in
    first_refresh = stored("op")["refresh_token"]
    assert active(provider, first_refresh)
    response = s.request("GET", provider["meta"]["userinfo_endpoint"])
    assert response.status == 200 and response.json()["sub"]
    s.refresh()
    second_refresh = stored("op")["refresh_token"]
    assert second_refresh != first_refresh  # rotated
    assert [r["result"] for r in events(provider)["refreshes"]] == ["ok"]
    assert s.logout() is True
    assert not active(provider, second_refresh)  # revoked at the server
    with pytest.raises(devicelogin.NotLoggedIn):
        s.token()


def test_denied(provider):
    s = session("op-deny", provider)
    with pytest.raises(devicelogin.AccessDenied) as caught:
        s.login(on_code=lambda code, uri, full: approve(full or uri, code, deny=True))
    assert caught.value.oauth_error == "access_denied"


def test_canary_every_issued_secret(provider, caplog):
    caplog.set_level(logging.DEBUG)
    s = session("op-canary", provider)
    s.login(on_code=lambda code, uri, full: approve(full or uri, code))
    token = s.token()
    s.refresh()
    texts = [repr(token), str(token), repr(s), repr(s.status()),
             repr(s.request("GET", provider["meta"]["userinfo_endpoint"]))]
    s.logout()
    for failing in (s.token, s.refresh):
        try:
            failing()
        except devicelogin.DeviceLoginError as error:
            texts += [str(error), repr(error), "".join(traceback.format_exception(error))]
    texts += [record.getMessage() for record in caplog.records]
    seen = events(provider)
    secrets = list(seen["device_codes"])
    for issued in seen["tokens"]:
        secrets += [issued.get(k) for k in ("access_token", "refresh_token", "id_token") if issued.get(k)]
    assert len(secrets) >= 5  # a device code, two access tokens, two refresh tokens at least
    leaked = [i for i, text in enumerate(texts) if any(secret in text for secret in secrets)]
    assert not leaked, f"an issued secret is in texts {leaked} (of {len(texts)})"


def test_browser_flow(provider):
    """Session.login(flow="browser"): the authorization URL goes to on_browser, a browser (plain
    HTTP through the provider's pages, sign_in_browser.mjs) comes back to the loopback listener,
    and the tokens are stored; the flow is remembered for the next login."""
    s = devicelogin.Session("browser", issuer=provider["issuer"], client_id=provider["browser_client_id"],
                            scope="openid offline_access", store="file")
    opened = []

    def on_browser(url: str) -> None:
        opened.append(url)
        redirect_uri = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["redirect_uri"][0]
        subprocess.Popen(["node", str(INTEGRATION / "sign_in_browser.mjs"), url, redirect_uri],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    s.login(flow="browser", on_browser=on_browser)
    assert len(opened) == 1 and opened[0].startswith(provider["issuer"] + "/auth?")
    assert "code_challenge_method=S256" in opened[0]
    assert s.status().logged_in
    assert active(provider, s.token().reveal())
    profile = json.loads((Path(os.environ["XDG_CONFIG_HOME"]) / "devicelogin/profiles/browser.json").read_text())
    assert profile["login_flow"] == "browser"
    with pytest.raises(devicelogin.ConfigurationError):
        s.login(flow="sideways")
