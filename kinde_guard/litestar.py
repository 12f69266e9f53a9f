"""Guard Litestar 2.x apps with a :class:`~kinde_guard.KindeGuard` (extra ``kinde-guard[litestar]``).

One plugin wires it all::

    kinde = KindePlugin(guard, exclude=["^/public$", "^/healthz$"])
    app = Litestar(route_handlers=[...], plugins=[kinde], openapi_config=OpenAPIConfig("Orders", "1.0.0"))

    @get("/orders", guards=[requires(scopes=["read:orders"])])
    async def list_orders(request: Request[Claims, Claims, State]) -> list[str]:
        return [f"orders of {request.user.sub}"]

    @delete("/orders/{order_id:str}", opt={"kinde": Requirements(permissions=["delete:orders"])})
    async def delete_order(order_id: str) -> None: ...

- :class:`KindeAuthMiddleware` (a Litestar ``ASGIMiddleware``, added by the plugin) verifies the
  token of every ``http`` and ``websocket`` request not excluded by ``exclude`` (Litestar's path
  patterns) or the route's ``opt[exclude_opt_key]``, and sets ``request.user`` and
  ``request.auth`` to the verified :class:`~kinde_guard.Claims` (``None`` for an anonymous request
  with ``required=False``). Litestar builds app middleware into each route, so a 404 or 405 is
  Litestar's own answer, before any token check.
- :func:`requires` is a Litestar guard for routes, controllers and routers (``guards=[...]``);
  ``opt={"kinde": Requirements(...)}`` (or a mapping of the same keywords) on any layer does the
  same through the guard the plugin adds app-wide. Either is a :class:`~kinde_guard.Requirements`:
  scopes, permissions, roles, feature flags, organizations, a claims check.
- Every refusal is :meth:`KindeGuard.render_error`'s answer, byte for byte that of every other
  adapter; OpenAPI shows the OAuth 2.0 authorization-code scheme (the tenant's ``/oauth2/auth``
  and ``/oauth2/token``) and each route's scopes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any, Unpack, cast

from .asgi import authorization_header, websocket_without_token
from .claims import Claims
from .errors import AuthError, JWKSError, MissingTokenError
from .extras import missing_extra
from .guard import KindeGuard
from .requirements import RequirementOptions, Requirements
from .responses import ErrorResponse
from .websocket import read_handshake

try:
    from litestar.config.app import AppConfig
    from litestar.connection import ASGIConnection, Request
    from litestar.enums import ScopeType
    from litestar.handlers.base import BaseRouteHandler
    from litestar.middleware import ASGIMiddleware
    from litestar.openapi.spec import Components, OAuthFlow, OAuthFlows, SecurityScheme
    from litestar.plugins import InitPlugin, ReceiveRoutePlugin
    from litestar.response import Response
    from litestar.routes import BaseRoute, HTTPRoute
    from litestar.types import ASGIApp, Receive, Scope, Send
except ModuleNotFoundError as exc:  # pragma: no cover - exercised by tests/test_extras.py
    raise missing_extra(exc, adapter="kinde_guard.litestar", extra="litestar") from None

__all__ = ["KINDE_OPT", "KindeAuthMiddleware", "KindePlugin", "KindeRefusal", "requirements_from_opt", "requires"]

#: The route ``opt`` key holding a route's :class:`~kinde_guard.Requirements` (or its keywords).
KINDE_OPT = "kinde"
#: Where the plugin keeps the guard, in ``app.state``.
_STATE_KEY = "kinde_guard"


class KindeRefusal(Exception):
    """Raised by the guards; the plugin's exception handler answers it with ``render_error``."""

    def __init__(self, error: AuthError | JWKSError) -> None:
        super().__init__(error.description)
        self.error = error


async def _refuse(scope: MutableMapping[str, Any], receive: Any, send: Any, error: ErrorResponse) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in error.headers]
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": error.status, "headers": headers})
        await send({"type": "http.response.body", "body": error.body, "more_body": False})
        return
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    if "websocket.http.response" in scope.get("extensions", {}):
        await send({"type": "websocket.http.response.start", "status": error.status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": error.body})
    else:
        await send({"type": "websocket.close", "code": 1008, "reason": ""})


class KindeAuthMiddleware(ASGIMiddleware):
    """Verifies the request's token; sets ``scope["user"]`` and ``scope["auth"]`` to the Claims.

    Shared by every request (Litestar builds it once): it holds configuration only.
    """

    scopes = (ScopeType.HTTP, ScopeType.WEBSOCKET)

    def __init__(
        self,
        guard: KindeGuard,
        *,
        exclude: str | Iterable[str] | None = None,
        exclude_opt_key: str = "exclude_from_auth",
        required: bool = True,
        realm: str = "api",
        websocket_subprotocol_token: bool = False,
        websocket_query_token: bool = False,
    ) -> None:
        self.guard = guard
        patterns = () if exclude is None else (exclude,) if isinstance(exclude, str) else tuple(exclude)
        # Matched against the request's path, as Litestar 2 matches exclude_path_pattern (its base
        # class would warn that Litestar 3 matches route paths instead: should_bypass_for_scope
        # keeps the request-path meaning, which is what "exclude these paths" says).
        self.exclude = re.compile("|".join(patterns)) if patterns else None
        self.should_bypass_for_scope = self._excluded if patterns else None
        self.exclude_opt_key = exclude_opt_key
        self.required = required
        self.realm = realm
        self.websocket_subprotocol_token = websocket_subprotocol_token
        self.websocket_query_token = websocket_query_token

    def _excluded(self, scope: Scope) -> bool:
        return self.exclude is not None and self.exclude.search(scope["path"]) is not None

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        await self._handle(cast("MutableMapping[str, Any]", scope), receive, send, next_app)

    async def _handle(self, scope: MutableMapping[str, Any], receive: Any, send: Any, next_app: Any) -> None:
        # Litestar's scope types are TypedDicts; these few keys are plain ASGI.
        handshake = None
        try:
            header = authorization_header(scope)
            if scope["type"] == "websocket" and (self.websocket_subprotocol_token or self.websocket_query_token):
                handshake = read_handshake(
                    scope, header, subprotocol=self.websocket_subprotocol_token, query=self.websocket_query_token
                )
                header = handshake.authorization
            claims = self.guard.authenticate_cached(header)
            if claims is None:
                claims = await self._authenticate(header)
        except (AuthError, JWKSError) as exc:
            await _refuse(scope, receive, send, self.guard.render_error(exc, self.realm))
            return
        if handshake is not None:
            scope, send = websocket_without_token(scope, send, handshake)
        scope["user"] = scope["auth"] = claims
        scope.setdefault("state", {})["kinde_claims"] = claims
        await next_app(scope, receive, send)

    async def _authenticate(self, header: bytes | None) -> Claims | None:
        try:
            return await self.guard.authenticate_async(header)
        except MissingTokenError:
            if self.required:
                raise
            return None


def _requirements(value: object) -> Requirements:
    if isinstance(value, Requirements):
        return value
    if isinstance(value, Mapping):
        return Requirements(**value)
    raise TypeError(f'opt["{KINDE_OPT}"] must be a kinde_guard.Requirements or a mapping of its keywords')


def _check(connection: ASGIConnection[Any, Any, Any, Any], needs: Requirements) -> None:
    guard = connection.app.state.get(_STATE_KEY)
    if not isinstance(guard, KindeGuard):
        raise RuntimeError("kinde_guard.litestar guards need KindePlugin(guard) in Litestar(plugins=[...])")
    claims = connection.scope.get("state", {}).get("kinde_claims")
    if not isinstance(claims, Claims):
        # An excluded path or an anonymous request: the route's needs cannot be met without a token.
        raise KindeRefusal(MissingTokenError())
    try:
        guard.authorize(claims, requirements=needs)
    except AuthError as exc:
        raise KindeRefusal(exc) from None


class _Requires:
    """The guard :func:`requires` returns; ``requirements`` is what the plugin shows in OpenAPI."""

    def __init__(self, requirements: Requirements) -> None:
        self.requirements = requirements

    def __call__(self, connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        _check(connection, self.requirements)


def requires(
    **options: Unpack[RequirementOptions],
) -> _Requires:
    """A Litestar guard: the verified token must meet these :class:`~kinde_guard.Requirements`
    (403 ``insufficient_scope`` otherwise; 401 without a token)."""
    return _Requires(Requirements(**options))


def requirements_from_opt(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """The guard checking ``opt["kinde"]`` of the route (any layer); the plugin adds it app-wide."""
    value = handler.opt.get(KINDE_OPT)
    if value is not None:
        _check(connection, _requirements(value))


class KindePlugin(InitPlugin, ReceiveRoutePlugin):
    """Adds :class:`KindeAuthMiddleware`, the refusal handler, the ``opt`` guard and the OpenAPI
    security scheme ``scheme_name`` to the app; options are the middleware's."""

    def __init__(self, guard: KindeGuard, *, scheme_name: str = "kinde", **middleware_options: Any) -> None:
        self.guard = guard
        self.scheme_name = scheme_name
        self.middleware = KindeAuthMiddleware(guard, **middleware_options)
        self._scopes: dict[str, str] = {}
        self._described: set[BaseRouteHandler] = set()
        guard.declare_scopes(lambda: self._scopes)

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.middleware.insert(0, self.middleware)
        app_config.exception_handlers = {**app_config.exception_handlers, KindeRefusal: self._answer}
        app_config.guards = [*app_config.guards, requirements_from_opt]
        app_config.state[_STATE_KEY] = self.guard
        openapi = app_config.openapi_config
        if openapi is not None:
            domain = self.guard.config.domain
            flow = OAuthFlow(
                authorization_url=f"{domain}/oauth2/auth", token_url=f"{domain}/oauth2/token", scopes=self._scopes
            )
            scheme = SecurityScheme(type="oauth2", flows=OAuthFlows(authorization_code=flow))
            existing = openapi.components if isinstance(openapi.components, list) else [openapi.components]
            openapi.components = [*existing, Components(security_schemes={self.scheme_name: scheme})]
        return app_config

    def _answer(self, request: Request[Any, Any, Any], exc: KindeRefusal) -> Response[bytes]:
        error = self.guard.render_error(exc.error, self.middleware.realm)
        headers = {k: v for k, v in error.headers if k not in ("content-type", "content-length")}
        return Response(error.body, status_code=error.status, headers=headers, media_type="application/json")

    def receive_route(self, route: BaseRoute) -> None:
        """Each guarded route's scopes into its OpenAPI ``security`` (validating ``opt`` at start-up)."""
        if not isinstance(route, HTTPRoute):
            return
        excluded = self.middleware.exclude
        if excluded is not None and excluded.search(route.path):
            return
        key = self.middleware.exclude_opt_key
        for handler, _ in route.route_handler_map.values():
            # A route is received again each time a handler joins its path: each handler once.
            if handler in self._described or (key and handler.opt.get(key)):
                continue
            self._described.add(handler)
            scopes: set[str] = set()
            for layer in handler.ownership_layers:
                scopes.update(s for g in layer.guards or () if isinstance(g, _Requires) for s in g.requirements.scopes)
                opt = layer.opt or {}
                if KINDE_OPT in opt:
                    scopes.update(_requirements(opt[KINDE_OPT]).scopes)
            self._scopes.update({scope: "" for scope in sorted(scopes) if scope not in self._scopes})
            handler.security = [*(handler.security or ()), {self.scheme_name: sorted(scopes)}]
