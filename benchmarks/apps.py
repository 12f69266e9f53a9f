"""The apps the HTTP benchmark serves: the same tiny route, unguarded, behind kinde_guard, or behind
a "floor" middleware doing only the work no validator can skip.

Configured from the environment by bench_http.py: ``BENCH_GUARDED`` (``0`` unguarded, ``1``
kinde_guard, ``floor-verify`` the raw RSA verify alone, ``floor-decode`` the raw verify plus decoding
the token once), ``KINDE_DOMAIN``, ``KINDE_AUDIENCE``. Starlette under uvicorn, Flask and Django under gunicorn.

The floors check nothing but the signature (no issuer, audience, expiry or scopes) and trust the
token's shape: they are not validators, only the cost any validator pays per distinct token inside
the same server, measured beside kinde_guard.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from flask import Flask, jsonify
from jwt import PyJWK
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from kinde_guard import GuardConfig, KindeGuard
from kinde_guard.asgi import KindeGuardMiddleware
from kinde_guard.wsgi import KindeGuardMiddleware as WSGIGuard

MODE = os.environ.get("BENCH_GUARDED", "0")
GUARDED = MODE == "1"
PKCS1, SHA256 = padding.PKCS1v15(), hashes.SHA256()


def _guard() -> KindeGuard:
    return KindeGuard(GuardConfig.from_env())


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _floor_check() -> Callable[[str], bool]:
    """The floor's per-request work on the value of an Authorization header."""
    with urllib.request.urlopen(os.environ["KINDE_DOMAIN"] + "/.well-known/jwks", timeout=10) as response:
        keys = {jwk["kid"]: PyJWK(jwk).key for jwk in json.load(response)["keys"]}
    only_key = next(iter(keys.values()))

    def verify(header: str) -> bool:
        signing_input, _, signature = header[7:].rpartition(".")
        try:
            only_key.verify(_b64(signature), signing_input.encode(), PKCS1, SHA256)
        except Exception:
            return False
        return True

    def verify_decode(header: str) -> bool:
        signing_input, _, signature = header[7:].rpartition(".")
        header_segment, _, payload_segment = signing_input.partition(".")
        try:
            key = keys[json.loads(_b64(header_segment))["kid"]]
            key.verify(_b64(signature), signing_input.encode(), PKCS1, SHA256)
            json.loads(_b64(payload_segment))
        except Exception:
            return False
        return True

    return verify if MODE == "floor-verify" else verify_decode


def _floor_wsgi(app: Any) -> Any:
    check = _floor_check()

    def middleware(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if not check(environ.get("HTTP_AUTHORIZATION") or ""):
            start_response("401 Unauthorized", [("Content-Length", "0")])
            return [b""]
        return app(environ, start_response)  # type: ignore[no-any-return]

    return middleware


def _floor_asgi(app: Any) -> Any:
    check = _floor_check()

    async def middleware(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            header = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
            if not check(header.decode("latin-1")):
                await send({"type": "http.response.start", "status": 401, "headers": []})
                await send({"type": "http.response.body", "body": b""})
                return
        await app(scope, receive, send)

    return middleware


async def orders(request: Request) -> JSONResponse:
    return JSONResponse([{"id": "ord_1", "item": "coffee"}])


def starlette_app() -> Any:
    app = Starlette(routes=[Route("/orders", orders)])
    if MODE.startswith("floor"):
        return _floor_asgi(app)
    return KindeGuardMiddleware(app, guard=_guard()) if GUARDED else app


def flask_app() -> Any:
    app = Flask(__name__)

    @app.get("/orders")
    def list_orders() -> Any:
        return jsonify([{"id": "ord_1", "item": "coffee"}])

    if MODE.startswith("floor"):
        app.wsgi_app = _floor_wsgi(app.wsgi_app)  # type: ignore[method-assign]
    elif GUARDED:
        app.wsgi_app = WSGIGuard(app.wsgi_app, guard=_guard())  # type: ignore[method-assign]
    return app


def _django_orders(request: Any) -> Any:
    from django.http import JsonResponse

    return JsonResponse([{"id": "ord_1", "item": "coffee"}], safe=False)


def django_app() -> Any:
    """Django's WSGI handler with one view; guarded by kinde_guard.django's middleware (the guard
    from the KINDE_* environment), or behind the floor."""
    import django
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.urls import path

    middleware = ["kinde_guard.django.KindeGuardMiddleware"] if GUARDED else []
    settings.configure(
        SECRET_KEY="bench",
        ALLOWED_HOSTS=["*"],
        INSTALLED_APPS=[],
        MIDDLEWARE=middleware,
        DATABASES={},
        ROOT_URLCONF=__name__,
        APPEND_SLASH=False,
    )
    django.setup()
    globals()["urlpatterns"] = [path("orders", _django_orders)]
    app = WSGIHandler()
    return _floor_wsgi(app) if MODE.startswith("floor") else app
