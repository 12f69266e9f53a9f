"""pytest fixtures for testing your own API with Kinde-shaped tokens, no Kinde account needed.

Installed with kinde-guard (a ``pytest11`` entry point): there is nothing to import or register.

- ``kinde_issuer``: a :class:`~kinde_guard.testing.TestIssuer` served on 127.0.0.1, one per test
  session, with its fault switches (``jwks_status``, ``jwks_hang``, ``jwks_body``, ``jwks_headers``),
  its fetch counter and its signing key reset before every test.
- ``kinde_token``: a factory of access tokens signed by that issuer::

      kinde_token()                                   # a user token: scp openid email offline
      kinde_token(scopes=["read:orders"], permissions=["delete:orders"])
      kinde_token(roles=["admin"], feature_flags={"beta": True}, org_code="org_acme")
      kinde_token(m2m=True, scopes=["write:orders"])  # client credentials: gty, scope, no sub
      kinde_token(expired=True)                       # expired an hour ago
      kinde_token(audience="https://other.example")   # any claim: kinde_token(org_code="org_x")

- ``kinde_env``: points ``KINDE_DOMAIN`` and ``KINDE_AUDIENCE`` at the issuer for the test (other
  ``KINDE_*`` variables are removed), for apps configured from the environment; returns the values.
  For a guard built in code use ``kinde_issuer.guard()`` or ``kinde_issuer.guard_config()``.
- ``kinde_api_key``: a factory of Kinde API keys the issuer verifies, and the environment for
  them (``KINDE_API_KEYS``, ``KINDE_M2M_CLIENT_ID``, ``KINDE_M2M_CLIENT_SECRET``)::

      kinde_api_key(scopes=["read:orders"], org_code="org_acme")   # Bearer k_live_...

The issuer's audience is ``https://api.example.com``; set yours in the pytest configuration::

    [tool.pytest.ini_options]
    kinde_audience = "https://api.acme.com"
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from .testing import DEFAULT_AUDIENCE, TestIssuer, kinde_roles

__all__ = ["TokenFactory", "kinde_api_key", "kinde_env", "kinde_issuer", "kinde_token"]

#: How long ago an ``expired=True`` token expired: far beyond any sensible leeway.
EXPIRED_AGO = 3600


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "kinde_audience",
        "the audience (space-separated for several) of kinde_issuer's tokens and of kinde_env",
        default=DEFAULT_AUDIENCE,
    )


class TokenFactory:
    """``kinde_token(...)``: Kinde-shaped access tokens from :attr:`issuer`."""

    def __init__(self, issuer: TestIssuer) -> None:
        self.issuer = issuer

    def __call__(
        self,
        *,
        scopes: Sequence[str] | None = None,
        permissions: Sequence[str] | None = None,
        roles: Sequence[str | Mapping[str, Any]] | None = None,
        feature_flags: Mapping[str, Any] | None = None,
        expired: bool = False,
        audience: str | Sequence[str] | None = None,
        m2m: bool = False,
        expires_in: float = 3600,
        **claims: Any,
    ) -> str:
        """A user token (``scp``, ``sub``; ``permissions`` with an ``org_code``), or with
        ``m2m=True`` a client-credentials token (``gty``, ``scope`` and ``scp``, no ``sub``).
        ``roles=["admin"]`` and ``feature_flags={"beta": True}`` add those claims in Kinde's shapes.
        Keyword claims override or, with :data:`~kinde_guard.testing.OMIT`, remove claims."""
        if audience is not None:
            claims["aud"] = audience.split() if isinstance(audience, str) else list(audience)
        if expired:
            now = int(self.issuer.clock())
            claims.setdefault("iat", now - EXPIRED_AGO - int(expires_in))
            claims.setdefault("exp", now - EXPIRED_AGO)
        if m2m:
            if permissions is not None:
                claims["permissions"] = list(permissions)
            if roles is not None:
                claims["roles"] = kinde_roles(roles)
            return self.issuer.mint_m2m(
                scopes=scopes or (), feature_flags=feature_flags, expires_in=expires_in, **claims
            )
        return self.issuer.mint(
            scopes=scopes,
            permissions=permissions,
            roles=roles,
            feature_flags=feature_flags,
            expires_in=expires_in,
            **claims,
        )


@dataclass(frozen=True)
class _Served:
    issuer: TestIssuer
    key: rsa.RSAPrivateKey
    audience: tuple[str, ...]


@pytest.fixture(scope="session")
def _kinde_served_issuer(pytestconfig: pytest.Config) -> Iterator[_Served]:
    audience = str(pytestconfig.getini("kinde_audience")).split() or [DEFAULT_AUDIENCE]
    with TestIssuer(audience=audience).serve() as issuer:
        yield _Served(issuer, issuer.private_key, tuple(audience))


@pytest.fixture
def kinde_issuer(_kinde_served_issuer: _Served) -> TestIssuer:
    """The session's served test issuer, its switches and key as they were at the start."""
    served = _kinde_served_issuer
    issuer = served.issuer
    if issuer.private_key is not served.key or len(issuer.jwks()["keys"]) != 1:
        issuer.rotate(key=served.key)  # a test rotated the key: back to the first one, alone in the JWKS
    issuer.audience = list(served.audience)
    issuer.jwks_status, issuer.jwks_hang, issuer.jwks_body, issuer.jwks_headers = 200, 0.0, None, {}
    issuer.jwks_fetches = 0
    issuer.api_key_verify_status, issuer.api_key_verify_hang, issuer.api_key_verify_body = 200, 0.0, None
    issuer.api_key_verifications = issuer.m2m_token_requests = 0
    return issuer


@pytest.fixture
def kinde_token(kinde_issuer: TestIssuer) -> TokenFactory:
    """A factory: ``kinde_token(scopes=[...], permissions=[...], expired=True, audience=..., m2m=True)``."""
    return TokenFactory(kinde_issuer)


@pytest.fixture
def kinde_env(kinde_issuer: TestIssuer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """``KINDE_DOMAIN``/``KINDE_AUDIENCE`` for the issuer during the test; other ``KINDE_*`` unset."""
    for name in [n for n in os.environ if n.startswith("KINDE_")]:
        monkeypatch.delenv(name)
    values = {"KINDE_DOMAIN": kinde_issuer.url, "KINDE_AUDIENCE": " ".join(kinde_issuer.audience)}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def kinde_api_key(kinde_issuer: TestIssuer, kinde_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """A factory of Kinde API keys: ``kinde_api_key(scopes=[...], org_code=..., user_id=...,
    status="revoked")``; also sets ``KINDE_API_KEYS`` and the issuer's ``KINDE_M2M_CLIENT_ID`` /
    ``KINDE_M2M_CLIENT_SECRET`` (beside :func:`kinde_env`'s), so an app built from the environment
    accepts them."""
    values = {
        "KINDE_API_KEYS": "true",
        "KINDE_M2M_CLIENT_ID": kinde_issuer.m2m_client_id,
        "KINDE_M2M_CLIENT_SECRET": kinde_issuer.m2m_client_secret,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return kinde_issuer.create_api_key
