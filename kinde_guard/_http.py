"""A small, strict HTTP GET for fetching key sets: timeout, size cap, same-origin redirects only.

Standard library only (urllib), so the core needs no HTTP client dependency. Async callers run it
in a worker thread; it never touches an event loop.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import urlsplit

from .config import is_loopback_host

__all__ = ["FetchError", "Fetcher", "HTTPResponse", "fetch_url"]

_MAX_REDIRECTS = 3


@dataclass(frozen=True)
class HTTPResponse:
    """What a fetch returns: status, lower-cased headers and the body."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


class FetchError(Exception):
    """A fetch failed; the message says why in one sentence (no secrets in it)."""


#: ``fetch(url, timeout_seconds, max_bytes) -> HTTPResponse``; raises FetchError or OSError.
Fetcher = Callable[[str, float, int], HTTPResponse]


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    max_redirections = _MAX_REDIRECTS

    def redirect_request(
        self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str, headers: Any, newurl: str
    ) -> urllib.request.Request | None:
        if _origin(newurl) != _origin(req.full_url):
            raise FetchError(f"refused a redirect to another origin ({_origin(newurl)[1] or newurl!r})")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_SameOriginRedirects())
# Loopback targets (local issuers in tests and development) never go through a proxy.
_LOOPBACK_OPENER = urllib.request.build_opener(_SameOriginRedirects(), urllib.request.ProxyHandler({}))


def fetch_url(url: str, timeout: float, max_bytes: int) -> HTTPResponse:
    """GET ``url`` within ``timeout`` seconds in all, refusing bodies over ``max_bytes``."""
    deadline = time.monotonic() + timeout
    parts = urlsplit(url)
    loopback = is_loopback_host(parts.hostname)
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise FetchError(f"refused to fetch {url!r}: only https:// (or http:// on loopback) is allowed")
    opener = _LOOPBACK_OPENER if loopback else _OPENER
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        url, headers={"Accept": "application/json", "User-Agent": "kinde-guard"}
    )
    try:
        response = opener.open(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        return HTTPResponse(status=exc.code, body=b"", headers={})
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise FetchError(f"could not reach {url}: {reason}") from None
    with response:
        chunks: list[bytes] = []
        size = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FetchError(f"timed out after {timeout:g} s reading {url}")
            sock = getattr(getattr(getattr(response, "fp", None), "raw", None), "_sock", None)
            if sock is not None:
                sock.settimeout(remaining)
            try:
                chunk = response.read1(65536)
            except OSError as exc:
                raise FetchError(f"could not read {url}: {exc}") from None
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                raise FetchError(f"the response of {url} exceeds {max_bytes} bytes")
            chunks.append(chunk)
        headers = {k.lower(): v for k, v in response.headers.items()}
        return HTTPResponse(status=response.status, body=b"".join(chunks), headers=headers)
