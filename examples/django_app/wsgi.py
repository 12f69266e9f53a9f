"""``gunicorn examples.django_app.wsgi:application`` (from the repository root)."""

from __future__ import annotations

from django.core.wsgi import get_wsgi_application

from .startup import start

application = start(get_wsgi_application)
