"""The dev issuers' Kinde side of API keys over HTTP: the management M2M token, the verify endpoint's
rules (bearer, scope, body) and answers, and /oauth2/introspect as advertised."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest

from kinde_guard.devserver import DevAuthorizationServer
from kinde_guard.testing import DevIssuer


@pytest.fixture(params=["test issuer", "dev authorization server"])
def issuer(request: pytest.FixtureRequest) -> Iterator[DevIssuer]:
    server = DevIssuer() if request.param == "test issuer" else DevAuthorizationServer()
    with server.serve() as served:
        yield served


def management_token(issuer: DevIssuer, secret: str | None = None) -> httpx.Response:
    form = {
        "grant_type": "client_credentials",
        "client_id": issuer.m2m_client_id,
        "client_secret": secret or issuer.m2m_client_secret,
        "audience": issuer.url + "/api",
    }
    return httpx.post(issuer.url + "/oauth2/token", data=form)


def verify(issuer: DevIssuer, token: str, body: object) -> httpx.Response:
    return httpx.post(
        issuer.url + "/api/v1/api_keys/verify", content=json.dumps(body), headers={"Authorization": f"Bearer {token}"}
    )


def test_verify_as_kinde_answers(issuer: DevIssuer) -> None:
    assert management_token(issuer, "wrong").status_code == 401
    answer = management_token(issuer)
    assert answer.status_code == 200 and answer.json()["scope"] == "read:api_keys"
    token = answer.json()["access_token"]
    key = issuer.create_api_key(scopes=["read:orders"], org_code="org_acme")
    ok = verify(issuer, token, {"api_key": key}).json()
    assert ok["code"] == "API_KEY_VERIFIED" and ok["is_valid"] is True and ok["status"] == "active"
    assert ok["scopes"] == ["read:orders"] and ok["org_code"] == "org_acme" and ok["user_id"] is None
    assert ok["key_id"].startswith("api_key_") and ok["verification_count"] == 1
    issuer.revoke_api_key(key)
    assert verify(issuer, token, {"api_key": key}).json()["status"] == "revoked"
    assert verify(issuer, token, {"api_key": "k_live_unknown"}).json()["is_valid"] is False
    assert verify(issuer, token, {}).status_code == 400
    assert verify(issuer, "not-a-token", {"api_key": key}).status_code == 401
    issuer.m2m_scopes = []
    scopeless = management_token(issuer).json()["access_token"]
    missing = verify(issuer, scopeless, {"api_key": key})
    assert missing.status_code == 403 and "Scope missing" in missing.text
    assert issuer.api_key_verifications == 6 and issuer.m2m_token_requests == 3


def test_introspection_is_served_as_advertised(issuer: DevIssuer) -> None:
    assert httpx.get(issuer.url + "/.well-known/openid-configuration").json()["introspection_endpoint"] == (
        issuer.url + "/oauth2/introspect"
    )
    url = issuer.url + "/oauth2/introspect"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert httpx.post(url, content=urlencode({"token": issuer.mint()}), headers=form).status_code == 401
    bearer = {**form, "Authorization": "Bearer " + management_token(issuer).json()["access_token"]}
    active = httpx.post(url, content=urlencode({"token": issuer.mint()}), headers=bearer).json()
    assert active["active"] is True and set(active) == {"active", "aud", "client_id", "exp", "iat"}
    expired = issuer.mint(expires_in=-10)
    assert httpx.post(url, content=urlencode({"token": expired}), headers=bearer).json() == {"active": False}
    assert httpx.post(url, content=urlencode({"token": "garbage"}), headers=bearer).json() == {"active": False}
