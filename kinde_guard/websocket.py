"""Where a WebSocket handshake may carry its token, for browsers (framework-free, ASGI scopes only).

A browser's ``WebSocket`` API cannot set an ``Authorization`` header. Two opt-in ways around it,
read by :func:`read_handshake` for the ASGI middleware and the Litestar adapter:

- ``subprotocol``: the token in ``Sec-WebSocket-Protocol``, either as the pair ``["bearer",
  "<token>"]`` (``new WebSocket(url, ["bearer", token])``) or as one entry ``"bearer.<token>"``.
  The app sees the offered subprotocols without the token; the server's ``accept`` may only name
  one of those (a pair's ``"bearer"`` by default, since a browser fails a handshake whose answer
  names none of the offered subprotocols).
- ``query``: an ``access_token`` query parameter (RFC 6750 §2.3). URLs end up in access logs,
  proxies and browser history: the token with them. Use it only where nothing else works, with
  short-lived tokens, and keep such URLs out of logs. The parameter is removed from the
  ``query_string`` the app sees; plain HTTP requests never read it.

A handshake offering a token in two places (or two tokens in one) is refused with 400
``invalid_request`` (RFC 6750 §2: one method per request). Nothing here logs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus, unquote_to_bytes

from .errors import InvalidRequestError

__all__ = ["BEARER_SUBPROTOCOL", "Handshake", "read_handshake"]

#: The subprotocol that marks the next entry as the token, and, followed by ``.``, prefixes one.
BEARER_SUBPROTOCOL = "bearer"
_PREFIX = BEARER_SUBPROTOCOL + "."
_QUERY_NAME = "access_token"


@dataclass(frozen=True)
class Handshake:
    """What :func:`read_handshake` found: the ``authorization`` value to authenticate (the
    ``Authorization`` header's, or ``Bearer <token>`` built from another place; ``None`` for no
    credentials), and the scope values the app should see instead of the client's."""

    authorization: bytes | None
    #: The offered subprotocols less the token (a pair's ``"bearer"`` stays: it may be echoed).
    subprotocols: tuple[str, ...]
    #: The query string less ``access_token`` (when the query is a token source), byte for byte.
    query_string: bytes
    #: The entry the token came in (never to be echoed), or ``None``.
    token_entry: str | None = None
    #: What an ``accept`` naming no subprotocol echoes instead: ``"bearer"`` for the pair form.
    default_subprotocol: str | None = None

    def accepted_subprotocol(self, chosen: str | None) -> str | None:
        """The subprotocol to send in the ``accept`` when the app chose ``chosen``: never the
        token's entry, and a pair's ``"bearer"`` when the app named none."""
        if chosen is None or chosen == self.token_entry:
            return self.default_subprotocol
        return chosen


def _from_subprotocols(offered: Sequence[str]) -> tuple[str | None, tuple[str, ...], str | None, str | None]:
    """(token, what the app may see, the token's entry, default echo) from the offered list."""
    found: list[tuple[str, str, str | None]] = []  # (token, its entry, default echo)
    kept: list[str] = []
    skip_next = False
    for index, entry in enumerate(offered):
        if skip_next:
            skip_next = False
            continue
        if entry == BEARER_SUBPROTOCOL:
            if index + 1 >= len(offered):
                raise InvalidRequestError('The "bearer" subprotocol must be followed by the token.')
            token = offered[index + 1]
            found.append((token, token, BEARER_SUBPROTOCOL))
            kept.append(entry)
            skip_next = True
        elif entry.startswith(_PREFIX):
            found.append((entry[len(_PREFIX) :], entry, None))
        else:
            kept.append(entry)
    if len(found) > 1:
        raise InvalidRequestError("The handshake must offer one token in Sec-WebSocket-Protocol, not several.")
    if not found:
        return None, tuple(kept), None, None
    token, entry, default = found[0]
    if not token:
        raise InvalidRequestError("The bearer subprotocol carries an empty token.")
    return token, tuple(kept), entry, default


def _from_query(query_string: bytes) -> tuple[bytes | None, bytes]:
    """(token, the query string without it); other parameters keep their exact bytes."""
    tokens: list[bytes] = []
    kept: list[bytes] = []
    for part in query_string.split(b"&") if query_string else ():
        name, _, value = part.partition(b"=")
        if unquote_plus(name.decode("latin-1")) == _QUERY_NAME:
            tokens.append(unquote_to_bytes(value.replace(b"+", b" ")))
        else:
            kept.append(part)
    if len(tokens) > 1:
        raise InvalidRequestError("The handshake must carry one access_token query parameter, not several.")
    if tokens and not tokens[0]:
        raise InvalidRequestError("The access_token query parameter is empty.")
    return (tokens[0] if tokens else None), b"&".join(kept)


def read_handshake(
    scope: Mapping[str, Any], authorization: bytes | None, *, subprotocol: bool = False, query: bool = False
) -> Handshake:
    """Read a ``websocket`` scope's credentials from the ``Authorization`` header's value
    ``authorization`` and, when enabled, the ``Sec-WebSocket-Protocol`` offer (``subprotocol``)
    and the ``access_token`` query parameter (``query``).

    >>> scope = {"type": "websocket", "subprotocols": ["chat", "bearer", "a.b.c"], "query_string": b"room=1"}
    >>> shake = read_handshake(scope, None, subprotocol=True)
    >>> shake.authorization, shake.subprotocols, shake.accepted_subprotocol(None)
    (b'Bearer a.b.c', ('chat', 'bearer'), 'bearer')
    """
    offered = tuple(scope.get("subprotocols") or ())
    query_string: bytes = scope.get("query_string", b"")
    token: str | None = None
    query_token: bytes | None = None
    token_entry = default = None
    sources: list[str] = []
    if authorization is not None:
        sources.append("the Authorization header")
    if subprotocol:
        token, offered, token_entry, default = _from_subprotocols(offered)
        if token is not None:
            sources.append("Sec-WebSocket-Protocol")
    if query:
        query_token, query_string = _from_query(query_string)
        if query_token is not None:
            sources.append("the access_token query parameter")
    if len(sources) > 1:
        raise InvalidRequestError(f"The handshake must carry one token, not one in {' and in '.join(sources)}.")
    if authorization is None:
        if token is not None:
            authorization = b"Bearer " + token.encode("utf-8")
        elif query_token is not None:
            authorization = b"Bearer " + query_token
    return Handshake(authorization, offered, query_string, token_entry, default)
