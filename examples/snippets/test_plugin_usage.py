"""README snippet: testing your own API with the pytest plugin (runs as part of the suite)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from kinde_guard.testing import DevIssuer


def test_orders(kinde_issuer: DevIssuer, kinde_token: Callable[..., str], kinde_env: dict[str, str]) -> None:
    from examples.fastapi_app.app import create_app  # your app; kinde_env points KINDE_* at the issuer

    client = TestClient(create_app(kinde_issuer.guard()))

    def auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    assert client.get("/orders").status_code == 401
    assert client.get("/orders", headers=auth(kinde_token(scopes=["read:orders"]))).status_code == 200
    assert client.post("/orders", headers=auth(kinde_token(scopes=["read:orders"]))).status_code == 403
    assert client.post("/orders", headers=auth(kinde_token(m2m=True, scopes=["write:orders"]))).status_code == 201
    assert client.get("/me", headers=auth(kinde_token(expired=True))).status_code == 401
