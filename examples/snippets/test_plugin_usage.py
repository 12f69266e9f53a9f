"""README snippet: testing your own API with the pytest plugin (runs as part of the suite)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from examples.snippets.fastapi_quickstart import create_app  # your app's factory: importing it builds nothing
from kinde_guard.testing import DevIssuer


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_orders(kinde_issuer: DevIssuer, kinde_token: Callable[..., str]) -> None:
    client = TestClient(create_app(kinde_issuer.guard()))  # a guard that trusts the test issuer

    assert client.get("/orders").status_code == 401
    assert client.get("/orders", headers=auth(kinde_token(scopes=["read:orders"]))).status_code == 200
    assert client.get("/orders", headers=auth(kinde_token(scopes=["write:orders"]))).status_code == 403
    assert client.get("/orders", headers=auth(kinde_token(m2m=True, scopes=["read:orders"]))).status_code == 200
    assert client.get("/orders", headers=auth(kinde_token(expired=True))).status_code == 401
    assert client.delete("/orders/1", headers=auth(kinde_token(permissions=["delete:orders"]))).status_code == 204


def test_orders_configured_from_the_environment(kinde_env: dict[str, str], kinde_token: Callable[..., str]) -> None:
    client = TestClient(create_app())  # the guard from KINDE_DOMAIN and KINDE_AUDIENCE, which kinde_env set

    assert client.get("/orders", headers=auth(kinde_token(scopes=["read:orders"]))).status_code == 200
