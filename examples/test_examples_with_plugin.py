"""Testing your own API with kinde_guard's pytest plugin, shown on the example apps.

The fixtures come with kinde-guard, nothing to import: ``kinde_issuer`` (a Kinde-shaped issuer on
127.0.0.1 serving its keys), ``kinde_token(...)`` (tokens it signs) and ``kinde_env``
(``KINDE_DOMAIN``/``KINDE_AUDIENCE`` pointing at it). Your app verifies the tokens for real: it
fetches the issuer's JWKS over HTTP and checks signature, issuer, audience, lifetime and scopes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from flask.testing import FlaskClient

from kinde_guard.testing import DevIssuer

Tokens = Callable[..., str]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- FastAPI: examples/fastapi_app -------------------------------------------------------------------


@pytest.fixture
def fastapi_client(kinde_issuer: DevIssuer, kinde_env: dict[str, str]) -> Iterator[TestClient]:
    # The example builds an app from KINDE_* when imported: import it while kinde_env is set.
    from examples.fastapi_app.app import create_app

    with TestClient(create_app(kinde_issuer.guard())) as client:
        yield client


def test_fastapi_orders_need_a_token(fastapi_client: TestClient) -> None:
    response = fastapi_client.get("/orders")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'


def test_fastapi_a_reader_lists_orders_but_cannot_create_one(fastapi_client: TestClient, kinde_token: Tokens) -> None:
    reader = kinde_token(scopes=["read:orders"])
    assert fastapi_client.get("/orders", headers=bearer(reader)).status_code == 200
    refused = fastapi_client.post("/orders", headers=bearer(reader), json={"item": "tea"})
    assert refused.status_code == 403 and refused.json()["error"] == "insufficient_scope"
    assert 'scope="write:orders"' in refused.headers["WWW-Authenticate"]


def test_fastapi_a_machine_with_write_orders_creates_one(fastapi_client: TestClient, kinde_token: Tokens) -> None:
    machine = kinde_token(m2m=True, scopes=["write:orders"])
    created = fastapi_client.post("/orders", headers=bearer(machine), json={"item": "tea", "quantity": 2})
    assert created.status_code == 201
    assert created.json()["owner"] == "kinde-guard-dev-client"  # an M2M token has no sub: its azp owns it


def test_fastapi_deleting_needs_the_permission(fastapi_client: TestClient, kinde_token: Tokens) -> None:
    admin = kinde_token(permissions=["delete:orders"])
    assert fastapi_client.delete("/orders/ord_1", headers=bearer(admin)).status_code == 204
    assert fastapi_client.delete("/orders/ord_1", headers=bearer(kinde_token())).status_code == 403


def test_fastapi_expired_and_foreign_tokens_are_refused(fastapi_client: TestClient, kinde_token: Tokens) -> None:
    for token in (kinde_token(expired=True), kinde_token(audience="https://another-api.example")):
        response = fastapi_client.get("/me", headers=bearer(token))
        assert response.status_code == 401 and 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_fastapi_answers_503_while_the_issuer_is_down(
    fastapi_client: TestClient, kinde_issuer: DevIssuer, kinde_token: Tokens
) -> None:
    kinde_issuer.jwks_status = 500  # the next test gets a healthy issuer again
    assert fastapi_client.get("/me", headers=bearer(kinde_token())).status_code == 503
    assert fastapi_client.get("/healthz").status_code == 503


# -- Flask: examples/flask_app -----------------------------------------------------------------------


@pytest.fixture
def flask_client(kinde_env: dict[str, str]) -> FlaskClient:
    # The example builds an app from KINDE_* when imported: import it while kinde_env is set.
    from examples.flask_app.app import create_app

    return create_app(kinde_env).test_client()  # settings: KINDE_DOMAIN and KINDE_AUDIENCE


def test_flask_orders_need_a_token(flask_client: FlaskClient) -> None:
    response = flask_client.get("/orders")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'


def test_flask_a_reader_lists_orders_but_cannot_create_one(flask_client: FlaskClient, kinde_token: Tokens) -> None:
    reader = kinde_token(scopes=["read:orders"])
    assert flask_client.get("/orders", headers=bearer(reader)).status_code == 200
    refused = flask_client.post("/orders", headers=bearer(reader), json={"item": "tea"})
    assert refused.status_code == 403 and refused.get_json()["error"] == "insufficient_scope"
    writer = kinde_token(scopes=["write:orders"])
    assert flask_client.post("/orders", headers=bearer(writer), json={"item": "tea"}).status_code == 201


def test_flask_expired_tokens_are_refused(flask_client: FlaskClient, kinde_token: Tokens) -> None:
    response = flask_client.get("/me", headers=bearer(kinde_token(expired=True)))
    assert response.status_code == 401 and 'error="invalid_token"' in response.headers["WWW-Authenticate"]
