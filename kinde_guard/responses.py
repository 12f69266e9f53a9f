"""The one error format every adapter answers with (framework-free).

``render_error(exc, realm)`` gives the status, headers and JSON body for an
:class:`~kinde_guard.AuthError` (RFC 6750 challenge) or a :class:`~kinde_guard.JWKSError`
(503 with ``Retry-After``), so ASGI, WSGI, FastAPI and Flask answer byte-for-byte alike.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import AuthError, JWKSError

__all__ = ["ErrorResponse", "render_error"]


@dataclass(frozen=True)
class ErrorResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def render_error(
    exc: AuthError | JWKSError, realm: str = "api", extra_params: Iterable[tuple[str, str]] = ()
) -> ErrorResponse:
    """Status, headers and body for ``exc``. ``extra_params`` are appended to the challenge."""
    headers: list[tuple[str, str]] = [("content-type", "application/json"), ("cache-control", "no-store")]
    if isinstance(exc, JWKSError):
        body = {"error": exc.error_code, "error_description": "The API cannot verify tokens right now; retry later."}
        headers.append(("retry-after", str(exc.retry_after)))
    else:
        body = exc.to_dict()
        headers.append(("www-authenticate", exc.www_authenticate(realm, extra_params)))
    data = json.dumps(body, separators=(",", ":")).encode("utf-8")
    headers.append(("content-length", str(len(data))))
    return ErrorResponse(exc.status_code, tuple(headers), data)
