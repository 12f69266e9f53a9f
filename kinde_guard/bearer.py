"""Parsing ``Authorization: Bearer <token>`` (RFC 6750 §2.1), free of any web framework.

>>> parse_authorization("bearer abc.def.ghi")
'abc.def.ghi'
"""

from __future__ import annotations

import string

from .errors import InvalidRequestError, MissingTokenError

__all__ = ["bearer_value", "parse_authorization"]

# RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token; b64token = 1*(ALPHA/DIGIT/-._~+/) *"=".
_B64TOKEN_CHARS = (string.ascii_letters + string.digits + "-._~+/").encode("ascii")


def bearer_value(header: object) -> str | None:
    """The text after ``Bearer `` (any case) of a header value, unchecked; ``None`` for any other
    shape. Only for looking a token up among verified ones before parsing: anything it returns
    that is not a cached verdict must go through :func:`parse_authorization`.

    >>> bearer_value(b"Bearer abc.def.ghi"), bearer_value("Basic x"), bearer_value(None)
    ('abc.def.ghi', None, None)
    """
    if type(header) is bytes:
        header = header.decode("latin-1")
    if type(header) is not str or header[:7].lower() != "bearer ":
        return None
    return header[7:]


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
    if header[:7].lower() == "bearer " and " " not in (token := header[7:]) and "\t" not in token:
        # The common shape, checked with C-speed scans only: "Bearer <b64token>".
        body = token.rstrip("=")
        if body and token.isascii() and not body.encode("ascii").translate(None, _B64TOKEN_CHARS):
            return token
    # The scheme is case-insensitive (RFC 7235 §2.1); surrounding optional whitespace is tolerated.
    text = header.strip(" \t")
    scheme, _, rest = text.partition(" ")
    if not text or scheme.lower() != "bearer":
        # No credentials, or credentials of another scheme (e.g. Basic): RFC 6750 §3.1 says the
        # challenge must then carry no error code.
        raise MissingTokenError("")
    token = rest.lstrip(" ")
    if not token:
        raise InvalidRequestError("The Bearer credentials carry no token.")
    if len(token.split()) > 1 or "\t" in token.strip():
        raise InvalidRequestError("The Authorization header must carry exactly one bearer token.")
    body = token.rstrip("=")
    # C-speed character check: delete every allowed byte; anything left is not a b64token.
    if not body or not token.isascii() or body.encode("ascii").translate(None, _B64TOKEN_CHARS):
        raise InvalidRequestError("The bearer token contains characters not allowed by RFC 6750.")
    return token
