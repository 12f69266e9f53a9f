"""The dev issuer's device authorization flow (RFC 8628) over real HTTP, as a device and a browser
would use it: the device endpoint, the /device page, the device-code grant's answers, one-time codes."""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from kinde_guard.devserver import DEFAULT_DEVICE_CLIENT_ID, DevAuthorizationServer, load_config
from kinde_guard.devserver.config import parse_config
from kinde_guard.errors import ConfigurationError
from kinde_guard.testing import DEFAULT_AUDIENCE, DEFAULT_CLIENT_ID, FrozenClock

GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture
def dev(rsa_keys: list[rsa.RSAPrivateKey], clock: FrozenClock) -> Iterator[DevAuthorizationServer]:
    with DevAuthorizationServer(load_config(), key=rsa_keys[0], clock=clock).serve() as server:
        yield server


def call(url: str, form: dict[str, str] | None = None) -> tuple[int, str]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if form is not None else {}
        path = parts.path + ("?" + parts.query if parts.query else "")
        conn.request("POST" if form is not None else "GET", path, urlencode(form) if form else None, headers)
        r = conn.getresponse()
        return r.status, r.read().decode()
    finally:
        conn.close()


def start(dev: DevAuthorizationServer, **form: str) -> dict[str, Any]:
    fields = {
        "client_id": DEFAULT_DEVICE_CLIENT_ID,
        "scope": "openid offline read:orders",
        "audience": DEFAULT_AUDIENCE,
    }
    status, body = call(dev.url + "/oauth2/device/auth", {**fields, **form})
    assert status == 200, body
    doc: dict[str, Any] = json.loads(body)
    return doc


def poll(dev: DevAuthorizationServer, device_code: str, client_id: str = DEFAULT_DEVICE_CLIENT_ID) -> tuple[int, Any]:
    status, body = call(
        dev.url + "/oauth2/token", {"grant_type": GRANT, "device_code": device_code, "client_id": client_id}
    )
    return status, json.loads(body)


def enter_and_sign_in(dev: DevAuthorizationServer, typed: str, choice: dict[str, str] | None = None) -> tuple[int, str]:
    status, page = call(dev.url + "/device", {"user_code": typed})
    if status != 200:
        return status, page
    request_id = re.search(r'name="request_id" value="([^"]+)"', page)
    assert request_id is not None
    pick = choice or {"user_id": re.findall(r'name="user_id" value="([^"]+)"', page)[0]}
    return call(dev.url + "/device/sign-in", {"request_id": request_id.group(1), **pick})


def test_discovery_names_the_device_endpoint_and_grant(dev: DevAuthorizationServer) -> None:
    doc = json.loads(call(dev.url + "/.well-known/openid-configuration")[1])
    assert doc["device_authorization_endpoint"] == dev.url + "/oauth2/device/auth"
    assert GRANT in doc["grant_types_supported"]


def test_the_device_endpoint_answers_kindes_fields(dev: DevAuthorizationServer) -> None:
    doc = start(dev)
    assert set(doc) == {
        "device_code",
        "user_code",
        "verification_uri",
        "verification_uri_complete",
        "expires_in",
        "interval",
    }
    assert doc["verification_uri"] == dev.url + "/device" and (doc["expires_in"], doc["interval"]) == (600, 5)
    assert doc["verification_uri_complete"] == f"{dev.url}/device?user_code={doc['user_code']}"
    status, page = call(doc["verification_uri_complete"])
    assert status == 200 and f'value="{doc["user_code"]}"' in page  # the complete URL pre-fills the code


def test_pending_then_slow_down_then_the_tokens_once(dev: DevAuthorizationServer, clock: FrozenClock) -> None:
    doc = start(dev)
    clock.advance(5)
    assert poll(dev, doc["device_code"]) == (
        400,
        {"error": "authorization_pending", "error_description": "The user has not signed in yet."},
    )
    clock.advance(4)  # sooner than the interval
    status, answer = poll(dev, doc["device_code"])
    assert (status, answer["error"]) == (400, "slow_down")
    clock.advance(9)  # the interval is now 10: still too soon
    assert poll(dev, doc["device_code"])[1]["error"] == "slow_down"
    # typed as a person would: lower case, no dash
    status, page = enter_and_sign_in(dev, doc["user_code"].replace("-", " ").lower())
    assert status == 200 and "Device connected" in page
    clock.advance(15)
    status, tokens = poll(dev, doc["device_code"])
    assert status == 200 and {"access_token", "id_token", "refresh_token"} <= set(tokens)
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert claims["azp"] == DEFAULT_DEVICE_CLIENT_ID and claims["aud"] == [DEFAULT_AUDIENCE]
    assert claims["scp"] == ["openid", "offline", "read:orders"] and claims["org_code"] == "org_dev"
    clock.advance(15)
    assert poll(dev, doc["device_code"])[1]["error"] == "invalid_grant"  # one-time: used up
    assert enter_and_sign_in(dev, doc["user_code"])[0] == 400  # and its user code too


def test_cancel_answers_access_denied_once(dev: DevAuthorizationServer, clock: FrozenClock) -> None:
    doc = start(dev)
    status, page = enter_and_sign_in(dev, doc["user_code"], {"cancel": "1"})
    assert status == 200 and "not connected" in page
    clock.advance(5)
    assert poll(dev, doc["device_code"])[1]["error"] == "access_denied"
    clock.advance(5)
    assert poll(dev, doc["device_code"])[1]["error"] == "invalid_grant"


def test_an_expired_code_answers_expired_token_and_cannot_be_approved(
    dev: DevAuthorizationServer, clock: FrozenClock
) -> None:
    doc = start(dev)
    clock.advance(600)
    assert poll(dev, doc["device_code"])[1]["error"] == "expired_token"
    status, page = enter_and_sign_in(dev, doc["user_code"])
    assert status == 400 and "unknown, used or expired" in page


def test_another_clients_poll_gets_nothing(dev: DevAuthorizationServer, clock: FrozenClock) -> None:
    doc = start(dev)
    enter_and_sign_in(dev, doc["user_code"])
    clock.advance(5)
    assert poll(dev, doc["device_code"], client_id=DEFAULT_CLIENT_ID)[1]["error"] == "unauthorized_client"
    assert poll(dev, doc["device_code"])[0] == 200  # the rightful device still gets its tokens


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"client_id": DEFAULT_CLIENT_ID}, 400, "unauthorized_client"),  # not a Device and IoT app
        ({"client_id": "nobody"}, 401, "invalid_client"),
        ({"audience": "https://other.example.com"}, 400, "invalid_request"),
    ],
)
def test_device_endpoint_refusals(dev: DevAuthorizationServer, form: dict[str, str], status: int, error: str) -> None:
    fields = {"client_id": DEFAULT_DEVICE_CLIENT_ID, "audience": DEFAULT_AUDIENCE, **form}
    got, body = call(dev.url + "/oauth2/device/auth", fields)
    assert (got, json.loads(body)["error"]) == (status, error)


def test_an_unknown_code_on_the_device_page_is_said_on_the_page(dev: DevAuthorizationServer) -> None:
    status, page = call(dev.url + "/device", {"user_code": "BCDF-GHJK"})
    assert status == 400 and "This code is unknown, used or expired." in page


def test_a_device_client_has_no_secret_and_the_intervals_are_validated() -> None:
    device = {"client_id": "tv", "type": "device", "apis": [DEFAULT_AUDIENCE]}
    assert parse_config({"clients": [device], "device_interval": 2}).device_interval == 2
    with pytest.raises(ConfigurationError, match="a device client has no client_secret"):
        parse_config({"clients": [{**device, "client_secret": "x"}]})
    with pytest.raises(ConfigurationError, match="device_interval must be a whole number"):
        parse_config({"device_interval": 0})
