"""JWS decoding and signature verification, free of any web framework and of I/O
(docs/architecture.md, "Security policy", steps 2-4).

:func:`parse_token` checks size, shape, header and algorithm; the guard then takes a key from the
JWKS by ``kid``; :func:`verify_signature` checks the signature, and only then :func:`parse_payload`
reads the claims — no claim is read before the signature is verified (RFC 8725 §3.1). What the
claims must say is :mod:`kinde_guard.policy`'s job.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from .config import RSA_ALGORITHMS
from .errors import InvalidSignatureError, MalformedTokenError
from .jwk import SigningKey

__all__ = ["ParsedToken", "parse_header", "parse_payload", "parse_token", "verify_signature"]


def _scheme(alg: str) -> tuple[padding.AsymmetricPadding, hashes.HashAlgorithm]:
    digest: hashes.HashAlgorithm = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}[alg[2:]]
    if alg.startswith("PS"):
        return padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size), digest
    return padding.PKCS1v15(), digest


# Padding and hash objects per algorithm, built once instead of per signature.
_SCHEMES = {alg: _scheme(alg) for alg in RSA_ALGORITHMS}


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 7515 §5.2 / RFC 8725 §3.10: a JSON object with duplicate member names must be rejected,
    # or two parsers may disagree about what the token says.
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate member name")
    return obj


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# Built once: json.loads(..., hook=...) would build a new decoder per call.
_DECODER = json.JSONDecoder(object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant)
_SCAN: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]
_URLSAFE_TO_STD = bytes.maketrans(b"-_", b"+/")
_PADDING = ("", "", "==", "=")  # by len % 4; 1 is impossible and binascii rejects it


def _b64decode(segment: str) -> bytes:
    # The caller has refused "+", "/" and "=", so mapping "-_" to "+/" and decoding strictly in C
    # (any other character raises) is exact base64url.
    padded = (segment + _PADDING[len(segment) % 4]).encode("ascii").translate(_URLSAFE_TO_STD)
    return binascii.a2b_base64(padded, strict_mode=True)


def _json_object(segment: str, part: str) -> dict[str, Any]:
    try:
        text = _b64decode(segment).decode("utf-8")
        try:
            # The C scanner directly: what JSONDecoder.decode does, minus two Python frames and a
            # whitespace regex; anything unusual (leading whitespace) takes the full decoder.
            doc, end = _SCAN(text, 0)
        except StopIteration:
            doc, end = _DECODER.decode(text), len(text)
        if end != len(text) and text[end:].strip(" \t\n\r"):
            raise ValueError("extra data after the JSON value")
    except (binascii.Error, UnicodeDecodeError, ValueError, RecursionError) as exc:
        reason = "duplicate member names" if "duplicate" in str(exc) else "not base64url-encoded JSON"
        raise MalformedTokenError(f"The token {part} is {reason}.") from None
    if not isinstance(doc, dict):
        raise MalformedTokenError(f"The token {part} is not a JSON object.")
    return doc


class ParsedToken(NamedTuple):
    """A token split and its header checked; the payload is not read yet."""

    kid: str
    alg: str
    signing_input: bytes
    header_segment: str
    payload_segment: str
    signature_segment: str


def parse_header(segment: str, algorithms: frozenset[str]) -> tuple[str, str]:
    """Check a JWS header segment; return ``(alg, kid)``."""
    header = _json_object(segment, "header")
    alg = header.get("alg")
    # RFC 8725 §3.1: the algorithm comes from our allowlist, never from the token alone; "none"
    # and HMAC (whose "key" an attacker could set to our public key) are never accepted.
    if not isinstance(alg, str) or alg not in algorithms:
        raise InvalidSignatureError("The token's signing algorithm is not accepted.")
    if "crit" in header:
        # RFC 7515 §4.1.11: we understand no extension, so a critical one must be refused.
        raise MalformedTokenError('The token header carries a "crit" extension this API does not support.')
    kid = header.get("kid")
    # The key is chosen by kid from the configured JWKS only; jku, x5u, jwk and x5c in the header
    # are never fetched or used (RFC 8725 §3.10 warns against trusting header-supplied keys).
    if not isinstance(kid, str) or not kid:
        raise InvalidSignatureError('The token header has no "kid".')
    return alg, kid


def parse_token(
    token: object,
    max_bytes: int,
    known_headers: Mapping[str, tuple[str, str]],
    algorithms: frozenset[str],
) -> ParsedToken:
    """Size and shape checks, then the header: ``(alg, kid)`` from ``known_headers`` when this exact
    header segment was checked (and its token verified) before, else :func:`parse_header`."""
    if type(token) is not str:
        raise MalformedTokenError("The token must be a string.")
    if len(token) > max_bytes or not token.isascii():
        raise MalformedTokenError(f"The token is larger than {max_bytes} bytes or not ASCII.")
    parts = token.split(".")
    # Three non-empty base64url segments without padding (RFC 7515 §3.1, §2). "+", "/" and "="
    # are legal in a bearer value but not in base64url; any other stray character is refused by
    # the strict base64 decoder (header and signature) or breaks the signature (payload).
    if len(parts) != 3 or "" in parts or "+" in token or "/" in token or "=" in token:
        raise MalformedTokenError("The token is not a JWT (three base64url segments).")
    header_seg, payload_seg, signature_seg = parts
    alg, kid = known_headers.get(header_seg) or parse_header(header_seg, algorithms)
    signing_input = token[: len(header_seg) + 1 + len(payload_seg)].encode("ascii")
    return ParsedToken(kid, alg, signing_input, header_seg, payload_seg, signature_seg)


def verify_signature(parsed: ParsedToken, key: SigningKey) -> None:
    """Verify the RSA signature of ``parsed`` with ``key``; raise InvalidSignatureError if not."""
    if key.alg is not None and key.alg != parsed.alg:
        raise InvalidSignatureError(f"The key {key.kid!r} is not for the token's algorithm.")
    try:
        signature = _b64decode(parsed.signature_segment)
    except binascii.Error:
        raise MalformedTokenError("The token signature is not base64url.") from None
    pad, digest = _SCHEMES[parsed.alg]
    try:
        key.key.verify(signature, parsed.signing_input, pad, digest)
    except (InvalidSignature, ValueError):
        raise InvalidSignatureError("The token signature is invalid.") from None


def parse_payload(parsed: ParsedToken) -> dict[str, Any]:
    """Decode the claim set. Call only after :func:`verify_signature` succeeded."""
    return _json_object(parsed.payload_segment, "payload")
