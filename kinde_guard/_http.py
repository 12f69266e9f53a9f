"""A small, strict HTTP client for the guard's outbound calls: one total deadline, a size cap,
same-origin redirects only.

Standard library only (urllib), so the core needs no HTTP client dependency. It never touches an
event loop; async callers run it in a worker thread.

**The deadline covers the whole call** — connect, TLS, status line, headers and body. urllib only
offers a per-operation socket timeout, which a server that trickles its status line or headers one
byte at a time never trips. The simplest correct mechanism the standard library allows: the
exchange runs in a short-lived daemon thread and the caller waits for it at most ``timeout``
seconds; at the deadline the caller is answered with :class:`FetchError` and the connection's
socket is shut down, which wakes the worker out of its blocking read so it ends too. (Calls are
rare — a key-set fetch per TTL or cooldown — so one thread per call costs nothing that matters.)
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import urlsplit

from .config import is_loopback_host

__all__ = ["FetchError", "Fetcher", "HTTPResponse", "fetch_url", "request_url"]

_MAX_REDIRECTS = 3


@dataclass(frozen=True)
class HTTPResponse:
    """What a fetch returns: status, lower-cased headers and the body."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


class FetchError(Exception):
    """A fetch failed; the message says why in one sentence (no secrets in it)."""


#: ``fetch(url, timeout_seconds, max_bytes) -> HTTPResponse``; raises FetchError or OSError. A
#: custom fetcher must treat ``timeout_seconds`` as a deadline for the whole call, as
#: :func:`fetch_url` does: callers waiting for a fetch are released at that deadline regardless.
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
            fp.close()  # urllib leaves the redirect response open when a handler raises
            raise FetchError(f"refused a redirect to another origin ({_origin(newurl)[1] or newurl!r})")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class _Exchange:
    """The connections of one call, so that the caller can cut them off at the deadline."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connections: list[http.client.HTTPConnection] = []
        self.abandoned = False

    def track(self, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            self._connections.append(connection)
            abandoned = self.abandoned
        if abandoned:  # a redirect's new connection, opened after the deadline
            _shut(connection)

    def abandon(self) -> None:
        with self._lock:
            self.abandoned = True
            connections = list(self._connections)
        for connection in connections:
            _shut(connection)


def _shut(connection: http.client.HTTPConnection) -> None:
    # shutdown() wakes a thread blocked in recv() on this socket (close() alone may not). A socket
    # already closed, or handed over to TLS, has no descriptor any more and raises: nothing to do.
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


_current = threading.local()


def _tracked(cls: type[http.client.HTTPConnection]) -> type[http.client.HTTPConnection]:
    class Tracked(cls):  # type: ignore[valid-type,misc]
        def connect(self) -> None:
            exchange: _Exchange | None = getattr(_current, "exchange", None)
            if exchange is not None:
                exchange.track(self)
            super().connect()

    Tracked.__name__ = Tracked.__qualname__ = f"Tracked{cls.__name__}"
    return Tracked


_TRACKED_HTTP = _tracked(http.client.HTTPConnection)
_TRACKED_HTTPS = _tracked(http.client.HTTPSConnection)


class _TrackedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_TRACKED_HTTP, req)


class _TrackedHTTPSHandler(urllib.request.HTTPSHandler):
    def do_open(self, http_class: Any, req: urllib.request.Request, **kwargs: Any) -> http.client.HTTPResponse:
        # HTTPSHandler.https_open passes its TLS context; only the connection class is swapped.
        return super().do_open(_TRACKED_HTTPS, req, **kwargs)


def _opener(*extra: urllib.request.BaseHandler) -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(_SameOriginRedirects(), _TrackedHTTPHandler(), _TrackedHTTPSHandler(), *extra)


_OPENER = _opener()
# Loopback targets (local issuers in tests and development) never go through a proxy.
_LOOPBACK_OPENER = _opener(urllib.request.ProxyHandler({}))


def fetch_url(url: str, timeout: float, max_bytes: int) -> HTTPResponse:
    """GET ``url`` within ``timeout`` seconds in all, refusing bodies over ``max_bytes``."""
    return request_url(url, timeout, max_bytes)


def request_url(
    url: str,
    timeout: float,
    max_bytes: int,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> HTTPResponse:
    """One HTTP request within ``timeout`` seconds from first byte to last (see the module docstring).

    Only ``https://`` URLs, or ``http://`` on loopback hosts; a non-2xx status is returned, not
    raised; anything else that goes wrong raises :class:`FetchError` with one sentence.
    """
    deadline = time.monotonic() + timeout
    parts = urlsplit(url)
    loopback = is_loopback_host(parts.hostname)
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise FetchError(f"refused to fetch {url!r}: only https:// (or http:// on loopback) is allowed")
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        url,
        data=body,
        method=method,
        headers={"Accept": "application/json", "User-Agent": "kinde-guard", **(headers or {})},
    )
    opener = _LOOPBACK_OPENER if loopback else _OPENER
    exchange = _Exchange()
    result: Future[HTTPResponse] = Future()

    def run() -> None:
        _current.exchange = exchange
        try:
            result.set_result(_exchange(opener, request, deadline, timeout, max_bytes))
        except BaseException as exc:
            result.set_exception(exc)

    threading.Thread(target=run, daemon=True, name="kinde-http").start()
    try:
        return result.result(timeout=max(0.0, deadline - time.monotonic()))
    except FutureTimeout:
        exchange.abandon()
        raise FetchError(f"timed out after {timeout:g} s waiting for {url}") from None


def _exchange(
    opener: urllib.request.OpenerDirector,
    request: urllib.request.Request,
    deadline: float,
    timeout: float,
    max_bytes: int,
) -> HTTPResponse:
    url = request.full_url
    try:
        response = opener.open(request, timeout=max(0.001, deadline - time.monotonic()))
    except urllib.error.HTTPError as exc:
        try:
            body = _read_body(exc, url, deadline, timeout, max_bytes)
        except FetchError:
            body = b""
        finally:
            exc.close()
        headers = {k.lower(): v for k, v in exc.headers.items()} if exc.headers else {}
        return HTTPResponse(status=exc.code, body=body, headers=headers)
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise FetchError(f"could not reach {url}: {reason}") from None
    with response:
        body = _read_body(response, url, deadline, timeout, max_bytes)
        headers = {k.lower(): v for k, v in response.headers.items()}
        return HTTPResponse(status=response.status, body=body, headers=headers)


def _read_body(response: Any, url: str, deadline: float, timeout: float, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        if deadline - time.monotonic() <= 0:
            raise FetchError(f"timed out after {timeout:g} s reading {url}")
        try:
            chunk = response.read1(65536)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            raise FetchError(f"could not read {url}: {exc}") from None
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(f"the response of {url} exceeds {max_bytes} bytes")
        chunks.append(chunk)
