"""A small orders API guarded by Kinde tokens, the FastAPI way.

Run it from the repository root (see README.md beside this file)::

    KINDE_DOMAIN=https://acme.kinde.com KINDE_AUDIENCE=https://api.acme.com \\
        uvicorn examples.fastapi_app.app:app

Configuration comes only from the environment: ``KINDE_DOMAIN``, ``KINDE_AUDIENCE`` (several:
space-separated), optional ``KINDE_JWKS_URI`` and ``KINDE_CLIENT_ID`` (Swagger UI's sign-in).
"""

# No ``from __future__ import annotations`` here: FastAPI must evaluate the route signatures, and
# they name ``kinde``, a local of create_app(), which string annotations could not resolve.
import contextlib
import os
import secrets
import sys
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Response, Security
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError

from kinde_guard import AuthError, Claims, ConfigurationError, GuardConfig, JWKSError, KindeGuard
from kinde_guard.fastapi import KindeAuth

from .offline_docs import serve_docs_offline


class NewOrder(BaseModel):
    """Every field is optional, so ``{}`` (or no body at all) orders one coffee."""

    item: str = Field(default="coffee", min_length=1, max_length=100, strict=True)
    quantity: int = Field(default=1, ge=1, le=1000, strict=True)


_NEW_ORDER_BODY: dict[str, Any] = {
    "requestBody": {"required": False, "content": {"application/json": {"schema": NewOrder.model_json_schema()}}}
}


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{where}: {first['msg']}"


def create_app(guard: KindeGuard, *, client_id: str = "") -> FastAPI:
    """The API, guarded by ``guard``; ``client_id`` is the Kinde app Swagger UI signs in with."""
    kinde = KindeAuth(guard, scopes={"openid": "Sign in (OpenID Connect)"})
    app = FastAPI(
        title="Orders API (kinde_guard example)",
        swagger_ui_init_oauth=kinde.swagger_ui_init_oauth(client_id=client_id, scopes=["openid"]),
        docs_url=None,  # FastAPI's own pages load Swagger UI from a CDN: serve_docs_offline serves them
        redoc_url=None,
    )
    kinde.install(app)
    serve_docs_offline(app)  # /docs (with Authorize), /docs/oauth2-redirect and /redoc, no internet needed
    # In memory, per app: this is an example, not a database.
    orders: dict[str, dict[str, Any]] = {
        "ord_1": {"id": "ord_1", "item": "coffee", "quantity": 2, "owner": "kp_example"},
    }

    @app.get("/public")
    async def public() -> dict[str, str]:
        return {"message": "Anyone can read this; no token needed."}

    @app.get("/me")
    async def me(claims: Annotated[Claims, Security(kinde)]) -> dict[str, Any]:
        return claims.to_dict()

    @app.get("/orders")
    async def list_orders(_: Annotated[Claims, Security(kinde, scopes=["read:orders"])]) -> list[dict[str, Any]]:
        return list(orders.values())

    # The body is read inside the route, after the token check: a declared Body() parameter would
    # be parsed first, so a garbled body without a token would answer 422 instead of 401.
    @app.post("/orders", status_code=201, openapi_extra=_NEW_ORDER_BODY)
    async def create_order(
        request: Request, claims: Annotated[Claims, Security(kinde, scopes=["write:orders"])]
    ) -> Any:
        raw = await request.body()
        try:
            order = NewOrder.model_validate_json(raw) if raw.strip() else NewOrder()
        except ValidationError as exc:
            bad_json = any(e["type"] == "json_invalid" for e in exc.errors())
            status, why = (400, "The body is not JSON.") if bad_json else (422, _describe(exc))
            return JSONResponse({"error": "invalid_request", "error_description": why}, status_code=status)
        created = {"id": "ord_" + secrets.token_hex(6), **order.model_dump(), "owner": claims.sub or claims.azp}
        orders[created["id"]] = created
        return JSONResponse(created, status_code=201)

    @app.delete("/orders/{order_id}", status_code=204, response_class=Response)
    async def delete_order(
        order_id: str, _: Annotated[Claims, Depends(kinde.require_permissions("delete:orders"))]
    ) -> Response:
        # DELETE is idempotent: deleting an order that is already gone is a success too.
        orders.pop(order_id, None)
        return Response(status_code=204)

    @app.get("/admin/reports")
    async def admin_reports(_: Annotated[Claims, Depends(kinde.require(roles=["admin"]))]) -> dict[str, int]:
        # Kinde roles are an opt-in claim: enable Roles in the app's token customization.
        return {"orders": len(orders)}

    @app.get("/beta/suggestions")
    async def beta_suggestions(
        _: Annotated[Claims, Depends(kinde.require(feature_flags=["beta"]))],
    ) -> dict[str, list[str]]:
        return {"suggestions": ["flat white", "cortado"]}

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        state = guard.key_set_state()
        if not state.usable:
            # "Loadable": try to load the keys now; the key set's cooldown keeps this from turning
            # into one JWKS fetch per health probe while the issuer is down.
            with contextlib.suppress(AuthError, JWKSError):
                await guard.key_set.get_key_async("healthz-probe")
            state = guard.key_set_state()
        body = {"status": "ok" if state.usable else "unavailable", "keys": state.to_dict()}
        return JSONResponse(body, status_code=200 if state.usable else 503)

    return app


def _app_from_env() -> FastAPI:
    try:
        config = GuardConfig.from_env()
    except ConfigurationError as exc:
        print(
            f"examples.fastapi_app cannot start: {exc}\n"
            "Set KINDE_DOMAIN and KINDE_AUDIENCE (see examples/fastapi_app/README.md).",
            file=sys.stderr,
        )
        # Exit status 4 is gunicorn's "app failed to load" (uvicorn workers under gunicorn): its
        # master stops instead of respawning a worker that exits with any other status forever.
        raise SystemExit(4) from None
    return create_app(KindeGuard(config), client_id=os.environ.get("KINDE_CLIENT_ID", ""))


app = _app_from_env()
