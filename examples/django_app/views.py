"""The orders API as DRF views: the same routes and answers as examples/fastapi_app and flask_app.

    export KINDE_DOMAIN=https://acme.kinde.com KINDE_AUDIENCE=https://api.acme.com
    gunicorn examples.django_app.wsgi:application     # or: uvicorn examples.django_app.asgi:application

Routes:

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
import secrets
import threading
from typing import Any

from django.http import HttpRequest, JsonResponse
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from kinde_guard import AuthError, Claims, JWKSError
from kinde_guard.django import get_guard
from kinde_guard.drf import HasFeatureFlag, HasPermissions, HasRoles, HasScopes


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


ORDERS = OrderStore()


class BadOrder(ValueError):
    """The order body is not acceptable: answered 400 (not JSON) or 422 (a field is wrong)."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


def new_order(raw: bytes) -> tuple[str, int]:
    """``(item, quantity)`` from the body. Every field is optional, so ``{}`` and an empty body
    both order one coffee (as in the other examples)."""
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


class Public(APIView):
    authentication_classes = ()
    permission_classes = ()

    def get(self, request: Request) -> Response:
        return Response({"message": "Hello from a public route: no token needed."})


class Me(APIView):
    # The default permission class (settings.py) asks for any valid token.
    def get(self, request: Request) -> Response:
        claims: Claims = request.auth
        return Response(claims.to_dict())


class Orders(APIView):
    def get_permissions(self) -> list[Any]:
        needed = HasScopes("write:orders") if self.request.method == "POST" else HasScopes("read:orders")
        return [needed]

    def get(self, request: Request) -> Response:
        return Response(ORDERS.list())

    def post(self, request: Request) -> Response:
        # The body is read only here, after the token check: without a token, a garbled body is 401.
        try:
            item, quantity = new_order(request.body)
        except BadOrder as exc:
            return Response({"error": "invalid_request", "error_description": exc.description}, status=exc.status)
        claims: Claims = request.auth
        # M2M tokens have no sub: the calling application (azp) owns the order then.
        return Response(ORDERS.add(item, quantity, claims.sub or claims.azp), status=201)


class Order(APIView):
    permission_classes = (HasPermissions("delete:orders"),)

    def delete(self, request: Request, order_id: str) -> Response:
        ORDERS.delete(order_id)  # idempotent: deleting twice still answers 204
        return Response(status=204)


class AdminReports(APIView):
    permission_classes = (HasRoles("admin"),)  # Kinde roles are opt-in: enable Roles in the token customization

    def get(self, request: Request) -> Response:
        return Response({"orders": len(ORDERS.list())})


class BetaSuggestions(APIView):
    permission_classes = (HasFeatureFlag("beta"),)

    def get(self, request: Request) -> Response:
        return Response({"suggestions": ["flat white", "cortado"]})


class Healthz(APIView):
    authentication_classes = ()
    permission_classes = ()

    def get(self, request: Request) -> Response:
        guard = get_guard()
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
        return Response(body, status=200 if state.usable else 503, headers=headers)


def not_found(request: HttpRequest, exception: Exception) -> JsonResponse:
    return JsonResponse({"error": "not_found", "error_description": "No such route."}, status=404)
