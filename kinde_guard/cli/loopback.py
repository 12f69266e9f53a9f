"""The token helper's loopback callback: a one-shot HTTP listener on 127.0.0.1 (RFC 8252 §7.3).

It binds before the browser opens, accepts exactly one callback on the redirect URI's path, checks
its ``state`` and answers the browser with a small page; anything else gets a 404.
"""

from __future__ import annotations

import hmac
import socket
import threading
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..config import is_loopback_host
from ..errors import KindeGuardError

__all__ = ["CallbackListener", "TokenHelperError"]


class TokenHelperError(KindeGuardError):
    """The token helper cannot go on; the message is one sentence saying why and what to do."""


def _page(title: str, message: str) -> bytes:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title></head>'
        f'<body style="font-family:system-ui,sans-serif;margin:3rem"><h1>{escape(title)}</h1>'
        f"<p>{escape(message)}</p></body></html>"
    ).encode()


class _IPv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


class CallbackListener:
    """Listen on ``redirect_uri`` (``http://127.0.0.1:PORT/path``) for the callback carrying ``state``."""

    def __init__(self, redirect_uri: str, state: str) -> None:
        parts = urlsplit(redirect_uri)
        if parts.scheme != "http" or not is_loopback_host(parts.hostname):
            raise TokenHelperError(
                f"--redirect-uri {redirect_uri!r} must be an http:// URL on 127.0.0.1 (or localhost, [::1]) "
                "so this command can catch the callback itself."
            )
        self.path = parts.path or "/"
        port = parts.port or 80
        host = "::1" if parts.hostname == "::1" else "127.0.0.1"
        self.expected_state = state
        self._result: dict[str, str] | None = None
        self._done = threading.Event()
        listener = self

        class Handler(BaseHTTPRequestHandler):
            timeout = 10  # an idle browser preconnect must not hold a thread for ever

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                split = urlsplit(self.path)
                if split.path != listener.path or listener._done.is_set():
                    self._answer(404, "Not found", "This is the kinde-guard sign-in callback.")
                    return
                params = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
                status, title, message, problem = listener._judge(params)
                # Answer the browser first, then wake the command: it may exit at once, and a
                # daemon handler thread would die with the page unsent (the browser would see the
                # connection drop instead of the page).
                self._answer(status, title, message)
                self.wfile.flush()
                listener._finish(params, problem)

            def _answer(self, status: int, title: str, message: str) -> None:
                body = _page(title, message)
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

        server_class = _IPv6Server if host == "::1" else ThreadingHTTPServer
        try:
            self._server = server_class((host, port), Handler)
        except OSError as exc:
            raise TokenHelperError(
                f"cannot listen for the callback on {host} port {port} ({exc.strerror}): another "
                "`kinde-guard token` may be running; stop it or pass another registered --redirect-uri."
            ) from None
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="kinde-callback")
        self._thread.start()

    def _judge(self, params: dict[str, str]) -> tuple[int, str, str, str | None]:
        """The page to answer the callback with, and the problem to report (None: none)."""
        state = params.get("state", "")
        # Compare in constant time; a callback with another state may be forged (CSRF, RFC 6749 §10.12).
        if not hmac.compare_digest(state.encode(), self.expected_state.encode()):
            message = "The callback's state does not match this sign-in. Run the command again."
            return 400, "Sign-in refused", message, "state_mismatch"
        if "error" in params:
            return 400, "Sign-in failed", f"{params['error']}: {params.get('error_description', '')}".strip(": "), None
        if not params.get("code"):
            return 400, "Sign-in failed", "The callback carries no code.", "no_code"
        return 200, "Signed in", "Signed in. You can close this tab and return to the terminal.", None

    def _finish(self, params: dict[str, str], problem: str | None) -> None:
        if self._done.is_set():
            return
        self._result = {**params, "_problem": problem} if problem else params
        self._done.set()

    def wait(self, timeout: float) -> dict[str, str]:
        """The callback's parameters once it arrives with the expected state; TokenHelperError otherwise."""
        if not self._done.wait(timeout):
            raise TokenHelperError(
                f"no sign-in completed within {timeout:g} s; run the command again (or raise --timeout)."
            )
        result = self._result or {}
        problem = result.get("_problem")
        if problem == "state_mismatch":
            raise TokenHelperError(
                "the callback's state does not match this sign-in (a stale tab or a forged callback); run the command again."
            )
        if "error" in result:
            description = result.get("error_description") or "no description"
            raise TokenHelperError(f"sign-in failed: {result['error']}: {description}")
        if problem == "no_code":
            raise TokenHelperError("the callback carried neither a code nor an error; run the command again.")
        return result

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> CallbackListener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
