"""PKCE (RFC 7636), ``state`` and ``nonce`` for the Authorization Code flow.

>>> verifier = make_verifier()
>>> 43 <= len(verifier) <= 128
True
>>> s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

__all__ = ["make_nonce", "make_state", "make_verifier", "s256_challenge", "valid_verifier", "verify_s256"]

#: RFC 7636 §4.1: code_verifier = 43*128unreserved, unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~".
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")

#: Kinde refuses a ``state`` shorter than this many characters.
MIN_STATE_LENGTH = 8


def valid_verifier(verifier: str) -> bool:
    """True when ``verifier`` is 43 to 128 unreserved characters (RFC 7636 §4.1)."""
    return _VERIFIER.fullmatch(verifier) is not None


def make_verifier(length: int = 64) -> str:
    """A fresh random code verifier of ``length`` characters (43 to 128)."""
    if not 43 <= length <= 128:
        raise ValueError("a PKCE code verifier has 43 to 128 characters (RFC 7636 §4.1)")
    # token_urlsafe gives base64url characters, all of them "unreserved"; 6 bits of entropy each.
    return secrets.token_urlsafe(length)[:length]


def s256_challenge(verifier: str) -> str:
    """The S256 code challenge: BASE64URL(SHA256(ASCII(verifier))) without padding (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verify_s256(verifier: str, challenge: str) -> bool:
    """True when ``verifier`` is well formed and hashes to ``challenge`` (compared in constant time)."""
    if not valid_verifier(verifier):
        return False
    return hmac.compare_digest(s256_challenge(verifier), challenge)


def make_state() -> str:
    """A random ``state`` (32 characters; Kinde requires at least 8) binding the callback to this flow."""
    return secrets.token_urlsafe(24)


def make_nonce() -> str:
    """A random ``nonce`` for the ID token (OpenID Connect Core §3.1.2.1)."""
    return secrets.token_urlsafe(24)
