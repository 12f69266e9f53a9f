"""Kinde API keys over real HTTP through both example apps (FastAPI under uvicorn, Flask under
werkzeug), configured from the environment (``KINDE_API_KEYS``, ``KINDE_M2M_CLIENT_ID``,
``KINDE_M2M_CLIENT_SECRET``), against the dev issuer playing Kinde."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

import httpx
import pytest

from kinde_guard import GuardConfig, InvalidTokenError, KindeGuard
from kinde_guard.testing import DevIssuer
from tests.servers import import_app, serve_asgi
from tests.wsgi_servers import serve_wsgi

AUDIENCE = "https://api.example.com"
TIMEOUT = 0.5
MODULES = {"fastapi": "examples.fastapi_app.app", "flask": "examples.flask_app.app"}


def serve(kind: str, app: Any) -> AbstractContextManager[str]:
    return serve_asgi(app) if kind == "fastapi" else serve_wsgi(app)


@pytest.fixture(params=["fastapi", "flask"])
def example(request: pytest.FixtureRequest) -> Iterator[tuple[DevIssuer, str]]:
    with DevIssuer(audience=AUDIENCE).serve() as issuer:
        env = {
            "KINDE_DOMAIN": issuer.url,
            "KINDE_AUDIENCE": AUDIENCE,
            "KINDE_API_KEYS": "true",
            "KINDE_M2M_CLIENT_ID": issuer.m2m_client_id,
            "KINDE_M2M_CLIENT_SECRET": issuer.m2m_client_secret,
            "KINDE_HTTP_TIMEOUT": str(TIMEOUT),
            "KINDE_API_KEY_CACHE_TTL": "1",
        }
        with serve(request.param, import_app(MODULES[request.param], env)) as url:
            yield issuer, url


def call(url: str, value: str | None, method: str = "GET", path: str = "/orders") -> httpx.Response:
    headers = {"Authorization": f"Bearer {value}"} if value else {}
    body = {"item": "book", "quantity": 1} if method == "POST" else None
    return httpx.request(method, url + path, headers=headers, json=body, timeout=10)


def test_api_keys_through_the_example(example: tuple[DevIssuer, str], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    issuer, url = example
    reader = issuer.create_api_key(scopes=["read:orders"], org_code="org_acme")
    revoked = issuer.create_api_key(scopes=["read:orders"], status="revoked")
    unknown = "k_live_" + secrets.token_urlsafe(24)
    answers = []

    ok = call(url, reader)
    assert ok.status_code == 200, ok.text
    me = call(url, reader, path="/me")
    assert me.status_code == 200 and me.json()["scopes"] == ["read:orders"] and me.json()["org_code"] == "org_acme"
    for key in (revoked, unknown):
        refused = call(url, key)
        answers.append(refused)
        assert refused.status_code == 401 and refused.json()["error"] == "invalid_token"
        assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    forbidden = call(url, reader, method="POST")
    answers.append(forbidden)
    assert forbidden.status_code == 403 and forbidden.json()["error"] == "insufficient_scope"
    assert 'scope="write:orders"' in forbidden.headers["www-authenticate"]
    # The JWT path is unchanged.
    assert call(url, issuer.mint(scp=["read:orders"])).status_code == 200
    # Kinde fails: the cached key keeps working past its TTL; an unknown key gets 503 in time.
    issuer.api_key_verify_status = 500
    time.sleep(1.1)
    assert call(url, reader).status_code == 200
    started = time.monotonic()
    outage = call(url, issuer.create_api_key(scopes=["read:orders"]))
    answers.append(outage)
    assert outage.status_code == 503 and int(outage.headers["retry-after"]) >= 1
    assert time.monotonic() - started < TIMEOUT + 1.0
    issuer.api_key_verify_status = 200
    issuer.api_key_verify_hang = 5.0
    time.sleep(0.1)
    assert call(url, reader).status_code == 200
    text = "\n".join(
        [r.getMessage() + repr(r.args) for r in caplog.records] + [repr(a.headers) + a.text for a in answers]
    )
    for key in (reader, revoked, unknown):
        assert key not in text


def test_the_plugin_fixture(kinde_api_key: Any) -> None:
    key = kinde_api_key(scopes=["read:orders"], user_id="kp_jane")
    guard = KindeGuard(GuardConfig.from_env())
    claims = guard.authenticate(f"Bearer {key}", scopes=["read:orders"])
    assert (claims.credential, claims.sub) == ("api_key", "kp_jane")


def test_the_readme_snippet(kinde_api_key: Any, kinde_issuer: DevIssuer) -> None:
    import importlib
    import sys

    sys.modules.pop("examples.snippets.api_keys", None)
    snippet = importlib.import_module("examples.snippets.api_keys")
    key = kinde_api_key(scopes=["read:orders"], org_code="org_acme")
    claims = snippet.read_orders(f"Bearer {key}")
    assert (claims.credential, claims.org_code) == ("api_key", "org_acme")
    assert snippet.read_orders("Bearer " + kinde_issuer.mint(scp=["read:orders"])).credential == "access_token"
    with pytest.raises(InvalidTokenError):
        snippet.guard.authenticate(f"Bearer {key}", requirements=snippet.only_tokens)
