"""README snippet: Starlette (tests/test_readme.py runs it against a local issuer)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from kinde_guard import GuardConfig, KindeGuard
from kinde_guard.asgi import KindeGuardMiddleware

guard = KindeGuard(GuardConfig.from_env())


@requires("read:orders")  # Starlette's own decorator: the token's scopes are request.auth.scopes
async def list_orders(request: Request) -> JSONResponse:
    claims = request.state.kinde_claims  # or request.user.claims
    return JSONResponse({"for": claims.sub, "scopes": sorted(request.auth.scopes)})


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse(guard.key_set_state().to_dict())


app = KindeGuardMiddleware(
    Starlette(routes=[Route("/orders", list_orders), Route("/healthz", healthz)]),
    guard=guard,
    public_paths=("/healthz",),  # exact paths; a prefix ends with "/"
)
