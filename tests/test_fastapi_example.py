"""examples/fastapi_app over real HTTP: uvicorn on 127.0.0.1 against a served DevIssuer.

The cases come from tests/example_cases.py, the table the Flask example is held to as well.
"""

from __future__ import annotations

import http.client
import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from kinde_guard.testing import DevIssuer
from tests.example_cases import AUTH, CASES, Case
from tests.servers import serve_asgi

AUDIENCE = "https://api.orders.example"
ROOT = Path(__file__).resolve().parent.parent
MODULE = "examples.fastapi_app.app"


def _load_example(env: dict[str, str]) -> Any:
    """Import the example as uvicorn would, with ``env`` set; a fresh module, not a cached one."""
    sys.modules.pop(MODULE, None)
    with pytest.MonkeyPatch.context() as mp:
        for name in ("KINDE_DOMAIN", "KINDE_AUDIENCE", "KINDE_JWKS_URI", "KINDE_CLIENT_ID"):
            mp.delenv(name, raising=False)
        for name, value in env.items():
            mp.setenv(name, value)
        module = importlib.import_module(MODULE)
    sys.modules.pop(MODULE, None)
    return module.app


@pytest.fixture(scope="module")
def issuer() -> Iterator[DevIssuer]:
    with DevIssuer(audience=AUDIENCE).serve() as served:
        yield served


@pytest.fixture(scope="module")
def base_url(issuer: DevIssuer) -> Iterator[str]:
    app = _load_example({"KINDE_DOMAIN": issuer.url, "KINDE_AUDIENCE": AUDIENCE})
    with serve_asgi(app) as url:
        yield url


def _request(base_url: str, issuer: DevIssuer, case: Case) -> tuple[int, dict[str, str], bytes, str]:
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
    status, headers, body, authorization = _request(base_url, issuer, case)
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
    empty_object = httpx.post(base_url + "/orders", headers=auth, json={})
    no_body = httpx.post(base_url + "/orders", headers=auth)
    assert (empty_object.status_code, no_body.status_code) == (201, 201)
    assert (no_body.json()["item"], no_body.json()["quantity"]) == ("coffee", 1)
    listed = httpx.get(base_url + "/orders", headers=auth)
    assert listed.status_code == 200
    assert created.json() in listed.json()


def test_bad_order_body_is_a_422_not_a_crash(base_url: str, issuer: DevIssuer) -> None:
    auth = {"Authorization": "Bearer " + issuer.mint(scopes=["write:orders"])}
    response = httpx.post(base_url + "/orders", headers=auth, json={"quantity": -5})
    assert response.status_code == 422


def test_healthz_reports_the_key_set_without_secrets(base_url: str, issuer: DevIssuer) -> None:
    body = httpx.get(base_url + "/healthz").json()
    assert body["status"] == "ok"
    assert body["keys"]["kids"] == [issuer.kid]
    assert body["keys"]["usable"] is True
    assert '"n"' not in httpx.get(base_url + "/healthz").text  # no key material


def test_healthz_is_503_when_keys_cannot_be_had(issuer: DevIssuer) -> None:
    app = _load_example({"KINDE_DOMAIN": issuer.url, "KINDE_AUDIENCE": AUDIENCE})
    issuer.jwks_status = 500
    try:
        with serve_asgi(app) as url:
            response = httpx.get(url + "/healthz")
            again = httpx.get(url + "/healthz")
    finally:
        issuer.jwks_status = 200
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert "500" in response.json()["keys"]["last_error"]
    assert again.status_code == 503


def test_cold_jwks_outage_answers_503_with_retry_after(issuer: DevIssuer) -> None:
    app = _load_example({"KINDE_DOMAIN": issuer.url, "KINDE_AUDIENCE": AUDIENCE})
    issuer.jwks_status = 503
    try:
        with serve_asgi(app) as url:
            response = httpx.get(url + "/me", headers={"Authorization": "Bearer " + issuer.mint()})
    finally:
        issuer.jwks_status = 200
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) >= 1
    assert "www-authenticate" not in response.headers
    assert response.json()["error"] == "temporarily_unavailable"


def test_swagger_sign_in_is_configured_from_the_environment(issuer: DevIssuer) -> None:
    app = _load_example({"KINDE_DOMAIN": issuer.url, "KINDE_AUDIENCE": AUDIENCE, "KINDE_CLIENT_ID": "cid_123"})
    with serve_asgi(app) as url:
        docs = httpx.get(url + "/docs").text
        schema = httpx.get(url + "/openapi.json").json()
    assert '"clientId": "cid_123"' in docs
    assert '"usePkceWithAuthorizationCodeGrant": true' in docs
    assert f'"audience": "{AUDIENCE}"' in docs
    flow = schema["components"]["securitySchemes"]["kinde"]["flows"]["authorizationCode"]
    assert flow["authorizationUrl"] == issuer.url + "/oauth2/auth"
    assert flow["tokenUrl"] == issuer.url + "/oauth2/token"
    assert {"read:orders", "write:orders"} <= set(flow["scopes"])
    assert schema["paths"]["/orders"]["get"]["security"] == [{"kinde": ["read:orders"]}]
    assert schema["paths"]["/orders"]["post"]["security"] == [{"kinde": ["write:orders"]}]
    assert schema["paths"]["/orders/{order_id}"]["delete"]["security"] == [{"kinde": []}]
    assert "security" not in schema["paths"]["/public"]["get"]


def test_example_refuses_to_start_without_configuration() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINDE_")}
    result = subprocess.run(
        [sys.executable, "-m", "uvicorn", f"{MODULE}:app"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "KINDE_DOMAIN is not set" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("auth", "body", "status", "error"),
    [
        ("none", b"{not json", 401, None),  # the token is checked before the body is read
        ("valid", b"{not json", 400, "invalid_request"),
        ("valid", b'{"quantity": 0}', 422, "invalid_request"),
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
