"""examples/litestar_app over real HTTP: uvicorn on 127.0.0.1 against a served DevIssuer, held to
the shared case table (tests/example_cases.py) like the other example apps."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from kinde_guard.testing import DevIssuer
from tests.example_contract import *  # noqa: F403  (the shared contract, run against this app)
from tests.servers import import_app, run_python, serve_asgi

AUDIENCE = "https://api.orders.example"
MODULE = "examples.litestar_app.app"


def _load_example(env: dict[str, str]) -> Any:
    return import_app(MODULE, env)


@pytest.fixture(scope="module")
def issuer() -> Iterator[DevIssuer]:
    with DevIssuer(audience=AUDIENCE).serve() as served:
        yield served


@pytest.fixture(scope="module")
def base_url(issuer: DevIssuer) -> Iterator[str]:
    app = _load_example({"KINDE_DOMAIN": issuer.url, "KINDE_AUDIENCE": AUDIENCE})
    with serve_asgi(app) as url:
        yield url


def test_unknown_routes_are_litestars_own_answers_before_any_token_check(base_url: str) -> None:
    # Litestar builds app middleware into each route: a 404 or 405 never reaches the guard.
    assert httpx.get(base_url + "/nope").status_code == 404
    assert httpx.put(base_url + "/public").status_code == 405


def test_openapi_shows_the_oauth2_scheme_and_each_routes_scopes(base_url: str, issuer: DevIssuer) -> None:
    schema = httpx.get(base_url + "/schema/openapi.json").json()
    scheme = schema["components"]["securitySchemes"]["kinde"]
    flow = scheme["flows"]["authorizationCode"]
    assert scheme["type"] == "oauth2"
    assert (flow["authorizationUrl"], flow["tokenUrl"]) == (issuer.url + "/oauth2/auth", issuer.url + "/oauth2/token")
    assert set(flow["scopes"]) == {"read:orders", "write:orders"}
    paths = schema["paths"]
    assert paths["/orders"]["get"]["security"] == [{"kinde": ["read:orders"]}]
    assert paths["/orders"]["post"]["security"] == [{"kinde": ["write:orders"]}]
    assert paths["/me"]["get"]["security"] == [{"kinde": []}]
    assert "security" not in paths["/public"]["get"]


def test_healthz_is_503_when_keys_cannot_be_had(issuer: DevIssuer) -> None:
    app = _load_example({"KINDE_DOMAIN": issuer.url, "KINDE_AUDIENCE": AUDIENCE})
    issuer.jwks_status = 500
    try:
        with serve_asgi(app) as url:
            response = httpx.get(url + "/healthz")
            refused = httpx.get(url + "/me", headers={"Authorization": "Bearer " + issuer.mint()})
    finally:
        issuer.jwks_status = 200
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert refused.status_code == 503
    assert int(refused.headers["retry-after"]) >= 1


def test_the_example_refuses_to_start_without_configuration() -> None:
    result = run_python(["-m", "uvicorn", f"{MODULE}:app"])
    assert result.returncode != 0
    assert "examples.litestar_app cannot start" in result.stderr
    assert "Traceback" not in result.stderr
