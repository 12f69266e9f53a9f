"""RFC 9728 Protected Resource Metadata and the resource_metadata challenge parameter (ASGI side)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI, Security
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from kinde_guard import Claims, ConfigurationError, GuardConfig
from kinde_guard.asgi import KindeGuardMiddleware, ProtectedResourceMetadata
from kinde_guard.fastapi import KindeAuth
from kinde_guard.resource import metadata_path, metadata_url
from kinde_guard.testing import DevIssuer
from tests.servers import serve_asgi

RESOURCE = "https://api.example.com/mcp"
META = "/.well-known/oauth-protected-resource/mcp"
POINTER = 'resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp"'


@pytest.mark.parametrize(
    ("resource", "path", "url"),
    [
        (
            "https://api.example.com",
            "/.well-known/oauth-protected-resource",
            "https://api.example.com/.well-known/oauth-protected-resource",
        ),
        (
            "https://api.example.com/",
            "/.well-known/oauth-protected-resource",
            "https://api.example.com/.well-known/oauth-protected-resource",
        ),
        ("https://api.example.com/mcp", META, "https://api.example.com" + META),
        (
            "https://api.example.com/v1/mcp/",
            "/.well-known/oauth-protected-resource/v1/mcp/",
            "https://api.example.com/.well-known/oauth-protected-resource/v1/mcp/",
        ),
        ("https://api.example.com:8443/mcp?tenant=a", META, "https://api.example.com:8443" + META + "?tenant=a"),
        ("http://127.0.0.1:8000/mcp", META, "http://127.0.0.1:8000" + META),
    ],
)
def test_metadata_location_follows_rfc9728_section_3_1(resource: str, path: str, url: str) -> None:
    assert metadata_path(resource) == path
    assert metadata_url(resource) == url


@pytest.mark.parametrize("resource", ["http://api.example.com/mcp", "https://api.example.com/mcp#frag", "mcp"])
def test_bad_resource_identifiers_are_refused(resource: str) -> None:
    with pytest.raises(ConfigurationError):
        GuardConfig(domain="acme.kinde.com", resource=resource)


def test_resource_makes_audience_optional_and_is_an_accepted_audience(issuer: DevIssuer) -> None:
    config = GuardConfig.from_env(environ={"KINDE_DOMAIN": issuer.issuer, "KINDE_RESOURCE": RESOURCE})
    assert config.audience == (RESOURCE,)
    guard = issuer.guard(audience=(), resource=RESOURCE)
    assert guard.verify(issuer.mint(aud=[RESOURCE])).sub
    with pytest.raises(Exception, match="aud"):
        guard.verify(issuer.mint(aud=["https://api.example.com/other"]))


async def whoami(request: Request) -> JSONResponse:
    claims: Claims = request.state.kinde_claims
    return JSONResponse({"sub": claims.sub})


@pytest.fixture(scope="module")
def served() -> Iterator[DevIssuer]:
    with DevIssuer(audience=RESOURCE).serve() as issuer:
        yield issuer


@pytest.fixture(scope="module")
def base_url(served: DevIssuer) -> Iterator[str]:
    guard = served.guard(
        audience=(), resource=RESOURCE, scopes_supported=["read:orders", "write:orders"], resource_name="Orders MCP"
    )
    app = KindeGuardMiddleware(Starlette(routes=[Route("/mcp", whoami, methods=["GET", "POST"])]), guard=guard)
    with serve_asgi(app) as url:
        yield url


def test_metadata_document_is_served_without_a_token(base_url: str, served: DevIssuer) -> None:
    response = httpx.get(base_url + META)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "public, max-age=3600"
    assert response.json() == {
        "resource": RESOURCE,
        "authorization_servers": [served.issuer],
        "scopes_supported": ["read:orders", "write:orders"],
        "bearer_methods_supported": ["header"],
        "resource_name": "Orders MCP",
    }
    head = httpx.head(base_url + META)
    assert head.status_code == 200 and head.content == b""


def test_other_methods_on_the_metadata_get_405_with_allow(base_url: str) -> None:
    response = httpx.post(base_url + META)
    assert response.status_code == 405 and response.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    ("authorization", "status", "challenge"),
    [
        (None, 401, f'Bearer realm="api", {POINTER}'),
        (
            "Bearer a b",
            400,
            'Bearer realm="api", error="invalid_request", error_description="The Authorization header must carry exactly one bearer token.", '
            + POINTER,
        ),
        ("Bearer x.y.z", 401, None),
    ],
)
def test_every_challenge_points_to_the_metadata(
    base_url: str, authorization: str | None, status: int, challenge: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    # A forged Host header must not change where clients are sent.
    response = httpx.get(base_url + "/mcp", headers={**headers, "Host": "evil.example"})
    assert response.status_code == status
    value = response.headers["www-authenticate"]
    if challenge is not None:
        assert value == challenge
    assert value.endswith(POINTER) and "evil" not in value


def test_valid_token_passes_and_403_keeps_its_scope(served: DevIssuer) -> None:
    guard = served.guard(audience=(), resource=RESOURCE)
    kinde = KindeAuth(guard)
    api = FastAPI()
    kinde.install(api)

    @api.get("/mcp/tools")
    async def tools(claims: Claims = Security(kinde, scopes=["tools:call"])) -> dict[str, str | None]:  # noqa: B008
        return {"sub": claims.sub}

    with serve_asgi(KindeGuardMiddleware(api, guard=guard)) as url:
        ok = httpx.get(
            url + "/mcp/tools",
            headers={"Authorization": "Bearer " + served.mint(aud=[RESOURCE], scopes=["tools:call"])},
        )
        assert ok.status_code == 200
        denied = httpx.get(
            url + "/mcp/tools", headers={"Authorization": "Bearer " + served.mint(aud=[RESOURCE], scopes=[])}
        )
        assert denied.status_code == 403
        value = denied.headers["www-authenticate"]
        assert 'error="insufficient_scope"' in value and 'scope="tools:call"' in value and value.endswith(POINTER)
        # scopes_supported is collected from the routes when not configured.
        assert httpx.get(url + META).json()["scopes_supported"] == ["tools:call"]


def test_metadata_is_absent_without_a_resource(served: DevIssuer) -> None:
    guard = served.guard()
    with serve_asgi(KindeGuardMiddleware(Starlette(), guard=guard)) as url:
        assert httpx.get(url + "/.well-known/oauth-protected-resource").status_code == 401
        assert "resource_metadata" not in httpx.get(url + "/x").headers["www-authenticate"]


def test_standalone_handler_for_apps_mounted_under_a_prefix(served: DevIssuer) -> None:
    guard = served.guard(audience=(), resource=RESOURCE)
    inner = KindeGuardMiddleware(Starlette(routes=[Route("/", whoami)]), guard=guard)
    outer = Starlette(routes=[Route(META, ProtectedResourceMetadata(guard)), Mount("/mcp", app=inner)])
    with serve_asgi(outer) as url:
        assert httpx.get(url + META).json()["resource"] == RESOURCE
        assert httpx.get(url + "/mcp/").status_code == 401
