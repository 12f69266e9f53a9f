"""A small orders API guarded by Kinde tokens, the Litestar way (``kinde_guard.litestar``).

Run it from the repository root (see README.md beside this file)::

    KINDE_DOMAIN=https://acme.kinde.com KINDE_AUDIENCE=https://api.acme.com \\
        uvicorn examples.litestar_app.app:app

Configuration comes only from the environment: ``KINDE_DOMAIN``, ``KINDE_AUDIENCE`` (several:
space-separated), optional ``KINDE_JWKS_URI``. OpenAPI: ``/schema`` (``/schema/openapi.json``).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import sys
from typing import Any

from litestar import Litestar, Request, delete, get, post
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.params import FromPath
from litestar.response import Response

from kinde_guard import AuthError, Claims, ConfigurationError, GuardConfig, JWKSError, KindeGuard, Requirements
from kinde_guard.litestar import KindePlugin, requires


def _new_order(raw: bytes) -> tuple[dict[str, Any] | None, Response[Any] | None]:
    """Every field optional: ``{}`` or no body orders one coffee. (order, None) or (None, refusal)."""
    if not raw.strip():
        return {"item": "coffee", "quantity": 1}, None
    try:
        body = json.loads(raw)
    except ValueError:
        return None, _invalid(400, "The body is not JSON.")
    if not isinstance(body, dict):
        return None, _invalid(422, "body: must be a JSON object")
    item, quantity = body.get("item", "coffee"), body.get("quantity", 1)
    if not isinstance(item, str) or not 1 <= len(item) <= 100:
        return None, _invalid(422, "item: a string of 1 to 100 characters")
    if type(quantity) is not int or not 1 <= quantity <= 1000:
        return None, _invalid(422, "quantity: an integer from 1 to 1000")
    return {"item": item, "quantity": quantity}, None


def _invalid(status: int, why: str) -> Response[Any]:
    return Response({"error": "invalid_request", "error_description": why}, status_code=status)


def create_app(guard: KindeGuard) -> Litestar:
    """The API, guarded by ``guard``."""
    # In memory, per app: this is an example, not a database.
    orders: dict[str, dict[str, Any]] = {
        "ord_1": {"id": "ord_1", "item": "coffee", "quantity": 2, "owner": "kp_example"},
    }

    @get("/public")
    async def public() -> dict[str, str]:
        return {"message": "Anyone can read this; no token needed."}

    @get("/me")
    async def me(request: Request[Claims, Claims, State]) -> dict[str, Any]:
        return request.user.to_dict()

    @get("/orders", guards=[requires(scopes=["read:orders"])])
    async def list_orders() -> list[dict[str, Any]]:
        return list(orders.values())

    # The body is read inside the handler, after the middleware and the guard checked the token.
    @post("/orders", guards=[requires(scopes=["write:orders"])])
    async def create_order(request: Request[Claims, Claims, State]) -> Response[Any]:
        order, refusal = _new_order(await request.body())
        if refusal is not None:
            return refusal
        assert order is not None
        claims = request.user
        created = {"id": "ord_" + secrets.token_hex(6), **order, "owner": claims.sub or claims.azp}
        orders[created["id"]] = created
        return Response(created, status_code=201)

    # The route-opt way: the plugin's app-wide guard reads opt["kinde"].
    @delete("/orders/{order_id:str}", opt={"kinde": Requirements(permissions=["delete:orders"])})
    async def delete_order(order_id: FromPath[str]) -> None:
        # DELETE is idempotent: deleting an order that is already gone is a success too.
        orders.pop(order_id, None)

    @get("/admin/reports", guards=[requires(roles=["admin"])])
    async def admin_reports() -> dict[str, int]:
        # Kinde roles are an opt-in claim: enable Roles in the app's token customization.
        return {"orders": len(orders)}

    @get("/beta/suggestions", guards=[requires(feature_flags=["beta"])])
    async def beta_suggestions() -> dict[str, list[str]]:
        return {"suggestions": ["flat white", "cortado"]}

    @get("/healthz")
    async def healthz() -> Response[Any]:
        state = guard.key_set_state()
        if not state.usable:
            # "Loadable": try to load the keys now; the key set's cooldown keeps this from turning
            # into one JWKS fetch per health probe while the issuer is down.
            with contextlib.suppress(AuthError, JWKSError):
                await guard.key_set.get_key_async("healthz-probe")
            state = guard.key_set_state()
        body = {"status": "ok" if state.usable else "unavailable", "keys": state.to_dict()}
        return Response(body, status_code=200 if state.usable else 503)

    return Litestar(
        route_handlers=[public, me, list_orders, create_order, delete_order, admin_reports, beta_suggestions, healthz],
        # Litestar's exclude patterns are regular expressions; the OpenAPI pages need no token either.
        plugins=[KindePlugin(guard, exclude=["^/public$", "^/healthz$", "^/schema"])],
        openapi_config=OpenAPIConfig(title="Orders API (kinde_guard example)", version="1.0.0"),
    )


def _app_from_env() -> Litestar:
    try:
        config = GuardConfig.from_env()
    except ConfigurationError as exc:
        print(
            f"examples.litestar_app cannot start: {exc}\n"
            "Set KINDE_DOMAIN and KINDE_AUDIENCE (see examples/litestar_app/README.md).",
            file=sys.stderr,
        )
        raise SystemExit(4) from None
    return create_app(KindeGuard(config))


app = _app_from_env()
