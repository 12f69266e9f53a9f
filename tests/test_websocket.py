"""WebSockets from browsers: KindeGuardMiddleware's opt-in token sources (Sec-WebSocket-Protocol, the
access_token query parameter), with a real WebSocket client (the ``websockets`` package) over
uvicorn on 127.0.0.1 and real signed tokens."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from kinde_guard.asgi import KindeGuardMiddleware
from kinde_guard.testing import DevIssuer
from tests.servers import serve_asgi


async def echo(websocket: WebSocket) -> None:
    """Accepts with ``chat`` when offered (else names no subprotocol) and reports what it saw."""
    offered = websocket.scope.get("subprotocols", [])
    await websocket.accept(subprotocol="chat" if "chat" in offered else None)
    claims = websocket.scope["state"]["kinde_claims"]
    await websocket.send_json(
        {
            "sub": None if claims is None else claims.sub,
            "subprotocols": offered,
            "query_string": websocket.scope["query_string"].decode("latin-1"),
        }
    )
    await websocket.close()


async def whoami(request: Request) -> JSONResponse:
    claims = request.state.kinde_claims
    return JSONResponse({"sub": None if claims is None else claims.sub, "query": request.url.query})


def build(issuer: DevIssuer, **options: Any) -> Any:
    app = Starlette(routes=[WebSocketRoute("/ws", echo), Route("/whoami", whoami)])
    return KindeGuardMiddleware(app, guard=issuer.guard(required_scopes=["read:orders"]), **options)


@pytest.fixture(scope="module")
def issuer() -> Iterator[DevIssuer]:
    with DevIssuer().serve() as served:
        yield served


@pytest.fixture(scope="module")
def both(issuer: DevIssuer) -> Iterator[str]:
    """Both browser sources turned on."""
    with serve_asgi(build(issuer, websocket_subprotocol_token=True, websocket_query_token=True)) as url:
        yield url


@pytest.fixture(scope="module")
def subprotocol_only(issuer: DevIssuer) -> Iterator[str]:
    with serve_asgi(build(issuer, websocket_subprotocol_token=True)) as url:
        yield url


@pytest.fixture(scope="module")
def default(issuer: DevIssuer) -> Iterator[str]:
    with serve_asgi(build(issuer)) as url:
        yield url


async def _open(url: str, subprotocols: list[str] | None, headers: dict[str, str] | None) -> tuple[str | None, Any]:
    async with connect(
        url,
        subprotocols=None if subprotocols is None else [Subprotocol(p) for p in subprotocols],
        additional_headers=headers,
        proxy=None,
        open_timeout=10,
    ) as ws:
        return ws.subprotocol, json.loads(await ws.recv())


def opened(
    base_url: str, path: str = "/ws", subprotocols: list[str] | None = None, headers: dict[str, str] | None = None
) -> tuple[str | None, Any]:
    """The accepted subprotocol and what the app reported."""
    return asyncio.run(_open(base_url.replace("http://", "ws://") + path, subprotocols, headers))


def refused(
    base_url: str, path: str = "/ws", subprotocols: list[str] | None = None, headers: dict[str, str] | None = None
) -> tuple[int, str | None, Any]:
    """The HTTP answer a refused handshake got: status, WWW-Authenticate, JSON body."""
    with pytest.raises(InvalidStatus) as caught:
        opened(base_url, path, subprotocols, headers)
    response = caught.value.response
    return response.status_code, response.headers.get("www-authenticate"), json.loads(response.body or b"null")


def good(issuer: DevIssuer, sub: str = "kp_ws") -> str:
    return issuer.mint(scopes=["read:orders"], sub=sub)


def test_a_bearer_pair_is_accepted_and_bearer_echoed(both: str, issuer: DevIssuer) -> None:
    token = good(issuer)
    accepted, seen = opened(both, subprotocols=["bearer", token])
    assert accepted == "bearer"  # the app named none; a browser needs one of its offers echoed
    assert seen == {"sub": "kp_ws", "subprotocols": ["bearer"], "query_string": ""}


def test_the_apps_own_subprotocol_is_echoed_never_the_token(both: str, issuer: DevIssuer) -> None:
    token = good(issuer)
    accepted, seen = opened(both, subprotocols=["chat", "bearer", token])
    assert accepted == "chat"
    assert token not in seen["subprotocols"]
    assert seen["subprotocols"] == ["chat", "bearer"]


def test_one_prefixed_entry_is_accepted_too(both: str, issuer: DevIssuer) -> None:
    token = good(issuer, sub="kp_prefixed")
    accepted, seen = opened(both, subprotocols=["chat", "bearer." + token])
    assert accepted == "chat"
    assert seen["sub"] == "kp_prefixed"
    assert seen["subprotocols"] == ["chat"]


def test_the_authorization_header_still_works_for_non_browser_clients(both: str, issuer: DevIssuer) -> None:
    accepted, seen = opened(both, headers={"Authorization": "Bearer " + good(issuer, sub="kp_header")})
    assert accepted is None
    assert seen["sub"] == "kp_header"


@pytest.mark.parametrize(
    ("make", "status", "error"),
    [
        (lambda i: i.mint(scopes=["read:orders"], expires_in=-3600), 401, "invalid_token"),
        (lambda i: i.mint(scopes=["read:orders"], aud=["https://other.example.com"]), 401, "invalid_token"),
        (lambda i: "not-a-jwt", 401, "invalid_token"),
        (lambda i: i.mint(scopes=["openid"]), 403, "insufficient_scope"),
    ],
    ids=["expired", "audience", "garbage", "missing-scope"],
)
def test_a_bad_subprotocol_token_is_refused_before_accept(
    both: str, issuer: DevIssuer, make: Any, status: int, error: str
) -> None:
    code, challenge, body = refused(both, subprotocols=["bearer", make(issuer)])
    assert code == status
    assert challenge is not None and challenge.startswith(f'Bearer realm="api", error="{error}"')
    assert body["error"] == error


def test_a_query_token_is_accepted_and_hidden_from_the_app(both: str, issuer: DevIssuer) -> None:
    token = good(issuer, sub="kp_query")
    accepted, seen = opened(both, path=f"/ws?room=a%20b&access_token={token}&x=1")
    assert accepted is None
    assert seen["sub"] == "kp_query"
    assert seen["query_string"] == "room=a%20b&x=1"  # the other parameters byte for byte


def test_a_bad_query_token_is_refused(both: str, issuer: DevIssuer) -> None:
    token = issuer.mint(scopes=["openid"])
    assert refused(both, path=f"/ws?access_token={token}")[:1] == (403,)


@pytest.mark.parametrize(
    ("path", "subprotocols", "header"),
    [
        ("/ws", ["bearer", "TOKEN"], True),
        ("/ws?access_token=TOKEN", ["bearer", "TOKEN"], False),
        ("/ws?access_token=TOKEN", None, True),
        ("/ws", ["bearer", "TOKEN", "bearer.TOKEN"], False),
        ("/ws?access_token=TOKEN&access_token=TOKEN", None, False),
        ("/ws", ["chat", "bearer"], False),
    ],
    ids=["header+subprotocol", "query+subprotocol", "query+header", "two-subprotocol-tokens", "two-query", "no-token"],
)
def test_a_token_in_two_places_is_400_invalid_request(
    both: str, issuer: DevIssuer, path: str, subprotocols: list[str] | None, header: bool
) -> None:
    token = good(issuer)
    offered = (
        None if subprotocols is None else [token if p == "TOKEN" else p.replace("TOKEN", token) for p in subprotocols]
    )
    headers = {"Authorization": "Bearer " + token} if header else None
    code, challenge, body = refused(both, path.replace("TOKEN", token), offered, headers)
    assert code == 400
    assert challenge is not None and 'error="invalid_request"' in challenge
    assert body["error"] == "invalid_request"
    assert token not in json.dumps(body) and token not in challenge


def test_the_query_is_not_read_unless_opted_in(subprotocol_only: str, issuer: DevIssuer) -> None:
    token = good(issuer)
    code, challenge, _ = refused(subprotocol_only, path=f"/ws?access_token={token}")
    assert (code, challenge) == (401, 'Bearer realm="api"')  # no credentials at all
    assert opened(subprotocol_only, subprotocols=["bearer", token])[0] == "bearer"


def test_without_opting_in_the_subprotocol_is_not_read_and_left_alone(default: str, issuer: DevIssuer) -> None:
    token = good(issuer)
    assert refused(default, subprotocols=["bearer", token])[:2] == (401, 'Bearer realm="api"')
    assert refused(default, path=f"/ws?access_token={token}")[:2] == (401, 'Bearer realm="api"')
    accepted, seen = opened(default, subprotocols=["chat"], headers={"Authorization": "Bearer " + token})
    assert (accepted, seen["subprotocols"]) == ("chat", ["chat"])


def test_plain_http_never_reads_the_query_parameter(both: str, issuer: DevIssuer) -> None:
    token = good(issuer)
    response = httpx.get(both + "/whoami", params={"access_token": token})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'


def test_plain_http_keeps_the_query_parameter_for_an_anonymous_request(issuer: DevIssuer) -> None:
    app = build(issuer, required=False, websocket_subprotocol_token=True, websocket_query_token=True)
    with serve_asgi(app) as url:
        token = good(issuer)
        response = httpx.get(url + "/whoami", params={"access_token": token, "x": "1"})
    assert response.status_code == 200
    assert response.json() == {"sub": None, "query": f"access_token={token}&x=1"}  # not verified, not removed
