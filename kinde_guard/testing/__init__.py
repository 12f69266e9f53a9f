"""Kinde-shaped tokens for tests: :class:`TestIssuer` (RSA keys, token minting, a real local HTTP
server serving discovery and the JWKS, switches to fail), :class:`FrozenClock` and JWS helpers.

For kinde_guard's own tests and for yours::

    from kinde_guard.testing import TestIssuer

    with TestIssuer(audience="https://api.example.com").serve() as issuer:
        guard = issuer.guard()                      # a KindeGuard trusting this issuer
        token = issuer.mint(scp=["read:orders"])    # a Kinde-shaped user access token
        guard.verify(token, scopes=["read:orders"])

Any claim or header can be overridden, or removed with :data:`OMIT`::

    issuer.mint(exp=OMIT, aud=[], headers={"kid": "nope"})
    issuer.mint(roles=["admin"], feature_flags={"beta": True, "seats": 5}, org_code="org_acme")

``DevIssuer`` is the same class under its first name, kept for the tests that import it. Not to be
confused with the interactive dev authorization server of ``kinde-guard dev-issuer``
(:class:`kinde_guard.devserver.DevAuthorizationServer`, which is built on this one).
"""

from __future__ import annotations

from ._clock import FrozenClock
from ._issuer import DEFAULT_AUDIENCE, DEFAULT_CLIENT_ID, OMIT, DevIssuer, TestIssuer
from ._jws import b64url, generate_rsa_key, kid_for, sign_jws
from ._kinde_claims import kinde_feature_flags, kinde_roles

__all__ = [
    "DEFAULT_AUDIENCE",
    "DEFAULT_CLIENT_ID",
    "OMIT",
    "DevIssuer",
    "FrozenClock",
    "TestIssuer",
    "b64url",
    "generate_rsa_key",
    "kinde_feature_flags",
    "kinde_roles",
    "kid_for",
    "sign_jws",
]
