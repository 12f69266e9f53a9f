"""Django REST framework: an authentication class, permission classes and an exception handler.

::

    REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": ["kinde_guard.drf.KindeAuthentication"],
        "EXCEPTION_HANDLER": "kinde_guard.drf.exception_handler",
        "UNAUTHENTICATED_USER": None,        # no django.contrib.auth needed
    }

    class Orders(APIView):
        permission_classes = [HasScopes("read:orders") & HasPermissions("export:orders")]

    class Reports(APIView):   # Kinde roles, feature flags, organizations
        permission_classes = [(HasRoles("admin") | HasRoles("owner")) & HasFeatureFlag("beta") & InOrganization("org_acme")]

The guard and its settings are :mod:`kinde_guard.django`'s (``KINDE_DOMAIN``, ``KINDE_AUDIENCE``,
...). ``request.user`` is a :class:`~kinde_guard.django.KindeUser` (no database), ``request.auth``
the verified :class:`~kinde_guard.Claims`.

- A missing or bad token is **401** with the Bearer challenge: :meth:`KindeAuthentication.authenticate_header`
  gives DRF the challenge, and :func:`exception_handler` answers 401 even when another
  authentication class without a challenge comes first (where DRF alone answers 403).
- A scope or permission refusal is **403** with ``WWW-Authenticate: Bearer error="insufficient_scope",
  scope="..."``; every Kinde refusal has the JSON body of every other adapter, byte for byte. Other
  DRF errors keep DRF's own format.

This module never imports ``rest_framework.views`` at import time: DRF imports the classes named
in ``DEFAULT_AUTHENTICATION_CLASSES`` while ``rest_framework.views`` itself is loading, and a
module-level import of it here would be circular.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from .extras import missing_extra

try:
    from django.http import HttpResponse
    from django.http.response import ResponseHeaders
    from rest_framework import exceptions
    from rest_framework.authentication import BaseAuthentication
    from rest_framework.permissions import (
        AND,
        NOT,
        OR,
        BasePermission,
        OperandHolder,
        OperationHolderMixin,
        SingleOperandHolder,
    )
except ModuleNotFoundError as exc:
    raise missing_extra(
        exc, adapter="kinde_guard.drf", extra="drf", packages={"rest_framework": "djangorestframework"}
    ) from None

from .claims import Claims, FlagValue, Match
from .django import KindeUser, claims_of, get_guard, get_realm, refusal
from .errors import AuthError, InsufficientScopeError, JWKSError, MissingTokenError
from .guard import KindeGuard
from .requirements import NO_REQUIREMENTS, Requirements

__all__ = [
    "REFUSAL_ATTRIBUTE",
    "SCOPES_IN_USE",
    "HasFeatureFlag",
    "HasPermissions",
    "HasRequirements",
    "HasRoles",
    "HasScopes",
    "InOrganization",
    "KindeAuthentication",
    "KindeAuthenticationFailed",
    "KindeUnavailable",
    "exception_handler",
]

#: Every scope a :class:`HasRequirements` names (the OpenAPI scheme's scopes, see kinde_guard.drf_openapi).
SCOPES_IN_USE: set[str] = set()

#: The DRF ``request`` attribute where a refusing Kinde permission leaves its reason for the handler.
REFUSAL_ATTRIBUTE = "kinde_refusal"

_LAST_REFUSAL: ContextVar[tuple[HasRequirements, InsufficientScopeError] | None] = ContextVar(
    "kinde_drf_last_refusal", default=None
)


class KindeAuthenticationFailed(exceptions.AuthenticationFailed):  # type: ignore[misc]
    """A token was sent and refused (401 ``invalid_token``, 400 ``invalid_request``); ``error`` is why."""

    def __init__(self, error: AuthError) -> None:
        super().__init__(error.description or error.error_code)
        self.status_code = error.status_code
        self.error = error


class KindeUnavailable(exceptions.APIException):  # type: ignore[misc]
    """No signing key can be had (503, ``Retry-After``); ``error`` is the :class:`~kinde_guard.JWKSError`."""

    status_code = 503
    default_code = "temporarily_unavailable"

    def __init__(self, error: JWKSError) -> None:
        super().__init__("The API cannot verify tokens right now; retry later.")
        self.wait = error.retry_after
        self.error = error


class KindeAuthentication(BaseAuthentication):  # type: ignore[misc]
    """DRF authentication by Kinde bearer token: ``(KindeUser, Claims)``, or ``None`` without one.

    Behind :class:`kinde_guard.django.KindeGuardMiddleware` it reuses the middleware's claims.
    Override :meth:`get_guard` to use another guard than the settings' one.
    """

    def get_guard(self) -> KindeGuard:
        return get_guard()

    def authenticate(self, request: Any) -> tuple[KindeUser, Claims] | None:
        claims = claims_of(request)  # DRF's request passes unknown attributes to Django's
        if claims is None:
            try:
                claims = self.get_guard().authenticate(request.META.get("HTTP_AUTHORIZATION"))
            except MissingTokenError:
                return None  # no bearer credentials: let the next authentication class try
            except AuthError as exc:
                raise KindeAuthenticationFailed(exc) from None
            except JWKSError as exc:
                raise KindeUnavailable(exc) from None
        return KindeUser(claims), claims

    def authenticate_header(self, request: Any) -> str:
        # A challenge makes DRF answer 401 (not 403) for a missing or refused token.
        return MissingTokenError().www_authenticate(get_realm(), self.get_guard().challenge_params)


def _pending(request: Any) -> InsufficientScopeError | None:
    reason = getattr(request, REFUSAL_ATTRIBUTE, None)
    return reason if isinstance(reason, InsufficientScopeError) else None


def _leave(request: Any, allowed: bool, reason: InsufficientScopeError | None) -> bool:
    # Every Kinde permission and every composite of them leaves exactly its own outcome behind:
    # its refusal when it refuses, nothing when it allows (so nothing stale outlives a decision).
    setattr(request, REFUSAL_ATTRIBUTE, None if allowed else reason)
    return allowed


def _decide(request: Any, check: Callable[[], bool]) -> tuple[bool, InsufficientScopeError | None]:
    """One operand's verdict and its Kinde refusal (None when a non-Kinde permission refused)."""
    setattr(request, REFUSAL_ATTRIBUTE, None)
    allowed = bool(check())
    return allowed, (None if allowed else _pending(request))


class _NoAlternative(InsufficientScopeError):
    """Every alternative of ``|`` refused: the refusal names each one."""

    def __init__(self, alternatives: tuple[InsufficientScopeError, ...]) -> None:
        descriptions = " Or: ".join(a.description or "The token does not meet the requirements." for a in alternatives)
        with_scopes = [a for a in alternatives if a.required_scopes]
        # scope= says what would let the request through: said only when one alternative is about scopes.
        scopes = with_scopes[0].required_scopes if len(with_scopes) == 1 else ()
        super().__init__(f"The token meets none of the alternatives. {descriptions}", required_scopes=scopes)
        self.alternatives = alternatives


def _either(
    first: InsufficientScopeError | None, second: InsufficientScopeError | None
) -> InsufficientScopeError | None:
    """The refusal of ``first | second`` when both refused. A non-Kinde alternative (None) adds nothing a
    client could act on, so the Kinde ones answer; with none, DRF answers with its own 403."""
    kinde: list[InsufficientScopeError] = []
    for reason in (first, second):
        if reason is not None:
            kinde.extend(reason.alternatives if isinstance(reason, _NoAlternative) else (reason,))
    if not kinde:
        return None
    return kinde[0] if len(kinde) == 1 else _NoAlternative(tuple(kinde))


class _KindeAnd(AND):  # type: ignore[misc]
    """DRF's ``AND`` (same short-circuit); a refusal is the refusal of the operand that refused."""

    message: str | None = None

    def has_permission(self, request: Any, view: Any) -> bool:
        return self._both(request, lambda op: op.has_permission(request, view))

    def has_object_permission(self, request: Any, view: Any, obj: Any) -> bool:
        return self._both(request, lambda op: op.has_object_permission(request, view, obj))

    def _both(self, request: Any, check: Callable[[Any], bool]) -> bool:
        for operand in (self.op1, self.op2):
            allowed, reason = _decide(request, lambda: check(operand))  # noqa: B023 (called at once)
            if not allowed:
                self.message = reason.description if reason else getattr(operand, "message", None)
                return _leave(request, False, reason)
        return _leave(request, True, None)


class _KindeOr(OR):  # type: ignore[misc]
    """DRF's ``OR`` (same short-circuit, same object check); when every alternative refuses, the
    refusal names each Kinde alternative's reason."""

    message: str | None = None

    def has_permission(self, request: Any, view: Any) -> bool:
        return self._either(request, lambda op: op.has_permission(request, view))

    def has_object_permission(self, request: Any, view: Any, obj: Any) -> bool:
        return self._either(
            request, lambda op: op.has_permission(request, view) and op.has_object_permission(request, view, obj)
        )

    def _either(self, request: Any, check: Callable[[Any], bool]) -> bool:
        allowed, first = _decide(request, lambda: check(self.op1))
        if allowed:
            return _leave(request, True, None)
        allowed, second = _decide(request, lambda: check(self.op2))
        if allowed:
            return _leave(request, True, None)
        reason = _either(first, second)
        self.message = reason.description if reason else getattr(self.op2, "message", None)
        return _leave(request, False, reason)


class _KindeNot(NOT):  # type: ignore[misc]
    """DRF's ``NOT``: never a Kinde refusal (a Kinde check that passed is no insufficient scope, and
    one that failed, inverted, allows)."""

    def has_permission(self, request: Any, view: Any) -> bool:
        allowed, _ = _decide(request, lambda: self.op1.has_permission(request, view))
        return _leave(request, not allowed, None)

    def has_object_permission(self, request: Any, view: Any, obj: Any) -> bool:
        allowed, _ = _decide(request, lambda: self.op1.has_object_permission(request, view, obj))
        return _leave(request, not allowed, None)


class _KindeOperators(OperationHolderMixin):  # type: ignore[misc]
    """``&``, ``|`` and ``~`` that build the Kinde-aware ``AND``/``OR``/``NOT`` above (subclasses of
    DRF's, so anything walking DRF's composition, e.g. the OpenAPI extension, still sees them)."""

    def __and__(self, other: Any) -> _KindeHolder:
        return _KindeHolder(_KindeAnd, self, other)

    def __or__(self, other: Any) -> _KindeHolder:
        return _KindeHolder(_KindeOr, self, other)

    def __rand__(self, other: Any) -> _KindeHolder:
        return _KindeHolder(_KindeAnd, other, self)

    def __ror__(self, other: Any) -> _KindeHolder:
        return _KindeHolder(_KindeOr, other, self)

    def __invert__(self) -> _KindeSingleHolder:
        return _KindeSingleHolder(_KindeNot, self)


class _KindeHolder(_KindeOperators, OperandHolder):  # type: ignore[misc]
    pass


class _KindeSingleHolder(_KindeOperators, SingleOperandHolder):  # type: ignore[misc]
    pass


class HasRequirements(_KindeOperators, BasePermission):  # type: ignore[misc]
    """Permission: the request's Kinde token meets ``requirements`` (a :class:`~kinde_guard.Requirements`).

    Instances compose with DRF's ``&``, ``|`` and ``~``, with each other and with DRF's own classes
    (``permission_classes = [HasScopes("read:orders") | IsAdminUser]``). A refusal answers 403 with
    the ``insufficient_scope`` challenge through :func:`exception_handler`; a request without a
    Kinde token answers 401. The refusal is the one of the permission that decided: the failing
    operand of ``&``; every Kinde alternative of ``|`` when all refuse (one description naming
    each); never a Kinde refusal for ``~`` or for a DRF permission that refused (DRF's own 403).
    That holds for every expression with a Kinde permission on the left of each operator, and for
    ``IsAuthenticated & HasScopes(...)`` / ``IsAdminUser | HasScopes(...)``; when DRF's own
    operators nest a Kinde permission on the left of ``|`` or under ``~`` (``(IsAuthenticated &
    HasScopes("a")) | IsAdminUser``), write the Kinde permission first to keep it exact.
    Each new kind of requirement is one thin constructor::

        class HasScopes(HasRequirements):
            def __init__(self, *scopes: str, match: Match = "all") -> None:
                super().__init__(Requirements(scopes=scopes, match=match))
    """

    def __init__(self, requirements: Requirements = NO_REQUIREMENTS) -> None:
        if not isinstance(requirements, Requirements):
            raise TypeError("HasRequirements takes a kinde_guard.Requirements, e.g. Requirements(scopes=[...])")
        self.requirements = requirements
        SCOPES_IN_USE.update(requirements.scopes)

    def __call__(self) -> HasRequirements:
        # DRF instantiates every entry of permission_classes: an instance stands for itself.
        return self

    @property
    def message(self) -> str | None:
        """The description of this permission's latest refusal in this thread/task (what DRF's own
        403 says without :func:`exception_handler`); the instance is shared by every request."""
        last = _LAST_REFUSAL.get()
        return last[1].description if last is not None and last[0] is self else None

    def has_permission(self, request: Any, view: Any) -> bool:
        claims = request.auth
        if not isinstance(claims, Claims):
            # Not authenticated by a Kinde token: DRF answers 401 (or 403 for other users).
            return _leave(request, False, None)
        try:
            get_guard().authorize(claims, requirements=self.requirements)
        except InsufficientScopeError as exc:
            # Composed with | the other side may still pass: refuse by returning False and leave
            # the reason for exception_handler (the composites keep only the deciding one).
            _LAST_REFUSAL.set((self, exc))
            return _leave(request, False, exc)
        return _leave(request, True, None)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.requirements!r})"


class HasScopes(HasRequirements):
    """The token grants these OAuth scopes (``scp``/``scope``); ``match="any"``: at least one of them."""

    def __init__(self, *scopes: str, match: Match = "all") -> None:
        super().__init__(Requirements(scopes=scopes, match=match))


class HasPermissions(HasRequirements):
    """The token holds these Kinde permissions; ``match="any"``: at least one of them."""

    def __init__(self, *permissions: str, match: Match = "all") -> None:
        super().__init__(Requirements(permissions=permissions, match=match))


class HasRoles(HasRequirements):
    """The token holds these Kinde roles (the ``key`` of each ``roles`` entry); ``match="any"``: one of them."""

    def __init__(self, *roles: str, match: Match = "all") -> None:
        super().__init__(Requirements(roles=roles, match=match))


class HasFeatureFlag(HasRequirements):
    """The token's Kinde feature flag ``code`` has ``value`` (of its Kinde type: ``True`` is not 1);
    by default, a boolean flag that is on."""

    def __init__(self, code: str, value: FlagValue = True) -> None:
        super().__init__(Requirements(feature_flags={code: value}))


class InOrganization(HasRequirements):
    """The token is for one of these Kinde organizations (its ``org_code``)."""

    def __init__(self, *org_codes: str) -> None:
        super().__init__(Requirements(org_codes=org_codes))


def _uses_kinde(request: Any) -> bool:
    return any(isinstance(a, KindeAuthentication) for a in getattr(request, "authenticators", None) or ())


class _RefusalHeaders(ResponseHeaders):  # type: ignore[misc]
    """The headers of a Kinde refusal sent through DRF: DRF's ``finalize_response`` adds ``Allow``
    (and ``Vary: Accept``) to every response, which would make this answer differ from every other
    adapter's; a refusal is ``no-store`` and names no method, so those two are left out."""

    def __setitem__(self, key: str, value: Any) -> None:
        if key.lower() not in ("allow", "vary"):
            super().__setitem__(key, value)


def _drf_response(exc: AuthError | JWKSError) -> HttpResponse:
    # DRF accepts any Django response from an exception handler (finalize_response renders only
    # its own Response class): the bytes and headers go out exactly as render_error made them.
    response = refusal(exc)
    response.headers = _RefusalHeaders(dict(response.items()))
    return response


def exception_handler(exc: Exception, context: dict[str, Any]) -> Any:
    """``REST_FRAMEWORK["EXCEPTION_HANDLER"] = "kinde_guard.drf.exception_handler"``: Kinde refusals
    in the one format of every adapter (JSON body, status, ``WWW-Authenticate``); anything else is
    DRF's own ``rest_framework.views.exception_handler``."""
    request = context.get("request")
    if isinstance(exc, (KindeAuthenticationFailed, KindeUnavailable)):
        return _drf_response(exc.error)
    if isinstance(exc, exceptions.NotAuthenticated) and _uses_kinde(request):
        # DRF answers 403 when the first authentication class has no challenge: a missing token
        # is a 401 with the Bearer challenge here, whatever the order.
        return _drf_response(MissingTokenError())
    if isinstance(exc, exceptions.PermissionDenied) and request is not None:
        reason = getattr(request, REFUSAL_ATTRIBUTE, None)
        if isinstance(reason, InsufficientScopeError):
            return _drf_response(reason)
    # Imported here, never at module level: see the module docstring.
    from rest_framework.views import exception_handler as drf_exception_handler

    handler: Callable[[Exception, dict[str, Any]], Any] = drf_exception_handler
    return handler(exc, context)
