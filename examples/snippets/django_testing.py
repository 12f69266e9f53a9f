"""README snippet: testing a Django or DRF API with the pytest plugin and Django's test client
(tests/test_django_snippets.py runs these tests with ROOT_URLCONF = the DRF snippet)."""

from __future__ import annotations

from collections.abc import Callable

from django.test import Client, override_settings

from kinde_guard.testing import DevIssuer


def test_orders(kinde_issuer: DevIssuer, kinde_token: Callable[..., str]) -> None:
    with override_settings(KINDE_GUARD=kinde_issuer.guard()):  # a guard that trusts the test issuer
        client = Client()
        token = kinde_token(scopes=["read:orders"])
        assert client.get("/orders").status_code == 401
        assert client.get("/orders", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert client.get("/orders", headers={"Authorization": f"Bearer {kinde_token()}"}).status_code == 403


def test_orders_from_settings(kinde_issuer: DevIssuer, kinde_token: Callable[..., str]) -> None:
    # override_settings on KINDE_* rebuilds the guard (Django's setting_changed), as settings.py would build it
    with override_settings(KINDE_DOMAIN=kinde_issuer.url, KINDE_AUDIENCE=kinde_issuer.audience):
        token = kinde_token(scopes=["read:orders"])
        assert Client().get("/orders", headers={"Authorization": f"Bearer {token}"}).status_code == 200
