"""The demo's servers: the dev issuer (with CORS for Swagger UI) and the API under uvicorn."""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._issuer_http import Request, Response
from ..devserver import KindeDevIssuer, default_config_document
from ..testing import DEFAULT_AUDIENCE, DEFAULT_CLIENT_ID

__all__ = [
    "DOCS_CLIENT_ID",
    "ROOT",
    "DemoError",
    "DemoIssuer",
    "Ports",
    "ensure_free",
    "request",
    "start_api",
    "stop_process",
    "tenant_document",
    "wait_until_up",
]

ROOT = Path(__file__).resolve().parents[2]
#: The public application Swagger UI's *Authorize* button signs in with.
DOCS_CLIENT_ID = "kinde-guard-demo-docs"


class DemoError(Exception):
    """The demo cannot go on; the message says why and what to do."""


# -- the dev issuer ----------------------------------------------------------------------------------


class DemoIssuer(KindeDevIssuer):
    """The dev issuer plus CORS on the token endpoint for Swagger UI's origin, as Kinde's
    *Allowed origins* setting does: Swagger UI exchanges the code from the browser."""

    def __init__(self, *args: Any, origins: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.origins = origins

    def handle(self, request: Request) -> Response:
        origin = request.headers.get("Origin") or ""
        cors = request.path == "/oauth2/token" and origin in self.origins
        if cors and request.method == "OPTIONS":
            asked = request.headers.get("Access-Control-Request-Headers") or "Content-Type"
            headers = {"Access-Control-Allow-Methods": "POST", "Access-Control-Allow-Headers": asked}
            return Response(204, b"", {"Access-Control-Allow-Origin": origin, "Vary": "Origin", **headers})
        response = super().handle(request)
        if cors:
            response.headers.update({"Access-Control-Allow-Origin": origin, "Vary": "Origin"})
        return response


def tenant_document(api_port: int, callback: str) -> dict[str, Any]:
    """The built-in tenant, with the token helper's callback and a client for Swagger UI."""
    doc = default_config_document()
    for client in doc["clients"]:
        if client["client_id"] == DEFAULT_CLIENT_ID:
            client["redirect_uris"] = [callback]
    docs_redirects = [f"http://{host}:{api_port}/docs/oauth2-redirect" for host in ("127.0.0.1", "localhost")]
    doc["clients"].append(
        {
            "client_id": DOCS_CLIENT_ID,
            "type": "public",
            "name": "Orders API docs (Swagger UI)",
            "redirect_uris": docs_redirects,
            "apis": [DEFAULT_AUDIENCE],
        }
    )
    return doc


# -- ports and processes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Ports:
    issuer: int
    api: int
    callback: int


def ensure_free(port: int, what: str, variable: str) -> None:
    with socket.socket() as probe:
        # SO_REUSEADDR like the servers themselves: a socket lingering in TIME_WAIT is not "in use".
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise DemoError(
                f"Port {port} on 127.0.0.1 ({what}) is already in use: stop what is using it, "
                f"or pick another port: `{variable}=<port> make demo`."
            ) from None


def start_api(
    ports: Ports, issuer_url: str, log: Path, management: tuple[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """uvicorn serving ``examples.fastapi_app``; with ``management`` (the Management API's M2M
    application: client id, secret) it also accepts Kinde API keys (``KINDE_API_KEYS=true``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINDE_")}
    env.update(KINDE_DOMAIN=issuer_url, KINDE_AUDIENCE=DEFAULT_AUDIENCE, KINDE_CLIENT_ID=DOCS_CLIENT_ID)
    if management is not None:
        env.update(KINDE_API_KEYS="true", KINDE_M2M_CLIENT_ID=management[0], KINDE_M2M_CLIENT_SECRET=management[1])
    command = [sys.executable, "-m", "uvicorn", "examples.fastapi_app.app:app", "--host", "127.0.0.1"]
    command += ["--port", str(ports.api), "--log-level", "warning"]
    with log.open("wb") as out:
        # A session of its own: Ctrl-C reaches the demo, which then stops uvicorn itself.
        return subprocess.Popen(  # noqa: S603 (our own command line)
            command, cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True
        )


def wait_until_up(api: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if api.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-5:]
            if any("address already in use" in line.lower() for line in tail):
                ensure_free(port, "the API", "DEMO_API_PORT")
            raise DemoError("The API did not start:\n  " + "\n  ".join(tail))
        with contextlib.suppress(OSError):
            if request(port, "GET", "/healthz")[0] == 200:
                return
        time.sleep(0.1)
    raise DemoError(f"The API did not answer on 127.0.0.1:{port} within 30 s; see {log}.")


def stop_process(process: subprocess.Popen[Any] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# -- HTTP --------------------------------------------------------------------------------------------


def request(
    port: int, method: str, path: str, headers: Mapping[str, str] | None = None, body: bytes | None = None
) -> tuple[int, str, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}))
        answer = conn.getresponse()
        return answer.status, answer.reason, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        conn.close()
