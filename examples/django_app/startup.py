"""Start the example or refuse to, with one sentence (shared by wsgi.py and asgi.py)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TypeVar

from django.core.exceptions import ImproperlyConfigured

App = TypeVar("App")


def start(build: Callable[[], App]) -> App:
    """``build()`` (Django's ``get_wsgi_application`` or ``get_asgi_application``), or exit with
    a sentence saying what to set when the settings are missing or malformed."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_app.settings")
    try:
        return build()
    except ImproperlyConfigured as exc:
        print(
            f"examples.django_app cannot start: {exc}\n"
            "Set KINDE_DOMAIN (e.g. https://acme.kinde.com) and KINDE_AUDIENCE (your API's audience); "
            "KINDE_JWKS_URI is optional.",
            file=sys.stderr,
        )
        # Exit status 4 is gunicorn's "app failed to load": its master stops instead of respawning.
        raise SystemExit(4) from None
