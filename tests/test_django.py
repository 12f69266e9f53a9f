"""kinde_guard.django: settings (override_settings, the environment, start-up failures), the
middleware and @kinde_required on sync and async views, over real WSGI and ASGI servers."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.django_servers import setup_django, urlconf
from tests.servers import serve_asgi
from tests.wsgi_servers import serve_wsgi

setup_django()

from django.core.exceptions import ImproperlyConfigured  # noqa: E402
from django.core.handlers.asgi import ASGIHandler  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.http import HttpRequest, JsonResponse  # noqa: E402
from django.test import override_settings  # noqa: E402
from django.urls import path  # noqa: E402

from kinde_guard.django import KindeGuardMiddleware, claims_of, get_guard, kinde_required, reset_guard  # noqa: E402
from kinde_guard.testing import DevIssuer  # noqa: E402

AUDIENCE = "https://api.example.com"


def whoami(request: HttpRequest) -> JsonResponse:
    claims = claims_of(request)
    return JsonResponse({"sub": claims.sub if claims else None})


async def async_whoami(request: HttpRequest) -> JsonResponse:
    claims = claims_of(request)
    return JsonResponse({"sub": claims.sub if claims else None})


ROUTES = urlconf(
    [
        path("public", whoami),
        path("async-public", async_whoami),
        path("me", kinde_required(whoami)),
        path("orders", kinde_required(scopes=["read:orders"])(whoami)),
        path("async/orders", kinde_required(scopes=["read:orders"])(async_whoami)),
        path("async/delete", kinde_required(permissions=["delete:orders"])(async_whoami)),
        path("either", kinde_required(scopes=["read:orders", "write:orders"], match="any")(whoami)),
        path("guarded", whoami),  # only the middleware guards this one
    ]
)
MIDDLEWARE = ["kinde_guard.django.KindeGuardMiddleware"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(params=["wsgi", "asgi"])
def decorated(request: pytest.FixtureRequest, served_issuer: DevIssuer) -> Iterator[str]:
    """The decorated views, no middleware, under werkzeug (WSGI) or uvicorn (ASGI)."""
    with override_settings(ROOT_URLCONF=ROUTES, MIDDLEWARE=[], KINDE_GUARD=served_issuer.guard()):
        app = WSGIHandler() if request.param == "wsgi" else ASGIHandler()
        with (serve_wsgi if request.param == "wsgi" else serve_asgi)(app) as url:
            yield url


@pytest.fixture(params=["wsgi", "asgi"])
def middleware(request: pytest.FixtureRequest, served_issuer: DevIssuer) -> Iterator[str]:
    settings = {"ROOT_URLCONF": ROUTES, "MIDDLEWARE": MIDDLEWARE, "KINDE_PUBLIC_PATHS": "/public /async-public"}
    with override_settings(KINDE_GUARD=served_issuer.guard(), **settings):
        app = WSGIHandler() if request.param == "wsgi" else ASGIHandler()
        with (serve_wsgi if request.param == "wsgi" else serve_asgi)(app) as url:
            yield url


@pytest.mark.parametrize("route", ["/orders", "/async/orders"])
def test_decorated_sync_and_async_views(decorated: str, served_issuer: DevIssuer, route: str) -> None:
    missing = httpx.get(decorated + route)
    assert (missing.status_code, missing.headers["www-authenticate"]) == (401, 'Bearer realm="api"')
    refused = httpx.get(decorated + route, headers=bearer(served_issuer.mint(scopes=["openid"])))
    assert refused.status_code == 403
    assert refused.headers["www-authenticate"].endswith('scope="read:orders"')
    ok = httpx.get(decorated + route, headers=bearer(served_issuer.mint(scopes=["read:orders"])))
    assert ok.status_code == 200 and ok.json()["sub"].startswith("kp_")
    expired = httpx.get(decorated + route, headers=bearer(served_issuer.mint(scopes=["read:orders"], expires_in=-3600)))
    assert expired.status_code == 401 and 'error="invalid_token"' in expired.headers["www-authenticate"]


def test_decorator_keywords(decorated: str, served_issuer: DevIssuer) -> None:
    assert httpx.get(decorated + "/me", headers=bearer(served_issuer.mint())).status_code == 200
    assert httpx.get(decorated + "/public").json() == {"sub": None}
    for scopes, status in [(["write:orders"], 200), (["openid"], 403)]:
        assert httpx.get(decorated + "/either", headers=bearer(served_issuer.mint(scopes=scopes))).status_code == status
    for permissions, status in [(["delete:orders"], 200), ([], 403)]:
        token = served_issuer.mint(permissions=permissions)
        assert httpx.get(decorated + "/async/delete", headers=bearer(token)).status_code == status


def test_middleware_guards_all_but_the_public_paths(middleware: str, served_issuer: DevIssuer) -> None:
    assert httpx.get(middleware + "/public", headers=bearer("not-a-jwt")).json() == {"sub": None}
    assert httpx.get(middleware + "/async-public").status_code == 200
    refused = httpx.get(middleware + "/guarded")
    assert (refused.status_code, refused.json()["error"]) == (401, "unauthorized")
    assert httpx.get(middleware + "/guarded", headers=bearer("not-a-jwt")).status_code == 401
    ok = httpx.get(middleware + "/guarded", headers=bearer(served_issuer.mint()))
    assert ok.status_code == 200 and ok.json()["sub"].startswith("kp_")
    # Behind the middleware a decorator checks the route's needs on the middleware's claims.
    assert httpx.get(middleware + "/async/orders", headers=bearer(served_issuer.mint(scopes=[]))).status_code == 403
    fetches = served_issuer.jwks_fetches
    assert (
        httpx.get(middleware + "/orders", headers=bearer(served_issuer.mint(scopes=["read:orders"]))).status_code == 200
    )
    assert served_issuer.jwks_fetches == fetches


def test_middleware_is_sync_and_async_capable() -> None:
    assert KindeGuardMiddleware.sync_capable and KindeGuardMiddleware.async_capable
    with override_settings(KINDE_DOMAIN="https://acme.kinde.com", KINDE_AUDIENCE=AUDIENCE):

        async def endpoint(request: HttpRequest) -> JsonResponse:
            return JsonResponse({})

        from asgiref.sync import iscoroutinefunction

        assert iscoroutinefunction(KindeGuardMiddleware(endpoint))
        assert not iscoroutinefunction(KindeGuardMiddleware(whoami))


def test_an_async_view_is_not_blocked_while_the_jwks_is_fetched(served_issuer: DevIssuer) -> None:
    """Under uvicorn, a hanging JWKS fetch for one request leaves the event loop free for others."""
    guard = served_issuer.guard(http_timeout=3)
    with override_settings(ROOT_URLCONF=ROUTES, MIDDLEWARE=[], KINDE_GUARD=guard), serve_asgi(ASGIHandler()) as url:
        served_issuer.jwks_hang = 2.0
        try:
            with ThreadPoolExecutor(1) as pool:
                guarded = pool.submit(
                    httpx.get,
                    url + "/async/orders",
                    headers=bearer(served_issuer.mint(scopes=["read:orders"])),
                    timeout=10,
                )
                time.sleep(0.3)
                started = time.monotonic()
                public = httpx.get(url + "/async-public", timeout=10)
                took = time.monotonic() - started
                answered = guarded.result()
        finally:
            served_issuer.jwks_hang = 0.0
    assert public.status_code == 200
    assert took < 1.0, f"the async public view waited {took:.2f} s behind the JWKS fetch"
    assert answered.status_code == 200


def test_override_settings_changes_the_guard() -> None:
    with override_settings(KINDE_DOMAIN="https://one.kinde.com", KINDE_AUDIENCE="https://a https://b"):
        first = get_guard()
        assert first.config.domain == "https://one.kinde.com"
        assert first.config.audience == ("https://a", "https://b")  # a space-separated list setting
        assert get_guard() is first  # one guard per process
        with override_settings(KINDE_DOMAIN="https://two.kinde.com", KINDE_AUDIENCE=["https://c"]):
            assert get_guard().config.domain == "https://two.kinde.com"
            assert get_guard().config.audience == ("https://c",)  # or a list
        assert get_guard().config.domain == "https://one.kinde.com"


def test_settings_fall_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KINDE_DOMAIN", "https://env.kinde.com")
    monkeypatch.setenv("KINDE_AUDIENCE", "https://from-env")
    reset_guard()
    try:
        with override_settings(KINDE_JWKS_URI="https://env.kinde.com/keys"):
            assert get_guard().config.audience == ("https://from-env",)
            assert get_guard().config.jwks_uri == "https://env.kinde.com/keys"
            with override_settings(KINDE_AUDIENCE="https://from-settings"):
                assert get_guard().config.audience == ("https://from-settings",)  # settings win
    finally:
        reset_guard()


@pytest.mark.parametrize(
    ("settings", "sentence"),
    [
        ({}, "KINDE_DOMAIN is not set: set it to your Kinde domain"),
        ({"KINDE_DOMAIN": "https://acme.kinde.com"}, "KINDE_AUDIENCE is not set"),
        (
            {"KINDE_DOMAIN": "https://acme.kinde.com", "KINDE_AUDIENCE": "a", "KINDE_LEEWAY": "soon"},
            "KINDE_LEEWAY='soon' is malformed",
        ),
        ({"KINDE_GUARD": "not a guard"}, "KINDE_GUARD must be a kinde_guard.KindeGuard"),
        (
            {"KINDE_DOMAIN": "https://acme.kinde.com", "KINDE_AUDIENCE": "a", "KINDE_PUBLIC_PATHS": "healthz"},
            "KINDE_PUBLIC_PATHS is malformed",
        ),
    ],
)
def test_bad_settings_fail_when_the_middleware_is_built(
    monkeypatch: pytest.MonkeyPatch, settings: dict[str, str], sentence: str
) -> None:
    for name in ("KINDE_DOMAIN", "KINDE_AUDIENCE"):
        monkeypatch.delenv(name, raising=False)
    with override_settings(**settings), pytest.raises(ImproperlyConfigured, match=sentence.replace("(", r"\(")):
        KindeGuardMiddleware(whoami)  # Django builds its middleware at start-up


STARTUP = """
import django
from django.conf import settings
settings.configure(SECRET_KEY="x", INSTALLED_APPS=["kinde_guard.django"], DATABASES={}, KINDE_DOMAIN="https://acme.kinde.com")
django.setup()
"""


def test_bad_settings_stop_django_setup_with_the_sentence() -> None:
    env = {"PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", STARTUP], capture_output=True, text=True, timeout=60, check=False, env=env
    )
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "django.core.exceptions.ImproperlyConfigured: KINDE_AUDIENCE is not set: set it to your API's audience"
    )
    assert last.endswith("Set it in your Django settings or in the environment.")
