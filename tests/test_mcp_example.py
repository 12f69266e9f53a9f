"""examples/mcp_server over real HTTP: uvicorn on 127.0.0.1, a served DevIssuer, and the MCP SDK's
own client (streamable HTTP, the bearer token in an ``Authorization`` header).

The server's resource identifier is its real URL (``http://127.0.0.1:<port>/mcp``), so the
``resource_metadata`` pointer of its challenges can be followed as a client would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from kinde_guard.testing import DevIssuer
from tests.servers import BuildWithURL, import_app, run_python, serve_asgi

ROOT = Path(__file__).resolve().parent.parent
MODULE = "examples.mcp_server.app"


def _load_example(env: dict[str, str]) -> Any:
    return import_app(MODULE, env)


@dataclass
class Served:
    base_url: str
    resource: str
    metadata_url: str


@contextmanager
def _serve_example(issuer: DevIssuer) -> Iterator[Served]:
    """The example served at a URL known before it is built: its ``KINDE_RESOURCE`` must be the
    URL it is really served at."""

    def build(base_url: str) -> Any:
        return _load_example({"KINDE_DOMAIN": issuer.url, "KINDE_RESOURCE": base_url + "/mcp"})

    with serve_asgi(BuildWithURL(build)) as base_url:
        yield Served(base_url, base_url + "/mcp", base_url + "/.well-known/oauth-protected-resource/mcp")


@pytest.fixture(scope="module")
def issuer() -> Iterator[DevIssuer]:
    with DevIssuer().serve() as served:
        yield served


@pytest.fixture(scope="module")
def served(issuer: DevIssuer) -> Iterator[Served]:
    with _serve_example(issuer) as running:
        yield running


@dataclass
class Seen:
    """The HTTP answers the MCP client got: status and WWW-Authenticate of each."""

    answers: list[tuple[int, str | None]] = field(default_factory=list)

    async def record(self, response: httpx2.Response) -> None:
        self.answers.append((response.status_code, response.headers.get("www-authenticate")))


async def _session(url: str, token: str | None, seen: Seen, calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    """Connect the SDK's client to ``url`` (with ``token`` as the bearer, if any) and call the tools."""
    headers = {} if token is None else {"Authorization": "Bearer " + token}
    results: list[Any] = []
    async with (
        httpx2.AsyncClient(headers=headers, event_hooks={"response": [seen.record]}) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        for name, arguments in calls:
            try:
                results.append(await client.call_tool(name, arguments))
            except MCPError as exc:
                results.append(exc)
    return results


def _call(url: str, token: str | None, *calls: str) -> tuple[list[Any], Seen]:
    seen = Seen()
    results = asyncio.run(_session(url, token, seen, [(name, {}) for name in calls]))
    return results, seen


def test_no_token_is_401_pointing_to_the_resource_metadata(served: Served, issuer: DevIssuer) -> None:
    seen = Seen()
    with pytest.raises(ExceptionGroup) as refused:  # the SDK client cannot connect
        asyncio.run(_session(served.resource, None, seen, []))
    assert refused.group_contains(MCPError, depth=2)
    # Every attempt (the SDK probes server/discover, then falls back to initialize) is refused alike.
    assert seen.answers
    assert set(seen.answers) == {(401, f'Bearer realm="mcp", resource_metadata="{served.metadata_url}"')}
    # The pointer leads to the RFC 9728 document, with the scopes the tools need.
    metadata = httpx.get(served.metadata_url)
    assert metadata.status_code == 200
    assert metadata.headers["content-type"] == "application/json"
    assert metadata.json() == {
        "resource": served.resource,
        "authorization_servers": [issuer.issuer],
        "scopes_supported": ["read:orders"],
        "bearer_methods_supported": ["header"],
    }


def test_whoami_answers_any_valid_token_with_its_subject(served: Served, issuer: DevIssuer) -> None:
    token = issuer.mint(aud=[served.resource], scopes=["openid"], sub="kp_whoami_test")
    (result,), seen = _call(served.resource, token, "whoami")
    assert not isinstance(result, MCPError) and not result.is_error
    assert result.structured_content == {
        "sub": "kp_whoami_test",
        "azp": issuer.client_id,
        "scopes": ["openid"],
        "is_m2m": False,
    }
    assert {status for status, _ in seen.answers} == {200}


def test_whoami_answers_an_m2m_token_too(served: Served, issuer: DevIssuer) -> None:
    token = issuer.mint_m2m(aud=[served.resource], scopes=["read:orders"])
    (result,), _ = _call(served.resource, token, "whoami")
    assert result.structured_content == {
        "sub": None,
        "azp": issuer.client_id,
        "scopes": ["read:orders"],
        "is_m2m": True,
    }


def test_list_orders_without_its_scope_is_403_insufficient_scope(served: Served, issuer: DevIssuer) -> None:
    token = issuer.mint(aud=[served.resource], scopes=["openid", "write:orders"])
    (whoami, orders), seen = _call(served.resource, token, "whoami", "list_orders")
    assert not whoami.is_error  # the same token is good enough for the open tool
    assert isinstance(orders, MCPError)
    status, challenge = seen.answers[-1]
    assert status == 403
    assert challenge is not None
    assert challenge.startswith('Bearer realm="mcp", error="insufficient_scope", error_description="')
    assert challenge.endswith(f', scope="read:orders", resource_metadata="{served.metadata_url}"')


def test_list_orders_with_its_scope_lists_the_orders(served: Served, issuer: DevIssuer) -> None:
    token = issuer.mint(aud=[served.resource], scopes=["read:orders"])
    (result,), seen = _call(served.resource, token, "list_orders")
    assert not isinstance(result, MCPError) and not result.is_error
    assert [order["id"] for order in result.structured_content["result"]] == ["ord_1", "ord_2"]
    assert {status for status, _ in seen.answers} == {200}


def test_a_token_for_another_audience_is_401_invalid_token(served: Served, issuer: DevIssuer) -> None:
    token = issuer.mint(aud=["https://api.example.com/other"], scopes=["read:orders"])
    seen = Seen()
    with pytest.raises(ExceptionGroup) as refused:
        asyncio.run(_session(served.resource, token, seen, [("whoami", {})]))
    assert refused.group_contains(MCPError, depth=2)
    status, challenge = seen.answers[0]
    assert status == 401
    assert challenge is not None and 'error="invalid_token"' in challenge
    assert challenge.endswith(f'resource_metadata="{served.metadata_url}"')


def _post(served: Served, token: str, body: bytes) -> httpx.Response:
    headers = {
        "Authorization": "Bearer " + token,
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
    }
    return httpx.post(served.resource, headers=headers, content=body)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        # A batch cannot smuggle the scoped tool past the check.
        (b'[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_orders","arguments":{}}}]', 403),
        # Duplicate keys could be read one way here and another way by the SDK: refused outright.
        (
            b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_orders","name":"whoami"}}',
            400,
        ),
        # The name is read as JSON, escapes and all, not matched as bytes.
        (b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list\\u005forders","arguments":{}}}', 403),
    ],
    ids=["batch", "duplicate-keys", "escaped-name"],
)
def test_the_scope_check_fails_closed_on_odd_bodies(
    served: Served, issuer: DevIssuer, body: bytes, status: int
) -> None:
    token = issuer.mint(aud=[served.resource], scopes=["openid"])
    response = _post(served, token, body)
    assert response.status_code == status
    assert b"ord_1" not in response.content


def test_the_example_refuses_to_start_without_configuration() -> None:
    result = run_python(["-m", "uvicorn", f"{MODULE}:app"])
    assert result.returncode != 0
    assert "examples.mcp_server cannot start: set KINDE_DOMAIN and KINDE_RESOURCE" in result.stderr
    assert "Traceback" not in result.stderr
