"""The README's Django, DRF and Django-testing snippets (examples/snippets/django_*.py,
drf_quickstart.py), run in-process with Django's test client against a served issuer."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.django_servers import SETTINGS, setup_django
from tests.wsgi_servers import ROOT

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


PYTEST_DJANGO_SETTINGS = """
SECRET_KEY = "tests-only"
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["rest_framework", "kinde_guard.django"]
DATABASES = {{}}
ROOT_URLCONF = "examples.snippets.drf_quickstart"
KINDE_DOMAIN = "https://acme.kinde.com"  # the project's own tenant; the tests point the guard at the test issuer
KINDE_AUDIENCE = "https://api.acme.com"
USE_TZ = True
REST_FRAMEWORK = {rest_framework!r}
"""


def run_pytest_django(tmp_path: Path, *snippets: str) -> subprocess.CompletedProcess[str]:
    """The snippets under a pytest of their own, as a project's suite runs them: pytest-django on
    (the suite's pyproject turns it off), DJANGO_SETTINGS_MODULE from its own ini, its own rootdir."""
    (tmp_path / "project_settings.py").write_text(
        PYTEST_DJANGO_SETTINGS.format(rest_framework=drf_quickstart.REST_FRAMEWORK)
    )
    ini = tmp_path / "pytest.ini"
    ini.write_text("[pytest]\nDJANGO_SETTINGS_MODULE = project_settings\nfilterwarnings = error\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("PYTEST_ADDOPTS", None)
    command = [sys.executable, "-m", "pytest", "-p", "django", "-p", "no:cacheprovider", "-c", str(ini)]
    command += ["--rootdir", str(tmp_path), "-v", *(str(ROOT / "examples" / "snippets" / s) for s in snippets)]
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_pytest_django_snippet_runs_under_pytest_django(tmp_path: Path) -> None:
    result = run_pytest_django(tmp_path, "django_pytest_django.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "django: version:" in result.stdout and "settings: project_settings (from ini)" in result.stdout
    assert "test_orders PASSED" in result.stdout and "test_orders_from_settings PASSED" in result.stdout
    assert "2 passed" in result.stdout


def test_the_django_test_client_snippet_runs_under_pytest_django_too(tmp_path: Path) -> None:
    result = run_pytest_django(tmp_path, "django_testing.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_pytest_django_is_off_in_this_suite(pytestconfig: pytest.Config) -> None:
    # Installed (dev extra) but blocked by the suite's addopts: its fixtures and hooks stay out.
    assert importlib.util.find_spec("pytest_django") is not None
    assert pytestconfig.pluginmanager.get_plugin("django") is None
