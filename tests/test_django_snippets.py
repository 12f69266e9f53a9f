"""The README's Django, DRF and Django-testing snippets (examples/snippets/django_*.py,
drf_quickstart.py), run in-process with Django's test client against a served issuer."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.django_servers import SETTINGS, setup_django

setup_django()

from django.test import Client, override_settings  # noqa: E402

from examples.snippets import django_quickstart, drf_quickstart  # noqa: E402
from examples.snippets.django_testing import test_orders, test_orders_from_settings  # noqa: E402,F401
from kinde_guard.django import get_guard  # noqa: E402
from kinde_guard.testing import DevIssuer  # noqa: E402


@pytest.fixture(autouse=True)
def drf_snippet_routes() -> Iterator[None]:
    """The testing snippet's tests run against the DRF snippet's views, as a project's URLconf."""
    with override_settings(ROOT_URLCONF="examples.snippets.drf_quickstart"):
        yield


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_drf_snippets_settings_are_the_ones_these_tests_run_with() -> None:
    assert drf_quickstart.REST_FRAMEWORK.items() <= SETTINGS["REST_FRAMEWORK"].items()


def test_drf_snippet(kinde_issuer: DevIssuer, kinde_token: Callable[..., str]) -> None:
    with override_settings(KINDE_GUARD=kinde_issuer.guard()):
        client = Client()
        ok = client.get("/orders", headers=auth(kinde_token(scopes=["read:orders"])))
        assert ok.status_code == 200 and ok.json()["for"].startswith("kp_")
        m2m = client.get("/orders", headers=auth(kinde_token(m2m=True, scopes=["read:orders"])))
        assert m2m.json()["for"] == kinde_issuer.client_id
        both = kinde_token(scopes=["write:orders"], permissions=["delete:orders"])
        assert client.delete("/orders/1", headers=auth(both)).status_code == 204
        refused = client.delete("/orders/1", headers=auth(kinde_token(scopes=["write:orders"])))
        assert refused.status_code == 403 and 'error="insufficient_scope"' in refused["WWW-Authenticate"]
        assert client.get("/reports", headers=auth(kinde_token(scopes=["admin:reports"]))).status_code == 200
        assert client.get("/reports", headers=auth(kinde_token(scopes=["openid"]))).status_code == 403


def test_django_snippet(kinde_issuer: DevIssuer, kinde_token: Callable[..., str]) -> None:
    snippet = django_quickstart
    with override_settings(KINDE_DOMAIN=snippet.KINDE_DOMAIN, KINDE_AUDIENCE=snippet.KINDE_AUDIENCE):
        assert get_guard().config.audience == ("https://api.acme.com",)
    settings = {"MIDDLEWARE": snippet.MIDDLEWARE, "KINDE_PUBLIC_PATHS": snippet.KINDE_PUBLIC_PATHS}
    with override_settings(
        ROOT_URLCONF="examples.snippets.django_quickstart", KINDE_GUARD=kinde_issuer.guard(), **settings
    ):
        client = Client()
        assert client.get("/healthz").status_code == 200
        assert client.get("/orders").status_code == 401
        ok = client.get("/orders", headers=auth(kinde_token(scopes=["read:orders"])))
        assert ok.status_code == 200 and ok.json()["for"].startswith("kp_")
        assert client.get("/orders", headers=auth(kinde_token())).status_code == 403
        assert client.delete("/orders/1", headers=auth(kinde_token(permissions=["delete:orders"]))).status_code == 204
        assert client.delete("/orders/1", headers=auth(kinde_token())).status_code == 403
