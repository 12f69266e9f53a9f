"""Route requirements beyond scopes through every adapter over real HTTP: the table of
tests/route_requirements_table.py, each route served by the ASGI middleware + asgi.require
(uvicorn), asgi.require alone, the WSGI middleware + wsgi.require and wsgi.require alone (werkzeug's
server), the Flask extension and the FastAPI dependency. Every answer is the core's own
(render_error of authenticate's refusal), byte for byte; a raising claims_check is a 403, never a 500.
"""

# No "from __future__ import annotations": FastAPI must see the routes' signatures as written.

import http.client
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi import Depends, FastAPI
from flask import Flask
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from kinde_guard import AuthError, KindeGuard, Requirements
from kinde_guard import asgi as kinde_asgi
from kinde_guard import wsgi as kinde_wsgi
from kinde_guard.fastapi import KindeAuth
from kinde_guard.flask import FlaskKindeGuard
from kinde_guard.testing import DevIssuer
from tests.route_requirements_table import ROUTES, ROWS, Row, mint
from tests.servers import serve_asgi
from tests.wsgi_servers import serve_wsgi

SERVER_HEADERS = {"date", "server", "connection", "transfer-encoding", "keep-alive"}


def starlette_app(guard: KindeGuard, *, middleware: bool) -> Any:
    async def ok(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    def ok_sync(request: Request) -> JSONResponse:  # plain def endpoints work too
        return JSONResponse({"ok": True})

    routes = [
        Route(f"/r/{name}", kinde_asgi.require(guard, **needs)(ok if i % 2 else ok_sync))
        for i, (name, needs) in enumerate(ROUTES.items())
    ]
    app = Starlette(routes=routes)
    return kinde_asgi.KindeGuardMiddleware(app, guard=guard) if middleware else app


def wsgi_app(guard: KindeGuard, *, middleware: bool) -> Any:
    def ok(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"ok": true}']

    routes = {f"/r/{name}": kinde_wsgi.require(guard, **needs)(ok) for name, needs in ROUTES.items()}

    def dispatch(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        return routes[environ["PATH_INFO"]](environ, start_response)

    return kinde_wsgi.KindeGuardMiddleware(dispatch, guard=guard) if middleware else dispatch


def flask_app(guard: KindeGuard) -> Any:
    app = Flask("route-requirements")
    kinde = FlaskKindeGuard(app, guard=guard)
    for name, needs in ROUTES.items():
        app.add_url_rule(f"/r/{name}", name, kinde.require(**needs)(lambda: {"ok": True}))
    return app


def fastapi_app(guard: KindeGuard) -> Any:
    kinde = KindeAuth(guard)
    app = FastAPI()
    kinde.install(app)
    for name, needs in ROUTES.items():

        async def ok() -> dict[str, bool]:
            return {"ok": True}

        app.add_api_route(f"/r/{name}", ok, dependencies=[Depends(kinde.require(**needs))])
    return app


ADAPTERS: dict[str, tuple[Callable[[KindeGuard], Any], str]] = {
    "asgi middleware + require": (lambda g: starlette_app(g, middleware=True), "asgi"),
    "asgi require": (lambda g: starlette_app(g, middleware=False), "asgi"),
    "wsgi middleware + require": (lambda g: wsgi_app(g, middleware=True), "wsgi"),
    "wsgi require": (lambda g: wsgi_app(g, middleware=False), "wsgi"),
    "flask": (flask_app, "wsgi"),
    "fastapi": (fastapi_app, "asgi"),
}


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[DevIssuer, KindeGuard, dict[str, str]]]:
    with DevIssuer().serve() as issuer, ExitStack() as stack:
        guard = issuer.guard()
        urls = {}
        for name, (build, kind) in ADAPTERS.items():
            serve = serve_asgi if kind == "asgi" else serve_wsgi
            urls[name] = stack.enter_context(serve(build(guard)))
        yield issuer, guard, urls


def get(base_url: str, path: str, authorization: str) -> tuple[int, list[tuple[str, str]], bytes]:
    conn = http.client.HTTPConnection(urlsplit(base_url).netloc, timeout=10)
    try:
        conn.request("GET", path, headers={"Authorization": authorization})
        response = conn.getresponse()
        headers = sorted((k.lower(), v) for k, v in response.getheaders() if k.lower() not in SERVER_HEADERS)
        return response.status, headers, response.read()
    finally:
        conn.close()


def core_answer(guard: KindeGuard, header: str, route: str) -> tuple[int, list[tuple[str, str]], bytes] | None:
    try:
        guard.authenticate(header, requirements=Requirements(**ROUTES[route]))
    except AuthError as exc:
        answer = guard.render_error(exc)
        return answer.status, sorted(answer.headers), answer.body
    return None


@pytest.mark.parametrize("adapter", list(ADAPTERS))
@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_every_adapter_answers_the_table_with_the_cores_bytes(
    served: tuple[DevIssuer, KindeGuard, dict[str, str]], row: Row, adapter: str
) -> None:
    issuer, guard, urls = served
    header = "Bearer " + mint(issuer, row.token)
    status, headers, body = get(urls[adapter], f"/r/{row.route}", header)
    assert status == row.status, body
    if row.status == 200:
        assert json.loads(body) == {"ok": True}
        return
    assert (status, headers, body) == core_answer(guard, header, row.route)
    error = json.loads(body)
    assert error["error"] == row.error
    if row.description is not None:
        assert error["error_description"] == row.description
    assert row.contains in error["error_description"]
    challenge = dict(headers)["www-authenticate"]
    assert ("scope=" in challenge) == (row.scope is not None)


def test_fastapi_openapi_says_what_each_route_requires(served: tuple[DevIssuer, KindeGuard, dict[str, str]]) -> None:
    _, guard, _ = served
    schema = fastapi_app(guard).openapi()
    described = {path: op["get"].get("description", "") for path, op in schema["paths"].items()}
    assert described["/r/role"] == "Requires: role admin."
    assert described["/r/roles_any"] == "Requires: one of the roles admin, owner."
    assert described["/r/flag_values"] == 'Requires: feature flags plan="pro", seats=5.'
    assert described["/r/org"] == "Requires: one of the organizations org_acme, org_beta."
    assert described["/r/check"] == "Requires: a claims check (only_alice)."
    assert described["/r/scope_and_role"] == "Requires: scope read:orders; role admin."
    # The scopes are in the security requirement too, as for Security(kinde, scopes=[...]).
    assert schema["paths"]["/r/scope_and_role"]["get"]["security"] == [{"kinde": ["read:orders"]}]
