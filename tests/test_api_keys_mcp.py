"""Kinde API keys through the MCP SDK's own auth hook (kinde_guard.mcp.KindeTokenVerifier): what the
verifier builds for a key (client_id = the key id, resource = the configured resource, no expiry),
and the SDK itself, with ``validate_token_resource`` on, accepting a valid key and answering a
revoked one exactly as it answers a refused access token, over real HTTP with the SDK's client."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.exceptions import MCPError

from kinde_guard.mcp import KindeTokenVerifier
from kinde_guard.testing import DevIssuer
from tests.servers import BuildWithURL, serve_asgi

RESOURCE = "https://mcp.example.com/mcp"


@pytest.fixture(scope="module")
def issuer() -> Iterator[DevIssuer]:
    with DevIssuer().serve() as served:
        yield served


def _verify(verifier: KindeTokenVerifier, token: str) -> Any:
    return asyncio.run(verifier.verify_token(token))


def test_an_api_key_becomes_an_access_token_for_the_configured_resource(issuer: DevIssuer) -> None:
    verifier = KindeTokenVerifier(issuer.guard(resource=RESOURCE, api_keys=True))
    key = issuer.create_api_key(scopes=["write:orders", "read:orders"], org_code="org_acme")
    access = _verify(verifier, key)
    record = issuer.api_key_record(key)
    assert access is not None and record is not None
    assert (access.client_id, access.resource, access.subject, access.expires_at) == (
        record.key_id,
        RESOURCE,
        None,
        None,
    )
    assert access.scopes == ["read:orders", "write:orders"] and access.token == key
    assert access.claims["org_code"] == "org_acme" and access.claims["key_id"] == record.key_id
    user_key = issuer.create_api_key(scopes=["read:orders"], user_id="kp_owner")
    assert _verify(verifier, user_key).subject == "kp_owner"
    # Without a resource: the guard's first audience, the API the key was verified for.
    plain = KindeTokenVerifier(issuer.guard(audience=["https://a.example.com", "https://b.example.com"], api_keys=True))
    assert _verify(plain, key).resource == "https://a.example.com"


def test_a_revoked_api_key_is_none_and_logged_without_it(issuer: DevIssuer, caplog: pytest.LogCaptureFixture) -> None:
    verifier = KindeTokenVerifier(issuer.guard(resource=RESOURCE, api_keys=True))
    key = issuer.create_api_key(scopes=["read:orders"])
    issuer.revoke_api_key(key)
    with caplog.at_level(logging.INFO, logger="kinde_guard.mcp"):
        assert _verify(verifier, key) is None
    (record,) = [r for r in caplog.records if r.name == "kinde_guard.mcp"]
    assert record.getMessage() == "Kinde token refused (invalid_token): The API key is revoked."
    assert key not in caplog.text


# -- the SDK's own bearer middleware, resource validation on ------------------------------------


def _app(issuer: DevIssuer, base_url: str) -> Any:
    resource = base_url + "/mcp"
    verifier = KindeTokenVerifier(issuer.guard(resource=resource, api_keys=True))
    server = MCPServer(
        "api-keys",
        token_verifier=verifier,
        auth=AuthSettings.model_validate(
            {
                "issuer_url": issuer.issuer,
                "resource_server_url": resource,
                "required_scopes": ["read:orders"],
                "validate_token_resource": True,  # the SDK compares AccessToken.resource with its URL
            }
        ),
    )

    @server.tool()
    async def whoami() -> dict[str, Any]:
        access = get_access_token()
        assert access is not None
        return {"client_id": access.client_id, "resource": access.resource, "scopes": access.scopes}

    host = base_url.removeprefix("http://")
    security = TransportSecuritySettings(allowed_hosts=[host], allowed_origins=[base_url])
    app = server.streamable_http_app(stateless_http=True, json_response=True, transport_security=security)
    return verifier.install(app)


async def _session(url: str, token: str, answers: list[tuple[int, str | None]]) -> Any:
    async def record(response: httpx2.Response) -> None:
        answers.append((response.status_code, response.headers.get("www-authenticate")))

    headers = {"Authorization": "Bearer " + token}
    async with (
        httpx2.AsyncClient(headers=headers, event_hooks={"response": [record]}) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        return await client.call_tool("whoami", {})


def _refused(url: str, token: str) -> list[tuple[int, str | None]]:
    answers: list[tuple[int, str | None]] = []
    with pytest.raises(ExceptionGroup) as refused:
        asyncio.run(_session(url, token, answers))
    assert refused.group_contains(MCPError, depth=2)
    return answers


def test_the_sdk_accepts_a_valid_key_and_refuses_a_revoked_one_as_it_refuses_a_token(issuer: DevIssuer) -> None:
    with serve_asgi(BuildWithURL(lambda base_url: _app(issuer, base_url))) as base_url:
        url = base_url + "/mcp"
        key = issuer.create_api_key(scopes=["read:orders"], org_code="org_acme")
        answers: list[tuple[int, str | None]] = []
        result = asyncio.run(_session(url, key, answers))
        record = issuer.api_key_record(key)
        assert record is not None and not result.is_error
        assert result.structured_content == {"client_id": record.key_id, "resource": url, "scopes": ["read:orders"]}
        assert {status for status, _ in answers} == {200}

        revoked = issuer.create_api_key(scopes=["read:orders"])
        issuer.revoke_api_key(revoked)
        expired = issuer.mint(aud=[url], scopes=["read:orders"], expires_in=-3600)
        refused = _refused(url, revoked)
        assert refused[0][0] == 401 and (refused[0][1] or "").startswith('Bearer error="invalid_token"')
        assert refused == _refused(url, expired)  # the SDK's one answer for a refused credential
