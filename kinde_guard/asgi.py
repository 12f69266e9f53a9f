"""Guard ASGI apps (Starlette, FastAPI, any ASGI framework) with a :class:`~kinde_guard.KindeGuard`.

Two ways in, one error format (:func:`kinde_guard.responses.render_error`):

- :class:`KindeGuardMiddleware`, pure ASGI, refuses bad requests itself::

      app = Starlette(routes=routes)
      app = KindeGuardMiddleware(app, guard=guard, public_paths=("/healthz", "/static/"))

- :class:`KindeAuthBackend` plugs into Starlette's own ``AuthenticationMiddleware``::

      backend = KindeAuthBackend(guard)
      Middleware(AuthenticationMiddleware, backend=backend, on_error=backend.on_error)

Either way ``request.user`` is a :class:`KindeUser`, ``request.auth.scopes`` holds the token's
scopes (plus ``"authenticated"``), so ``@requires("read:orders")`` works unchanged, and the
verified :class:`~kinde_guard.Claims` are in ``request.state.kinde_claims``.

Starlette's ``@requires`` sees scopes only. For Kinde roles, feature flags, organizations or a
claims check on one endpoint, use :func:`require`, which answers refusals in the one format::

    @require(guard, roles=["admin"], feature_flags=["beta"])
    async def reports(request: Request) -> JSONResponse: ...
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Unpack

from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
    UnauthenticatedUser,
)
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .claims import Claims
from .errors import AuthError, InvalidRequestError, JWKSError, MissingTokenError
from .guard import KindeGuard
from .paths import PublicPaths
from .requirements import RequirementOptions, Requirements
from .resource import METADATA_HEADERS, metadata_path, metadata_query
from .responses import ErrorResponse
from .websocket import Handshake, read_handshake

__all__ = [
    "AUTHENTICATED",
    "KindeAuthBackend",
    "KindeAuthenticationError",
    "KindeGuardMiddleware",
    "KindeUser",
    "ProtectedResourceMetadata",
    "attach_claims",
    "authorization_header",
    "require",
    "websocket_without_token",
]

#: The pseudo-scope every verified request carries, as in Starlette's docs: ``@requires("authenticated")``.
AUTHENTICATED = "authenticated"


class KindeUser(BaseUser):
    """The ``request.user`` of a request with a verified token; ``claims`` holds everything.

    >>> KindeUser(Claims.from_payload({"sub": "kp_1"})).display_name
    'kp_1'
    """

    def __init__(self, claims: Claims) -> None:
        self.claims = claims

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        # M2M tokens have no ``sub``; the client id is the caller's identity then.
        return self.claims.sub or self.claims.azp or ""

    @property
    def identity(self) -> str:
        return self.display_name


def attach_claims(scope: Scope, claims: Claims | None) -> None:
    """Put verified ``claims`` (or ``None`` = anonymous) where Starlette and our adapters look."""
    state = scope.get("state")
    if state is None:
        scope["state"] = state = {}
    state["kinde_claims"] = claims
    if claims is None:
        scope["auth"], scope["user"] = AuthCredentials(), UnauthenticatedUser()
    else:
        # A new list per request (it is the request's to change); membership is what @requires reads.
        scope["auth"] = AuthCredentials([AUTHENTICATED, *claims.scopes])
        scope["user"] = KindeUser(claims)


def authorization_header(scope: Scope) -> bytes | None:
    """The raw ``Authorization`` value, or ``None``; two of them are a malformed request (400)."""
    found = None
    for name, value in scope.get("headers", ()):
        # Servers send lowercase names (the ASGI spec asks for it); others are compared lowercased.
        if name == b"authorization" or (len(name) == 13 and name.lower() == b"authorization"):
            if found is not None:
                raise InvalidRequestError("The request must carry exactly one Authorization header.")
            found = value
    return found


def _route_path(scope: Scope) -> str:
    """The path relative to the wrapped app: without the ``root_path`` of a mount or a proxy prefix,
    so ``public_paths`` read like the app's own routes wherever it is mounted."""
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("", "/"):
        return path[len(root) :] or "/"
    return path


def _asgi_headers(error: ErrorResponse) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in error.headers]


async def _refuse(scope: Scope, receive: Receive, send: Send, error: ErrorResponse) -> None:
    headers = _asgi_headers(error)
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": error.status, "headers": headers})
        await send({"type": "http.response.body", "body": error.body})
        return
    # A websocket is refused before ``accept``: first take the connect event, as the spec expects.
    message = await receive()
    if message["type"] != "websocket.connect":
        return  # the client went away already
    if "websocket.http.response" in scope.get("extensions", {}):
        # The server can send a real HTTP answer instead of the handshake: the same 401/403/503.
        await send({"type": "websocket.http.response.start", "status": error.status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": error.body})
    else:
        # 1008 = policy violation (RFC 6455 §7.4.1); before accept the server turns it into a 403.
        await send({"type": "websocket.close", "code": 1008, "reason": ""})


class KindeGuardMiddleware:
    """Pure ASGI middleware: every ``http`` and ``websocket`` request needs a valid Kinde token.

    ``public_paths`` pass without any check: an entry ending in ``/`` is a prefix (``"/static/"``),
    any other entry must equal the path (``"/healthz"``); paths are those of the wrapped app (no
    ``root_path``), matched by :class:`~kinde_guard.paths.PublicPaths` (the WSGI middleware's rules:
    dot segments, empty segments and other ambiguous forms are never public). With ``required=False`` a request without
    credentials passes as anonymous (``request.user.is_authenticated`` is false) while a present,
    bad token is still refused. ``lifespan`` and other scopes pass through untouched.

    A browser cannot set ``Authorization`` on a WebSocket: ``websocket_subprotocol_token=True``
    also takes a handshake's token from ``Sec-WebSocket-Protocol`` (``["bearer", token]`` or
    ``"bearer.<token>"``), ``websocket_query_token=True`` from an ``access_token`` query parameter
    (tokens in URLs reach logs: see :mod:`kinde_guard.websocket`). Plain HTTP never reads either.

    >>> from starlette.applications import Starlette
    >>> guard = KindeGuard(domain="https://acme.kinde.com", audience="https://api.acme.com")
    >>> app = KindeGuardMiddleware(Starlette(), guard=guard, public_paths=("/healthz",))
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        guard: KindeGuard,
        public_paths: Iterable[str] = (),
        required: bool = True,
        realm: str = "api",
        websocket_subprotocol_token: bool = False,
        websocket_query_token: bool = False,
    ) -> None:
        self.app = app
        self.guard = guard
        self.required = required
        self.realm = realm
        # Opt-in token sources of a websocket handshake, for browsers (see kinde_guard.websocket).
        self.websocket_subprotocol_token = websocket_subprotocol_token
        self.websocket_query_token = websocket_query_token
        self.public_paths = PublicPaths(public_paths)
        resource = guard.config.resource
        # RFC 9728: with a resource identifier, the metadata lives at an origin-root path.
        self._metadata = (metadata_path(resource), metadata_query(resource).encode()) if resource else None

    def is_public(self, path: str) -> bool:
        """True when ``path`` needs no token (see :class:`~kinde_guard.paths.PublicPaths`)."""
        return self.public_paths.match(path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if self._metadata is not None and scope["type"] == "http" and self._is_metadata(scope):
            await send_resource_metadata(self.guard, scope, send)
            return
        if self.public_paths.match(_route_path(scope)):
            # Not verified at all, even if a token is present; request.user still works (anonymous).
            attach_claims(scope, None)
            await self.app(scope, receive, send)
            return
        handshake = None
        try:
            header = authorization_header(scope)
            if scope["type"] == "websocket" and (self.websocket_subprotocol_token or self.websocket_query_token):
                handshake = read_handshake(
                    scope, header, subprotocol=self.websocket_subprotocol_token, query=self.websocket_query_token
                )
                header = handshake.authorization
            # A token verified before is a cache hit: answered without a coroutine or an await.
            claims = self.guard.authenticate_cached(header)
            if claims is None:
                claims = await self._authenticate(header)
        except (AuthError, JWKSError) as exc:
            await _refuse(scope, receive, send, self.guard.render_error(exc, self.realm))
            return
        if handshake is not None:
            scope, send = websocket_without_token(scope, send, handshake)
        attach_claims(scope, claims)
        await self.app(scope, receive, send)

    def _is_metadata(self, scope: Scope) -> bool:
        assert self._metadata is not None
        path, query = self._metadata
        return scope["path"] == path and (not query or scope.get("query_string", b"") == query)

    async def _authenticate(self, header: bytes | None) -> Claims | None:
        try:
            return await self.guard.authenticate_async(header)
        except MissingTokenError:
            # No bearer credentials at all (none, or another scheme): anonymous when allowed.
            if self.required:
                raise
            return None


def websocket_without_token(scope: Scope, send: Send, handshake: Handshake) -> tuple[Scope, Send]:
    """The scope the app sees (subprotocols and query string without the token) and a ``send``
    whose ``websocket.accept`` never echoes the token's subprotocol entry."""
    scope = dict(scope, subprotocols=list(handshake.subprotocols), query_string=handshake.query_string)

    async def send_accept(message: Message) -> None:
        if message["type"] == "websocket.accept":
            message = dict(message, subprotocol=handshake.accepted_subprotocol(message.get("subprotocol")))
        await send(message)

    return scope, send_accept


class KindeAuthenticationError(AuthenticationError):
    """What :class:`KindeAuthBackend` raises; ``error`` is the refusal to render."""

    def __init__(self, error: AuthError | JWKSError) -> None:
        super().__init__(error.description)
        self.error = error


class KindeAuthBackend(AuthenticationBackend):
    """A Starlette ``AuthenticationBackend`` verifying Kinde tokens.

    Pass ``on_error=backend.on_error`` to ``AuthenticationMiddleware`` so refusals use the same
    JSON body, status and ``WWW-Authenticate`` challenge as :class:`KindeGuardMiddleware`
    (Starlette's default answers every failure with a plain-text 400). A request without a token is
    anonymous, as Starlette expects of a backend, unless ``required=True``. Starlette closes a
    refused websocket itself (code 1000); :class:`KindeGuardMiddleware` refuses it properly.

    >>> from starlette.middleware import Middleware
    >>> from starlette.middleware.authentication import AuthenticationMiddleware
    >>> guard = KindeGuard(domain="https://acme.kinde.com", audience="https://api.acme.com")
    >>> backend = KindeAuthBackend(guard)
    >>> mw = Middleware(AuthenticationMiddleware, backend=backend, on_error=backend.on_error)
    """

    def __init__(self, guard: KindeGuard, *, realm: str = "api", required: bool = False) -> None:
        self.guard = guard
        self.realm = realm
        self.required = required

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        scope = conn.scope
        try:
            header = authorization_header(scope)
            claims = await self.guard.authenticate_async(header)
        except MissingTokenError as exc:
            if self.required:
                raise KindeAuthenticationError(exc) from None
            attach_claims(scope, None)
            return None
        except (AuthError, JWKSError) as exc:
            raise KindeAuthenticationError(exc) from None
        attach_claims(scope, claims)
        return scope["auth"], scope["user"]

    def on_error(self, conn: HTTPConnection, exc: AuthenticationError) -> Response:
        """``AuthenticationMiddleware``'s ``on_error``: the one error format (or Starlette's default
        for errors of other backends)."""
        if not isinstance(exc, KindeAuthenticationError):
            return PlainTextResponse(str(exc), status_code=400)
        error = self.guard.render_error(exc.error, self.realm)
        response = Response(error.body, status_code=error.status)
        # Replace the generated headers wholesale so the answer matches the middleware's exactly.
        response.raw_headers = _asgi_headers(error)
        return response


async def send_resource_metadata(guard: KindeGuard, scope: Scope, send: Send) -> None:
    """Answer a request for the RFC 9728 document: GET/HEAD 200, other methods 405."""
    method = scope.get("method", "GET")
    if method not in ("GET", "HEAD"):
        headers = [(b"allow", b"GET, HEAD"), (b"content-type", b"application/json")]
        body = b'{"error":"method_not_allowed","error_description":"Use GET or HEAD."}'
        await send({"type": "http.response.start", "status": 405, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return
    body = guard.resource_metadata()
    headers = [(k.encode(), v.encode()) for k, v in METADATA_HEADERS]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})


class ProtectedResourceMetadata:
    """A standalone ASGI app serving the guard's RFC 9728 document, for apps mounted under a
    prefix, where the middleware never sees origin-root paths. Mount it at the origin's
    ``/.well-known/oauth-protected-resource`` (plus the resource's path, see
    :func:`kinde_guard.resource.metadata_path`)::

        Route(metadata_path(guard.config.resource), ProtectedResourceMetadata(guard))
    """

    def __init__(self, guard: KindeGuard) -> None:
        if not guard.config.resource:
            raise ValueError("ProtectedResourceMetadata needs GuardConfig.resource to be set")
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send_resource_metadata(self.guard, scope, send)


Endpoint = Callable[[Request], Any]


def require(
    guard: KindeGuard,
    *,
    realm: str = "api",
    **options: Unpack[RequirementOptions],
) -> Callable[[Endpoint], Callable[[Request], Awaitable[Response]]]:
    """Decorate a Starlette endpoint (``async def`` or plain ``def``, taking the ``Request``) so it
    runs only for a token meeting these :class:`~kinde_guard.Requirements`; a refusal is the one
    answer of every adapter (:meth:`KindeGuard.render_error`).

    Behind :class:`KindeGuardMiddleware` (or :class:`KindeAuthBackend`) it checks the claims the
    middleware verified; alone, it verifies the request's token itself. Use it where Starlette's
    ``@requires`` would need more than scopes::

        @require(guard, roles=["admin"], org_codes=["org_acme"])
        async def admin(request: Request) -> JSONResponse:
            return JSONResponse({"for": request.state.kinde_claims.sub})
    """
    needs = Requirements(**options)

    def decorate(endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
        is_async = inspect.iscoroutinefunction(endpoint)

        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            scope = request.scope
            try:
                claims = scope.get("state", {}).get("kinde_claims")
                if isinstance(claims, Claims):
                    guard.authorize(claims, requirements=needs)
                else:
                    header = authorization_header(scope)
                    claims = guard.authenticate_cached(header, requirements=needs)
                    if claims is None:
                        claims = await guard.authenticate_async(header, requirements=needs)
                    attach_claims(scope, claims)
            except (AuthError, JWKSError) as exc:
                error = guard.render_error(exc, realm)
                response = Response(error.body, status_code=error.status)
                response.raw_headers = _asgi_headers(error)
                return response
            if is_async:
                result: Response = await endpoint(request)
            else:
                result = await run_in_threadpool(endpoint, request)
            return result

        return guarded

    return decorate
