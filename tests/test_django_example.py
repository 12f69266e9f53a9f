"""examples/django_app (DRF views) over real HTTP: gunicorn (WSGI) and uvicorn (ASGI) processes on
127.0.0.1 against a served DevIssuer.

The cases come from tests/example_cases.py, the table every example app is held to.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from kinde_guard.testing import DevIssuer
from tests.django_servers import run_uvicorn
from tests.example_contract import *  # noqa: F403  (the shared contract, run against this app)
from tests.servers import run_python
from tests.wsgi_servers import run_gunicorn

AUDIENCE = "https://api.orders.example"
WSGI = "examples.django_app.wsgi:application"
ASGI = "examples.django_app.asgi:application"
SERVERS = {"gunicorn": lambda env: run_gunicorn(WSGI, env), "uvicorn": lambda env: run_uvicorn(ASGI, env)}


@pytest.fixture(scope="module")
def issuer() -> Iterator[DevIssuer]:
    with DevIssuer(audience=AUDIENCE).serve() as served:
        yield served


def _env(issuer: DevIssuer, **extra: str) -> dict[str, str]:
    return {"KINDE_DOMAIN": issuer.url, "KINDE_AUDIENCE": AUDIENCE, **extra}


@pytest.fixture(scope="module", params=list(SERVERS))
def base_url(request: pytest.FixtureRequest, issuer: DevIssuer) -> Iterator[str]:
    with SERVERS[request.param](_env(issuer)) as url:
        yield url


def test_no_trailing_slash_redirects_and_unknown_routes_answer_json(base_url: str, issuer: DevIssuer) -> None:
    auth = {"Authorization": "Bearer " + issuer.mint(scopes=["read:orders"])}
    slashed = httpx.get(base_url + "/orders/", headers=auth)  # /orders/<id> with an empty id: no route
    public_slashed = httpx.get(base_url + "/public/", headers=auth)
    assert (slashed.status_code, public_slashed.status_code) == (404, 404)
    assert "location" not in slashed.headers
    assert public_slashed.json()["error"] == "not_found"
    wrong_method = httpx.put(base_url + "/orders", headers=auth)
    assert wrong_method.status_code == 405


@pytest.mark.parametrize("server", list(SERVERS))
def test_healthz_is_503_when_keys_cannot_be_had(issuer: DevIssuer, server: str) -> None:
    issuer.jwks_status = 500
    try:
        with SERVERS[server](_env(issuer)) as url:
            response = httpx.get(url + "/healthz")
    finally:
        issuer.jwks_status = 200
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert "500" in response.json()["keys"]["last_error"]
    assert int(response.headers["retry-after"]) >= 1


@pytest.mark.parametrize("server", list(SERVERS))
def test_cold_jwks_outage_answers_503_with_retry_after(issuer: DevIssuer, server: str) -> None:
    issuer.jwks_status = 503
    try:
        with SERVERS[server](_env(issuer)) as url:
            response = httpx.get(url + "/me", headers={"Authorization": "Bearer " + issuer.mint()})
    finally:
        issuer.jwks_status = 200
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) >= 1
    assert "www-authenticate" not in response.headers
    assert response.json()["error"] == "temporarily_unavailable"


def test_a_hanging_jwks_does_not_stall_a_public_request_under_uvicorn(issuer: DevIssuer) -> None:
    with run_uvicorn(ASGI, _env(issuer, KINDE_HTTP_TIMEOUT="3")) as url:
        issuer.jwks_hang = 2.5
        try:
            with ThreadPoolExecutor(2) as pool:
                me = pool.submit(
                    httpx.get, url + "/me", headers={"Authorization": "Bearer " + issuer.mint()}, timeout=10
                )
                time.sleep(0.3)  # the /me request is now waiting for the JWKS
                started = time.monotonic()
                public = httpx.get(url + "/public", timeout=10)
                public_took = time.monotonic() - started
                answered = me.result()
        finally:
            issuer.jwks_hang = 0.0
    assert public.status_code == 200
    assert public_took < 1.0, f"/public waited {public_took:.2f} s behind the JWKS fetch"
    assert answered.status_code == 200  # the JWKS answered within the deadline, late


@pytest.mark.parametrize(
    "command",
    [
        ["-m", "gunicorn", WSGI, "--bind", "127.0.0.1:0", "--no-control-socket"],
        ["-m", "uvicorn", ASGI, "--port", "0", "--lifespan", "off"],
    ],
    ids=["gunicorn", "uvicorn"],
)
def test_example_refuses_to_start_without_configuration(command: list[str]) -> None:
    result = run_python(command)
    assert result.returncode != 0
    assert "examples.django_app cannot start: KINDE_DOMAIN is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_example_refuses_to_start_with_an_http_domain_that_is_not_loopback() -> None:
    result = run_python(
        ["-c", "import examples.django_app.wsgi"], {"KINDE_DOMAIN": "http://acme.kinde.com", "KINDE_AUDIENCE": AUDIENCE}
    )
    assert result.returncode != 0
    assert "uses http:// on a non-loopback host" in result.stderr
    assert "Traceback" not in result.stderr
