"""Settings of the example orders API (Django + Django REST framework), no database.

The Kinde settings come from the environment: ``KINDE_DOMAIN``, ``KINDE_AUDIENCE`` and optional
``KINDE_JWKS_URI`` (``kinde_guard.django`` falls back to the environment for every ``KINDE_*``
name not set here). ``"kinde_guard.django"`` in ``INSTALLED_APPS`` checks them at start-up.
"""

from __future__ import annotations

import os
import secrets

# No sessions, no signed cookies: a fresh key per process is enough for this example.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50)
DEBUG = False
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1 localhost [::1]").split()

INSTALLED_APPS = ["rest_framework", "kinde_guard.django"]
# The middleware verifies the token before any view runs: under ASGI it awaits the pipeline, so a
# JWKS fetch never holds the thread that runs Django's sync views, and a public route stays quick.
MIDDLEWARE = ["kinde_guard.django.KindeGuardMiddleware"]
KINDE_PUBLIC_PATHS = ["/public", "/healthz"]

ROOT_URLCONF = "examples.django_app.urls"
APPEND_SLASH = False  # exactly the documented paths: no redirect from /orders/ to /orders
DATABASES: dict[str, dict[str, str]] = {}
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024  # an order is tiny
USE_TZ = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["kinde_guard.drf.KindeAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["kinde_guard.drf.HasRequirements"],  # any valid token
    "EXCEPTION_HANDLER": "kinde_guard.drf.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,  # no django.contrib.auth, no database
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django": {"handlers": ["console"], "level": "ERROR"}},  # no line per 401
}
