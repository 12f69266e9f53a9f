"""Django for the tests: the in-process settings (configured once, overridden per test) and a real
uvicorn process for an ASGI target (examples/django_app runs in its own process, with its own settings).

with run_uvicorn("examples.django_app.asgi:application", env) as base_url:
    httpx.get(base_url + "/public")
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import django
from django.conf import settings

from tests.wsgi_servers import run_server_process

#: The in-process test settings: DRF's defaults are read once, when rest_framework.views loads.
SETTINGS: dict[str, Any] = {
    "SECRET_KEY": "tests-only",
    "ALLOWED_HOSTS": ["*"],
    "INSTALLED_APPS": ["rest_framework"],
    "MIDDLEWARE": [],
    "DATABASES": {},
    "APPEND_SLASH": False,
    "ROOT_URLCONF": "tests.django_servers",
    "USE_TZ": True,
    "LOGGING_CONFIG": None,
    "REST_FRAMEWORK": {
        "DEFAULT_AUTHENTICATION_CLASSES": ["kinde_guard.drf.KindeAuthentication"],
        "EXCEPTION_HANDLER": "kinde_guard.drf.exception_handler",
        "UNAUTHENTICATED_USER": None,
        "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    },
}

urlpatterns: list[Any] = []  # tests route with override_settings(ROOT_URLCONF=urlconf([...]))


def setup_django() -> None:
    """Configure Django in this process once (no-op afterwards)."""
    if not settings.configured:
        settings.configure(**SETTINGS)
        django.setup()


def urlconf(patterns: list[Any]) -> ModuleType:
    """A ROOT_URLCONF object (Django accepts a module, hashable, with ``urlpatterns``)."""
    module = ModuleType("test_urlconf")
    module.urlpatterns = patterns  # type: ignore[attr-defined]
    return module


_RUNNING = re.compile(r"Uvicorn running on (http://127\.0\.0\.1:\d+)")


def clean_env(env: Mapping[str, str]) -> dict[str, str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("KINDE_", "DJANGO_"))}
    full.update(env)
    return full


@contextmanager
def run_uvicorn(target: str, env: Mapping[str, str]) -> Iterator[str]:
    """``uvicorn target`` from the repository root on a free port of 127.0.0.1 (a real process)."""
    command = [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", "0", "--lifespan", "off"]
    with run_server_process(command, clean_env(env), _RUNNING, name="uvicorn") as url:
        yield url
