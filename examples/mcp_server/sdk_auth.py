"""The same MCP server wired the SDK's own way: ``MCPServer(token_verifier=verifier,
auth=AuthSettings(...))`` instead of :class:`kinde_guard.asgi.KindeGuardMiddleware` in front.

Run it from the repository root (see README.md beside this file)::

    KINDE_DOMAIN=https://acme.kinde.com KINDE_RESOURCE=http://127.0.0.1:8000/mcp \\
        uvicorn examples.mcp_server.sdk_auth:app

The SDK then does the HTTP side itself: its bearer middleware answers 401 ``invalid_token`` (also
when no token was sent) with ``resource_metadata``, checks ``required_scopes`` for every request
(403, naming the first missing one), and serves the RFC 9728 metadata. A tool's own scopes are
checked in the tool, so falling short is an MCP tool error, not an HTTP 403 step-up challenge: for
that, use the middleware wiring of ``app.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from starlette.applications import Starlette

from examples.mcp_server.orders import ORDERS, TOOL_SCOPES, config_from_env, mcp_path, transport_security
from kinde_guard import AuthError, Claims, ConfigurationError, KindeGuard
from kinde_guard.mcp import KindeTokenVerifier

__all__ = ["create_app", "create_server"]


def _claims(guard: KindeGuard, tool: str) -> Claims:
    """The verified claims of the request carrying this tool call (the SDK's ``get_access_token``),
    checked against the tool's scopes."""
    access = get_access_token()
    if access is None or access.claims is None:
        raise ToolError("This tool needs a verified Kinde token.")
    claims = Claims.from_payload(access.claims)
    try:
        guard.authorize(claims, scopes=TOOL_SCOPES.get(tool, ()))
    except AuthError as exc:
        raise ToolError(exc.description) from None
    return claims


def create_server(verifier: KindeTokenVerifier, *, required_scopes: Iterable[str] = ()) -> MCPServer:
    """The MCP server with the SDK's auth settings; ``required_scopes`` hold for every request."""
    guard = verifier.guard
    config = guard.config
    if not config.resource:
        raise ConfigurationError("The MCP example needs GuardConfig.resource: the URL of its MCP endpoint.")
    server = MCPServer(
        "kinde-guard-orders",
        instructions="Orders, for callers with a Kinde token.",
        token_verifier=verifier,
        # From plain strings (model_validate), so the SDK keeps a path-less issuer as it is: an
        # issuer is compared as an exact string, and AnyHttpUrl(...) would add a trailing slash.
        auth=AuthSettings.model_validate(
            {
                "issuer_url": (config.issuers or (config.domain,))[0],
                "resource_server_url": config.resource,
                "required_scopes": list(required_scopes) or None,
                # The verifier checks the token's audience itself (the resource and KINDE_AUDIENCE).
                "validate_token_resource": False,
            }
        ),
    )

    @server.tool()
    async def whoami() -> dict[str, Any]:
        """Who is calling: the verified token's subject, client id and scopes."""
        claims = _claims(guard, "whoami")
        return {"sub": claims.sub, "azp": claims.azp, "scopes": sorted(claims.scopes), "is_m2m": claims.is_m2m}

    @server.tool()
    async def list_orders() -> list[dict[str, Any]]:
        """The orders (needs the read:orders scope)."""
        _claims(guard, "list_orders")
        return [dict(order) for order in ORDERS]

    return server


def create_app(guard: KindeGuard, *, required_scopes: Iterable[str] = ()) -> Starlette:
    """The SDK's own Starlette app at the path of ``guard.config.resource``, with the verifier's
    JWKS-outage answer (503) installed."""
    verifier = KindeTokenVerifier(guard)
    server = create_server(verifier, required_scopes=required_scopes)
    resource = guard.config.resource
    app = server.streamable_http_app(
        streamable_http_path=mcp_path(resource),
        stateless_http=True,
        json_response=True,
        transport_security=transport_security(resource),
    )
    return verifier.install(app)


app = create_app(KindeGuard(config_from_env("examples.mcp_server.sdk_auth")))
