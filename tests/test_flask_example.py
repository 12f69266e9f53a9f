"""examples/flask_app over real HTTP: gunicorn on 127.0.0.1 against a served DevIssuer.

The cases come from tests/example_cases.py, the table the FastAPI example is held to as well.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from kinde_guard.testing import DevIssuer
from tests.example_cases import AUTH, CASES, Case
from tests.wsgi_servers import ROOT, run_gunicorn

AUDIENCE = "https://api.orders.example"
TARGET = "examples.flask_app.app:app"


@pytest.fixture(scope="module")
def issuer() -> Iterator[DevIssuer]:
    with DevIssuer(audience=AUDIENCE).serve() as served:
        yield served


def _env(issuer: DevIssuer) -> dict[str, str]:
    return {"KINDE_DOMAIN": issuer.url, "KINDE_AUDIENCE": AUDIENCE}


@pytest.fixture(scope="module")
def base_url(issuer: DevIssuer) -> Iterator[str]:
    with run_gunicorn(TARGET, _env(issuer)) as url:
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


def test_unknown_routes_answer_json_not_html(base_url: str) -> None:
    missing = httpx.get(base_url + "/nope")
    wrong_method = httpx.put(base_url + "/public")
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
    assert (wrong_method.status_code, wrong_method.json()["error"]) == (405, "method_not_allowed")
    assert "GET" in wrong_method.headers["allow"]


def test_healthz_reports_the_key_set_without_secrets(base_url: str, issuer: DevIssuer) -> None:
    response = httpx.get(base_url + "/healthz")
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "ok"
    assert body["keys"]["kids"] == [issuer.kid]
    assert body["keys"]["usable"] is True
    assert '"n"' not in response.text  # no key material


def test_healthz_is_503_when_keys_cannot_be_had(issuer: DevIssuer) -> None:
    issuer.jwks_status = 500
    try:
        with run_gunicorn(TARGET, _env(issuer)) as url:
            fetches = issuer.jwks_fetches
            response = httpx.get(url + "/healthz")
            again = httpx.get(url + "/healthz")
            fetched = issuer.jwks_fetches - fetches
    finally:
        issuer.jwks_status = 200
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert "500" in response.json()["keys"]["last_error"]
    assert int(response.headers["retry-after"]) >= 1
    assert again.status_code == 503
    assert fetched == 1  # the second probe falls within the cooldown: no second fetch


def test_cold_jwks_outage_answers_503_with_retry_after(issuer: DevIssuer) -> None:
    issuer.jwks_status = 503
    try:
        with run_gunicorn(TARGET, _env(issuer)) as url:
            response = httpx.get(url + "/me", headers={"Authorization": "Bearer " + issuer.mint()})
    finally:
        issuer.jwks_status = 200
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) >= 1
    assert "www-authenticate" not in response.headers
    assert response.json()["error"] == "temporarily_unavailable"


def _without_kinde_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("KINDE_")}


@pytest.mark.parametrize(
    "command",
    [
        ["-m", "flask", "--app", "examples.flask_app.app", "run", "--port", "0"],
        ["-m", "gunicorn", TARGET, "--bind", "127.0.0.1:0", "--no-control-socket"],
    ],
    ids=["flask run", "gunicorn"],
)
def test_example_refuses_to_start_without_configuration(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, *command],
        cwd=ROOT,
        env=_without_kinde_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "examples.flask_app cannot start: KINDE_DOMAIN is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_example_refuses_to_start_with_an_http_domain_that_is_not_loopback() -> None:
    env = _without_kinde_env() | {"KINDE_DOMAIN": "http://acme.kinde.com", "KINDE_AUDIENCE": AUDIENCE}
    result = subprocess.run(
        [sys.executable, "-c", "import examples.flask_app.app"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "uses http:// on a non-loopback host" in result.stderr
    assert "Traceback" not in result.stderr
