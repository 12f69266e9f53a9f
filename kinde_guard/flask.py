"""Flask extension: per-view token checks with ``@kinde.require(...)``.

Follows Flask's extension contract (``FlaskKindeGuard(app)`` or ``init_app(app)`` later; state in
``app.extensions["kinde_guard"]``; settings from ``app.config``, with the names of
:meth:`GuardConfig.from_env <kinde_guard.GuardConfig.from_env>`)::

    from flask import Flask
    from kinde_guard.flask import FlaskKindeGuard, current_claims

    kinde = FlaskKindeGuard()

    def create_app() -> Flask:
        app = Flask(__name__)
        app.config.update(KINDE_DOMAIN="https://acme.kinde.com", KINDE_AUDIENCE="https://api.acme.com")
        kinde.init_app(app)

        @app.get("/orders")
        @kinde.require(scopes=["read:orders"])
        def orders():
            return {"for": current_claims.sub}

        return app

Refusals raise :class:`~kinde_guard.AuthError` (or :class:`~kinde_guard.JWKSError` when no key can be
had); ``init_app`` registers error handlers answering them in the one JSON + ``WWW-Authenticate``
format of every adapter. Register your own ``@app.errorhandler(AuthError)`` to answer differently.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, Unpack, cast, overload

from .extras import missing_extra

try:
    from flask import Flask, Response, current_app, g, request
    from werkzeug.local import LocalProxy
except ModuleNotFoundError as exc:
    raise missing_extra(exc, adapter="kinde_guard.flask", extra="flask") from None

from .claims import Claims
from .config import GuardConfig
from .errors import AuthError, JWKSError
from .guard import KindeGuard
from .requirements import RequirementOptions, Requirements
from .resource import METADATA_HEADERS, metadata_path

__all__ = ["EXTENSION_KEY", "FlaskKindeGuard", "current_claims"]

#: The key of this extension's state in ``app.extensions``.
EXTENSION_KEY = "kinde_guard"
_G_CLAIMS = "kinde_guard_claims"

View = TypeVar("View", bound=Callable[..., Any])


@dataclass(frozen=True)
class _AppState:
    """What ``init_app`` leaves in ``app.extensions["kinde_guard"]``: one guard per app."""

    guard: KindeGuard
    realm: str


def _get_claims() -> Claims:
    claims = g.get(_G_CLAIMS)
    if not isinstance(claims, Claims):
        raise RuntimeError(
            "current_claims is only set inside a view decorated with @kinde.require(): "
            "this request's token has not been verified."
        )
    return claims


#: The verified :class:`~kinde_guard.Claims` of the current request (inside ``@kinde.require`` views).
current_claims: Claims = LocalProxy(_get_claims)  # type: ignore[assignment]


class FlaskKindeGuard:
    """The Flask extension. One instance may serve several apps, each with its own guard.

    - ``guard``: a ready :class:`~kinde_guard.KindeGuard` shared by every app this instance is
      initialised on; without it, ``init_app`` builds one per app from ``app.config``
      (``KINDE_DOMAIN``, ``KINDE_AUDIENCE``, ... see :meth:`GuardConfig.from_mapping
      <kinde_guard.GuardConfig.from_mapping>``).
    - ``realm``: the ``realm`` of the ``WWW-Authenticate`` challenges.

    >>> kinde = FlaskKindeGuard(guard=KindeGuard(domain="acme.kinde.com", audience="https://api"))
    >>> app = Flask("demo")
    >>> kinde.init_app(app)
    >>> app.extensions["kinde_guard"].guard is kinde.get_guard(app)
    True
    """

    def __init__(self, app: Flask | None = None, *, guard: KindeGuard | None = None, realm: str = "api") -> None:
        if guard is not None and not isinstance(guard, KindeGuard):
            raise TypeError("guard must be a KindeGuard")
        self._guard = guard
        self.realm = realm
        #: Every scope a ``require`` of this extension names: RFC 9728 ``scopes_supported``.
        self.required_scopes: set[str] = set()
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Attach to ``app``: build its guard (failing now on bad settings) and its error handlers.

        Raises :class:`~kinde_guard.ConfigurationError` naming the missing or malformed
        ``KINDE_*`` setting.
        """
        guard = self._guard or KindeGuard(GuardConfig.from_mapping(app.config))
        app.extensions[EXTENSION_KEY] = _AppState(guard=guard, realm=self.realm)
        # Registered on the app (not hard-wired into the decorator) so that an app or a blueprint
        # can answer refusals its own way with @app.errorhandler(AuthError).
        app.register_error_handler(AuthError, _answer_refusal)
        app.register_error_handler(JWKSError, _answer_refusal)
        if guard.config.resource:
            guard.declare_scopes(lambda: self.required_scopes)
            app.add_url_rule(
                metadata_path(guard.config.resource),
                endpoint="kinde_guard_resource_metadata",
                view_func=_resource_metadata,
                methods=["GET"],
            )

    def get_guard(self, app: Flask | None = None) -> KindeGuard:
        """The guard of ``app`` (default: the current app)."""
        return _state(app).guard

    @property
    def guard(self) -> KindeGuard:
        """The guard of the current app."""
        return self.get_guard()

    @overload
    def require(self, view: View, /) -> View: ...

    @overload
    def require(
        self,
        view: None = None,
        /,
        **options: Unpack[RequirementOptions],
    ) -> Callable[[View], View]: ...

    def require(
        self,
        view: View | None = None,
        /,
        **options: Unpack[RequirementOptions],
    ) -> View | Callable[[View], View]:
        """Decorate a view so it runs only for a valid token granting ``scopes`` / ``permissions``,
        holding the Kinde ``roles`` (by key), with the ``feature_flags``, for one of the
        ``org_codes`` and passing ``claims_check`` (see :class:`~kinde_guard.Requirements`).

        ``@kinde.require()`` (or bare ``@kinde.require``) asks for any valid token;
        ``match="any"`` accepts a token holding at least one of the listed scopes, one of the
        listed permissions and one of the listed roles. Sync and ``async def`` views are both
        supported. ``@kinde.require(roles=["admin"], feature_flags=["beta"])``.

        >>> kinde = FlaskKindeGuard()
        >>> @kinde.require(scopes=["read:orders"])
        ... def orders() -> list[str]:
        ...     return []
        """
        needs = Requirements(**options)
        self.required_scopes.update(needs.scopes)
        if view is not None:
            return _guarded(view, needs)
        return lambda v: _guarded(v, needs)


def _state(app: Flask | None = None) -> _AppState:
    app = app or cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
    state = app.extensions.get(EXTENSION_KEY)
    if not isinstance(state, _AppState):
        raise RuntimeError(
            f"kinde_guard is not initialised on the Flask app {app.name!r}: call kinde.init_app(app) "
            "(or FlaskKindeGuard(app)) in your app factory."
        )
    return state


def _check_sync(needs: Requirements) -> None:
    guard = _state().guard
    claims = g.get(_G_CLAIMS)
    if isinstance(claims, Claims):
        # Stacked decorators: the token was verified by this app's guard for this very request.
        guard.authorize(claims, requirements=needs)
        return
    g.setdefault(_G_CLAIMS, guard.authenticate(request.headers.get("Authorization"), requirements=needs))


async def _check_async(needs: Requirements) -> None:
    guard = _state().guard
    claims = g.get(_G_CLAIMS)
    if isinstance(claims, Claims):
        guard.authorize(claims, requirements=needs)
        return
    claims = await guard.authenticate_async(request.headers.get("Authorization"), requirements=needs)
    g.setdefault(_G_CLAIMS, claims)


def _guarded(view: View, needs: Requirements) -> View:
    if inspect.iscoroutinefunction(view):

        @functools.wraps(view)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            # Flask runs async views in an event loop of their own: a JWKS fetch must not block it.
            await _check_async(needs)
            return await view(*args, **kwargs)

        return cast(View, async_wrapper)

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _check_sync(needs)
        return current_app.ensure_sync(view)(*args, **kwargs)

    return cast(View, wrapper)


def _answer_refusal(exc: Exception) -> Response:
    """The default error handler: the one JSON + ``WWW-Authenticate`` answer of every adapter."""
    assert isinstance(exc, (AuthError, JWKSError))
    state = _state()  # registered by init_app, so this app has its state
    # The guard renders: it adds resource_metadata to the challenge when a resource is set.
    answer = state.guard.render_error(exc, state.realm)
    return Response(answer.body, status=answer.status, headers=list(answer.headers))


def _resource_metadata() -> Response:
    """The RFC 9728 Protected Resource Metadata of the current app's guard."""
    return Response(_state().guard.resource_metadata(), headers=list(METADATA_HEADERS))
