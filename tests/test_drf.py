"""kinde_guard.drf with Django REST framework: 401 (not 403) without a token, 403 with the
insufficient_scope challenge, permission instances composed with & | ~, the exception handler,
the drf-spectacular scheme and the import order DRF's settings impose."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.django_servers import setup_django, urlconf

setup_django()

from django.test import Client, override_settings  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework.authentication import BasicAuthentication, SessionAuthentication  # noqa: E402
from rest_framework.exceptions import ValidationError  # noqa: E402
from rest_framework.permissions import AllowAny, IsAuthenticated  # noqa: E402
from rest_framework.request import Request  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402

from kinde_guard import Requirements  # noqa: E402
from kinde_guard.django import KindeUser  # noqa: E402
from kinde_guard.drf import HasPermissions, HasRequirements, HasScopes, KindeAuthentication  # noqa: E402
from kinde_guard.testing import DevIssuer  # noqa: E402

BARE = 'Bearer realm="api"'


def view(*permissions: Any, authentication: tuple[type, ...] = (KindeAuthentication,)) -> Any:
    class Guarded(APIView):
        authentication_classes = authentication
        permission_classes = permissions

        def get(self, request: Request) -> Response:
            user = request.user
            return Response({"user": str(user), "kind": type(user).__name__, "sub": request.auth.sub})

        def post(self, request: Request) -> Response:
            raise ValidationError({"item": ["This field is required."]})

    return Guarded.as_view()


ROUTES = urlconf(
    [
        path("any", view(HasRequirements())),
        path("read", view(HasScopes("read:orders"))),
        path("read-and-delete", view(HasScopes("read:orders") & HasPermissions("delete:orders"))),
        path("read-or-delete", view(HasScopes("read:orders") | HasPermissions("delete:orders"))),
        path("not-admin", view(IsAuthenticated & ~HasPermissions("admin"))),
        path("either-scope", view(HasScopes("read:orders", "write:orders", match="any"))),
        path("class-and-instance", view(IsAuthenticated & HasScopes("read:orders"))),
        path(
            "session-first", view(HasScopes("read:orders"), authentication=(SessionAuthentication, KindeAuthentication))
        ),
        path("basic-first", view(IsAuthenticated, authentication=(BasicAuthentication, KindeAuthentication))),
        path("open", view(AllowAny)),
    ]
)


@pytest.fixture
def client(issuer: DevIssuer) -> Iterator[Client]:
    with override_settings(ROOT_URLCONF=ROUTES, KINDE_GUARD=issuer.guard()):
        yield Client()


def get(client: Client, route: str, token: str | None = None, method: str = "get") -> Any:
    headers = {} if token is None else {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    return getattr(client, method)(route, **headers)


def test_no_token_is_401_with_the_bearer_challenge(client: Client) -> None:
    response = get(client, "/read")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == BARE
    assert json.loads(response.content) == {"error": "unauthorized", "error_description": "A bearer token is required."}


def test_a_bad_token_is_401_invalid_token(client: Client, issuer: DevIssuer) -> None:
    response = get(client, "/read", issuer.mint(scopes=["read:orders"], aud=["https://other"]))
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith('Bearer realm="api", error="invalid_token"')
    assert json.loads(response.content)["error"] == "invalid_token"
    assert get(client, "/read", "not-a-jwt").status_code == 401


def test_a_missing_scope_is_403_with_the_insufficient_scope_challenge(client: Client, issuer: DevIssuer) -> None:
    response = get(client, "/read", issuer.mint(scopes=["openid"]))
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response["WWW-Authenticate"]
    assert response["WWW-Authenticate"].endswith('scope="read:orders"')
    assert json.loads(response.content)["error"] == "insufficient_scope"
    assert "allow" not in response  # the one answer of every adapter, not DRF's extra headers


def test_the_user_is_a_lightweight_token_user(client: Client, issuer: DevIssuer) -> None:
    body = json.loads(get(client, "/any", issuer.mint()).content)
    assert body["kind"] == "KindeUser" and body["user"] == body["sub"] and body["sub"].startswith("kp_")
    m2m = json.loads(get(client, "/any", issuer.mint_m2m()).content)
    assert m2m["user"] == issuer.client_id and m2m["sub"] is None
    user = KindeUser(issuer.guard().verify(issuer.mint()))
    assert (user.is_authenticated, user.is_anonymous, user.pk == user.username) == (True, False, True)
    assert not hasattr(user, "save")  # not a database row


@pytest.mark.parametrize(
    ("route", "scopes", "permissions", "status"),
    [
        ("/read-and-delete", ["read:orders"], ["delete:orders"], 200),
        ("/read-and-delete", ["read:orders"], [], 403),
        ("/read-and-delete", [], ["delete:orders"], 403),
        ("/read-or-delete", ["read:orders"], [], 200),
        ("/read-or-delete", [], ["delete:orders"], 200),
        ("/read-or-delete", ["openid"], [], 403),
        ("/not-admin", [], [], 200),
        ("/not-admin", [], ["admin"], 403),
        ("/either-scope", ["write:orders"], [], 200),
        ("/either-scope", ["openid"], [], 403),
        ("/class-and-instance", ["read:orders"], [], 200),
        ("/class-and-instance", [], [], 403),
    ],
)
def test_permission_instances_compose_with_and_or_not(
    client: Client, issuer: DevIssuer, route: str, scopes: list[str], permissions: list[str], status: int
) -> None:
    response = get(client, route, issuer.mint(scopes=scopes, permissions=permissions))
    assert response.status_code == status, response.content
    if status == 403 and route != "/not-admin":
        assert 'error="insufficient_scope"' in response["WWW-Authenticate"]


def test_and_names_the_requirement_that_failed(client: Client, issuer: DevIssuer) -> None:
    response = get(client, "/read-and-delete", issuer.mint(scopes=["read:orders"]))
    assert "permission" in json.loads(response.content)["error_description"]
    assert "scope=" not in response["WWW-Authenticate"]


def test_a_failed_alternative_does_not_leak_into_another_refusal(client: Client, issuer: DevIssuer) -> None:
    # ~HasPermissions("admin") refuses an admin: DRF's own 403 (no Kinde reason to render).
    response = get(client, "/not-admin", issuer.mint(permissions=["admin"]))
    assert response.status_code == 403
    assert "www-authenticate" not in response
    assert "detail" in json.loads(response.content)


@pytest.mark.parametrize("route", ["/session-first", "/basic-first"])
def test_other_authentication_classes_first_still_answer_401_for_a_missing_token(client: Client, route: str) -> None:
    response = get(client, route)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == BARE
    assert json.loads(response.content)["error"] == "unauthorized"


def test_other_drf_errors_keep_drfs_format(client: Client, issuer: DevIssuer) -> None:
    response = get(client, "/open", method="post")
    assert response.status_code == 400
    assert json.loads(response.content) == {"item": ["This field is required."]}


def test_a_jwks_outage_is_503_with_retry_after(client: Client, issuer: DevIssuer) -> None:
    issuer.jwks_status = 500
    response = get(client, "/read", issuer.mint(scopes=["read:orders"]))
    assert response.status_code == 503
    assert int(response["Retry-After"]) >= 1
    assert json.loads(response.content)["error"] == "temporarily_unavailable"


def test_has_requirements_takes_a_requirements_value() -> None:
    needs = Requirements(scopes=["a"], permissions=["b"], match="any")
    assert HasRequirements(needs).requirements is needs
    assert HasScopes("a", "b").requirements == Requirements(scopes=["a", "b"])
    assert HasPermissions("x", match="any").requirements == Requirements(permissions=["x"], match="any")
    with pytest.raises(TypeError, match="Requirements"):
        HasRequirements(["read:orders"])  # type: ignore[arg-type]


CIRCULAR = """
import django
from django.conf import settings
settings.configure(
    SECRET_KEY="x", INSTALLED_APPS=["rest_framework", "kinde_guard.django"], DATABASES={},
    KINDE_DOMAIN="https://acme.kinde.com", KINDE_AUDIENCE="https://api.acme.com",
    REST_FRAMEWORK={
        "DEFAULT_AUTHENTICATION_CLASSES": ["kinde_guard.drf.KindeAuthentication"],
        "DEFAULT_PERMISSION_CLASSES": ["kinde_guard.drf.HasRequirements"],
        "EXCEPTION_HANDLER": "kinde_guard.drf.exception_handler",
        "UNAUTHENTICATED_USER": None,
    },
)
django.setup()
import rest_framework.views  # loads the settings' classes while it loads: kinde_guard.drf now
print(rest_framework.views.APIView.authentication_classes[0].__module__)
"""


def test_naming_the_class_in_drf_settings_causes_no_circular_import() -> None:
    result = subprocess.run([sys.executable, "-c", CIRCULAR], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "kinde_guard.drf"


def test_drf_module_imports_no_rest_framework_views_at_import() -> None:
    code = "import sys, kinde_guard.drf; print('rest_framework.views' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_drf_spectacular_describes_the_kinde_scheme_and_each_views_scopes(issuer: DevIssuer) -> None:
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.openapi import AutoSchema

    import kinde_guard.drf_openapi  # noqa: F401  (what the app config imports when drf_spectacular is installed)

    class Orders(APIView):
        authentication_classes = (KindeAuthentication,)
        permission_classes = (HasScopes("read:orders") & HasPermissions("delete:orders"),)
        schema = AutoSchema()

        def get(self, request: Request) -> Response:
            return Response([])

    with override_settings(KINDE_GUARD=issuer.guard()):
        schema = SchemaGenerator(patterns=[path("orders", Orders.as_view())]).get_schema(request=None, public=True)
    scheme = schema["components"]["securitySchemes"]["kinde"]
    flow = scheme["flows"]["authorizationCode"]
    assert scheme["type"] == "oauth2"
    assert (flow["authorizationUrl"], flow["tokenUrl"]) == (
        issuer.issuer + "/oauth2/auth",
        issuer.issuer + "/oauth2/token",
    )
    assert "read:orders" in flow["scopes"]
    assert schema["paths"]["/orders"]["get"]["security"] == [{"kinde": ["read:orders"]}]
