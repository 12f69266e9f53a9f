"""kinde_guard: trust Kinde-issued bearer tokens in Python APIs, correctly and fast.

>>> from kinde_guard import KindeGuard
>>> guard = KindeGuard(domain="https://acme.kinde.com", audience=["https://api.acme.com"])

Then ``guard.verify(token, scopes=["read:orders"])`` returns :class:`Claims` or raises an
:class:`AuthError` subclass that renders itself as an RFC 6750 answer. Adapters live in
``kinde_guard.asgi``, ``kinde_guard.wsgi``, ``kinde_guard.fastapi`` and ``kinde_guard.flask``.
"""

from __future__ import annotations

from .claims import Claims
from .config import GuardConfig
from .errors import (
    AuthError,
    ConfigurationError,
    ExpiredTokenError,
    InsufficientScopeError,
    InvalidAudienceError,
    InvalidClaimError,
    InvalidIssuerError,
    InvalidRequestError,
    InvalidSignatureError,
    InvalidTokenError,
    JWKSError,
    KindeGuardError,
    MalformedTokenError,
    MissingTokenError,
)
from .guard import KindeGuard
from .jwks import KeySetState, RemoteKeySet
from .requirements import Requirements

__version__ = "0.1.0"  # the one place the version is written: pyproject.toml reads it from here

__all__ = [
    "AuthError",
    "Claims",
    "ConfigurationError",
    "ExpiredTokenError",
    "GuardConfig",
    "InsufficientScopeError",
    "InvalidAudienceError",
    "InvalidClaimError",
    "InvalidIssuerError",
    "InvalidRequestError",
    "InvalidSignatureError",
    "InvalidTokenError",
    "JWKSError",
    "KeySetState",
    "KindeGuard",
    "KindeGuardError",
    "MalformedTokenError",
    "MissingTokenError",
    "RemoteKeySet",
    "Requirements",
    "__version__",
]
