"""``INSTALLED_APPS = [..., "kinde_guard.django"]``: the guard is built when Django starts, so a
missing or malformed ``KINDE_*`` setting stops ``runserver``, gunicorn or uvicorn at once, with a
sentence saying what to set, instead of failing the first request."""

from __future__ import annotations

from importlib import import_module

from django.apps import AppConfig, apps

from . import get_guard, get_public_paths


class KindeGuardConfig(AppConfig):  # type: ignore[misc]
    name = "kinde_guard.django"
    label = "kinde_guard"
    verbose_name = "kinde_guard"

    def ready(self) -> None:
        get_guard()
        get_public_paths()
        if apps.is_installed("drf_spectacular"):
            # drf-spectacular finds extensions by import: register the Kinde scheme now that the
            # apps are loaded (never at kinde_guard.drf's import: see kinde_guard/drf.py).
            import_module("kinde_guard.drf_openapi")
