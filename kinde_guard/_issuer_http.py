"""The HTTP side of :class:`~kinde_guard.testing.TestIssuer` and of the dev authorization server
built on it (:mod:`kinde_guard.devserver`): a threaded standard-library server on 127.0.0.1.

Requests become :class:`Request` objects handed to a ``handle(request) -> Response`` callable, so
the issuers' logic stays testable without sockets and extensible by subclassing.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["IssuerHTTPServer", "Request", "Response", "json_response"]

_MAX_BODY = 1024 * 1024


@dataclass(frozen=True)
class Request:
    """One HTTP request as the issuer sees it."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Message | Mapping[str, str]
    body: bytes = b""

    def form(self) -> dict[str, str]:
        """The ``application/x-www-form-urlencoded`` body, first value of each field."""
        parsed = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {k: v[0] for k, v in parsed.items()}

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Response:
    """What a handler answers."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, doc: Any, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        status,
        json.dumps(doc, indent=2).encode("utf-8"),
        {"Content-Type": "application/json", "Cache-Control": "no-store", **(headers or {})},
    )


class _Server(ThreadingHTTPServer):
    # The standard library listens with a backlog of 5: a burst of concurrent clients (a guard
    # verifying 20 first-seen API keys at once) would see connections reset.
    request_queue_size = 128


class IssuerHTTPServer:
    """Serve ``handle`` on ``127.0.0.1:port`` (0 = a free port) in a daemon thread."""

    def __init__(self, handle: Callable[[Request], Response], port: int = 0, host: str = "127.0.0.1") -> None:
        server_self = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "kinde-guard-dev-issuer"

            def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read stderr
                return

            def _serve(self) -> None:
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                if length > _MAX_BODY:
                    self.send_error(413)
                    return
                body = self.rfile.read(length) if length else b""
                request = Request(
                    self.command, split.path, parse_qs(split.query, keep_blank_values=True), self.headers, body
                )
                try:
                    response = handle(request)
                except Exception:  # a bug in the dev issuer answers 500, never kills the server
                    response = json_response(500, {"error": "server_error"})
                if server_self.stopping.is_set():
                    return
                self.send_response(response.status)
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(response.body)

            do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_OPTIONS = _serve

        self.stopping = threading.Event()
        self._server = _Server((host, port), Handler)
        self._server.daemon_threads = True
        self.host = host
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True, name="kinde-dev-issuer"
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
