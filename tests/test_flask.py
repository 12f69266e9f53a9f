"""kinde_guard.flask: the extension contract, the decorators, current_claims and error handling.

Apps run in process through Flask's test client (a real WSGI call); the guards fetch their keys
over HTTP from a served DevIssuer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Blueprint, Flask, Response, g, jsonify

from kinde_guard import AuthError, ConfigurationError, InsufficientScopeError, KindeGuard
from kinde_guard.flask import FlaskKindeGuard, current_claims
from kinde_guard.testing import DevIssuer
from tests.example_cases import BARE, EXPIRED, WRONG_AUD

AUDIENCE = "https://api.orders.example"
OTHER_AUDIENCE = "https://api.billing.example"


@pytest.fixture(scope="module")
def issuer() -> Iterator[DevIssuer]:
    with DevIssuer(audience=AUDIENCE).serve() as served:
        yield served


@pytest.fixture(autouse=True)
def _healthy_issuer(issuer: DevIssuer) -> Iterator[None]:
    yield
    issuer.jwks_status = 200


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + token}


def _routes(kinde: FlaskKindeGuard) -> Blueprint:
    """The views these tests call, declared once, before any app exists (as in a factory)."""
    bp = Blueprint("routes", __name__)

    @bp.get("/me")
    @kinde.require()
    def me() -> dict[str, Any]:
        return {"sub": current_claims.sub, "azp": current_claims.azp}

    @bp.get("/bare")
    @kinde.require
    def bare() -> dict[str, Any]:
        return {"sub": current_claims.sub}

    @bp.get("/orders")
    @kinde.require(scopes=["read:orders"])
    def orders() -> list[str]:
        return ["ord_1"]

    @bp.delete("/orders/<order_id>")
    @kinde.require(scopes=["write:orders"], permissions=["delete:orders"])
    def delete(order_id: str) -> tuple[str, int]:
        return "", 204

    @bp.get("/any")
    @kinde.require(scopes=["read:orders", "read:invoices"], match="any")
    def any_scope() -> dict[str, bool]:
        return {"ok": True}

    @bp.get("/stacked")
    @kinde.require(scopes=["read:orders"])
    @kinde.require(permissions=["audit:orders"])
    def stacked() -> dict[str, bool]:
        return {"ok": True}

    @bp.get("/async")
    @kinde.require(scopes=["read:orders"])
    async def async_view() -> dict[str, Any]:
        return {"sub": current_claims.sub, "async": True}

    return bp


kinde = FlaskKindeGuard()
routes = _routes(kinde)


def create_app(**config: Any) -> Flask:
    """An app factory: the extension and the blueprint exist before the app does."""
    app = Flask(__name__)
    app.config.update(config)
    kinde.init_app(app)
    app.register_blueprint(routes)
    return app


@pytest.fixture
def app(issuer: DevIssuer) -> Flask:
    return create_app(KINDE_DOMAIN=issuer.url, KINDE_AUDIENCE=AUDIENCE)


def test_the_factory_pattern_configures_the_guard_from_app_config(app: Flask, issuer: DevIssuer) -> None:
    guard = app.extensions["kinde_guard"].guard
    assert isinstance(guard, KindeGuard)
    assert guard.config.audience == (AUDIENCE,)
    assert guard.config.jwks_uri == issuer.url + "/.well-known/jwks"
    response = app.test_client().get("/me", headers=bearer(issuer.mint(sub="kp_jane")))
    assert (response.status_code, response.json) == (200, {"sub": "kp_jane", "azp": issuer.client_id})


def test_typed_settings_in_app_config_are_accepted(issuer: DevIssuer) -> None:
    app = create_app(KINDE_DOMAIN=issuer.url, KINDE_AUDIENCE=[AUDIENCE, OTHER_AUDIENCE], KINDE_LEEWAY=5)
    guard = kinde.get_guard(app)
    assert (guard.config.audience, guard.config.leeway) == ((AUDIENCE, OTHER_AUDIENCE), 5.0)


def test_init_app_fails_at_start_up_naming_the_missing_setting(issuer: DevIssuer) -> None:
    with pytest.raises(ConfigurationError, match="KINDE_AUDIENCE is not set"):
        create_app(KINDE_DOMAIN=issuer.url)
    with pytest.raises(ConfigurationError, match="KINDE_DOMAIN is not set"):
        create_app()


def test_two_apps_configured_differently_in_one_process(issuer: DevIssuer) -> None:
    orders = create_app(KINDE_DOMAIN=issuer.url, KINDE_AUDIENCE=AUDIENCE)
    billing = create_app(KINDE_DOMAIN=issuer.url, KINDE_AUDIENCE=OTHER_AUDIENCE)
    assert kinde.get_guard(orders) is not kinde.get_guard(billing)
    for_orders, for_billing = issuer.mint(aud=[AUDIENCE]), issuer.mint(aud=[OTHER_AUDIENCE])
    assert orders.test_client().get("/me", headers=bearer(for_orders)).status_code == 200
    assert billing.test_client().get("/me", headers=bearer(for_billing)).status_code == 200
    refused = [
        orders.test_client().get("/me", headers=bearer(for_billing)),
        billing.test_client().get("/me", headers=bearer(for_orders)),
    ]
    for response in refused:
        assert (response.status_code, response.headers["WWW-Authenticate"]) == (401, WRONG_AUD)


def test_a_given_guard_is_used_as_is(issuer: DevIssuer) -> None:
    guard = issuer.guard()
    app = Flask(__name__)
    extension = FlaskKindeGuard(app, guard=guard, realm="orders")
    app.register_blueprint(_routes(extension))
    with app.app_context():
        assert extension.guard is guard
    response = app.test_client().get("/me")
    assert (response.status_code, response.headers["WWW-Authenticate"]) == (401, 'Bearer realm="orders"')


@pytest.mark.parametrize(
    ("path", "headers", "status", "challenge"),
    [
        ("/me", {}, 401, BARE),
        ("/bare", {}, 401, BARE),
        ("/me", {"Authorization": "Basic dXNlcjpwYXNz"}, 401, BARE),
        ("/me", {"Authorization": "Bearer a b"}, 400, None),
        ("/orders", {}, 401, BARE),
    ],
)
def test_refusals_answer_json_with_the_challenge(
    app: Flask, path: str, headers: dict[str, str], status: int, challenge: str | None
) -> None:
    response = app.test_client().get(path, headers=headers)
    assert response.status_code == status
    assert response.content_type == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    if challenge is not None:
        assert response.headers["WWW-Authenticate"] == challenge
    else:
        assert response.headers["WWW-Authenticate"].startswith('Bearer realm="api", error="invalid_request"')
    assert set(json.loads(response.data)) == {"error", "error_description"}


def test_an_expired_token_is_401_with_the_exact_challenge(app: Flask, issuer: DevIssuer) -> None:
    token = issuer.mint(scopes=["read:orders"], exp=int(issuer.clock()) - 3600)
    response = app.test_client().get("/orders", headers=bearer(token))
    assert (response.status_code, response.headers["WWW-Authenticate"]) == (401, EXPIRED)
    assert response.json is not None and response.json["error"] == "invalid_token"


def test_scopes_and_permissions_are_both_required(app: Flask, issuer: DevIssuer) -> None:
    client = app.test_client()
    both = issuer.mint(scopes=["write:orders"], permissions=["delete:orders"])
    scope_only = issuer.mint(scopes=["write:orders"], permissions=[])
    permission_as_scope = issuer.mint(scopes=["write:orders", "delete:orders"])
    assert client.delete("/orders/ord_1", headers=bearer(both)).status_code == 204
    for token in (scope_only, permission_as_scope):  # a scope never stands in for a permission
        response = client.delete("/orders/ord_1", headers=bearer(token))
        assert response.status_code == 403
        assert response.headers["WWW-Authenticate"] == (
            'Bearer realm="api", error="insufficient_scope", error_description="The token lacks the required '
            'permission (all of: delete:orders; missing: delete:orders)."'
        )


def test_a_missing_scope_is_403_naming_the_scope(app: Flask, issuer: DevIssuer) -> None:
    response = app.test_client().get("/orders", headers=bearer(issuer.mint(scopes=["openid"])))
    assert response.status_code == 403
    assert response.headers["WWW-Authenticate"].endswith(', scope="read:orders"')
    assert response.json is not None and response.json["error"] == "insufficient_scope"


def test_match_any_accepts_one_of_the_scopes(app: Flask, issuer: DevIssuer) -> None:
    client = app.test_client()
    assert client.get("/any", headers=bearer(issuer.mint(scopes=["read:invoices"]))).status_code == 200
    assert client.get("/any", headers=bearer(issuer.mint(scopes=["openid"]))).status_code == 403


def test_stacked_decorators_enforce_both_requirements(app: Flask, issuer: DevIssuer) -> None:
    client = app.test_client()
    full = issuer.mint(scopes=["read:orders"], permissions=["audit:orders"])
    no_permission = issuer.mint(scopes=["read:orders"], permissions=[])
    no_scope = issuer.mint(scopes=[], permissions=["audit:orders"])
    assert client.get("/stacked", headers=bearer(full)).status_code == 200
    assert client.get("/stacked", headers=bearer(no_permission)).status_code == 403
    assert client.get("/stacked", headers=bearer(no_scope)).status_code == 403


def test_a_refused_request_never_runs_the_view(issuer: DevIssuer) -> None:
    app = create_app(KINDE_DOMAIN=issuer.url, KINDE_AUDIENCE=AUDIENCE)
    ran: list[bool] = []

    @app.post("/side-effect")
    @kinde.require(scopes=["write:orders"])
    def side_effect() -> dict[str, bool]:
        ran.append(True)
        return {"ok": True}

    client = app.test_client()
    assert client.post("/side-effect").status_code == 401
    assert client.post("/side-effect", headers=bearer(issuer.mint(scopes=["read:orders"]))).status_code == 403
    assert ran == []
    assert client.post("/side-effect", headers=bearer(issuer.mint(scopes=["write:orders"]))).status_code == 200
    assert ran == [True]


def test_async_views_are_guarded_too(app: Flask, issuer: DevIssuer) -> None:
    pytest.importorskip("asgiref", reason="Flask runs async views only with flask[async] (asgiref)")
    client = app.test_client()
    ok = client.get("/async", headers=bearer(issuer.mint(sub="kp_async", scopes=["read:orders"])))
    assert (ok.status_code, ok.json) == (200, {"sub": "kp_async", "async": True})
    refused = client.get("/async", headers=bearer(issuer.mint(scopes=["openid"])))
    assert refused.status_code == 403
    assert refused.headers["WWW-Authenticate"].endswith(', scope="read:orders"')
    assert client.get("/async").headers["WWW-Authenticate"] == BARE


def test_an_app_can_answer_refusals_its_own_way(issuer: DevIssuer) -> None:
    app = create_app(KINDE_DOMAIN=issuer.url, KINDE_AUDIENCE=AUDIENCE)

    @app.errorhandler(InsufficientScopeError)
    def forbidden(exc: InsufficientScopeError) -> tuple[Response, int]:
        return jsonify(message="ask an admin", needs=list(exc.required_scopes)), 403

    @app.errorhandler(AuthError)
    def refused(exc: AuthError) -> tuple[Response, int]:
        return jsonify(message="please sign in"), exc.status_code

    client = app.test_client()
    assert client.get("/me").json == {"message": "please sign in"}
    response = client.get("/orders", headers=bearer(issuer.mint(scopes=[])))
    assert (response.status_code, response.json) == (403, {"message": "ask an admin", "needs": ["read:orders"]})


def test_a_jwks_outage_is_503_with_retry_after(issuer: DevIssuer) -> None:
    issuer.jwks_status = 500
    app = create_app(KINDE_DOMAIN=issuer.url, KINDE_AUDIENCE=AUDIENCE)
    response = app.test_client().get("/me", headers=bearer(issuer.mint()))
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 1
    assert "WWW-Authenticate" not in response.headers
    assert response.json is not None and response.json["error"] == "temporarily_unavailable"


def test_current_claims_outside_a_guarded_view_is_an_explicit_error(app: Flask) -> None:
    with app.test_request_context("/"), pytest.raises(RuntimeError, match=r"@kinde.require\(\)"):
        _ = current_claims.sub


def test_claims_live_on_flask_g_for_the_request_only(app: Flask, issuer: DevIssuer) -> None:
    seen: list[object] = []

    @app.get("/peek")
    @kinde.require()
    def peek() -> dict[str, bool]:
        seen.append(g.get("kinde_guard_claims"))
        return {"ok": True}

    client = app.test_client()
    client.get("/peek", headers=bearer(issuer.mint(sub="kp_one")))
    client.get("/peek", headers=bearer(issuer.mint(sub="kp_two")))
    assert [getattr(c, "sub", None) for c in seen] == ["kp_one", "kp_two"]


def test_an_app_without_init_app_says_what_to_do(issuer: DevIssuer) -> None:
    app = Flask("forgotten")
    app.register_blueprint(_routes(FlaskKindeGuard()))
    app.testing = True
    with pytest.raises(RuntimeError, match=r"call kinde.init_app\(app\)"):
        app.test_client().get("/me", headers=bearer(issuer.mint()))


def test_require_refuses_a_string_where_a_list_belongs() -> None:
    with pytest.raises(TypeError, match=r"scopes=\['read:orders'\]"):
        kinde.require(scopes="read:orders")
    with pytest.raises(ValueError, match="match"):
        kinde.require(match="most")  # type: ignore[arg-type]


def test_with_a_resource_the_app_serves_metadata_listing_the_required_scopes(issuer: DevIssuer) -> None:
    resource = "https://api.example.com/mcp"
    extension = FlaskKindeGuard()
    app = Flask(__name__)
    app.config.update(KINDE_DOMAIN=issuer.url, KINDE_RESOURCE=resource)
    extension.init_app(app)
    app.register_blueprint(_routes(extension))
    client = app.test_client()
    metadata = client.get("/.well-known/oauth-protected-resource/mcp")
    assert metadata.status_code == 200
    assert metadata.headers["Cache-Control"] == "public, max-age=3600"
    assert metadata.json == {
        "resource": resource,
        "authorization_servers": [issuer.issuer],
        "scopes_supported": ["read:invoices", "read:orders", "write:orders"],
        "bearer_methods_supported": ["header"],
    }
    refused = client.get("/me")
    assert refused.headers["WWW-Authenticate"] == (
        'Bearer realm="api", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp"'
    )
    assert client.get("/me", headers=bearer(issuer.mint(aud=[resource]))).status_code == 200
