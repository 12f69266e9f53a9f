"""Signing compact JWS with RSA keys, and Kinde-shaped key ids: what the test issuer signs with."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = ["b64url", "generate_rsa_key", "kid_for", "sign_jws"]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def generate_rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def kid_for(key: rsa.RSAPrivateKey | rsa.RSAPublicKey) -> str:
    """A Kinde-shaped kid (colon-separated hex, like ``4c:fa:9e:...``) derived from the modulus."""
    public = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
    n = public.public_numbers().n.to_bytes((public.key_size + 7) // 8, "big")
    return ":".join(f"{b:02x}" for b in hashlib.sha256(n).digest()[:16])


def sign_jws(header: Mapping[str, Any], payload: Mapping[str, Any] | bytes, key: rsa.RSAPrivateKey) -> str:
    """Sign a compact JWS with an RSA key, using the header's ``alg`` (RS*/PS*; RS256 if absent)."""
    alg = header.get("alg") if isinstance(header.get("alg"), str) else "RS256"
    assert isinstance(alg, str)
    body = payload if isinstance(payload, bytes) else json.dumps(payload, separators=(",", ":")).encode()
    signing_input = f"{b64url(json.dumps(header, separators=(',', ':')).encode())}.{b64url(body)}"
    digest: hashes.HashAlgorithm = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}.get(
        alg[2:], hashes.SHA256()
    )
    pad: padding.AsymmetricPadding = (
        padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
        if alg.startswith("PS")
        else padding.PKCS1v15()
    )
    signature = key.sign(signing_input.encode("ascii"), pad, digest)
    return f"{signing_input}.{b64url(signature)}"
