"""A small MCP server guarded by Kinde tokens: the MCP Python SDK over streamable HTTP, behind
:class:`kinde_guard.asgi.KindeGuardMiddleware`.

Run it from the repository root (see README.md beside this file)::

    KINDE_DOMAIN=https://acme.kinde.com KINDE_RESOURCE=http://127.0.0.1:8000/mcp \\
        uvicorn examples.mcp_server.app:app

Configuration comes only from the environment: ``KINDE_DOMAIN``, ``KINDE_RESOURCE`` (this server's
MCP endpoint URL: its RFC 9728 resource identifier and an accepted audience), optional
``KINDE_AUDIENCE`` (more accepted audiences, space-separated) and ``KINDE_JWKS_URI``.

The MCP authorization spec makes an MCP server an OAuth resource server: every request carries a
bearer token (the middleware answers 401 with ``resource_metadata="..."`` without one), the RFC 9728
metadata is served at ``/.well-known/oauth-protected-resource/<path>``, and a tool call the token's
scopes do not cover gets ``403`` with ``error="insufficient_scope"`` and the ``scope`` needed, so a
client can ask for it (step-up). :class:`ToolScopes` does that last part at the HTTP level.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from examples.mcp_server.orders import ORDERS, TOOL_SCOPES, config_from_env, mcp_path, transport_security
from kinde_guard import AuthError, Claims, ConfigurationError, KindeGuard
from kinde_guard.asgi import KindeGuardMiddleware

__all__ = ["REALM", "TOOL_SCOPES", "ToolScopes", "create_app", "create_server"]

#: The realm of every challenge this server sends.
REALM = "mcp"


def _claims(ctx: Context, guard: KindeGuard, tool: str) -> Claims:
    """The verified claims of the HTTP request carrying this tool call, checked against the tool's
    scopes. The HTTP layer has refused already when they fall short; this second check keeps the
    tool closed should a call ever reach it some other way."""
    request = ctx.request_context.request
    state = getattr(request, "scope", {}).get("state", {})
    claims = state.get("kinde_claims")
    if not isinstance(claims, Claims):
        raise ToolError("This tool needs a verified Kinde token (serve the app behind KindeGuardMiddleware).")
    try:
        guard.authorize(claims, scopes=TOOL_SCOPES.get(tool, ()))
    except AuthError as exc:
        raise ToolError(exc.description) from None
    return claims


def create_server(guard: KindeGuard) -> MCPServer:
    """The MCP server and its two tools: ``whoami`` (any valid token), ``list_orders`` (``read:orders``)."""
    server = MCPServer("kinde-guard-orders", instructions="Orders, for callers with a Kinde token.")

    @server.tool()
    async def whoami(ctx: Context) -> dict[str, Any]:
        """Who is calling: the verified token's subject, client id and scopes."""
        claims = _claims(ctx, guard, "whoami")
        return {"sub": claims.sub, "azp": claims.azp, "scopes": sorted(claims.scopes), "is_m2m": claims.is_m2m}

    @server.tool()
    async def list_orders(ctx: Context) -> list[dict[str, Any]]:
        """The orders (needs the read:orders scope)."""
        _claims(ctx, guard, "list_orders")
        return [dict(order) for order in ORDERS]

    return server


class _DuplicateKeyError(ValueError):
    pass


class _ClientGone(Exception):
    """The client disconnected before sending the whole body."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise _DuplicateKeyError("duplicate key")
    return dict(pairs)


def _called_tools(body: bytes) -> list[str]:
    """The tool names of the ``tools/call`` requests in a JSON-RPC body (a message or a batch).

    Raises ``ValueError`` for a body that is not JSON or has duplicate keys: refusing what we cannot
    read leaves no body that our parser and the SDK's would read differently."""
    message = json.loads(body, object_pairs_hook=_no_duplicates)
    messages = message if isinstance(message, list) else [message]
    names = []
    for item in messages:
        if isinstance(item, dict) and item.get("method") == "tools/call":
            params = item.get("params")
            name = params.get("name") if isinstance(params, dict) else None
            if isinstance(name, str):
                names.append(name)
    return names


#: An HTTP answer: status, headers, body.
_Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


def _jsonrpc_error(status: int, code: int, message: str) -> _Answer:
    body = json.dumps({"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}}).encode()
    return status, [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())], body


class ToolScopes:
    """ASGI wrapper answering a ``tools/call`` for a tool whose scopes the token lacks with the
    MCP authorization spec's ``403 insufficient_scope`` challenge, before the SDK sees the call.

    It sits inside :class:`KindeGuardMiddleware` (which verified the token and put the claims in
    ``scope["state"]["kinde_claims"]``) and reads the body of POSTs to ``path`` (at most
    ``max_body`` bytes, the SDK's own limit), then replays it to ``app`` unchanged.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        guard: KindeGuard,
        tools: Mapping[str, Sequence[str]],
        path: str,
        realm: str = REALM,
        max_body: int = DEFAULT_MAX_REQUEST_BODY_SIZE,
    ) -> None:
        self.app = app
        self.guard = guard
        self.tools = {name: tuple(scopes) for name, scopes in tools.items() if scopes}
        self.path = path
        self.realm = realm
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST" or scope.get("path") != self.path:
            await self.app(scope, receive, send)
            return
        try:
            body = await self._read_body(receive)
        except _ClientGone:
            return  # nobody is left to answer
        if body is None:
            refusal: _Answer | None = _jsonrpc_error(413, -32600, f"The request body exceeds {self.max_body} bytes.")
        else:
            refusal = self._check(scope, body)
        if refusal is not None:
            status, headers, data = refusal
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": data})
            return
        assert body is not None
        await self.app(scope, _replay(body, receive), send)

    async def _read_body(self, receive: Receive) -> bytes | None:
        """The whole body, or ``None`` when it is larger than ``max_body``."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise _ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _check(self, scope: Scope, body: bytes) -> _Answer | None:
        try:
            names = _called_tools(body)
        except (ValueError, RecursionError):
            return _jsonrpc_error(400, -32700, "Parse error: the body is not JSON, or has duplicate keys.")
        needed = _union(self.tools.get(name, ()) for name in names)
        if not needed:
            return None
        claims = scope.get("state", {}).get("kinde_claims")
        if not isinstance(claims, Claims):
            # Only reachable without the guard middleware in front: fail closed.
            return _jsonrpc_error(500, -32603, "The tool scope check found no verified token.")
        try:
            self.guard.authorize(claims, scopes=needed)
        except AuthError as exc:
            error = self.guard.render_error(exc, self.realm)
            headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in error.headers]
            return error.status, headers, error.body
        return None


def _union(groups: Iterable[Iterable[str]]) -> list[str]:
    return sorted({scope for group in groups for scope in group})


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def create_app(guard: KindeGuard) -> ASGIApp:
    """The MCP server's ASGI app, at the path of ``guard.config.resource``, guarded by ``guard``."""
    resource = guard.config.resource
    if not resource:
        raise ConfigurationError("The MCP example needs GuardConfig.resource: the URL of its MCP endpoint.")
    path = mcp_path(resource)
    guard.declare_scopes(_union(TOOL_SCOPES.values()))
    server = create_server(guard)
    # Stateless with JSON answers: every HTTP request carries its own token and is checked on its
    # own, so there is no server-side session another token could ride on.
    mcp_app = server.streamable_http_app(
        streamable_http_path=path,
        stateless_http=True,
        json_response=True,
        transport_security=transport_security(resource),
    )
    scoped = ToolScopes(mcp_app, guard=guard, tools=TOOL_SCOPES, path=path)
    return KindeGuardMiddleware(scoped, guard=guard, realm=REALM)


app = create_app(KindeGuard(config_from_env("examples.mcp_server")))
