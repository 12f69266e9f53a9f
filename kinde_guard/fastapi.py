"""FastAPI dependencies: ``Security(kinde, scopes=[...])`` gives the verified :class:`~kinde_guard.Claims`.

::

    from typing import Annotated
    from fastapi import FastAPI, Security
    from kinde_guard import Claims, KindeGuard
    from kinde_guard.fastapi import KindeAuth

    guard = KindeGuard(domain="https://acme.kinde.com", audience="https://api.acme.com")
    kinde = KindeAuth(guard)
    app = FastAPI(swagger_ui_init_oauth=kinde.swagger_ui_init_oauth(client_id="<your Kinde client id>"))
    kinde.install(app)  # one error format + every route's scopes in the OpenAPI scheme

    @app.get("/orders")
    async def orders(claims: Annotated[Claims, Security(kinde, scopes=["read:orders"])]): ...

    @app.delete("/orders/{order_id}", status_code=204)
    async def delete(claims: Annotated[Claims, Depends(kinde.require_permissions("delete:orders"))]): ...

    @app.get("/admin/reports")  # Kinde roles, feature flags, organizations: the OpenAPI description says so
    async def reports(claims: Annotated[Claims, Depends(kinde.require(roles=["admin"], feature_flags=["beta"]))]): ...

Refusals answer exactly like :class:`kinde_guard.asgi.KindeGuardMiddleware` once ``install(app)``
has run. Without it they still carry the right status and ``WWW-Authenticate`` header, but in
FastAPI's ``{"detail": ...}`` envelope (and a warning is logged once).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Unpack

from .extras import missing_extra

try:
    from fastapi import FastAPI, HTTPException, Security
    from fastapi.openapi.models import OAuth2, OAuthFlowAuthorizationCode, OAuthFlows
    from fastapi.routing import APIRoute
    from fastapi.security import SecurityScopes
    from fastapi.security.base import SecurityBase
except ModuleNotFoundError as exc:
    raise missing_extra(exc, adapter="kinde_guard.fastapi", extra="fastapi") from None
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from .asgi import authorization_header
from .claims import Claims, Match
from .errors import AuthError, JWKSError, MissingTokenError
from .guard import KindeGuard
from .requirements import NO_REQUIREMENTS, RequirementOptions, Requirements
from .responses import render_error

__all__ = ["REQUIREMENTS_ATTRIBUTE", "KindeAuth", "KindeAuthHTTPException", "kinde_exception_handler"]

#: The attribute of a :meth:`KindeAuth.require` dependency holding its Requirements (read by ``install``).
REQUIREMENTS_ATTRIBUTE = "kinde_requirements"

logger = logging.getLogger("kinde_guard.fastapi")


class KindeAuthHTTPException(HTTPException):
    """A refused request. :func:`kinde_exception_handler` renders it in the one error format."""

    def __init__(
        self, error: AuthError | JWKSError, realm: str = "api", challenge_params: tuple[tuple[str, str], ...] = ()
    ) -> None:
        self.error = error
        self.realm = realm
        self.challenge_params = challenge_params
        rendered = render_error(error, realm, challenge_params)
        headers = {k: v for k, v in rendered.headers if k not in ("content-type", "content-length")}
        detail = error.to_dict() if isinstance(error, AuthError) else {"error": error.error_code}
        super().__init__(rendered.status, detail=detail, headers=headers)


async def kinde_exception_handler(request: Request, exc: Exception) -> Response:
    """FastAPI exception handler for :class:`KindeAuthHTTPException` (``install`` registers it)."""
    assert isinstance(exc, KindeAuthHTTPException)
    error = render_error(exc.error, exc.realm, exc.challenge_params)
    response = Response(error.body, status_code=error.status)
    # The exact headers render_error gives, so this answer matches the middleware's byte for byte.
    response.raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in error.headers]
    return response


class KindeAuth(SecurityBase):
    """A FastAPI security dependency verifying Kinde access tokens with ``verify_async``.

    Use it as ``Security(kinde, scopes=[...])``: it reads the route's ``SecurityScopes`` and
    returns :class:`~kinde_guard.Claims`. With ``auto_error=False`` an anonymous request (no bearer
    credentials) gives ``None`` instead of 401; a bad token is still refused. Claims that
    :class:`~kinde_guard.asgi.KindeGuardMiddleware` already verified are reused, not re-verified.

    It is also an OAuth 2.0 authorization-code security scheme (the tenant's ``/oauth2/auth`` and
    ``/oauth2/token``), so OpenAPI shows each route's scopes and Swagger UI's *Authorize* button
    signs in. ``scopes`` adds descriptions to the scheme's scope list.
    """

    def __init__(
        self,
        guard: KindeGuard,
        *,
        auto_error: bool = True,
        realm: str = "api",
        scheme_name: str = "kinde",
        scopes: Mapping[str, str] | None = None,
        description: str | None = None,
    ) -> None:
        self.guard = guard
        self.auto_error = auto_error
        self.realm = realm
        self.scheme_name = scheme_name
        domain = guard.config.domain
        flow = OAuthFlowAuthorizationCode(
            authorizationUrl=f"{domain}/oauth2/auth", tokenUrl=f"{domain}/oauth2/token", scopes=dict(scopes or {})
        )
        self.model = OAuth2(flows=OAuthFlows(authorizationCode=flow), description=description)
        self._warned = False

    async def __call__(self, conn: HTTPConnection, security_scopes: SecurityScopes) -> Claims | None:
        scopes = security_scopes.scopes
        return await self._claims(conn, Requirements(scopes=scopes) if scopes else NO_REQUIREMENTS)

    def require_permissions(
        self, *permissions: str, match: Match = "all"
    ) -> Callable[[HTTPConnection, Claims | None], Awaitable[Claims | None]]:
        """A dependency requiring Kinde ``permissions`` (all of them, or one with ``match="any"``).

        >>> # async def delete(claims: Annotated[Claims, Depends(kinde.require_permissions("delete:orders"))])
        """

        needs = Requirements(permissions=permissions, match=match)

        async def permitted(
            conn: HTTPConnection,
            # Depending on the scheme itself keeps the route's security requirement in OpenAPI.
            claims: Claims | None = Security(self),  # noqa: B008
        ) -> Claims | None:
            if claims is None:
                return None
            try:
                self.guard.authorize(claims, requirements=needs)
            except AuthError as exc:
                raise self._http_error(conn, exc) from None
            return claims

        return permitted

    def require(
        self,
        **options: Unpack[RequirementOptions],
    ) -> Callable[[HTTPConnection, Claims | None], Awaitable[Claims | None]]:
        """A dependency for any :class:`~kinde_guard.Requirements`: ``Depends(kinde.require(
        roles=["admin"], feature_flags={"plan": "pro"}, org_codes=["org_acme"]))`` returns the
        :class:`~kinde_guard.Claims` of a token meeting them. The route's scopes go into OpenAPI's
        security requirement as with ``Security(kinde, scopes=...)``; after ``install(app)`` the
        operation's description also says what the route requires ("Requires: role admin; ...").
        """
        needs = Requirements(**options)
        scheme_scopes = list(needs.scopes) if needs.match == "all" else []

        async def required(
            conn: HTTPConnection,
            claims: Claims | None = Security(self, scopes=scheme_scopes),  # noqa: B008
        ) -> Claims | None:
            if claims is None:
                return None
            try:
                self.guard.authorize(claims, requirements=needs)
            except AuthError as exc:
                raise self._http_error(conn, exc) from None
            return claims

        setattr(required, REQUIREMENTS_ATTRIBUTE, needs)
        return required

    def swagger_ui_init_oauth(self, client_id: str = "", scopes: Iterable[str] = ()) -> dict[str, Any]:
        """Settings for ``FastAPI(swagger_ui_init_oauth=...)``: PKCE, your client id, and the
        ``audience`` parameter Kinde needs to put your API in the token's ``aud``."""
        settings: dict[str, Any] = {
            "clientId": client_id,
            "usePkceWithAuthorizationCodeGrant": True,
            "additionalQueryStringParams": {"audience": " ".join(self.guard.config.audience)},
        }
        if scopes:
            settings["scopes"] = " ".join(scopes)
        return settings

    def install(self, app: FastAPI) -> None:
        """Register the error handler and list every route's scopes in the OpenAPI scheme."""
        app.add_exception_handler(KindeAuthHTTPException, kinde_exception_handler)
        build = app.openapi

        def openapi() -> dict[str, Any]:
            if app.openapi_schema is not None:
                return app.openapi_schema
            schema = build()
            self._add_route_scopes(schema)
            _describe_requirements(app, schema)
            return schema

        app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend it
        # The routes' scopes also feed the RFC 9728 metadata's scopes_supported.
        self.guard.declare_scopes(lambda: self._listed_scopes(app))

    def _listed_scopes(self, app: FastAPI) -> list[str]:
        scheme = app.openapi().get("components", {}).get("securitySchemes", {}).get(self.scheme_name, {})
        return list(scheme.get("flows", {}).get("authorizationCode", {}).get("scopes", {}))

    # -- internals -------------------------------------------------------------------------------

    async def _claims(self, conn: HTTPConnection, needs: Requirements) -> Claims | None:
        try:
            already = conn.scope.get("state", {}).get("kinde_claims")
            if isinstance(already, Claims):
                self.guard.authorize(already, requirements=needs)
                return already
            header = authorization_header(conn.scope)
            return await self.guard.authenticate_async(header, requirements=needs)
        except MissingTokenError as exc:
            if not self.auto_error:
                return None
            raise self._http_error(conn, exc) from None
        except (AuthError, JWKSError) as exc:
            raise self._http_error(conn, exc) from None

    def _http_error(self, conn: HTTPConnection, error: AuthError | JWKSError) -> KindeAuthHTTPException:
        handlers = getattr(conn.app, "exception_handlers", {})
        if not self._warned and KindeAuthHTTPException not in handlers:
            self._warned = True
            logger.warning(
                "kinde_guard: call kinde.install(app) so refusals use the one error format "
                "(they now use FastAPI's {'detail': ...} envelope)"
            )
        return KindeAuthHTTPException(error, self.realm, self.guard.challenge_params)

    def _add_route_scopes(self, schema: dict[str, Any]) -> None:
        scheme = schema.get("components", {}).get("securitySchemes", {}).get(self.scheme_name)
        if scheme is None:
            return
        listed: dict[str, str] = scheme["flows"]["authorizationCode"].setdefault("scopes", {})
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                for requirement in operation.get("security", ()) if isinstance(operation, dict) else ():
                    for scope in requirement.get(self.scheme_name, ()):
                        listed.setdefault(scope, f"API scope {scope}")


def _describe_requirements(app: FastAPI, schema: dict[str, Any]) -> None:
    """Append "Requires: ..." to the description of every operation with a ``require`` dependency."""
    for route in app.routes:
        if not isinstance(route, APIRoute):
            continue
        needs = [n for n in _route_requirements(route.dependant) if n]
        if not needs:
            continue
        text = "Requires: " + "; ".join(dict.fromkeys(n.describe() for n in needs)) + "."
        for method in route.methods or ():
            operation = schema.get("paths", {}).get(route.path_format, {}).get(method.lower())
            if isinstance(operation, dict) and text not in operation.get("description", ""):
                described = operation.get("description")
                operation["description"] = f"{described}\n\n{text}" if described else text


def _route_requirements(dependant: Any) -> list[Requirements]:
    found = []
    for dependency in getattr(dependant, "dependencies", ()):
        needs = getattr(dependency.call, REQUIREMENTS_ATTRIBUTE, None)
        if isinstance(needs, Requirements):
            found.append(needs)
        found.extend(_route_requirements(dependency))
    return found
