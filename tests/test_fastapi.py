"""kinde_guard.fastapi over real uvicorn servers: Security scopes, permissions, the one error format."""

# No ``from __future__ import annotations``: FastAPI evaluates route signatures, which name
# ``kinde``, a local of build_app().
import logging
from collections.abc import Iterator, Mapping
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Security

from kinde_guard import Claims, KindeGuard
from kinde_guard.asgi import KindeGuardMiddleware
from kinde_guard.fastapi import KindeAuth
from kinde_guard.testing import DevIssuer, FrozenClock
from tests.servers import serve_asgi

SCOPE_403 = (
    'Bearer realm="api", error="insufficient_scope", error_description="The token lacks the required scope '
    '(all of: read:orders; missing: read:orders).", scope="read:orders"'
)


def build_app(kinde: KindeAuth, *, install: bool = True) -> FastAPI:
    """Routes named after what they need. Built in a function, as users do, with ``kinde`` a local."""
    app = FastAPI(swagger_ui_init_oauth=kinde.swagger_ui_init_oauth(client_id="cid_1"))
    if install:
        kinde.install(app)
    optional = KindeAuth(kinde.guard, auto_error=False)

    @app.get("/me")
    async def me(claims: Annotated[Claims, Security(kinde)]) -> dict[str, Any]:
        return claims.to_dict()

    @app.get("/orders")
    async def orders(claims: Annotated[Claims, Security(kinde, scopes=["read:orders"])]) -> list[str]:
        return sorted(claims.scopes)

    @app.post("/orders")
    async def create(_: Annotated[Claims, Security(kinde, scopes=["read:orders", "write:orders"])]) -> str:
        return "created"

    @app.delete("/orders/{order_id}")
    async def delete(order_id: str, _: Annotated[Claims, Depends(kinde.require_permissions("delete:orders"))]) -> str:
        return order_id

    @app.get("/either")
    async def either(
        _: Annotated[Claims, Depends(kinde.require_permissions("delete:orders", "admin", match="any"))],
    ) -> str:
        return "ok"

    @app.get("/maybe")
    async def maybe(claims: Annotated[Claims | None, Security(optional)]) -> dict[str, Any]:
        return {"sub": None if claims is None else claims.sub}

    return app


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + token}


@pytest.fixture
def guard(served_issuer: DevIssuer, clock: FrozenClock) -> KindeGuard:
    return served_issuer.guard(clock=clock)


@pytest.fixture
def base_url(guard: KindeGuard) -> Iterator[str]:
    with serve_asgi(build_app(KindeAuth(guard))) as url:
        yield url


def test_security_scopes_are_checked_and_claims_returned(base_url: str, served_issuer: DevIssuer) -> None:
    ok = httpx.get(base_url + "/orders", headers=bearer(served_issuer.mint(scopes=["read:orders"])))
    refused = httpx.get(base_url + "/orders", headers=bearer(served_issuer.mint(scopes=["openid"])))
    assert (ok.status_code, ok.json()) == (200, ["read:orders"])
    assert refused.status_code == 403
    assert refused.headers["www-authenticate"] == SCOPE_403
    assert refused.json() == {
        "error": "insufficient_scope",
        "error_description": "The token lacks the required scope (all of: read:orders; missing: read:orders).",
    }


def test_every_scope_of_the_route_is_required(base_url: str, served_issuer: DevIssuer) -> None:
    one = httpx.post(base_url + "/orders", headers=bearer(served_issuer.mint(scopes=["read:orders"])))
    both = httpx.post(base_url + "/orders", headers=bearer(served_issuer.mint(scopes=["read:orders", "write:orders"])))
    assert (one.status_code, both.status_code) == (403, 200)
    assert 'scope="read:orders write:orders"' in one.headers["www-authenticate"]


def test_permissions_are_required_and_scopes_do_not_stand_in(base_url: str, served_issuer: DevIssuer) -> None:
    granted = httpx.delete(base_url + "/orders/o1", headers=bearer(served_issuer.mint(permissions=["delete:orders"])))
    as_scope = httpx.delete(base_url + "/orders/o1", headers=bearer(served_issuer.mint(scopes=["delete:orders"])))
    any_of = httpx.get(base_url + "/either", headers=bearer(served_issuer.mint(permissions=["admin"])))
    anonymous = httpx.delete(base_url + "/orders/o1")
    assert (granted.status_code, granted.json()) == (200, "o1")
    assert as_scope.status_code == 403
    assert as_scope.json()["error"] == "insufficient_scope"
    assert "scope=" not in as_scope.headers["www-authenticate"]
    assert any_of.status_code == 200
    assert (anonymous.status_code, anonymous.headers["www-authenticate"]) == (401, 'Bearer realm="api"')


def test_auto_error_false_gives_none_for_anonymous_but_refuses_bad_tokens(
    base_url: str, served_issuer: DevIssuer
) -> None:
    assert httpx.get(base_url + "/maybe").json() == {"sub": None}
    assert httpx.get(base_url + "/maybe", headers={"Authorization": "Basic eDp5"}).json() == {"sub": None}
    assert httpx.get(base_url + "/maybe", headers=bearer(served_issuer.mint(sub="kp_1"))).json() == {"sub": "kp_1"}
    bad = httpx.get(base_url + "/maybe", headers=bearer(served_issuer.mint(expires_in=-3600)))
    assert bad.status_code == 401
    assert bad.json()["error"] == "invalid_token"


@pytest.mark.parametrize(
    "authorization",
    [None, "Basic eDp5", "Bearer a b", "Bearer not-a-jwt", "expired", "wrong_audience"],
)
def test_dependency_answers_exactly_like_the_middleware(
    base_url: str, guard: KindeGuard, served_issuer: DevIssuer, authorization: str | None
) -> None:
    if authorization == "expired":
        authorization = "Bearer " + served_issuer.mint(expires_in=-3600)
    elif authorization == "wrong_audience":
        authorization = "Bearer " + served_issuer.mint(aud=["https://other.example"])
    headers = {} if authorization is None else {"Authorization": authorization}
    middleware_app = KindeGuardMiddleware(FastAPI(), guard=guard)
    with serve_asgi(middleware_app) as url:
        theirs = httpx.get(url + "/me", headers=headers)
    ours = httpx.get(base_url + "/me", headers=headers)
    assert ours.status_code == theirs.status_code >= 400
    assert ours.content == theirs.content
    assert without_date(ours.headers) == without_date(theirs.headers)


def without_date(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k not in ("date", "server")}


def test_cold_jwks_outage_is_503_with_retry_after(base_url: str, served_issuer: DevIssuer) -> None:
    served_issuer.jwks_status = 500
    response = httpx.get(base_url + "/me", headers=bearer(served_issuer.mint()))
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) >= 1
    assert response.json()["error"] == "temporarily_unavailable"


def test_without_install_refusals_keep_status_and_challenge_and_warn(
    guard: KindeGuard, served_issuer: DevIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    with serve_asgi(build_app(KindeAuth(guard), install=False)) as url, caplog.at_level(logging.WARNING):
        response = httpx.get(url + "/orders", headers=bearer(served_issuer.mint(scopes=[])))
    assert response.status_code == 403
    assert response.headers["www-authenticate"] == SCOPE_403
    assert response.json()["detail"]["error"] == "insufficient_scope"
    assert "kinde.install(app)" in caplog.text


class Events:
    def __init__(self) -> None:
        self.names: list[str] = []

    def __call__(self, name: str, data: Mapping[str, Any]) -> None:
        self.names.append(name)


def test_claims_verified_by_the_middleware_are_not_verified_again(served_issuer: DevIssuer, clock: FrozenClock) -> None:
    events = Events()
    # No token cache, so a second verification would show up as a second event.
    guard = KindeGuard(served_issuer.guard_config(token_cache_size=0), clock=clock, on_event=events)
    app = KindeGuardMiddleware(build_app(KindeAuth(guard)), guard=guard)
    with serve_asgi(app) as url:
        ok = httpx.get(url + "/orders", headers=bearer(served_issuer.mint(scopes=["read:orders"])))
        refused = httpx.get(url + "/orders", headers=bearer(served_issuer.mint(scopes=["openid"])))
    assert ok.status_code == 200
    assert (refused.status_code, refused.headers["www-authenticate"]) == (403, SCOPE_403)
    assert events.names.count("token_verified") == 2  # one per request


def test_openapi_lists_the_scheme_and_each_routes_scopes(guard: KindeGuard, served_issuer: DevIssuer) -> None:
    with serve_asgi(build_app(KindeAuth(guard))) as url:
        schema = httpx.get(url + "/openapi.json").json()
        again = httpx.get(url + "/openapi.json").json()
    assert schema == again
    scheme = schema["components"]["securitySchemes"]["kinde"]
    assert scheme["type"] == "oauth2"
    flow = scheme["flows"]["authorizationCode"]
    assert flow["authorizationUrl"] == served_issuer.url + "/oauth2/auth"
    assert flow["tokenUrl"] == served_issuer.url + "/oauth2/token"
    assert set(flow["scopes"]) == {"read:orders", "write:orders"}
    paths = schema["paths"]
    assert paths["/me"]["get"]["security"] == [{"kinde": []}]
    assert paths["/orders"]["get"]["security"] == [{"kinde": ["read:orders"]}]
    assert paths["/orders"]["post"]["security"] == [{"kinde": ["read:orders", "write:orders"]}]
    assert paths["/orders/{order_id}"]["delete"]["security"] == [{"kinde": []}]


def test_swagger_ui_init_oauth_runs_pkce_with_the_audience(guard: KindeGuard) -> None:
    settings = KindeAuth(guard).swagger_ui_init_oauth(client_id="cid_1", scopes=["openid", "offline"])
    assert settings == {
        "clientId": "cid_1",
        "usePkceWithAuthorizationCodeGrant": True,
        "additionalQueryStringParams": {"audience": "https://api.example.com"},
        "scopes": "openid offline",
    }
