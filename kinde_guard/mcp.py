"""Kinde tokens for the MCP Python SDK's own auth hook: :class:`KindeTokenVerifier`.

The SDK (``mcp`` 2.x) lets a server plug in any validator through
``mcp.server.auth.provider.TokenVerifier``: one method, ``async verify_token(token) ->
AccessToken | None``. The SDK's bearer middleware answers ``None`` with 401 ``invalid_token`` and
checks ``AuthSettings.required_scopes`` against ``AccessToken.scopes`` (403 ``insufficient_scope``);
the audience check is the verifier's, and this one does it (the guard's ``audience`` and
``resource``)::

    guard = KindeGuard(GuardConfig.from_env())  # KINDE_DOMAIN, KINDE_RESOURCE=https://mcp.acme.com/mcp
    verifier = KindeTokenVerifier(guard)
    server = MCPServer(
        "orders",
        token_verifier=verifier,
        auth=AuthSettings(
            issuer_url=guard.config.domain,
            resource_server_url=guard.config.resource,
            required_scopes=["read:orders"],
            validate_token_resource=True,  # AccessToken.resource is the matched audience
        ),
    )
    app = verifier.install(server.streamable_http_app())  # the JWKS outage answer: 503, not 500

**Server-side failures.** The SDK has no answer for a verifier that cannot decide: its
``BearerAuthBackend`` runs inside Starlette's ``AuthenticationMiddleware``, which maps only
``AuthenticationError`` (to a plain-text 400) and lets anything else become a 500 with a logged
traceback. So when no signing key can be had (:class:`~kinde_guard.JWKSError`), the verifier
raises :class:`KindeUnavailableError` only inside an app passed to :meth:`KindeTokenVerifier.install`,
whose middleware (wrapped around the SDK's auth middleware) answers the guard's 503 with
``Retry-After``, byte for byte what every other adapter sends. Outside such an app it logs an
error and returns ``None`` (a 401): wrong for the client, but never a 500 traceback.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar

from .errors import AuthError, JWKSError
from .extras import missing_extra
from .guard import KindeGuard

try:
    from mcp.server.auth.provider import AccessToken
    from starlette.applications import Starlette
    from starlette.types import ASGIApp, Receive, Scope, Send
except ModuleNotFoundError as exc:  # pragma: no cover - exercised by tests/test_extras.py
    raise missing_extra(exc, adapter="kinde_guard.mcp", extra="mcp") from None

__all__ = ["KindeTokenVerifier", "KindeUnavailableError"]

logger = logging.getLogger("kinde_guard.mcp")

#: True while a request runs inside an app wrapped by :meth:`KindeTokenVerifier.install`.
_ANSWERS_OUTAGES: ContextVar[bool] = ContextVar("kinde_guard_mcp_answers_outages", default=False)


class KindeUnavailableError(Exception):
    """No signing key could be obtained; ``error`` is the :class:`~kinde_guard.JWKSError` to render.

    Raised by :meth:`KindeTokenVerifier.verify_token` only inside an app passed to
    :meth:`KindeTokenVerifier.install`, which turns it into a 503.
    """

    def __init__(self, error: JWKSError) -> None:
        super().__init__(error.description)
        self.error = error


class KindeTokenVerifier:
    """The MCP SDK's ``TokenVerifier`` for Kinde access tokens, verified by ``guard``.

    A valid token becomes an ``AccessToken``: ``client_id`` = ``azp`` (``""`` when absent),
    ``scopes`` = the token's scopes (``scp`` and ``scope``, sorted), ``expires_at`` = ``exp``,
    ``subject`` = ``sub`` (``None`` for M2M), ``resource`` = the guard's ``resource`` when the
    token names it, else the first of the guard's audiences it names, and ``claims`` = every
    claim (``Claims.from_payload(access_token.claims)`` in a tool gives the guard's view back).
    A Kinde API key (guard with ``api_keys`` on) has no ``azp``, ``aud`` or ``exp``: its
    ``client_id`` is the key's ``key_id``, ``resource`` the guard's ``resource`` (else its first
    audience: the API the key was verified for), ``subject`` the key's user (``None`` for an
    organization key) and ``expires_at`` ``None``; so the SDK's ``validate_token_resource`` accepts it.
    A refused token is ``None`` (the SDK's 401); the reason is logged at INFO on
    ``kinde_guard.mcp``, never the token.

    >>> guard = KindeGuard(domain="https://acme.kinde.com", audience="https://api.acme.com")
    >>> KindeTokenVerifier(guard).guard is guard
    True
    """

    def __init__(self, guard: KindeGuard) -> None:
        self.guard = guard

    async def verify_token(self, token: str) -> AccessToken | None:
        """The SDK's hook: ``token`` (without ``Bearer``) → ``AccessToken``, or ``None`` if refused."""
        try:
            claims = await self.guard.verify_async(token)
        except AuthError as exc:
            logger.info("Kinde token refused (%s): %s", exc.error_code, exc.description)
            return None
        except JWKSError as exc:
            if _ANSWERS_OUTAGES.get():
                raise KindeUnavailableError(exc) from None
            logger.error(
                "Kinde token not verifiable, no signing key (%s); answering 401 as the MCP SDK has no "
                "server-error answer: wrap the app with KindeTokenVerifier.install(app) to answer 503",
                exc.description,
            )
            return None
        expires_at = claims.expires_at
        if claims.credential == "api_key":
            # No azp and no aud: the key is its own client, and it was verified for this API.
            client_id, resource = claims.key_id or "", self._own_resource()
        else:
            client_id, resource = claims.azp or "", self._resource(claims.audience)
        return AccessToken(
            token=token,
            client_id=client_id,
            scopes=sorted(claims.scopes),
            expires_at=None if expires_at is None else int(expires_at),
            resource=resource,
            subject=claims.sub,
            claims=dict(claims.raw),
        )

    def _own_resource(self) -> str | None:
        config = self.guard.config
        return config.resource or next(iter(config.audience), None)

    def _resource(self, audience: tuple[str, ...]) -> str | None:
        config = self.guard.config
        if config.resource and config.resource in audience:
            return config.resource
        return next((aud for aud in audience if aud in config.audience), None)

    def install(self, app: Starlette) -> Starlette:
        """Add to the SDK's Starlette ``app`` (``server.streamable_http_app()``, before it serves)
        the middleware answering a JWKS outage with the guard's 503; returns ``app``."""
        app.add_middleware(_AnswerOutages, verifier=self)
        return app


class _AnswerOutages:
    """Outermost of the app's own middleware, around the SDK's ``AuthenticationMiddleware``."""

    def __init__(self, app: ASGIApp, *, verifier: KindeTokenVerifier) -> None:
        self.app = app
        self.guard = verifier.guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        marker = _ANSWERS_OUTAGES.set(True)
        try:
            await self.app(scope, receive, send)
        except KindeUnavailableError as exc:
            # Raised by the verifier, before the SDK's endpoint started any answer.
            logger.warning("Kinde token not verifiable, no signing key: %s", exc.error.description)
            error = self.guard.render_error(exc.error)
            headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in error.headers]
            if scope["type"] == "http":
                await send({"type": "http.response.start", "status": error.status, "headers": headers})
                await send({"type": "http.response.body", "body": error.body})
            else:
                await send({"type": "websocket.close", "code": 1011, "reason": ""})
        finally:
            _ANSWERS_OUTAGES.reset(marker)
