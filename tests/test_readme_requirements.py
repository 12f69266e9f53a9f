"""The README's "Roles, feature flags and organizations" snippet (examples/snippets/kinde_requirements.py)
answers as the section says, over real HTTP (uvicorn) with real signed tokens."""

from __future__ import annotations

import json

import httpx

from examples.snippets.kinde_requirements import create_app
from kinde_guard.testing import DevIssuer
from tests.servers import serve_asgi


def test_the_readme_snippet_routes_answer_as_the_section_says(served_issuer: DevIssuer) -> None:
    issuer = served_issuer
    with serve_asgi(create_app(issuer.guard())) as url:

        def get(path: str, **claims: object) -> httpx.Response:
            token = issuer.mint(**claims)  # type: ignore[arg-type]
            return httpx.get(url + path, headers={"Authorization": "Bearer " + token})

        ok = get("/reports", roles=["owner"], org_code="org_acme")
        assert ok.status_code == 200 and ok.json() == {"org": "org_acme", "roles": ["owner"]}
        assert get("/reports", roles=["owner"], org_code="org_other").status_code == 403
        no_roles = get("/reports", org_code="org_acme")
        assert no_roles.status_code == 403 and "token customization" in no_roles.json()["error_description"]
        flags = {"beta_search": True, "plan": "pro", "theme": "dark"}
        assert get("/search", feature_flags=flags).json() == {"theme": "dark"}
        assert get("/search", feature_flags={**flags, "beta_search": 1}).status_code == 403  # True is not 1
        refused = get("/audit", email="eve@example.com")
        assert refused.status_code == 403
        assert json.loads(refused.content)["error_description"] == "Only Acme staff may read the audit log."
        assert get("/audit", email="ann@acme.com").status_code == 200
        description = httpx.get(url + "/openapi.json").json()["paths"]["/reports"]["get"]["description"]
        assert description == "Requires: one of the roles admin, owner; organization org_acme."
