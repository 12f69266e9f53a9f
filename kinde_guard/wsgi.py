"""WSGI middleware: put a :class:`~kinde_guard.KindeGuard` in front of any WSGI application.

Flask, Django, Falcon, Bottle or a bare callable: every request outside ``public_paths`` must carry
a valid bearer token, or it is answered here, in the one error format of every adapter (JSON body,
RFC 6750 ``WWW-Authenticate``, ``Retry-After`` on 503). The wrapped app reads the verified claims
from ``environ["kinde_guard.claims"]``::

    from kinde_guard import KindeGuard
    from kinde_guard.wsgi import KindeGuardMiddleware

    guard = KindeGuard(domain="https://acme.kinde.com", audience=["https://api.acme.com"])
    application = KindeGuardMiddleware(application, guard=guard, public_paths=["/healthz", "/static/"])

    # in a view: claims = environ["kinde_guard.claims"]   # a Claims, or None when anonymous

Per route (Kinde roles, feature flags, organizations, a claims check, or scopes), decorate the WSGI
app of that route with :func:`require`::

    reports = require(guard, roles=["admin"], feature_flags=["beta"])(reports_app)

Threads and processes: build the guard once per process (at import time, as above). Its key set is
shared by the server's threads and fetches the JWKS once however many requests arrive at a cold
start; pre-fork servers (gunicorn) give each worker process its own guard and key set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Unpack

from .claims import Claims
from .errors import AuthError, JWKSError, MissingTokenError
from .guard import KindeGuard
from .paths import PublicPaths
from .requirements import RequirementOptions, Requirements
from .resource import METADATA_HEADERS, metadata_path, metadata_query

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
else:  # the typeshed names exist only for type checkers
    StartResponse = WSGIApplication = WSGIEnvironment = Any

__all__ = [
    "CLAIMS_KEY",
    "KindeGuardMiddleware",
    "ProtectedResourceMetadata",
    "PublicPaths",
    "claims_from_environ",
    "require",
    "send_resource_metadata",
]

#: The ``environ`` key holding the request's :class:`~kinde_guard.Claims` (``None`` if anonymous).
CLAIMS_KEY = "kinde_guard.claims"


class KindeGuardMiddleware:
    """Verify the bearer token of every request before the wrapped WSGI app sees it.

    - ``guard``: the :class:`~kinde_guard.KindeGuard` to verify with (build it once, share it).
    - ``public_paths``: paths passed through without any check, e.g. ``["/healthz", "/docs/"]``;
      an entry ending in ``/`` is a prefix, any other entry must match ``PATH_INFO`` exactly.
    - ``required``: with ``False``, a request without bearer credentials passes anonymously
      (claims ``None``); a request *with* a bad token is still refused (401), never downgraded.
    - ``realm``: the ``realm`` of the ``WWW-Authenticate`` challenges.

    Route-specific scopes belong in the app (e.g. ``kinde_guard.flask``'s ``require``), or in the
    guard's ``required_scopes`` when every route needs them.
    """

    def __init__(
        self,
        app: WSGIApplication,
        *,
        guard: KindeGuard,
        public_paths: Iterable[str] = (),
        required: bool = True,
        realm: str = "api",
    ) -> None:
        if not isinstance(guard, KindeGuard):
            raise TypeError("guard must be a KindeGuard, e.g. KindeGuard(GuardConfig.from_env())")
        self.app = app
        self.guard = guard
        self.public_paths = PublicPaths(public_paths)
        self.required = required
        self.realm = realm
        resource = guard.config.resource
        # RFC 9728: with a resource identifier, the metadata is served here, as by the ASGI adapter.
        self._metadata = (metadata_path(resource), metadata_query(resource)) if resource else None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if self._metadata is not None and self._is_metadata(environ):
            return self._send_metadata(environ, start_response)
        if self.public_paths.match(environ.get("PATH_INFO") or "/"):
            # A public route ignores credentials entirely: a stale token in a browser must not
            # break the health check or the landing page.
            environ[CLAIMS_KEY] = None
            return self.app(environ, start_response)
        try:
            environ[CLAIMS_KEY] = self.guard.authenticate(environ.get("HTTP_AUTHORIZATION"))
        except MissingTokenError as exc:
            if self.required:
                return self._refuse(exc, start_response)
            environ[CLAIMS_KEY] = None
        except (AuthError, JWKSError) as exc:
            return self._refuse(exc, start_response)
        return self.app(environ, start_response)

    def _refuse(self, exc: AuthError | JWKSError, start_response: StartResponse) -> list[bytes]:
        # The guard renders (it adds resource_metadata to challenges when a resource is set).
        answer = self.guard.render_error(exc, self.realm)
        start_response(_status_line(answer.status), list(answer.headers))
        return [answer.body]

    def _is_metadata(self, environ: WSGIEnvironment) -> bool:
        assert self._metadata is not None
        path, query = self._metadata
        return environ.get("PATH_INFO") == path and (not query or environ.get("QUERY_STRING", "") == query)

    def _send_metadata(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        return send_resource_metadata(self.guard, environ, start_response)


def send_resource_metadata(guard: KindeGuard, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
    """Answer a request for the RFC 9728 document: GET/HEAD 200, other methods 405."""
    method = environ.get("REQUEST_METHOD", "GET")
    if method not in ("GET", "HEAD"):
        body = b'{"error":"method_not_allowed","error_description":"Use GET or HEAD."}'
        headers = [("allow", "GET, HEAD"), ("content-type", "application/json")]
        start_response("405 Method Not Allowed", [*headers, ("content-length", str(len(body)))])
        return [body]
    body = guard.resource_metadata()
    start_response("200 OK", [*METADATA_HEADERS, ("content-length", str(len(body)))])
    return [b"" if method == "HEAD" else body]


class ProtectedResourceMetadata:
    """A standalone WSGI app serving the guard's RFC 9728 document, for apps mounted under a
    prefix, where the middleware never sees origin-root paths. Mount it at the origin's metadata
    path (:func:`kinde_guard.resource.metadata_path`), e.g. with werkzeug::

        DispatcherMiddleware(root_app, {
            "/api": guarded_app,
            metadata_path(guard.config.resource): ProtectedResourceMetadata(guard),
        })
    """

    def __init__(self, guard: KindeGuard) -> None:
        if not guard.config.resource:
            raise ValueError("ProtectedResourceMetadata needs GuardConfig.resource to be set")
        self.guard = guard

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return send_resource_metadata(self.guard, environ, start_response)


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Error"


def claims_from_environ(environ: WSGIEnvironment) -> Claims | None:
    """The request's :class:`~kinde_guard.Claims` set by the middleware, or ``None``.

    >>> claims_from_environ({"kinde_guard.claims": None}) is None
    True
    """
    claims = environ.get(CLAIMS_KEY)
    return claims if isinstance(claims, Claims) else None


def require(
    guard: KindeGuard,
    *,
    realm: str = "api",
    **options: Unpack[RequirementOptions],
) -> Callable[[WSGIApplication], WSGIApplication]:
    """Wrap the WSGI app of one route so it runs only for a token meeting these
    :class:`~kinde_guard.Requirements`, refusing in the one format of every adapter.

    Behind :class:`KindeGuardMiddleware` it checks the claims the middleware put in
    ``environ["kinde_guard.claims"]``; alone, it verifies the request's token itself (and sets them)::

        reports = require(guard, roles=["admin"], feature_flags={"plan": "pro"})(reports_app)
    """
    needs = Requirements(**options)

    def decorate(app: WSGIApplication) -> WSGIApplication:
        def guarded(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
            try:
                claims = environ.get(CLAIMS_KEY)
                if isinstance(claims, Claims):
                    guard.authorize(claims, requirements=needs)
                else:
                    environ[CLAIMS_KEY] = guard.authenticate(environ.get("HTTP_AUTHORIZATION"), requirements=needs)
            except (AuthError, JWKSError) as exc:
                answer = guard.render_error(exc, realm)
                start_response(_status_line(answer.status), list(answer.headers))
                return [answer.body]
            return app(environ, start_response)

        return guarded

    return decorate
