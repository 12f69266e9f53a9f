"""kinde_guard.mcp.KindeTokenVerifier: the MCP SDK's TokenVerifier protocol with real signed tokens,
and examples/mcp_server/sdk_auth.py (the SDK-native wiring) over real HTTP with the SDK's own client.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.auth.provider import TokenVerifier
from mcp.shared.exceptions import MCPError

from kinde_guard import Claims, JWKSError
from kinde_guard.mcp import KindeTokenVerifier
from kinde_guard.testing import DevIssuer
from tests.servers import BuildWithURL, import_app, run_python, serve_asgi

MODULE = "examples.mcp_server.sdk_auth"
RESOURCE = "https://mcp.example.com/mcp"


# -- the verifier on its own --------------------------------------------------------------------


def _verify(verifier: KindeTokenVerifier, token: str) -> Any:
    return asyncio.run(verifier.verify_token(token))


def test_the_verifier_is_the_sdks_token_verifier() -> None:
    # The protocol's one method, with its signature: what MCPServer(token_verifier=...) calls.
    def typed(verifier: TokenVerifier) -> TokenVerifier:
        return verifier

    assert asyncio.iscoroutinefunction(KindeTokenVerifier.verify_token)
    typed(KindeTokenVerifier(DevIssuer().guard()))  # mypy --strict checks the structural match


def test_a_user_token_becomes_an_access_token(issuer: DevIssuer) -> None:
    verifier = KindeTokenVerifier(issuer.guard(resource=RESOURCE))
    token = issuer.mint(aud=["https://api.example.com", RESOURCE], scopes=["read:orders", "openid"], sub="kp_1")
    access = _verify(verifier, token)
    assert access is not None
    assert access.token == token
    assert access.client_id == issuer.client_id
    assert access.scopes == ["openid", "read:orders"]
    assert access.subject == "kp_1"
    assert access.resource == RESOURCE  # the configured resource, though the token names another audience first
    assert access.expires_at == int(Claims.from_payload(access.claims).expires_at or 0)
    assert access.claims["iss"] == issuer.issuer
    assert Claims.from_payload(access.claims).sub == "kp_1"


def test_the_resource_is_the_matched_audience_without_a_configured_resource(issuer: DevIssuer) -> None:
    verifier = KindeTokenVerifier(issuer.guard(audience=["https://a.example.com", "https://b.example.com"]))
    access = _verify(verifier, issuer.mint(aud=["https://other.example.com", "https://b.example.com"]))
    assert access is not None and access.resource == "https://b.example.com"


def test_an_m2m_token_has_no_subject_and_its_client_as_client_id(issuer: DevIssuer) -> None:
    verifier = KindeTokenVerifier(issuer.guard())
    access = _verify(verifier, issuer.mint_m2m(scopes=["read:orders"]))
    assert access is not None
    assert (access.subject, access.client_id, access.scopes) == (None, issuer.client_id, ["read:orders"])


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda i: i.mint(expires_in=-3600), "invalid_token"),
        (lambda i: i.mint(aud=["https://other.example.com"]), "invalid_token"),
        (lambda i: i.mint(iss="https://evil.example.com"), "invalid_token"),
        (lambda i: i.mint()[:-8] + "AAAAAAAA", "invalid_token"),
        (lambda i: "not-a-jwt", "invalid_token"),
        (lambda i: "", "invalid_token"),
    ],
    ids=["expired", "audience", "issuer", "signature", "garbage", "empty"],
)
def test_a_refused_token_is_none_and_its_reason_is_logged_without_it(
    issuer: DevIssuer, caplog: pytest.LogCaptureFixture, make: Any, reason: str
) -> None:
    verifier = KindeTokenVerifier(issuer.guard())
    token = make(issuer)
    with caplog.at_level(logging.INFO, logger="kinde_guard.mcp"):
        assert _verify(verifier, token) is None
    records = [r for r in caplog.records if r.name == "kinde_guard.mcp"]
    assert len(records) == 1
    assert records[0].getMessage().startswith(f"Kinde token refused ({reason}): ")
    if token:
        assert token not in caplog.text and token[-20:] not in caplog.text


def test_no_signing_key_outside_install_is_none_with_an_error_logged(
    issuer: DevIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    issuer.jwks_status = 500
    verifier = KindeTokenVerifier(issuer.guard())
    token = issuer.mint()
    with caplog.at_level(logging.INFO, logger="kinde_guard.mcp"):
        assert _verify(verifier, token) is None
    (record,) = [r for r in caplog.records if r.name == "kinde_guard.mcp"]
    assert record.levelno == logging.ERROR
    assert "KindeTokenVerifier.install(app)" in record.getMessage()
    assert token not in caplog.text


# -- examples/mcp_server/sdk_auth.py over real HTTP ---------------------------------------------


@dataclass
class Served:
    base_url: str
    resource: str
    metadata_url: str


@dataclass
class Seen:
    answers: list[tuple[int, str | None]] = field(default_factory=list)

    async def record(self, response: httpx2.Response) -> None:
        self.answers.append((response.status_code, response.headers.get("www-authenticate")))


@contextmanager
def _serve(issuer: DevIssuer, **options: Any) -> Iterator[Served]:
    """The SDK-wired example at a URL known before it is built (its resource is its real URL);
    built from the environment as uvicorn does, or with ``create_app(guard, **options)``."""

    def build(base_url: str) -> Any:
        env = {"KINDE_DOMAIN": issuer.url, "KINDE_RESOURCE": base_url + "/mcp"}
        if not options:
            return import_app(MODULE, env)
        create_app = import_app(MODULE, env, attribute="create_app")
        return create_app(issuer.guard(resource=base_url + "/mcp"), **options)

    with serve_asgi(BuildWithURL(build)) as base_url:
        yield Served(base_url, base_url + "/mcp", base_url + "/.well-known/oauth-protected-resource/mcp")


@pytest.fixture(scope="module")
def sdk_issuer() -> Iterator[DevIssuer]:
    with DevIssuer().serve() as served:
        yield served


@pytest.fixture(scope="module")
def served(sdk_issuer: DevIssuer) -> Iterator[Served]:
    with _serve(sdk_issuer) as running:
        yield running


async def _session(url: str, token: str | None, seen: Seen, calls: list[str]) -> list[Any]:
    headers = {} if token is None else {"Authorization": "Bearer " + token}
    results: list[Any] = []
    async with (
        httpx2.AsyncClient(headers=headers, event_hooks={"response": [seen.record]}) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        for name in calls:
            try:
                results.append(await client.call_tool(name, {}))
            except MCPError as exc:
                results.append(exc)
    return results


def _call(url: str, token: str | None, *calls: str) -> tuple[list[Any], Seen]:
    seen = Seen()
    return asyncio.run(_session(url, token, seen, list(calls))), seen


def _refused(url: str, token: str | None) -> Seen:
    """The SDK's client cannot even connect: every answer it got is kept."""
    seen = Seen()
    with pytest.raises(ExceptionGroup) as refused:
        asyncio.run(_session(url, token, seen, ["whoami"]))
    assert refused.group_contains(MCPError, depth=2)
    assert seen.answers
    return seen


def test_sdk_wiring_no_token_is_the_sdks_401_with_its_resource_metadata(served: Served, sdk_issuer: DevIssuer) -> None:
    seen = _refused(served.resource, None)
    challenge = f'Bearer error="invalid_token", error_description="Authentication required", resource_metadata="{served.metadata_url}"'
    assert set(seen.answers) == {(401, challenge)}
    metadata = httpx.get(served.metadata_url)
    assert metadata.status_code == 200
    assert metadata.json()["resource"] == served.resource
    assert metadata.json()["authorization_servers"] == [sdk_issuer.issuer]


def test_sdk_wiring_whoami_answers_a_valid_token(served: Served, sdk_issuer: DevIssuer) -> None:
    token = sdk_issuer.mint(aud=[served.resource], scopes=["openid"], sub="kp_sdk_wiring")
    (result,), seen = _call(served.resource, token, "whoami")
    assert not isinstance(result, MCPError) and not result.is_error
    assert result.structured_content == {
        "sub": "kp_sdk_wiring",
        "azp": sdk_issuer.client_id,
        "scopes": ["openid"],
        "is_m2m": False,
    }
    assert {status for status, _ in seen.answers} == {200}


def test_sdk_wiring_a_tool_without_its_scope_is_a_tool_error(served: Served, sdk_issuer: DevIssuer) -> None:
    token = sdk_issuer.mint(aud=[served.resource], scopes=["openid"])
    (result,), seen = _call(served.resource, token, "list_orders")
    assert not isinstance(result, MCPError)
    assert result.is_error
    assert "read:orders" in result.content[0].text
    assert "ord_1" not in result.content[0].text
    assert {status for status, _ in seen.answers} == {200}  # the SDK's way: no HTTP step-up challenge


def test_sdk_wiring_a_tool_with_its_scope_answers(served: Served, sdk_issuer: DevIssuer) -> None:
    token = sdk_issuer.mint_m2m(aud=[served.resource], scopes=["read:orders"])
    (result,), _ = _call(served.resource, token, "list_orders")
    assert not isinstance(result, MCPError) and not result.is_error
    assert [order["id"] for order in result.structured_content["result"]] == ["ord_1", "ord_2"]


@pytest.mark.parametrize(
    "make",
    [
        lambda i, resource: i.mint(aud=["https://api.example.com/other"]),
        lambda i, resource: i.mint(aud=[resource], expires_in=-3600),
        lambda i, resource: i.mint(aud=[resource], headers={"kid": "gone"}),
    ],
    ids=["audience", "expired", "unknown-kid"],
)
def test_sdk_wiring_a_refused_token_is_the_sdks_401(served: Served, sdk_issuer: DevIssuer, make: Any) -> None:
    seen = _refused(served.resource, make(sdk_issuer, served.resource))
    status, challenge = seen.answers[0]
    assert status == 401
    assert challenge is not None and challenge.startswith('Bearer error="invalid_token"')


def test_sdk_wiring_required_scopes_are_the_sdks_403(sdk_issuer: DevIssuer) -> None:
    with _serve(sdk_issuer, required_scopes=["read:orders", "write:orders"]) as running:
        seen = _refused(running.resource, sdk_issuer.mint(aud=[running.resource], scopes=["read:orders"]))
        status, challenge = seen.answers[0]
        assert status == 403
        # The SDK names only the first missing scope, and no `scope` auth-param.
        assert challenge == (
            'Bearer error="insufficient_scope", error_description="Required scope: write:orders", '
            f'resource_metadata="{running.metadata_url}"'
        )
        both = sdk_issuer.mint(aud=[running.resource], scopes=["read:orders", "write:orders"])
        (result,), _ = _call(running.resource, both, "whoami")
        assert not isinstance(result, MCPError) and not result.is_error


def test_sdk_wiring_no_signing_key_is_the_guards_503_never_a_500_traceback(caplog: pytest.LogCaptureFixture) -> None:
    with DevIssuer().serve() as down, _serve(down, required_scopes=()) as running:
        down.jwks_status = 500
        token = down.mint(aud=[running.resource])
        with caplog.at_level(logging.WARNING):
            response = httpx.post(
                running.resource,
                headers={
                    "Authorization": "Bearer " + token,
                    "Content-Type": "application/json",
                    "Accept": "application/json, text/event-stream",
                },
                content=b'{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}',
            )
    expected = down.guard().render_error(JWKSError("down", retry_after=30))
    assert response.status_code == 503
    assert response.content == expected.body
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["retry-after"]) >= 1
    assert "Traceback" not in caplog.text and "Exception in ASGI application" not in caplog.text
    assert token not in caplog.text
    assert any(r.name == "kinde_guard.mcp" and r.levelno == logging.WARNING for r in caplog.records)


def test_sdk_wiring_refuses_to_start_without_configuration() -> None:
    result = run_python(["-m", "uvicorn", f"{MODULE}:app"])
    assert result.returncode != 0
    assert f"{MODULE} cannot start: set KINDE_DOMAIN and KINDE_RESOURCE" in result.stderr
    assert "Traceback" not in result.stderr
