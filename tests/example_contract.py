"""The behaviour both example apps share, as tests. tests/test_fastapi_example.py and
tests/test_flask_example.py import them, so each runs against its own ``base_url`` and ``issuer``
fixtures: one contract, held by two apps, written once."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import httpx
import pytest

from kinde_guard.testing import DevIssuer
from tests.example_cases import AUTH, CASES, Case

__all__ = [
    "test_an_m2m_order_is_owned_by_the_calling_application",
    "test_create_order_checks_the_token_before_the_body",
    "test_example_answers_as_the_shared_table_says",
    "test_healthz_reports_the_key_set_without_secrets",
    "test_me_describes_the_caller",
    "test_orders_list_and_create_with_a_body_or_none",
]


def request_case(base_url: str, issuer: DevIssuer, case: Case) -> tuple[int, dict[str, str], bytes, str]:
    """The case's request over http.client, which (unlike httpx) sends odd values such as
    ``Bearer `` as given. Returns status, lower-cased headers, body and the Authorization sent."""
    authorization = AUTH[case.auth](issuer)
    headers = {} if authorization is None else {"Authorization": authorization}
    body = None
    if case.json is not None:
        body = json.dumps(case.json).encode()
        headers["Content-Type"] = "application/json"
    conn = http.client.HTTPConnection(urlsplit(base_url).netloc, timeout=10)
    try:
        conn.request(case.method, case.path, body=body, headers=headers)
        response = conn.getresponse()
        answer = {k.lower(): v for k, v in response.getheaders()}
        return response.status, answer, response.read(), authorization or ""
    finally:
        conn.close()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_example_answers_as_the_shared_table_says(base_url: str, issuer: DevIssuer, case: Case) -> None:
    status, headers, body, authorization = request_case(base_url, issuer, case)
    assert status == case.status, body
    assert headers.get("www-authenticate") == case.www_authenticate
    if case.error is not None:
        assert headers["content-type"] == "application/json"
        error = json.loads(body)
        assert error["error"] == case.error
        assert error["error_description"]
        assert set(error) == {"error", "error_description"}
    elif case.status >= 400:
        assert json.loads(body) == {"error": "unauthorized", "error_description": "A bearer token is required."}
    elif case.status == 204:
        assert body == b""
    else:
        json.loads(body)  # every success but 204 answers JSON
    # No token ever comes back in an answer, whatever the case.
    token = authorization.partition(" ")[2]
    if len(token) > 20:
        assert token.encode() not in body


def test_me_describes_the_caller(base_url: str, issuer: DevIssuer) -> None:
    token = issuer.mint(scopes=["openid", "read:orders"], permissions=["delete:orders"], org_code="org_acme")
    response = httpx.get(base_url + "/me", headers={"Authorization": "Bearer " + token})
    body = response.json()
    assert set(body) == {"sub", "scopes", "permissions", "org_code", "azp", "is_m2m"}
    assert body["scopes"] == ["openid", "read:orders"]
    assert body["permissions"] == ["delete:orders"]
    assert (body["org_code"], body["azp"], body["is_m2m"]) == ("org_acme", issuer.client_id, False)
    assert body["sub"].startswith("kp_")


def test_orders_list_and_create_with_a_body_or_none(base_url: str, issuer: DevIssuer) -> None:
    auth = {"Authorization": "Bearer " + issuer.mint(scopes=["read:orders", "write:orders"])}
    created = httpx.post(base_url + "/orders", headers=auth, json={"item": "tea", "quantity": 3})
    assert created.status_code == 201
    assert (created.json()["item"], created.json()["quantity"]) == ("tea", 3)
    assert created.json()["owner"].startswith("kp_")
    empty_object = httpx.post(base_url + "/orders", headers=auth, json={})
    no_body = httpx.post(base_url + "/orders", headers=auth)
    assert (empty_object.status_code, no_body.status_code) == (201, 201)
    assert (no_body.json()["item"], no_body.json()["quantity"]) == ("coffee", 1)
    listed = httpx.get(base_url + "/orders", headers=auth)
    assert listed.status_code == 200
    assert created.json() in listed.json()


def test_an_m2m_order_is_owned_by_the_calling_application(base_url: str, issuer: DevIssuer) -> None:
    auth = {"Authorization": "Bearer " + issuer.mint_m2m(scopes=["write:orders"])}
    created = httpx.post(base_url + "/orders", headers=auth, json={})
    assert created.status_code == 201
    assert created.json()["owner"] == issuer.client_id


@pytest.mark.parametrize(
    ("auth", "body", "status", "error"),
    [
        ("none", b"{not json", 401, None),  # the token is checked before the body is read
        ("valid", b"{not json", 400, "invalid_request"),
        ("valid", b'{"quantity": 0}', 422, "invalid_request"),
        ("valid", b'{"quantity": true}', 422, "invalid_request"),
        ("valid", b'["tea"]', 422, "invalid_request"),
        ("valid", b'{"item": "tea"}', 201, None),
        ("valid", b"", 201, None),
    ],
)
def test_create_order_checks_the_token_before_the_body(
    base_url: str, issuer: DevIssuer, auth: str, body: bytes, status: int, error: str | None
) -> None:
    authorization = AUTH[auth](issuer)
    headers = {"Content-Type": "application/json"} | ({} if authorization is None else {"Authorization": authorization})
    response = httpx.post(base_url + "/orders", content=body, headers=headers)
    assert response.status_code == status, response.text
    if error:
        assert response.json()["error"] == error
    if status == 201:
        assert response.json()["item"] in ("tea", "coffee")


def test_healthz_reports_the_key_set_without_secrets(base_url: str, issuer: DevIssuer) -> None:
    response = httpx.get(base_url + "/healthz")
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "ok"
    assert body["keys"]["kids"] == [issuer.kid]
    assert body["keys"]["usable"] is True
    assert '"n"' not in response.text  # no key material
