"""Shared fixtures: RSA keys made once per session, an issuer, a frozen clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from kinde_guard.testing import DevIssuer, FrozenClock, generate_rsa_key


@pytest.fixture(scope="session")
def rsa_keys() -> list[rsa.RSAPrivateKey]:
    """A few 2048-bit keys, generated once (key generation is the slow part of these tests)."""
    return [generate_rsa_key() for _ in range(3)]


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def issuer(rsa_keys: list[rsa.RSAPrivateKey], clock: FrozenClock) -> DevIssuer:
    """An unserved issuer: guards built with issuer.guard() fetch its JWKS in-process."""
    return DevIssuer(key=rsa_keys[0], clock=clock)


@pytest.fixture
def served_issuer(rsa_keys: list[rsa.RSAPrivateKey], clock: FrozenClock) -> Iterator[DevIssuer]:
    """An issuer on a real HTTP server on 127.0.0.1."""
    with DevIssuer(key=rsa_keys[0], clock=clock).serve() as served:
        yield served
