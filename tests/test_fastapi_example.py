"""examples/fastapi_app over real HTTP: uvicorn on 127.0.0.1 against a served DevIssuer.

The cases come from tests/example_cases.py, the table the Flask example is held to as well.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kinde_guard.testing import DevIssuer
from tests.example_contract import *  # noqa: F403  (the shared contract, run against this app)
from tests.servers import import_app, run_python, serve_asgi

AUDIENCE = "https://api.orders.example"
ROOT = Path(__file__).resolve().parent.parent
MODULE = "examples.fastapi_app.app"


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


def test_bad_order_body_is_a_422_not_a_crash(base_url: str, issuer: DevIssuer) -> None:
    auth = {"Authorization": "Bearer " + issuer.mint(scopes=["write:orders"])}
    response = httpx.post(base_url + "/orders", headers=auth, json={"quantity": -5})
    assert response.status_code == 422


def test_healthz_is_503_when_keys_cannot_be_had(issuer: DevIssuer) -> None:
    app = _load_example({"KINDE_DOMAIN": issuer.url, "KINDE_AUDIENCE": AUDIENCE})
    issuer.jwks_status = 500
    try:
        with serve_asgi(app) as url:
            response = httpx.get(url + "/healthz")
            again = httpx.get(url + "/healthz")
    finally:
        issuer.jwks_status = 200
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert "500" in response.json()["keys"]["last_error"]
    assert again.status_code == 503


def test_cold_jwks_outage_answers_503_with_retry_after(issuer: DevIssuer) -> None:
    app = _load_example({"KINDE_DOMAIN": issuer.url, "KINDE_AUDIENCE": AUDIENCE})
    issuer.jwks_status = 503
    try:
        with serve_asgi(app) as url:
            response = httpx.get(url + "/me", headers={"Authorization": "Bearer " + issuer.mint()})
    finally:
        issuer.jwks_status = 200
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) >= 1
    assert "www-authenticate" not in response.headers
    assert response.json()["error"] == "temporarily_unavailable"


def test_swagger_sign_in_is_configured_from_the_environment(issuer: DevIssuer) -> None:
    app = _load_example({"KINDE_DOMAIN": issuer.url, "KINDE_AUDIENCE": AUDIENCE, "KINDE_CLIENT_ID": "cid_123"})
    with serve_asgi(app) as url:
        docs = httpx.get(url + "/docs").text
        schema = httpx.get(url + "/openapi.json").json()
    assert '"clientId": "cid_123"' in docs
    assert '"usePkceWithAuthorizationCodeGrant": true' in docs
    assert f'"audience": "{AUDIENCE}"' in docs
    flow = schema["components"]["securitySchemes"]["kinde"]["flows"]["authorizationCode"]
    assert flow["authorizationUrl"] == issuer.url + "/oauth2/auth"
    assert flow["tokenUrl"] == issuer.url + "/oauth2/token"
    assert {"read:orders", "write:orders"} <= set(flow["scopes"])
    assert schema["paths"]["/orders"]["get"]["security"] == [{"kinde": ["read:orders"]}]
    assert schema["paths"]["/orders"]["post"]["security"] == [{"kinde": ["write:orders"]}]
    assert schema["paths"]["/orders/{order_id}"]["delete"]["security"] == [{"kinde": []}]
    assert "security" not in schema["paths"]["/public"]["get"]


def test_example_refuses_to_start_without_configuration() -> None:
    result = run_python(["-m", "uvicorn", f"{MODULE}:app"])
    assert result.returncode != 0
    assert "KINDE_DOMAIN is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_docs_pages_and_their_files_are_served_by_the_app_itself(base_url: str) -> None:
    for page in ("/docs", "/redoc"):
        html = httpx.get(base_url + page).text
        # Every script, style sheet and icon comes from this app: no CDN, so the page works offline.
        files = re.findall(r"""(?:src|href)=["']([^"']+)""", html)
        assert files and all(url.startswith("/docs-assets/") for url in files), (page, files)
        assert "cdn.jsdelivr.net" not in html and "fonts.googleapis.com" not in html
    for name, kind in [("swagger-ui-bundle.js", "javascript"), ("swagger-ui.css", "css"), ("favicon.png", "png")]:
        asset = httpx.get(f"{base_url}/docs-assets/{name}")
        assert asset.status_code == 200 and kind in asset.headers["content-type"] and len(asset.content) > 1000
    redirect = httpx.get(base_url + "/docs/oauth2-redirect")
    assert redirect.status_code == 200 and "swaggerUIRedirectOauth2" in redirect.text
