"""The apps the HTTP benchmark serves: the same tiny route, unguarded or behind kinde_guard.

Configured from the environment by bench_http.py: ``BENCH_GUARDED`` (1/0), ``KINDE_DOMAIN``,
``KINDE_AUDIENCE``. Starlette under uvicorn, Flask under gunicorn.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, jsonify
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from kinde_guard import GuardConfig, KindeGuard
from kinde_guard.asgi import KindeGuardMiddleware
from kinde_guard.wsgi import KindeGuardMiddleware as WSGIGuard

GUARDED = os.environ.get("BENCH_GUARDED") == "1"


def _guard() -> KindeGuard:
    return KindeGuard(GuardConfig.from_env())


async def orders(request: Request) -> JSONResponse:
    return JSONResponse([{"id": "ord_1", "item": "coffee"}])


def starlette_app() -> Any:
    app = Starlette(routes=[Route("/orders", orders)])
    return KindeGuardMiddleware(app, guard=_guard()) if GUARDED else app


def flask_app() -> Any:
    app = Flask(__name__)

    @app.get("/orders")
    def list_orders() -> Any:
        return jsonify([{"id": "ord_1", "item": "coffee"}])

    if GUARDED:
        app.wsgi_app = WSGIGuard(app.wsgi_app, guard=_guard())  # type: ignore[method-assign]
    return app
