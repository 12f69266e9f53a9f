"""Every adapter refuses the same bad request with the same bytes: status, headers and body.

The same guard (route scope ``read:orders``, a resource so that challenges carry
``resource_metadata``) behind the ASGI middleware (uvicorn), the WSGI middleware (werkzeug's server),
the Flask extension, the FastAPI dependency, Django's middleware (WSGI and ASGI) and decorators
(sync and async) and DRF's authentication class with its exception handler; each request goes over real HTTP with http.client,
which sends odd header values as given. The guard accepts Kinde API keys too (``api_keys``): a
refused key is answered alike everywhere, and a valid one passes everywhere. Only the servers' own headers (date, server, connection)
are left out of the comparison.
"""

# No "from __future__ import annotations": FastAPI must see the route's Annotated[...] with the
# factory's local ``kinde`` in it, as users' code does.

import http.client
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Annotated
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI, Security
from flask import Flask
from litestar import Litestar
from litestar import get as litestar_get
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from kinde_guard import Claims, KindeGuard
from kinde_guard.asgi import KindeGuardMiddleware as ASGIGuard
from kinde_guard.fastapi import KindeAuth
from kinde_guard.flask import FlaskKindeGuard
from kinde_guard.litestar import KindePlugin
from kinde_guard.litestar import requires as litestar_requires
from kinde_guard.testing import DevIssuer
from kinde_guard.wsgi import KindeGuardMiddleware as WSGIGuard
from tests.django_servers import setup_django, urlconf
from tests.servers import serve_asgi
from tests.wsgi_servers import serve_wsgi

setup_django()

from django.core.handlers.asgi import ASGIHandler  # noqa: E402  (Django needs its settings first)
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.http import HttpRequest, JsonResponse  # noqa: E402
from django.test import override_settings  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework.request import Request as DRFRequest  # noqa: E402
from rest_framework.response import Response as DRFResponse  # noqa: E402
from rest_framework.views import APIView  # noqa: E402

from kinde_guard.django import kinde_required  # noqa: E402
from kinde_guard.drf import HasRequirements  # noqa: E402

SERVER_HEADERS = {"date", "server", "connection", "transfer-encoding", "keep-alive"}
RESOURCE = "https://api.example.com"


def asgi(guard: KindeGuard) -> object:
    async def orders(request: Request) -> JSONResponse:
        return JSONResponse([])

    return ASGIGuard(Starlette(routes=[Route("/orders", orders)]), guard=guard)


def wsgi(guard: KindeGuard) -> object:
    app = Flask("plain-wsgi")
    app.add_url_rule("/orders", "orders", lambda: [])
    return WSGIGuard(app.wsgi_app, guard=guard)


def flask(guard: KindeGuard) -> object:
    app = Flask("extension")
    kinde = FlaskKindeGuard(app, guard=guard)

    @app.get("/orders")
    @kinde.require()
    def orders() -> list[str]:
        return []

    return app


def fastapi(guard: KindeGuard) -> object:
    kinde = KindeAuth(guard)
    app = FastAPI()
    kinde.install(app)

    @app.get("/orders")
    async def orders(claims: Annotated[Claims, Security(kinde)]) -> list[str]:
        return []

    return app


def litestar(guard: KindeGuard) -> object:
    @litestar_get("/orders", guards=[litestar_requires()])
    async def orders() -> list[str]:
        return []

    return Litestar(route_handlers=[orders], plugins=[KindePlugin(guard)])


@kinde_required
def django_orders(request: HttpRequest) -> JsonResponse:
    return JsonResponse([], safe=False)


@kinde_required
async def django_async_orders(request: HttpRequest) -> JsonResponse:
    return JsonResponse([], safe=False)


class DRFOrders(APIView):
    permission_classes = (HasRequirements(),)

    def get(self, request: DRFRequest) -> DRFResponse:
        return DRFResponse([])


# One Django configuration (settings are per process) serves every Django app below; each app is
# told apart by a path prefix its server adds. The middleware guards /mw/ only.
DJANGO = {
    "ROOT_URLCONF": urlconf(
        [
            path("decorator/orders", django_orders),
            path("async/orders", django_async_orders),
            path("mw/orders", django_orders),
            path("drf/orders", DRFOrders.as_view()),
        ]
    ),
    "MIDDLEWARE": ["kinde_guard.django.KindeGuardMiddleware"],
    "KINDE_PUBLIC_PATHS": ["/decorator/", "/async/", "/drf/"],
}


def django_wsgi(prefix: str) -> Callable[[KindeGuard], object]:
    def build(guard: KindeGuard) -> object:
        handler = WSGIHandler()

        def app(environ: dict[str, object], start_response: object) -> object:
            environ["PATH_INFO"] = prefix + str(environ["PATH_INFO"])
            return handler(environ, start_response)

        return app

    return build


def django_asgi(prefix: str) -> Callable[[KindeGuard], object]:
    def build(guard: KindeGuard) -> object:
        handler = ASGIHandler()

        async def app(scope: dict[str, object], receive: object, send: object) -> None:
            if scope["type"] == "http":
                scope = {**scope, "path": prefix + str(scope["path"]), "raw_path": None}
            await handler(scope, receive, send)

        return app

    return build


ADAPTERS: dict[str, tuple[Callable[[KindeGuard], object], str]] = {
    "asgi": (asgi, "asgi"),
    "wsgi": (wsgi, "wsgi"),
    "flask": (flask, "wsgi"),
    "fastapi": (fastapi, "asgi"),
    "litestar": (litestar, "asgi"),
    "django decorator": (django_wsgi("/decorator"), "wsgi"),
    "django async decorator": (django_asgi("/async"), "asgi"),
    "django middleware (asgi)": (django_asgi("/mw"), "asgi"),
    "django middleware (wsgi)": (django_wsgi("/mw"), "wsgi"),
    "drf": (django_wsgi("/drf"), "wsgi"),
}


@pytest.fixture
def urls(served_issuer: DevIssuer) -> Iterator[dict[str, str]]:
    guard = served_issuer.guard(required_scopes=["read:orders"], resource=RESOURCE, api_keys=True)
    with ExitStack() as stack:
        stack.enter_context(override_settings(KINDE_GUARD=guard, **DJANGO))
        found = {}
        for name, (build, kind) in ADAPTERS.items():
            serve = serve_asgi if kind == "asgi" else serve_wsgi
            found[name] = stack.enter_context(serve(build(guard)))
        yield found


def get(base_url: str, authorization: str | None) -> tuple[int, list[tuple[str, str]], bytes]:
    conn = http.client.HTTPConnection(urlsplit(base_url).netloc, timeout=10)
    try:
        conn.request("GET", "/orders", headers={} if authorization is None else {"Authorization": authorization})
        response = conn.getresponse()
        headers = sorted((k.lower(), v) for k, v in response.getheaders() if k.lower() not in SERVER_HEADERS)
        return response.status, headers, response.read()
    finally:
        conn.close()


REQUESTS: dict[str, Callable[[DevIssuer], str | None]] = {
    "no header": lambda issuer: None,
    "another scheme": lambda issuer: "Basic dXNlcjpwYXNz",
    "empty bearer": lambda issuer: "Bearer ",
    "two tokens": lambda issuer: "Bearer a.b.c d.e.f",
    "garbage token": lambda issuer: "Bearer not-a-jwt",
    "expired": lambda issuer: "Bearer " + issuer.mint(scopes=["read:orders"], expires_in=-3600),
    "wrong audience": lambda issuer: "Bearer " + issuer.mint(scopes=["read:orders"], aud=["https://other"]),
    "missing scope": lambda issuer: "Bearer " + issuer.mint(scopes=["openid"]),
    "unknown kid": lambda issuer: "Bearer " + issuer.mint(scopes=["read:orders"], headers={"kid": "gone"}),
    "revoked API key": lambda issuer: "Bearer " + revoked_key(issuer),
    "inactive API key": lambda issuer: "Bearer " + issuer.create_api_key(scopes=["read:orders"], status="inactive"),
    "unknown API key": lambda issuer: "Bearer k_live_" + "x" * 40,
    "API key without the scope": lambda issuer: "Bearer " + issuer.create_api_key(scopes=["openid"]),
}


def revoked_key(issuer: DevIssuer) -> str:
    key = issuer.create_api_key(scopes=["read:orders"], org_code="org_acme")
    issuer.revoke_api_key(key)
    return key


@pytest.mark.parametrize("case", list(REQUESTS))
def test_every_adapter_refuses_with_the_same_bytes(urls: dict[str, str], served_issuer: DevIssuer, case: str) -> None:
    authorization = REQUESTS[case](served_issuer)
    answers = {name: get(url, authorization) for name, url in urls.items()}
    reference = answers["asgi"]
    assert reference[0] in (400, 401, 403), reference
    assert reference[0] == (403 if case == "API key without the scope" else 401) or "API key" not in case, reference
    assert any(k == "www-authenticate" for k, _ in reference[1])
    for name, answer in answers.items():
        assert answer == reference, f"{name} answers differently from asgi for {case!r}"


def test_every_adapter_answers_503_alike_when_no_key_can_be_had(urls: dict[str, str], served_issuer: DevIssuer) -> None:
    served_issuer.jwks_status = 500
    authorization = "Bearer " + served_issuer.mint(scopes=["read:orders"])
    answers = {name: get(url, authorization) for name, url in urls.items()}
    statuses = {name: a[0] for name, a in answers.items()}
    assert set(statuses.values()) == {503}, statuses
    # Retry-After counts down from each guard's own last attempt; everything else is identical.
    stripped = {name: (a[0], [h for h in a[1] if h[0] != "retry-after"], a[2]) for name, a in answers.items()}
    assert all(s == stripped["asgi"] for s in stripped.values()), stripped
    assert all(any(h[0] == "retry-after" for h in a[1]) for a in answers.values())


def test_every_adapter_accepts_a_valid_api_key(urls: dict[str, str], served_issuer: DevIssuer) -> None:
    key = served_issuer.create_api_key(scopes=["read:orders"], org_code="org_acme")
    statuses = {name: get(url, "Bearer " + key)[0] for name, url in urls.items()}
    assert set(statuses.values()) == {200}, statuses
    assert served_issuer.api_key_verifications == 1  # one guard, one verification, then its cache
