"""A small orders API guarded by Kinde access tokens (Flask).

    export KINDE_DOMAIN=https://acme.kinde.com KINDE_AUDIENCE=https://api.acme.com
    flask --app examples.flask_app.app run          # or: gunicorn examples.flask_app.app:app

Routes (the same as ``examples/fastapi_app``):

    GET    /public              no token needed                   200
    GET    /me                  any valid token                   200 the token's claims summary
    GET    /orders              scope read:orders                 200 [orders]
    POST   /orders              scope write:orders                201 the new order
    DELETE /orders/<order_id>   permission delete:orders          204
    GET    /healthz             signing keys loaded or loadable   200, else 503
    GET    /admin/reports       Kinde role admin                  200 {"orders": <count>}
    GET    /beta/suggestions    Kinde feature flag beta on        200 {"suggestions": [...]}
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import sys
import threading
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WerkzeugResponse

from kinde_guard import AuthError, ConfigurationError, JWKSError
from kinde_guard.flask import FlaskKindeGuard, current_claims

kinde = FlaskKindeGuard()
api = Blueprint("orders_api", __name__)


class OrderStore:
    """In-memory orders, safe for a threaded server (this is an example, not a database)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._orders: dict[str, dict[str, Any]] = {
            "ord_1": {"id": "ord_1", "item": "coffee", "quantity": 2, "owner": "kp_example"},
        }

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._orders.values())

    def add(self, item: str, quantity: int, owner: str | None) -> dict[str, Any]:
        order_id = "ord_" + secrets.token_hex(6)
        order = {"id": order_id, "item": item, "quantity": quantity, "owner": owner}
        with self._lock:
            self._orders[order_id] = order
        return order

    def delete(self, order_id: str) -> None:
        with self._lock:
            self._orders.pop(order_id, None)


def _orders() -> OrderStore:
    store: OrderStore = current_app.extensions["orders"]
    return store


class BadOrder(ValueError):
    """The order body is not acceptable: answered 400 (not JSON) or 422 (a field is wrong)."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


def _new_order(raw: bytes) -> tuple[str, int]:
    """``(item, quantity)`` from the body. Every field is optional, so ``{}`` and an empty body
    both order one coffee (as in the FastAPI example)."""
    body: object = {}
    if raw.strip():
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            raise BadOrder(400, "The body is not JSON.") from None
    if not isinstance(body, dict):
        raise BadOrder(422, "body: Input should be a JSON object")
    item, quantity = body.get("item", "coffee"), body.get("quantity", 1)
    if not isinstance(item, str) or not 1 <= len(item) <= 100:
        raise BadOrder(422, "item: should be a string of 1 to 100 characters")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= 1000:
        raise BadOrder(422, "quantity: should be a whole number from 1 to 1000")
    return item, quantity


@api.get("/public")
def public() -> dict[str, Any]:
    return {"message": "Hello from a public route: no token needed."}


@api.get("/me")
@kinde.require()
def me() -> dict[str, Any]:
    return current_claims.to_dict()


@api.get("/orders")
@kinde.require(scopes=["read:orders"])
def list_orders() -> list[dict[str, Any]]:
    return _orders().list()


@api.post("/orders")
@kinde.require(scopes=["write:orders"])
def create_order() -> tuple[dict[str, Any], int]:
    # The body is read only here, after the token check: without a token, a garbled body is 401.
    item, quantity = _new_order(request.get_data(cache=False))
    # M2M tokens have no sub: the calling application (azp) owns the order then.
    return _orders().add(item, quantity, current_claims.sub or current_claims.azp), 201


@api.errorhandler(BadOrder)
def _bad_order(exc: BadOrder) -> tuple[Response, int]:
    return jsonify(error="invalid_request", error_description=exc.description), exc.status


@api.delete("/orders/<order_id>")
@kinde.require(permissions=["delete:orders"])
def delete_order(order_id: str) -> tuple[str, int]:
    _orders().delete(order_id)  # idempotent: deleting twice still answers 204
    return "", 204


@api.get("/admin/reports")
@kinde.require(roles=["admin"])  # Kinde roles are opt-in: enable Roles in the app's token customization
def admin_reports() -> dict[str, Any]:
    return {"orders": len(_orders().list())}


@api.get("/beta/suggestions")
@kinde.require(feature_flags=["beta"])
def beta_suggestions() -> dict[str, Any]:
    return {"suggestions": ["flat white", "cortado"]}


@api.get("/healthz")
def healthz() -> tuple[dict[str, Any], int, dict[str, str]]:
    guard = kinde.guard
    state = guard.key_set_state()
    if not state.usable:
        # "Loadable": try to load the keys now. Asking the key set (not forcing a refresh) keeps
        # its cooldown, so a probe hammering /healthz during an outage cannot hammer the JWKS.
        with contextlib.suppress(AuthError, JWKSError):
            guard.key_set.get_key("healthz-probe")
        state = guard.key_set_state()
    headers = {"Cache-Control": "no-store"}
    if not state.usable:
        headers["Retry-After"] = str(max(1, math.ceil(state.seconds_until_retry)))
    body = {"status": "ok" if state.usable else "unavailable", "keys": state.to_dict()}
    return body, 200 if state.usable else 503, headers


def _json_http_error(exc: HTTPException) -> WerkzeugResponse:
    # 404, 405, 413 answer JSON too, like the rest of the API (keeping headers such as Allow).
    response = exc.get_response()
    code = (exc.name or "error").lower().replace(" ", "_")
    response.set_data(json.dumps({"error": code, "error_description": exc.description}))
    response.content_type = "application/json"
    return response


def create_app(settings: Mapping[str, Any] | None = None) -> Flask:
    """Build the app; ``settings`` (default: the ``KINDE_*`` environment variables) go to app.config.

    Raises :class:`~kinde_guard.ConfigurationError` naming a missing or malformed setting.
    """
    if settings is None:
        settings = {k: v for k, v in os.environ.items() if k.startswith("KINDE_")}
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024  # an order is tiny; refuse big bodies (413)
    app.config.update(settings)
    kinde.init_app(app)
    app.extensions["orders"] = OrderStore()
    app.register_blueprint(api)
    app.register_error_handler(HTTPException, _json_http_error)
    return app


def _app_from_environment() -> Flask:
    try:
        return create_app()
    except ConfigurationError as exc:
        # Refuse to start, with a sentence saying what to do, rather than serve an API that
        # would answer every request with an error.
        print(
            f"examples.flask_app cannot start: {exc}\n"
            "Set KINDE_DOMAIN (e.g. https://acme.kinde.com) and KINDE_AUDIENCE (your API's audience); "
            "KINDE_JWKS_URI is optional.",
            file=sys.stderr,
        )
        # Exit status 4 is gunicorn's "app failed to load": its master stops, instead of
        # respawning a worker that exits with any other status forever.
        raise SystemExit(4) from None


app = _app_from_environment()
