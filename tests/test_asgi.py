"""kinde_guard.asgi over real uvicorn servers: KindeGuardMiddleware and KindeAuthBackend."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from kinde_guard import KindeGuard
from kinde_guard.asgi import KindeAuthBackend, KindeGuardMiddleware
from kinde_guard.testing import DevIssuer, FrozenClock
from tests.servers import serve_asgi

BARE = 'Bearer realm="api"'
EXPIRED = (
    'Bearer realm="api", error="invalid_token", '
    'error_description="The \\"exp\\" claim is in the past: the token expired."'
)


async def whoami(request: Request) -> JSONResponse:
    claims = request.state.kinde_claims
    return JSONResponse(
        {
            "authenticated": request.user.is_authenticated,
            "user": request.user.display_name,
            "scopes": sorted(request.auth.scopes),
            "sub": None if claims is None else claims.sub,
        }
    )


@requires("read:orders")
async def orders(request: Request) -> JSONResponse:
    return JSONResponse([{"id": "ord_1"}])


async def echo_socket(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(websocket.user.display_name)
    await websocket.close()


ROUTES = [
    Route("/me", whoami),
    Route("/orders", orders),
    Route("/health", whoami),
    Route("/health/deep", whoami),
    Route("/static/app.css", whoami),
    Route("/staticky", whoami),
    WebSocketRoute("/ws", echo_socket),
]


def guarded(guard: KindeGuard, **options: Any) -> KindeGuardMiddleware:
    return KindeGuardMiddleware(Starlette(routes=ROUTES), guard=guard, **options)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + token}


@pytest.fixture
def guard(served_issuer: DevIssuer, clock: FrozenClock) -> KindeGuard:
    return served_issuer.guard(clock=clock)


@pytest.fixture
def base_url(guard: KindeGuard) -> Iterator[str]:
    with serve_asgi(guarded(guard, public_paths=("/health", "/static/"))) as url:
        yield url


# -- http ---------------------------------------------------------------------------------------


def test_verified_claims_reach_request_user_auth_and_state(base_url: str, served_issuer: DevIssuer) -> None:
    token = served_issuer.mint(scopes=["openid", "read:orders"], sub="kp_jane")
    body = httpx.get(base_url + "/me", headers=bearer(token)).json()
    assert body == {
        "authenticated": True,
        "user": "kp_jane",
        "scopes": ["authenticated", "openid", "read:orders"],
        "sub": "kp_jane",
    }


def test_requires_decorator_sees_the_token_scopes(base_url: str, served_issuer: DevIssuer) -> None:
    allowed = httpx.get(base_url + "/orders", headers=bearer(served_issuer.mint(scopes=["read:orders"])))
    # The scope only in ``permissions`` does not count as a scope.
    denied = httpx.get(
        base_url + "/orders", headers=bearer(served_issuer.mint(scopes=["openid"], permissions=["read:orders"]))
    )
    assert (allowed.status_code, allowed.json()) == (200, [{"id": "ord_1"}])
    assert denied.status_code == 403


def test_missing_token_gets_the_bare_challenge(base_url: str) -> None:
    response = httpx.get(base_url + "/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == BARE
    assert response.json() == {"error": "unauthorized", "error_description": "A bearer token is required."}


def test_expired_token_is_401_with_the_exact_challenge(base_url: str, served_issuer: DevIssuer) -> None:
    token = served_issuer.mint(expires_in=-3600)
    response = httpx.get(base_url + "/me", headers={"Authorization": "bearer " + token})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == EXPIRED
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["error"] == "invalid_token"
    assert token not in response.text


def test_two_authorization_headers_are_an_invalid_request(base_url: str, served_issuer: DevIssuer) -> None:
    token = served_issuer.mint()
    headers = [("Authorization", "Bearer " + token), ("Authorization", "Bearer " + token)]
    response = httpx.get(base_url + "/me", headers=headers)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    ("path", "status"),
    [("/health", 200), ("/health/deep", 401), ("/static/app.css", 200), ("/staticky", 401), ("/me", 401)],
)
def test_public_paths_are_exact_or_prefixes_ending_in_slash(base_url: str, path: str, status: int) -> None:
    assert httpx.get(base_url + path).status_code == status


def test_public_path_is_not_verified_even_with_a_bad_token(base_url: str) -> None:
    response = httpx.get(base_url + "/health", headers=bearer("not-a-jwt"))
    assert response.status_code == 200
    assert response.json()["authenticated"] is False


def test_public_paths_are_relative_to_a_mounted_app(guard: KindeGuard) -> None:
    app = Starlette(routes=[Mount("/api", app=guarded(guard, public_paths=("/health",)))])
    with serve_asgi(app) as url:
        public = httpx.get(url + "/api/health")
        guarded_path = httpx.get(url + "/api/me")
    assert (public.status_code, guarded_path.status_code) == (200, 401)


def test_m2m_caller_is_named_by_its_client_id(base_url: str, served_issuer: DevIssuer) -> None:
    body = httpx.get(base_url + "/me", headers=bearer(served_issuer.mint_m2m(scopes=["read:orders"]))).json()
    assert (body["authenticated"], body["user"], body["sub"]) == (True, served_issuer.client_id, None)


def test_public_paths_must_be_paths() -> None:
    guard = KindeGuard(domain="https://acme.kinde.com", audience="https://api.acme.com")
    with pytest.raises(TypeError):
        KindeGuardMiddleware(Starlette(), guard=guard, public_paths="/health")


def test_optional_auth_lets_anonymous_in_but_refuses_bad_tokens(guard: KindeGuard, served_issuer: DevIssuer) -> None:
    with serve_asgi(guarded(guard, required=False)) as url:
        anonymous = httpx.get(url + "/me")
        basic = httpx.get(url + "/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})
        bad = httpx.get(url + "/me", headers=bearer(served_issuer.mint(expires_in=-3600)))
        good = httpx.get(url + "/me", headers=bearer(served_issuer.mint(sub="kp_1")))
        requires_scope = httpx.get(url + "/orders")
    assert anonymous.status_code == 200
    assert anonymous.json() == {"authenticated": False, "user": "", "scopes": [], "sub": None}
    assert basic.json()["authenticated"] is False
    assert (bad.status_code, bad.headers["www-authenticate"]) == (401, EXPIRED)
    assert good.json()["sub"] == "kp_1"
    assert requires_scope.status_code == 403  # Starlette's @requires, for an anonymous caller


def test_cache_hits_still_meet_the_guards_requirements(served_issuer: DevIssuer, clock: FrozenClock) -> None:
    guard = served_issuer.guard(clock=clock, required_scopes=["read:orders"], allow_m2m=False)
    user = served_issuer.mint(scopes=["read:orders"], sub="kp_1")
    machine = served_issuer.mint_m2m(scopes=["read:orders"])
    unscoped = served_issuer.mint(scopes=["openid"])
    with serve_asgi(guarded(guard)) as url:
        statuses = [
            httpx.get(url + "/me", headers=bearer(token)).status_code
            for _ in range(3)  # the first round misses the cache, the others hit it
            for token in (user, machine, unscoped)
        ]
    assert statuses == [200, 403, 403] * 3


def test_refusals_never_log_the_token(
    base_url: str, served_issuer: DevIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    token = served_issuer.mint(expires_in=-3600)
    with caplog.at_level(logging.DEBUG, logger="kinde_guard"):
        httpx.get(base_url + "/me", headers=bearer(token))
    assert "token refused" in caplog.text
    assert token not in caplog.text
    assert token.split(".")[2] not in caplog.text


def test_a_jwks_fetch_does_not_block_the_event_loop(served_issuer: DevIssuer, clock: FrozenClock) -> None:
    served_issuer.jwks_hang = 1.5
    guard = served_issuer.guard(clock=clock)
    with serve_asgi(guarded(guard, public_paths=("/health",))) as url:
        slow: list[httpx.Response] = []
        waiting = threading.Thread(
            target=lambda: slow.append(httpx.get(url + "/me", headers=bearer(served_issuer.mint()), timeout=10))
        )
        waiting.start()
        time.sleep(0.3)  # the first request is now waiting for the JWKS
        started = time.monotonic()
        assert httpx.get(url + "/health").status_code == 200
        elapsed = time.monotonic() - started
        waiting.join()
    assert elapsed < 0.8
    assert slow[0].status_code == 200


# -- JWKS outages -------------------------------------------------------------------------------


def test_jwks_outage_keeps_serving_cached_keys(served_issuer: DevIssuer, clock: FrozenClock) -> None:
    guard = served_issuer.guard(clock=clock, token_cache_size=0)
    with serve_asgi(guarded(guard)) as url:
        assert httpx.get(url + "/me", headers=bearer(served_issuer.mint())).status_code == 200
        served_issuer.jwks_status = 500
        clock.advance(3 * 3600)  # past the keys' max-age: the next request wants a refresh
        stale = httpx.get(url + "/me", headers=bearer(served_issuer.mint()))
        deadline = time.monotonic() + 5
        while guard.key_set_state().last_error is None and time.monotonic() < deadline:
            time.sleep(0.02)  # the refresh runs in the background
        after = httpx.get(url + "/me", headers=bearer(served_issuer.mint()))
    assert (stale.status_code, after.status_code) == (200, 200)
    assert served_issuer.jwks_fetches == 2
    assert "500" in (guard.key_set_state().last_error or "")


def test_cold_jwks_outage_is_503_with_retry_after(served_issuer: DevIssuer, guard: KindeGuard) -> None:
    served_issuer.jwks_status = 500
    with serve_asgi(guarded(guard)) as url:
        response = httpx.get(url + "/me", headers=bearer(served_issuer.mint()))
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) >= 1
    assert "www-authenticate" not in response.headers
    assert response.json() == {
        "error": "temporarily_unavailable",
        "error_description": "The API cannot verify tokens right now; retry later.",
    }


# -- lifespan -----------------------------------------------------------------------------------


def test_lifespan_passes_through_untouched(guard: KindeGuard, served_issuer: DevIssuer) -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        events.append("startup")
        yield {"greeting": "hello"}
        events.append("shutdown")

    async def greet(request: Request) -> JSONResponse:
        return JSONResponse({"greeting": request.state.greeting, "sub": request.state.kinde_claims.sub})

    app = KindeGuardMiddleware(Starlette(routes=[Route("/greet", greet)], lifespan=lifespan), guard=guard)
    with serve_asgi(app, lifespan="on") as url:
        assert events == ["startup"]
        body = httpx.get(url + "/greet", headers=bearer(served_issuer.mint(sub="kp_1"))).json()
    assert body == {"greeting": "hello", "sub": "kp_1"}
    assert events == ["startup", "shutdown"]


# -- websockets ---------------------------------------------------------------------------------


def ws_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://") + "/ws"


def test_websocket_with_a_valid_token_is_accepted(base_url: str, served_issuer: DevIssuer) -> None:
    with connect(ws_url(base_url), additional_headers=bearer(served_issuer.mint(sub="kp_ws"))) as ws:
        assert ws.recv(timeout=5) == "kp_ws"


@pytest.mark.parametrize(
    ("token", "status", "challenge"),
    [(None, 401, BARE), ("expired", 401, EXPIRED)],
)
def test_websocket_with_a_bad_token_is_refused_before_accept_with_http_answer(
    base_url: str, served_issuer: DevIssuer, token: str | None, status: int, challenge: str
) -> None:
    headers = {} if token is None else bearer(served_issuer.mint(expires_in=-3600))
    with pytest.raises(InvalidStatus) as refused:
        connect(ws_url(base_url), additional_headers=headers, open_timeout=5)
    response = refused.value.response
    assert response.status_code == status
    assert response.headers["WWW-Authenticate"] == challenge
    assert json.loads(response.body or b"{}")["error"] == ("unauthorized" if token is None else "invalid_token")


def test_websocket_refused_with_close_1008_when_the_server_cannot_send_http(guard: KindeGuard) -> None:
    inner = guarded(guard)

    async def without_denial_extension(scope: Scope, receive: Receive, send: Send) -> None:
        scope = {**scope, "extensions": {}}  # a server without "websocket.http.response"
        await inner(scope, receive, send)

    with serve_asgi(without_denial_extension) as url, pytest.raises(InvalidStatus) as refused:
        connect(ws_url(url), open_timeout=5)
    # Before accept, the ASGI server turns the close into a plain 403 (ASGI spec).
    assert refused.value.response.status_code == 403


def test_websocket_refusal_sends_close_1008_without_the_extension(guard: KindeGuard) -> None:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/ws", "headers": [], "extensions": {}}
    asyncio.run(guarded(guard)(scope, receive, send))
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": ""}]


# -- KindeAuthBackend ---------------------------------------------------------------------------


def backend_app(guard: KindeGuard, **options: Any) -> Starlette:
    backend = KindeAuthBackend(guard, **options)
    middleware = [Middleware(AuthenticationMiddleware, backend=backend, on_error=backend.on_error)]
    return Starlette(routes=ROUTES, middleware=middleware)


def test_auth_backend_answers_like_the_middleware(base_url: str, guard: KindeGuard, served_issuer: DevIssuer) -> None:
    expired = bearer(served_issuer.mint(expires_in=-3600))
    malformed = {"Authorization": "Bearer a b"}
    with serve_asgi(backend_app(guard)) as url:
        via_backend = [httpx.get(url + "/me", headers=h) for h in (expired, malformed)]
    via_middleware = [httpx.get(base_url + "/me", headers=h) for h in (expired, malformed)]
    for ours, theirs in zip(via_backend, via_middleware, strict=True):
        assert ours.status_code == theirs.status_code
        assert ours.content == theirs.content
        assert dict(ours.headers) | {"date": ""} == dict(theirs.headers) | {"date": ""}
    assert [r.status_code for r in via_backend] == [401, 400]


def test_auth_backend_sets_user_scopes_and_claims(guard: KindeGuard, served_issuer: DevIssuer) -> None:
    with serve_asgi(backend_app(guard)) as url:
        me = httpx.get(url + "/me", headers=bearer(served_issuer.mint(scopes=["read:orders"], sub="kp_b"))).json()
        allowed = httpx.get(url + "/orders", headers=bearer(served_issuer.mint(scopes=["read:orders"])))
        anonymous = httpx.get(url + "/me").json()
    assert me == {"authenticated": True, "user": "kp_b", "scopes": ["authenticated", "read:orders"], "sub": "kp_b"}
    assert allowed.status_code == 200
    assert anonymous["authenticated"] is False


def test_auth_backend_can_require_a_token(guard: KindeGuard) -> None:
    with serve_asgi(backend_app(guard, required=True)) as url:
        response = httpx.get(url + "/me")
    assert (response.status_code, response.headers["www-authenticate"]) == (401, BARE)
