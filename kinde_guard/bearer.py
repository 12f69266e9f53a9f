"""Parsing ``Authorization: Bearer <token>`` (RFC 6750 §2.1), free of any web framework.

>>> parse_authorization("bearer abc.def.ghi")
'abc.def.ghi'
"""

from __future__ import annotations

import re

from .errors import InvalidRequestError, MissingTokenError

__all__ = ["parse_authorization"]

# RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token; b64token = 1*(ALPHA/DIGIT/-._~+/) *"=".
# The scheme is case-insensitive (RFC 7235 §2.1); surrounding optional whitespace is tolerated.
_BEARER = re.compile(r"[ \t]*[Bb][Ee][Aa][Rr][Ee][Rr] +([A-Za-z0-9\-._~+/]+=*)[ \t]*")
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def parse_authorization(header: str | bytes | None) -> str:
    """Return the bearer token in an ``Authorization`` header value.

    Raises :class:`MissingTokenError` when there is no header or another scheme is used (answer
    401 with a bare challenge) and :class:`InvalidRequestError` when the ``Bearer`` value is
    empty, holds more than one token or characters outside ``b64token`` (answer 400).
    """
    if header is None:
        raise MissingTokenError("")
    if isinstance(header, bytes):
        header = header.decode("latin-1")
    match = _BEARER.fullmatch(header)
    if match is not None:
        return match.group(1)
    return _classify(header)


def _classify(header: str) -> str:
    text = header.strip(" \t")
    scheme, _, rest = text.partition(" ")
    if not text or scheme.lower() != "bearer":
        # No credentials, or credentials of another scheme (e.g. Basic): RFC 6750 §3.1 says the
        # challenge must then carry no error code.
        raise MissingTokenError("")
    parts = rest.split()
    if not parts:
        raise InvalidRequestError("The Bearer credentials carry no token.")
    if len(parts) > 1:
        raise InvalidRequestError("The Authorization header must carry exactly one bearer token.")
    if _B64TOKEN.fullmatch(parts[0]) is None:
        raise InvalidRequestError("The bearer token contains characters not allowed by RFC 6750.")
    # Only odd whitespace (e.g. a vertical tab) separates an otherwise valid value from the scheme.
    raise InvalidRequestError("The Authorization header is not of the form 'Bearer <token>'.")
