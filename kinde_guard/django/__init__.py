"""Django: a middleware and view decorators verifying Kinde bearer tokens, configured in settings.

Settings (``settings.py``), the names and meaning of :meth:`GuardConfig.from_env
<kinde_guard.GuardConfig.from_env>`'s environment variables, each falling back to the environment;
a list setting may be a list or a space-separated string::

    INSTALLED_APPS = [..., "kinde_guard.django"]      # checks the settings at start-up
    MIDDLEWARE = [..., "kinde_guard.django.KindeGuardMiddleware"]   # optional: guard every route
    KINDE_DOMAIN = "https://acme.kinde.com"
    KINDE_AUDIENCE = ["https://api.acme.com"]
    KINDE_PUBLIC_PATHS = ["/healthz", "/static/"]     # the middleware lets these through

and in a view module::

    from kinde_guard.django import kinde_required

    @kinde_required(scopes=["read:orders"])
    def orders(request):
        return JsonResponse({"for": request.kinde_claims.sub})

One guard per process, built from the settings on first use (or at start-up by the app config or
the middleware) and rebuilt after ``override_settings`` changes a ``KINDE_*`` setting. A missing
or malformed setting raises ``ImproperlyConfigured`` with a sentence saying what to set.
``KINDE_GUARD`` may hold a ready :class:`~kinde_guard.KindeGuard` instead (tests pass
``kinde_issuer.guard()``). ``KINDE_REALM`` is the challenges' ``realm`` (default ``"api"``).
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar, Unpack, cast, overload

from ..extras import missing_extra

try:
    from asgiref.sync import iscoroutinefunction, markcoroutinefunction
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.signals import setting_changed
    from django.http import HttpRequest, HttpResponse
except ModuleNotFoundError as exc:
    raise missing_extra(exc, adapter="kinde_guard.django", extra="django") from None

from ..claims import Claims
from ..config import GuardConfig
from ..errors import AuthError, ConfigurationError, JWKSError
from ..guard import KindeGuard
from ..paths import PublicPaths
from ..requirements import RequirementOptions, Requirements

__all__ = [
    "KindeGuardMiddleware",
    "KindeUser",
    "claims_of",
    "get_guard",
    "get_public_paths",
    "get_realm",
    "kinde_required",
    "refusal",
    "reset_guard",
]

View = TypeVar("View", bound=Callable[..., Any])

#: The ``request`` attribute holding the verified :class:`~kinde_guard.Claims` (``None`` on public paths).
CLAIMS_ATTRIBUTE = "kinde_claims"


class _Settings:
    """The process's guard, public paths and realm, read from the settings once and rebuilt when a
    ``KINDE_*`` setting changes (Django sends ``setting_changed`` for ``override_settings``)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.guard: KindeGuard | None = None
        self.public_paths: PublicPaths | None = None
        self.realm: str | None = None

    def reset(self) -> None:
        with self.lock:
            self.guard, self.public_paths, self.realm = None, None, None


_state = _Settings()


def _kinde_settings() -> dict[str, Any]:
    """``KINDE_*`` values: the environment's, overridden by the Django settings' (``None`` = unset)."""
    values: dict[str, Any] = {k: v for k, v in os.environ.items() if k.startswith("KINDE_")}
    for name in dir(settings):
        if name.startswith("KINDE_"):
            value = getattr(settings, name)
            if value is None:
                values.pop(name, None)
            else:
                values[name] = value
    return values


def _build_guard() -> KindeGuard:
    ready = getattr(settings, "KINDE_GUARD", None)
    if ready is not None:
        if not isinstance(ready, KindeGuard):
            raise ImproperlyConfigured("KINDE_GUARD must be a kinde_guard.KindeGuard (or leave it unset).")
        return ready
    try:
        return KindeGuard(GuardConfig.from_mapping(_kinde_settings()))
    except ConfigurationError as exc:
        raise ImproperlyConfigured(f"{exc} Set it in your Django settings or in the environment.") from None


def get_guard() -> KindeGuard:
    """The process's :class:`~kinde_guard.KindeGuard`, built from the settings on first use.

    Raises ``ImproperlyConfigured`` naming the missing or malformed ``KINDE_*`` setting.
    """
    guard = _state.guard
    if guard is None:
        with _state.lock:
            if _state.guard is None:
                _state.guard = _build_guard()
            guard = _state.guard
    return guard


def get_public_paths() -> PublicPaths:
    """``KINDE_PUBLIC_PATHS`` (a list, or a space-separated string) as a :class:`~kinde_guard.paths.PublicPaths`."""
    paths = _state.public_paths
    if paths is None:
        raw = getattr(settings, "KINDE_PUBLIC_PATHS", None) or os.environ.get("KINDE_PUBLIC_PATHS", "")
        try:
            paths = PublicPaths(raw.split() if isinstance(raw, str) else raw)
        except (TypeError, ValueError) as exc:
            raise ImproperlyConfigured(f"KINDE_PUBLIC_PATHS is malformed: {exc}") from None
        _state.public_paths = paths
    return paths


def get_realm() -> str:
    """``KINDE_REALM``, the ``realm`` of every challenge (default ``"api"``)."""
    realm = _state.realm
    if realm is None:
        realm = _state.realm = str(getattr(settings, "KINDE_REALM", None) or os.environ.get("KINDE_REALM") or "api")
    return realm


def reset_guard() -> None:
    """Forget the guard and the settings read so far (done on every ``KINDE_*`` ``setting_changed``;
    call it yourself after changing ``KINDE_*`` environment variables at run time)."""
    _state.reset()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("KINDE_"):
        reset_guard()


setting_changed.connect(_on_setting_changed, dispatch_uid="kinde_guard.django.reset_guard")


class KindeUser:
    """A lightweight user for a verified token (no database row): ``request.user`` under DRF.

    ``pk``/``id``/``username`` are the token's ``sub``, or for an M2M token the client id (``azp``).

    >>> user = KindeUser(Claims.from_payload({"sub": "kp_1"}))
    >>> user.username, user.is_authenticated, user.is_anonymous
    ('kp_1', True, False)
    """

    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, claims: Claims) -> None:
        self.claims = claims
        self.pk = self.id = self.username = claims.sub or claims.azp or ""

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_username(self) -> str:
        return self.username

    def __str__(self) -> str:
        return self.username

    def __repr__(self) -> str:
        return f"<KindeUser {self.username!r}>"


def claims_of(request: HttpRequest) -> Claims | None:
    """The request's verified :class:`~kinde_guard.Claims` (set by the middleware or a decorator), or ``None``."""
    claims = getattr(request, CLAIMS_ATTRIBUTE, None)
    return claims if isinstance(claims, Claims) else None


def refusal(exc: AuthError | JWKSError) -> HttpResponse:
    """The one refusal answer of every adapter (status, JSON body, ``WWW-Authenticate``) as a Django response."""
    answer = get_guard().render_error(exc, get_realm())
    response = HttpResponse(answer.body, status=answer.status)
    del response["Content-Type"]  # exactly render_error's headers, nothing of Django's defaults
    for name, value in answer.headers:
        response[name] = value
    return response


class KindeGuardMiddleware:
    """Every request outside ``KINDE_PUBLIC_PATHS`` needs a valid token, or it is refused here.

    Sync and async capable: under ASGI it awaits the pipeline (a JWKS fetch runs in a worker thread,
    never on the event loop); under WSGI it calls it. The verified claims are ``request.kinde_claims``.
    Built by Django at start-up, it builds the guard then: bad settings fail before the first request.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        get_guard()  # fail at start-up on bad settings
        get_public_paths()
        # Django picks the middleware's mode at construction (django/utils/decorators.py does the same).
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        if get_public_paths().match(request.path_info):
            setattr(request, CLAIMS_ATTRIBUTE, None)
            return self.get_response(request)
        try:
            claims = get_guard().authenticate(request.META.get("HTTP_AUTHORIZATION"))
        except (AuthError, JWKSError) as exc:
            return refusal(exc)
        setattr(request, CLAIMS_ATTRIBUTE, claims)
        return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> Any:
        if get_public_paths().match(request.path_info):
            setattr(request, CLAIMS_ATTRIBUTE, None)
            return await self.get_response(request)
        guard = get_guard()
        header = request.META.get("HTTP_AUTHORIZATION")
        try:
            # A cache hit is answered without a coroutine; a miss awaits (any fetch off the loop).
            claims = guard.authenticate_cached(header)
            if claims is None:
                claims = await guard.authenticate_async(header)
        except (AuthError, JWKSError) as exc:
            return refusal(exc)
        setattr(request, CLAIMS_ATTRIBUTE, claims)
        return await self.get_response(request)


def _check(request: HttpRequest, needs: Requirements) -> None:
    guard = get_guard()
    claims = claims_of(request)
    if claims is not None:  # verified by the middleware (or a stacked decorator) for this request
        guard.authorize(claims, requirements=needs)
        return
    setattr(request, CLAIMS_ATTRIBUTE, guard.authenticate(request.META.get("HTTP_AUTHORIZATION"), requirements=needs))


async def _check_async(request: HttpRequest, needs: Requirements) -> None:
    guard = get_guard()
    claims = claims_of(request)
    if claims is not None:
        guard.authorize(claims, requirements=needs)
        return
    header = request.META.get("HTTP_AUTHORIZATION")
    claims = guard.authenticate_cached(header, requirements=needs)
    if claims is None:
        claims = await guard.authenticate_async(header, requirements=needs)
    setattr(request, CLAIMS_ATTRIBUTE, claims)


def _guarded(view: View, needs: Requirements) -> View:
    if iscoroutinefunction(view):

        @functools.wraps(view)
        async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            try:
                await _check_async(request, needs)
            except (AuthError, JWKSError) as exc:
                return refusal(exc)
            return await view(request, *args, **kwargs)

        return cast(View, async_wrapper)

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        try:
            _check(request, needs)
        except (AuthError, JWKSError) as exc:
            return refusal(exc)
        return view(request, *args, **kwargs)

    return cast(View, wrapper)


@overload
def kinde_required(view: View, /) -> View: ...


@overload
def kinde_required(
    view: None = None,
    /,
    **options: Unpack[RequirementOptions],
) -> Callable[[View], View]: ...


def kinde_required(
    view: View | None = None,
    /,
    **options: Unpack[RequirementOptions],
) -> View | Callable[[View], View]:
    """Decorate a Django view (sync or ``async def``) so it runs only for a valid token meeting the
    :class:`~kinde_guard.Requirements` given as keywords (``scopes=``, ``permissions=``, ``match=``,
    ``roles=``, ``feature_flags=``, ``org_codes=``, ``claims_check=``, ...); otherwise the one
    refusal answer.

    Bare ``@kinde_required`` asks for any valid token. Behind :class:`KindeGuardMiddleware` the
    middleware's verified claims are reused (no second verification).

    >>> @kinde_required(scopes=["read:orders"])
    ... def orders(request): ...
    """
    needs = Requirements(**options)
    if view is not None:
        return _guarded(view, needs)
    return lambda v: _guarded(v, needs)
