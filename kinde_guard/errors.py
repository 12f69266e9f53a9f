"""The exception tree of kinde_guard.

Every error the package raises is a :class:`KindeGuardError`::

    KindeGuardError
    ├── ConfigurationError            bad settings; raised when a GuardConfig is built
    ├── JWKSError                     no signing key can be obtained (HTTP 503)
    └── AuthError                     the request is refused; renders itself (RFC 6750)
        ├── MissingTokenError         401, bare ``Bearer realm="..."`` challenge
        ├── InvalidRequestError       400 ``invalid_request``
        ├── InvalidTokenError         401 ``invalid_token``
        │   ├── MalformedTokenError       not a well-formed JWS / JWT
        │   ├── InvalidSignatureError     bad alg, unknown kid, signature mismatch
        │   ├── ExpiredTokenError         ``exp`` in the past (beyond leeway)
        │   ├── InvalidIssuerError        ``iss`` not accepted
        │   ├── InvalidAudienceError      ``aud`` does not name this API
        │   └── InvalidClaimError         any other claim check (nbf, iat, azp, ...)
        └── InsufficientScopeError    403 ``insufficient_scope``, challenge carries ``scope``

An :class:`AuthError` knows its HTTP ``status_code``, its RFC 6750 ``error_code`` and how to render
its ``WWW-Authenticate`` header. Descriptions name the claim and the reason; they never contain the
token (callers must not put it there either).
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "AuthError",
    "ConfigurationError",
    "ExpiredTokenError",
    "InsufficientScopeError",
    "InvalidAudienceError",
    "InvalidClaimError",
    "InvalidIssuerError",
    "InvalidRequestError",
    "InvalidSignatureError",
    "InvalidTokenError",
    "JWKSError",
    "KindeGuardError",
    "MalformedTokenError",
    "MissingTokenError",
]


class KindeGuardError(Exception):
    """Base class of every error raised by kinde_guard."""


class ConfigurationError(KindeGuardError, ValueError):
    """The guard's settings are wrong; the message says which one and what to do."""


def quote_header_value(value: str) -> str:
    """Render ``value`` as an RFC 7230 quoted-string (escape ``\\`` and ``"``; drop controls)."""
    cleaned = "".join(ch for ch in value if ch == "\t" or 0x20 <= ord(ch) < 0x7F)
    return '"' + cleaned.replace("\\", "\\\\").replace('"', '\\"') + '"'


class JWKSError(KindeGuardError):
    """No signing key could be obtained: the JWKS endpoint is down and nothing cached applies.

    Adapters answer ``503`` with ``Retry-After`` set to :attr:`retry_after` seconds.
    """

    status_code = 503
    error_code = "temporarily_unavailable"

    def __init__(self, description: str, *, retry_after: int = 30) -> None:
        super().__init__(description)
        self.description = description
        self.retry_after = max(1, int(retry_after))


class AuthError(KindeGuardError):
    """The request carries no acceptable credentials. Renders itself as an RFC 6750 answer.

    >>> err = InvalidTokenError('"exp" claim: the token expired')
    >>> err.status_code, err.error_code
    (401, 'invalid_token')
    """

    status_code: int = 401
    error_code: str | None = None

    def __init__(self, description: str = "") -> None:
        super().__init__(description)
        self.description = description

    def challenge_params(self) -> list[tuple[str, str]]:
        """The auth-params of the challenge after ``realm``, in order."""
        params: list[tuple[str, str]] = []
        if self.error_code:
            params.append(("error", self.error_code))
            if self.description:
                params.append(("error_description", self.description))
        return params

    def www_authenticate(self, realm: str = "api", extra: Iterable[tuple[str, str]] = ()) -> str:
        """The ``WWW-Authenticate`` header value, e.g. ``Bearer realm="api", error="invalid_token"``."""
        params = [("realm", realm), *self.challenge_params(), *extra]
        return "Bearer " + ", ".join(f"{k}={quote_header_value(v)}" for k, v in params)

    def to_dict(self) -> dict[str, str]:
        """The JSON body adapters send: ``{"error": ..., "error_description": ...}``."""
        return {
            "error": self.error_code or "unauthorized",
            "error_description": self.description or "A bearer token is required.",
        }


class MissingTokenError(AuthError):
    """No ``Authorization: Bearer`` credentials: 401 with a bare challenge (RFC 6750 §3.1)."""

    status_code = 401
    error_code = None


class InvalidRequestError(AuthError):
    """The ``Authorization`` header is malformed (RFC 6750 ``invalid_request``, 400)."""

    status_code = 400
    error_code = "invalid_request"


class InvalidTokenError(AuthError):
    """The token is expired, revoked, malformed or otherwise invalid (401 ``invalid_token``)."""

    status_code = 401
    error_code = "invalid_token"


class MalformedTokenError(InvalidTokenError):
    """The token is not a well-formed compact JWS carrying a JSON claim set."""


class InvalidSignatureError(InvalidTokenError):
    """The algorithm, the key id or the signature is not acceptable."""


class ExpiredTokenError(InvalidTokenError):
    """The ``exp`` claim is in the past, beyond the configured leeway."""


class InvalidIssuerError(InvalidTokenError):
    """The ``iss`` claim is missing or is not one of the accepted issuers."""


class InvalidAudienceError(InvalidTokenError):
    """The ``aud`` claim is missing or names none of the configured audiences."""


class InvalidClaimError(InvalidTokenError):
    """Another claim (``nbf``, ``iat``, ``azp``, ``org_code``, a custom check) is not acceptable."""


class InsufficientScopeError(AuthError):
    """The token is valid but lacks what the route requires (403 ``insufficient_scope``).

    :attr:`required_scopes` lists what the route needs; the challenge carries them as ``scope``.
    """

    status_code = 403
    error_code = "insufficient_scope"

    def __init__(self, description: str = "", *, required_scopes: Iterable[str] = ()) -> None:
        super().__init__(description)
        self.required_scopes: tuple[str, ...] = tuple(required_scopes)

    def challenge_params(self) -> list[tuple[str, str]]:
        params = super().challenge_params()
        if self.required_scopes:
            params.append(("scope", " ".join(self.required_scopes)))
        return params
