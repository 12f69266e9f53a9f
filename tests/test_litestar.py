"""kinde_guard.litestar beyond the example's table: guards on controllers and routers, opt, the
exclude_opt_key, anonymous requests, a guard's refusal byte-identical to the middleware's, and a
browser WebSocket, over uvicorn on 127.0.0.1 with real signed tokens."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from litestar import Controller, Litestar, Request, Router, WebSocket, get, websocket
from litestar.datastructures import State
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from kinde_guard import AuthError, Claims, Requirements
from kinde_guard.litestar import KindePlugin, requires
from kinde_guard.testing import DevIssuer
from tests.servers import serve_asgi

SERVER_HEADERS = {"date", "server"}


class Reports(Controller):
    path = "/reports"
    guards = [requires(roles=["admin"])]  # noqa: RUF012 - Litestar's own class attribute

    @get("/")
    async def reports(self) -> dict[str, int]:
        return {"orders": 1}


@get("/whoami")
async def whoami(request: Request[Claims | None, Claims | None, State]) -> dict[str, Any]:
    return {"sub": None if request.user is None else request.user.sub, "same": request.auth is request.user}


@get("/open", opt={"exclude_from_auth": True})
async def open_route() -> dict[str, str]:
    return {"ok": "yes"}


@get("/ops", opt={"kinde": {"permissions": ["ops:read"]}})
async def ops() -> dict[str, str]:
    return {"ok": "ops"}


@websocket("/ws")
async def ws(socket: WebSocket[Claims, Claims, State]) -> None:
    await socket.accept(subprotocols="chat" if "chat" in socket.scope.get("subprotocols", []) else None)
    await socket.send_json({"sub": socket.user.sub})
    await socket.close()


def build(issuer: DevIssuer, **options: Any) -> Litestar:
    beta = Router(path="/beta", route_handlers=[whoami], guards=[requires(feature_flags=["beta"])])
    return Litestar(
        route_handlers=[Reports, whoami, open_route, ops, ws, beta],
        plugins=[KindePlugin(issuer.guard(), websocket_subprotocol_token=True, **options)],
    )


@pytest.fixture(scope="module")
def issuer() -> Iterator[DevIssuer]:
    with DevIssuer().serve() as served:
        yield served


@pytest.fixture(scope="module")
def url(issuer: DevIssuer) -> Iterator[str]:
    with serve_asgi(build(issuer)) as base:
        yield base


def auth(token: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + token}


def test_user_and_auth_are_the_verified_claims(url: str, issuer: DevIssuer) -> None:
    response = httpx.get(url + "/whoami", headers=auth(issuer.mint(sub="kp_lite")))
    assert response.json() == {"sub": "kp_lite", "same": True}


def test_a_controller_guard(url: str, issuer: DevIssuer) -> None:
    assert httpx.get(url + "/reports", headers=auth(issuer.mint(roles=["admin"]))).status_code == 200
    refused = httpx.get(url + "/reports", headers=auth(issuer.mint(roles=["viewer"])))
    assert refused.status_code == 403
    assert refused.json()["error"] == "insufficient_scope"


def test_a_router_guard(url: str, issuer: DevIssuer) -> None:
    assert httpx.get(url + "/beta/whoami", headers=auth(issuer.mint(feature_flags={"beta": True}))).status_code == 200
    assert httpx.get(url + "/beta/whoami", headers=auth(issuer.mint())).status_code == 403


def test_opt_as_a_mapping_of_requirements(url: str, issuer: DevIssuer) -> None:
    assert httpx.get(url + "/ops", headers=auth(issuer.mint(permissions=["ops:read"]))).status_code == 200
    assert httpx.get(url + "/ops", headers=auth(issuer.mint(permissions=["other"]))).status_code == 403


def test_the_exclude_opt_key_skips_the_check(url: str) -> None:
    assert httpx.get(url + "/open", headers={"Authorization": "Bearer not-a-jwt"}).json() == {"ok": "yes"}


def test_anonymous_requests_pass_with_required_false_but_guards_still_refuse(issuer: DevIssuer) -> None:
    with serve_asgi(build(issuer, required=False)) as base:
        assert httpx.get(base + "/whoami").json() == {"sub": None, "same": True}
        refused = httpx.get(base + "/reports")
        bad = httpx.get(base + "/whoami", headers={"Authorization": "Bearer not-a-jwt"})
    assert (refused.status_code, refused.headers["www-authenticate"]) == (401, 'Bearer realm="api"')
    assert bad.status_code == 401


def test_a_guards_refusal_is_the_cores_answer_byte_for_byte(url: str, issuer: DevIssuer) -> None:
    # The guard raises, the plugin's exception handler answers: the same bytes as render_error,
    # which every other adapter sends (tests/test_refusals_identical.py holds the middleware path).
    guard = issuer.guard()
    token = issuer.mint(roles=["viewer"])
    with pytest.raises(AuthError) as caught:
        guard.authorize(guard.verify(token), requirements=Requirements(roles=["admin"]))
    expected = guard.render_error(caught.value)
    answer = httpx.get(url + "/reports", headers=auth(token))
    assert answer.status_code == expected.status == 403
    assert answer.content == expected.body
    headers = sorted((k, v) for k, v in answer.headers.items() if k not in SERVER_HEADERS)
    assert headers == sorted(expected.headers)


def test_a_browser_websocket_with_the_bearer_subprotocol(url: str, issuer: DevIssuer) -> None:
    async def talk(offered: list[str]) -> tuple[str | None, Any]:
        async with connect(
            url.replace("http://", "ws://") + "/ws", subprotocols=[Subprotocol(p) for p in offered], proxy=None
        ) as conn:
            return conn.subprotocol, json.loads(await conn.recv())

    token = issuer.mint(sub="kp_ws_lite")
    assert asyncio.run(talk(["chat", "bearer", token])) == ("chat", {"sub": "kp_ws_lite"})
    assert asyncio.run(talk(["bearer", token])) == ("bearer", {"sub": "kp_ws_lite"})
