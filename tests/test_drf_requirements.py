"""kinde_guard.drf's Kinde permissions beyond scopes (HasRoles, HasFeatureFlag, InOrganization,
HasRequirements with a claims check) over the shared table of tests/route_requirements_table.py,
and the refusal of composed permissions: the one of the permission that decided (the failing
operand of &, every Kinde alternative of |, DRF's own 403 for ~ and for DRF's own permissions)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.django_servers import setup_django, urlconf

setup_django()

from django.test import Client, override_settings  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework.exceptions import PermissionDenied  # noqa: E402
from rest_framework.permissions import BasePermission  # noqa: E402
from rest_framework.request import Request  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402

from kinde_guard import AuthError, Requirements  # noqa: E402
from kinde_guard.drf import (  # noqa: E402
    HasFeatureFlag,
    HasPermissions,
    HasRequirements,
    HasRoles,
    HasScopes,
    InOrganization,
    KindeAuthentication,
)
from kinde_guard.testing import DevIssuer  # noqa: E402
from tests.route_requirements_table import FLAGS_ABSENT, ROUTES, ROWS, Row, mint  # noqa: E402

DRF_DENIED = {"detail": "You do not have permission to perform this action."}


class Denied(BasePermission):  # type: ignore[misc]
    """A plain DRF permission that always refuses, with its own message."""

    message = "Closed on Sundays."

    def has_permission(self, request: Any, view: Any) -> bool:
        return False


class Allowed(BasePermission):  # type: ignore[misc]
    def has_permission(self, request: Any, view: Any) -> bool:
        return True


def view(*permissions: Any, raise_in_view: bool = False) -> Any:
    class Guarded(APIView):
        authentication_classes = (KindeAuthentication,)
        permission_classes = permissions

        def get(self, request: Request) -> Response:
            if raise_in_view:
                raise PermissionDenied("Not your order.")
            return Response({"ok": True})

    return Guarded.as_view()


#: The table's routes as DRF permissions: the keywords of ROUTES, spelled with the permission classes.
TABLE: dict[str, Any] = {
    "role": HasRoles("admin"),
    "roles_all": HasRoles("admin", "owner"),
    "roles_any": HasRoles("admin", "owner", match="any"),
    "flag_on": HasFeatureFlag("beta"),
    "flag_values": HasFeatureFlag("plan", "pro") & HasFeatureFlag("seats", 5),
    "org": InOrganization("org_acme", "org_beta"),
    "check": HasRequirements(Requirements(**ROUTES["check"])),
    "check_raises": HasRequirements(Requirements(**ROUTES["check_raises"])),
    "check_truthy": HasRequirements(Requirements(**ROUTES["check_truthy"])),
    "scope_and_role": HasScopes("read:orders") & HasRoles("admin"),
}
#: Routes split into two permissions whose descriptions name each flag on its own (not the core's one sentence).
SPLIT = {"flag_values"}

COMPOSED: dict[str, Any] = {
    "scope-or-role": HasScopes("a") | HasRoles("admin"),
    "not-scope": ~HasScopes("a"),
    "not-scope-then-drf": (~HasScopes("a"), Denied),
    "scope-and-drf": HasScopes("a") & Denied,
    "drf-and-scope": Denied & HasScopes("a"),
    "allowed-and-scope": Allowed & HasScopes("a"),
    "scope-or-allowed-then-drf": (HasScopes("a") | Allowed, Denied),
    "scope-or-allowed-view-raises": HasScopes("a") | Allowed,
    "role-or-flag": HasRoles("admin") | HasFeatureFlag("beta"),
    "org-and-role": InOrganization("org_acme") & HasRoles("admin"),
    "reports": (HasRoles("admin") | HasRoles("owner")) & HasFeatureFlag("beta") & InOrganization("org_acme"),
    "not-test-org": ~InOrganization("org_test"),
    "three-ways": HasScopes("a") | HasPermissions("b") | HasScopes("c"),
    "or-with-drf": HasScopes("a") | Denied,
}


def routes() -> Any:
    patterns = [path(f"r/{name}", view(permission)) for name, permission in TABLE.items()]
    for name, permission in COMPOSED.items():
        permissions = permission if isinstance(permission, tuple) else (permission,)
        patterns.append(path(f"c/{name}", view(*permissions, raise_in_view=name.endswith("view-raises"))))
    return urlconf(patterns)


ROUTES_CONF = routes()


@pytest.fixture
def client(issuer: DevIssuer) -> Iterator[Client]:
    with override_settings(ROOT_URLCONF=ROUTES_CONF, KINDE_GUARD=issuer.guard()):
        yield Client()


def get(client: Client, route: str, token: str) -> Any:
    return client.get(route, HTTP_AUTHORIZATION=f"Bearer {token}")


def core_answer(issuer: DevIssuer, token: str, route: str) -> tuple[int, list[tuple[str, str]], bytes]:
    guard = issuer.guard()
    with pytest.raises(AuthError) as refused:
        guard.authenticate(f"Bearer {token}", requirements=Requirements(**ROUTES[route]))
    answer = guard.render_error(refused.value, "api")
    return answer.status, sorted((k.lower(), v) for k, v in answer.headers), answer.body


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_drf_permissions_answer_the_route_requirements_table(client: Client, issuer: DevIssuer, row: Row) -> None:
    token = mint(issuer, row.token)
    response = get(client, f"/r/{row.route}", token)
    assert response.status_code == row.status, response.content
    if row.status == 200:
        assert json.loads(response.content) == {"ok": True}
        return
    error = json.loads(response.content)
    assert error["error"] == row.error
    if row.description is not None:
        assert error["error_description"] == row.description
    assert row.contains in error["error_description"]
    assert ("scope=" in response["WWW-Authenticate"]) == (row.scope is not None)
    if row.route not in SPLIT:  # the core's answer, byte for byte
        headers = sorted((k.lower(), v) for k, v in response.items() if k.lower() != "content-length")
        status, core_headers, body = core_answer(issuer, token, row.route)
        assert (response.status_code, response.content) == (status, body)
        assert headers == [h for h in core_headers if h[0] != "content-length"]


def description(response: Any) -> str:
    body = json.loads(response.content)
    assert body["error"] == "insufficient_scope", body
    return str(body["error_description"])


def test_or_with_every_alternative_refused_names_each(client: Client, issuer: DevIssuer) -> None:
    response = get(client, "/c/scope-or-role", issuer.mint(scopes=["openid"], roles=["viewer"]))
    assert response.status_code == 403
    assert description(response) == (
        "The token meets none of the alternatives. "
        "The token lacks the required scope (all of: a; missing: a). "
        "Or: The token lacks the required role (all of: admin; missing: admin)."
    )
    # One alternative is about scopes: scope= says the one that would let the request through.
    assert response["WWW-Authenticate"].endswith('.", scope="a"')


def test_or_of_three_names_all_three_and_no_scope_when_several_would_do(client: Client, issuer: DevIssuer) -> None:
    response = get(client, "/c/three-ways", issuer.mint(scopes=["openid"]))
    text = description(response)
    assert text.startswith("The token meets none of the alternatives.")
    assert ("missing: a" in text, "missing: b" in text, "missing: c" in text) == (True, True, True)
    assert text.count(" Or: ") == 2
    assert "scope=" not in response["WWW-Authenticate"]  # scope a or scope c: neither is *the* scope needed
    assert get(client, "/c/three-ways", issuer.mint(scopes=[], permissions=["b"])).status_code == 200


def test_or_passes_on_either_side(client: Client, issuer: DevIssuer) -> None:
    assert get(client, "/c/scope-or-role", issuer.mint(scopes=["a"], roles=[])).status_code == 200
    assert get(client, "/c/scope-or-role", issuer.mint(scopes=[], roles=["admin"])).status_code == 200


def test_not_over_a_kinde_check_that_passed_is_drfs_own_403(client: Client, issuer: DevIssuer) -> None:
    response = get(client, "/c/not-scope", issuer.mint(scopes=["a"]))
    assert response.status_code == 403
    assert "www-authenticate" not in response
    assert json.loads(response.content) == DRF_DENIED
    assert get(client, "/c/not-scope", issuer.mint(scopes=["openid"])).status_code == 200


def test_a_failed_check_under_not_leaves_nothing_for_a_later_drf_refusal(client: Client, issuer: DevIssuer) -> None:
    # ~HasScopes("a") passes (the token lacks a); then a plain DRF permission refuses: DRF's own 403.
    response = get(client, "/c/not-scope-then-drf", issuer.mint(scopes=["openid"]))
    assert response.status_code == 403
    assert "www-authenticate" not in response
    assert json.loads(response.content) == {"detail": "Closed on Sundays."}


@pytest.mark.parametrize("route", ["/c/scope-and-drf", "/c/drf-and-scope"])
def test_and_with_the_kinde_check_met_and_a_drf_permission_refusing_is_drfs_own_403(
    client: Client, issuer: DevIssuer, route: str
) -> None:
    response = get(client, route, issuer.mint(scopes=["a"]))
    assert response.status_code == 403
    assert "www-authenticate" not in response
    body = json.loads(response.content)
    assert "error" not in body and "detail" in body


def test_and_with_the_kinde_check_refusing_is_the_kinde_refusal(client: Client, issuer: DevIssuer) -> None:
    for route in ("/c/allowed-and-scope",):
        response = get(client, route, issuer.mint(scopes=["openid"]))
        assert response.status_code == 403
        assert description(response) == "The token lacks the required scope (all of: a; missing: a)."


def test_an_alternative_that_passed_leaves_nothing_behind(client: Client, issuer: DevIssuer) -> None:
    token = issuer.mint(scopes=["openid"])  # HasScopes("a") refuses, Allowed passes: the | passes
    later = get(client, "/c/scope-or-allowed-then-drf", token)
    assert (later.status_code, json.loads(later.content)) == (403, {"detail": "Closed on Sundays."})
    in_view = get(client, "/c/scope-or-allowed-view-raises", token)
    assert (in_view.status_code, json.loads(in_view.content)) == (403, {"detail": "Not your order."})
    assert "www-authenticate" not in in_view


def test_or_with_a_drf_alternative_answers_the_kinde_reason(client: Client, issuer: DevIssuer) -> None:
    # A token with scope a would pass: that is the answer a client can act on.
    response = get(client, "/c/or-with-drf", issuer.mint(scopes=["openid"]))
    assert description(response) == "The token lacks the required scope (all of: a; missing: a)."
    assert response["WWW-Authenticate"].endswith('scope="a"')


def test_roles_or_feature_flag(client: Client, issuer: DevIssuer) -> None:
    assert get(client, "/c/role-or-flag", issuer.mint(roles=["admin"])).status_code == 200
    assert (
        get(client, "/c/role-or-flag", issuer.mint(roles=["viewer"], feature_flags={"beta": True})).status_code == 200
    )
    response = get(client, "/c/role-or-flag", issuer.mint(roles=["viewer"]))
    text = description(response)
    assert text == (
        "The token meets none of the alternatives. "
        "The token lacks the required role (all of: admin; missing: admin). Or: " + FLAGS_ABSENT
    )
    assert "scope=" not in response["WWW-Authenticate"]


@pytest.mark.parametrize(
    ("org_code", "roles", "status", "part"),
    [
        ("org_acme", ["admin"], 200, None),
        ("org_other", ["admin"], 403, 'The token is for the organization "org_other"'),
        ("org_acme", ["viewer"], 403, "missing: admin"),
    ],
)
def test_organization_and_role(
    client: Client, issuer: DevIssuer, org_code: str, roles: list[str], status: int, part: str | None
) -> None:
    response = get(client, "/c/org-and-role", issuer.mint(org_code=org_code, roles=roles))
    assert response.status_code == status, response.content
    if part is not None:
        assert part in description(response)


@pytest.mark.parametrize(
    ("roles", "flags", "org_code", "status", "part"),
    [
        (["owner"], {"beta": True}, "org_acme", 200, None),
        (["admin"], {"beta": True}, "org_acme", 200, None),
        (["owner"], {"beta": False}, "org_acme", 403, "not met: beta (token: false)"),
        (["viewer"], {"beta": True}, "org_acme", 403, "missing: admin). Or: The token lacks the required role"),
        (["owner"], {"beta": True}, "org_beta", 403, 'organization "org_beta"'),
    ],
)
def test_the_reports_route_of_the_module_docstring(
    client: Client,
    issuer: DevIssuer,
    roles: list[str],
    flags: dict[str, Any],
    org_code: str,
    status: int,
    part: str | None,
) -> None:
    response = get(client, "/c/reports", issuer.mint(roles=roles, feature_flags=flags, org_code=org_code))
    assert response.status_code == status, response.content
    if part is not None:
        assert part in description(response)


def test_not_in_an_organization(client: Client, issuer: DevIssuer) -> None:
    assert get(client, "/c/not-test-org", issuer.mint(org_code="org_acme")).status_code == 200
    response = get(client, "/c/not-test-org", issuer.mint(org_code="org_test"))
    assert (response.status_code, json.loads(response.content)) == (403, DRF_DENIED)


def test_without_the_exception_handler_drfs_403_says_the_kinde_reason(issuer: DevIssuer) -> None:
    # DRF reads the refusing permission's message: each request's own, though the instance is shared.
    rest = {
        "DEFAULT_AUTHENTICATION_CLASSES": ["kinde_guard.drf.KindeAuthentication"],
        "UNAUTHENTICATED_USER": None,
        "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    }
    with override_settings(ROOT_URLCONF=ROUTES_CONF, KINDE_GUARD=issuer.guard(), REST_FRAMEWORK=rest):
        client = Client()
        role = get(client, "/r/role", issuer.mint(roles=["viewer"]))
        both = get(client, "/c/scope-or-role", issuer.mint(scopes=["openid"], roles=["viewer"]))
    assert (role.status_code, json.loads(role.content)) == (
        403,
        {"detail": "The token lacks the required role (all of: admin; missing: admin)."},
    )
    assert json.loads(both.content)["detail"].startswith("The token meets none of the alternatives.")
