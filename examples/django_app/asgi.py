"""``uvicorn examples.django_app.asgi:application`` (from the repository root)."""

from __future__ import annotations

from django.core.asgi import get_asgi_application

from .startup import start

application = start(get_asgi_application)
