"""One PublicPaths for ASGI and WSGI: the same tricky paths through both middlewares over real
servers (uvicorn + Starlette, werkzeug + Flask), sent byte for byte on a raw socket so that no client
normalises them. No path that the router could resolve to a protected route passes without a token.
"""

from __future__ import annotations

import json
import posixpath
import socket
from collections.abc import Iterator
from urllib.parse import unquote, urlsplit

import pytest
from flask import Flask
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from kinde_guard import KindeGuard
from kinde_guard.asgi import KindeGuardMiddleware as ASGIGuard
from kinde_guard.paths import PublicPaths
from kinde_guard.testing import DevIssuer
from kinde_guard.wsgi import KindeGuardMiddleware as WSGIGuard
from tests.servers import serve_asgi
from tests.wsgi_servers import serve_wsgi

PUBLIC = ("/healthz", "/static/")
PUBLIC_ROUTES = {"healthz", "static"}

# Paths a router, a proxy or a second decoding could take somewhere else than they look.
TRICKY = [
    "/static/../admin",
    "/static/./../admin",
    "/static/%2e%2e/admin",
    "/static/%2E%2E/admin",
    "/static/.%2e/admin",
    "/static/..%2fadmin",
    "/static/%2e%2e%2fadmin",
    "/static/%252e%252e/admin",
    "/static//../admin",
    "/static/..;/admin",
    "/static/..\\admin",
    "/static\\..\\admin",
    "/static/%5c..%5cadmin",
    "/static/%00/../admin",
    "/healthz/../admin",
    "/healthz/..",
    "/healthz%2f..%2fadmin",
    "/healthz/",
    "//healthz",
    "//admin",
    "/HEALTHZ",
    "/Static/app.css",
    "/healthz;/admin",
    "/healthz?next=/../admin",
    "/static",
    "/admin",
    "/admin/../static/app.css",
]


def asgi_app(guard: KindeGuard) -> ASGIGuard:
    def route(name: str):  # type: ignore[no-untyped-def]
        async def endpoint(request: Request) -> JSONResponse:
            return JSONResponse({"route": name})

        return endpoint

    app = Starlette(
        routes=[
            Route("/healthz", route("healthz")),
            Route("/static/{path:path}", route("static")),
            Route("/admin", route("admin")),
            Route("/{path:path}", route("catch-all")),
        ]
    )
    return ASGIGuard(app, guard=guard, public_paths=PUBLIC)


def normalising_app(guard: KindeGuard) -> ASGIGuard:
    """A router that resolves paths the way some frameworks and proxies do: percent-decoding again,
    backslashes as slashes, ``;`` parameters dropped, repeated slashes merged, dot segments removed."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        path = unquote(unquote(scope["path"])).replace("\\", "/")
        path = "/".join(segment.split(";")[0] for segment in path.split("/"))
        path = posixpath.normpath(path.replace("\x00", ""))
        path = "/" + path.lstrip("/")
        route = "healthz" if path == "/healthz" else "static" if path.startswith("/static/") else "admin"
        await JSONResponse({"route": route})(scope, receive, send)

    return ASGIGuard(app, guard=guard, public_paths=PUBLIC)


def wsgi_app(guard: KindeGuard) -> WSGIGuard:
    app = Flask("paths", static_folder=None)
    app.add_url_rule("/healthz", "healthz", lambda: {"route": "healthz"})
    app.add_url_rule("/static/<path:path>", "static_", lambda path: {"route": "static"})
    app.add_url_rule("/admin", "admin", lambda: {"route": "admin"})
    app.add_url_rule("/<path:path>", "catch-all", lambda path: {"route": "catch-all"})
    app.add_url_rule("/", "root", lambda: {"route": "catch-all"})
    return WSGIGuard(app.wsgi_app, guard=guard, public_paths=PUBLIC)


@pytest.fixture(params=["asgi", "wsgi", "normalising"])
def base_url(request: pytest.FixtureRequest, served_issuer: DevIssuer) -> Iterator[str]:
    guard = served_issuer.guard()
    if request.param in ("asgi", "normalising"):
        with serve_asgi(asgi_app(guard) if request.param == "asgi" else normalising_app(guard)) as url:
            yield url
    else:
        with serve_wsgi(wsgi_app(guard)) as url:
            yield url


def raw_get(base_url: str, path: str, token: str | None = None) -> tuple[int, dict[str, object]]:
    """GET exactly ``path`` (no client-side normalisation); the status and the JSON body."""
    host, port = urlsplit(base_url).hostname, urlsplit(base_url).port
    assert host and port
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{auth}Connection: close\r\n\r\n".encode("latin-1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    try:
        parsed = json.loads(body) if body.strip().startswith(b"{") else {}
    except ValueError:
        parsed = {}
    return status, parsed


@pytest.mark.parametrize("path", TRICKY)
def test_no_tricky_path_reaches_a_protected_route_without_a_token(base_url: str, path: str) -> None:
    status, body = raw_get(base_url, path)
    reached = body.get("route")
    assert not (status == 200 and reached not in PUBLIC_ROUTES), f"{path!r} reached {reached!r} without a token"
    if status == 401:
        assert body == {"error": "unauthorized", "error_description": "A bearer token is required."}


@pytest.mark.parametrize(("path", "route"), [("/healthz", "healthz"), ("/static/app.css", "static")])
def test_plain_public_paths_pass_without_a_token(base_url: str, path: str, route: str) -> None:
    assert raw_get(base_url, path) == (200, {"route": route})


def test_the_protected_route_answers_with_a_token(base_url: str, served_issuer: DevIssuer) -> None:
    assert raw_get(base_url, "/admin", served_issuer.mint()) == (200, {"route": "admin"})
    assert raw_get(base_url, "/admin")[0] == 401


@pytest.mark.parametrize(
    ("paths", "error", "message"),
    [
        ("/healthz", TypeError, "not a string"),
        (["/healthz", 3], TypeError, "strings"),
        (["healthz"], ValueError, "must start with '/'"),
        (["/static/../"], ValueError, "plain path"),
        (["/a//b"], ValueError, "plain path"),
    ],
)
def test_both_middlewares_refuse_the_same_bad_entries_with_the_same_errors(
    paths: object, error: type[Exception], message: str
) -> None:
    guard = KindeGuard(domain="https://acme.kinde.com", audience="https://api.acme.com")
    for build in (
        lambda: ASGIGuard(Starlette(), guard=guard, public_paths=paths),
        lambda: WSGIGuard(Flask("x").wsgi_app, guard=guard, public_paths=paths),
    ):  # type: ignore[arg-type]
        with pytest.raises(error, match=message):
            build()
    with pytest.raises(error, match=message):
        PublicPaths(paths)  # type: ignore[arg-type]
