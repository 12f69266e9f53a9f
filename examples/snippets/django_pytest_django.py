"""README snippet: testing a Django or DRF API with pytest-django's ``client`` and ``settings``
fixtures and the pytest plugin's (tests/test_django_snippets.py runs it in a pytest of its own, with
pytest-django on and DJANGO_SETTINGS_MODULE naming settings whose ROOT_URLCONF is the DRF snippet)."""

from __future__ import annotations

from collections.abc import Callable

from django.test import Client
from pytest_django import Settings

from kinde_guard.testing import DevIssuer


def test_orders(client: Client, settings: Settings, kinde_issuer: DevIssuer, kinde_token: Callable[..., str]) -> None:
    settings.KINDE_GUARD = kinde_issuer.guard()  # a guard that trusts the test issuer, undone after the test
    token = kinde_token(scopes=["read:orders"])
    assert client.get("/orders").status_code == 401
    assert client.get("/orders", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.get("/orders", headers={"Authorization": f"Bearer {kinde_token()}"}).status_code == 403


def test_orders_from_settings(
    client: Client, settings: Settings, kinde_issuer: DevIssuer, kinde_token: Callable[..., str]
) -> None:
    # a KINDE_* setting changed through pytest-django's settings fixture rebuilds the guard too
    settings.KINDE_DOMAIN = kinde_issuer.url
    settings.KINDE_AUDIENCE = kinde_issuer.audience
    token = kinde_token(scopes=["read:orders"])
    assert client.get("/orders", headers={"Authorization": f"Bearer {token}"}).status_code == 200
