"""JWK parsing: a JWKS document into the RSA signing keys the guard may use, by ``kid``.

Only RSA signing keys of at least 2048 bits are kept; ``use``, ``key_ops`` and ``alg`` of each JWK
are honoured and private parts dropped. No I/O: fetching and caching are :mod:`kinde_guard.jwks`'s.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from jwt.algorithms import RSAAlgorithm
from jwt.exceptions import InvalidKeyError

from .config import RSA_ALGORITHMS

__all__ = ["MIN_RSA_BITS", "SigningKey", "parse_jwks"]

logger = logging.getLogger("kinde_guard.jwks")

MIN_RSA_BITS = 2048


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One usable verification key from the JWKS."""

    kid: str
    key: RSAPublicKey
    alg: str | None


def _parse_key(jwk: object, algorithms: frozenset[str]) -> SigningKey | str:
    """A SigningKey, or the reason the JWK is not usable."""
    if not isinstance(jwk, dict):
        return "not a JSON object"
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not kid:
        return "no kid"
    if jwk.get("kty") != "RSA":
        return f"kid {kid!r}: kty {jwk.get('kty')!r} is not RSA"
    if jwk.get("use", "sig") != "sig":
        return f"kid {kid!r}: use is not 'sig'"
    ops = jwk.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        return f"kid {kid!r}: key_ops does not allow 'verify'"
    alg = jwk.get("alg")
    if alg is not None and alg not in algorithms:
        return f"kid {kid!r}: alg {alg!r} is not an accepted algorithm"
    try:
        key = RSAAlgorithm.from_jwk(jwk)
    except (InvalidKeyError, ValueError, TypeError, KeyError) as exc:
        return f"kid {kid!r}: not a valid RSA key ({exc})"
    if isinstance(key, RSAPrivateKey):  # never keep private material, even if a JWKS leaked it
        key = key.public_key()
    if key.key_size < MIN_RSA_BITS:
        return f"kid {kid!r}: {key.key_size}-bit RSA key is too small (at least {MIN_RSA_BITS})"
    return SigningKey(kid=kid, key=key, alg=alg)


def parse_jwks(body: bytes, algorithms: frozenset[str] = RSA_ALGORITHMS) -> dict[str, SigningKey]:
    """Parse a JWKS document into usable keys by kid; raise ValueError when none is usable."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        raise ValueError("the JWKS is not valid JSON") from None
    keys = doc.get("keys") if isinstance(doc, dict) else None
    if not isinstance(keys, list):
        raise ValueError("the JWKS has no 'keys' array")
    found: dict[str, SigningKey] = {}
    for jwk in keys:
        parsed = _parse_key(jwk, algorithms)
        if isinstance(parsed, str):
            logger.info("JWKS key skipped: %s", parsed)
        elif parsed.kid in found:
            logger.warning("JWKS key skipped: duplicate kid %r", parsed.kid)
        else:
            found[parsed.kid] = parsed
    if not found:
        raise ValueError("the JWKS holds no usable RSA signing key")
    return found
