"""Route requirements beyond scopes through the core: KindeGuard.authenticate with roles=,
feature_flags=, org_codes= and claims_check= on real signed tokens, each requirement met, not
met, its claim absent and malformed (tests/route_requirements_table.py); Requirements validation,
Claims accessors, Policy.explain and the cache-hit path."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from kinde_guard import AuthError, Claims, InsufficientScopeError, KindeGuard, Requirements
from kinde_guard.policy import Policy
from kinde_guard.testing import DevIssuer
from tests.route_requirements_table import ROUTES, ROWS, TOKENS, Row, broken_rule, mint


@pytest.fixture
def guard(issuer: DevIssuer) -> KindeGuard:
    return issuer.guard()


def refusal(guard: KindeGuard, header: str, needs: Requirements) -> AuthError | None:
    try:
        guard.authenticate(header, requirements=needs)
    except AuthError as exc:
        return exc
    return None


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_route_requirements_answer_as_the_table_says(guard: KindeGuard, issuer: DevIssuer, row: Row) -> None:
    header = "Bearer " + mint(issuer, row.token)
    exc = refusal(guard, header, Requirements(**ROUTES[row.route]))
    if row.status == 200:
        assert exc is None, exc
        return
    assert isinstance(exc, InsufficientScopeError), exc
    answer = guard.render_error(exc)
    assert answer.status == row.status == 403
    body = json.loads(answer.body)
    assert body["error"] == row.error == "insufficient_scope"
    if row.description is not None:
        assert body["error_description"] == row.description
    assert row.contains in body["error_description"]
    challenge = dict(answer.headers)["www-authenticate"]
    assert challenge.startswith('Bearer realm="api", error="insufficient_scope", error_description=')
    assert challenge.endswith(f', scope="{row.scope}"') == (row.scope is not None)
    assert ("scope=" in challenge) == (row.scope is not None)


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_the_keyword_forms_and_async_agree_with_requirements(guard: KindeGuard, issuer: DevIssuer, row: Row) -> None:
    token = mint(issuer, row.token)
    expected = refusal(guard, "Bearer " + token, Requirements(**ROUTES[row.route]))
    for call in (
        lambda: guard.verify(token, **ROUTES[row.route]),
        lambda: guard.authenticate("Bearer " + token, **ROUTES[row.route]),
        lambda: asyncio.run(guard.verify_async(token, **ROUTES[row.route])),
        lambda: asyncio.run(guard.authenticate_async("Bearer " + token, **ROUTES[row.route])),
    ):
        try:
            call()
            got = None
        except AuthError as exc:
            got = exc.description
        assert got == (expected.description if expected else None)


def test_every_route_of_the_table_is_covered_met_and_refused() -> None:
    for route in ROUTES:
        statuses = {r.status for r in ROWS if r.route == route}
        assert 200 in statuses or route.startswith("check_"), route
        assert 403 in statuses, route
    assert {r.token for r in ROWS} <= set(TOKENS)


def test_a_raising_claims_check_is_refused_and_logged_without_the_token(
    guard: KindeGuard, issuer: DevIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    token = issuer.mint(email="alice@example.com")
    with caplog.at_level(logging.DEBUG, logger="kinde_guard"), pytest.raises(InsufficientScopeError):
        guard.authenticate("Bearer " + token, claims_check=broken_rule)
    assert "claims_check broken_rule raised" in caplog.text
    assert "KeyError" in caplog.text
    assert token not in caplog.text
    assert token.split(".")[2] not in caplog.text


def test_the_cache_hit_path_checks_the_requirements_each_time(guard: KindeGuard, issuer: DevIssuer) -> None:
    header = "Bearer " + issuer.mint(roles=["admin"], feature_flags={"beta": True})
    needs = Requirements(roles=["admin"], feature_flags=["beta"])
    assert guard.authenticate(header, requirements=needs).has_roles("admin")
    assert guard.authenticate_cached(header, requirements=needs) is not None  # a hit
    with pytest.raises(InsufficientScopeError, match="missing: owner"):
        guard.authenticate_cached(header, requirements=Requirements(roles=["owner"]))
    with pytest.raises(InsufficientScopeError, match="not met: plan"):
        guard.authenticate(header, feature_flags={"plan": "pro"})


def test_global_allowed_org_codes_and_a_route_org_both_apply(issuer: DevIssuer) -> None:
    guard = issuer.guard(allowed_org_codes=["org_acme", "org_beta"])
    header = "Bearer " + issuer.mint(org_code="org_beta")
    guard.authenticate(header, org_codes=["org_beta"])
    with pytest.raises(InsufficientScopeError, match="requires the organization org_acme"):
        guard.authenticate(header, org_codes=["org_acme"])


@pytest.mark.parametrize(
    ("keywords", "error", "message"),
    [
        ({"roles": "admin"}, TypeError, "roles must be a list of names"),
        ({"roles": [""]}, TypeError, "non-empty strings"),
        ({"org_codes": "org_acme"}, TypeError, "org_codes must be a list"),
        ({"feature_flags": "beta"}, TypeError, "feature_flags must be a list"),
        ({"feature_flags": {"ratio": 0.5}}, TypeError, "a bool, an int or a str"),
        ({"feature_flags": {"beta": None}}, TypeError, "a bool, an int or a str"),
        ({"feature_flags": {"": True}}, TypeError, "non-empty strings"),
        ({"claims_check": "yes"}, TypeError, "claims_check must be a function"),
        ({"claims_check_message": "No."}, TypeError, "pass claims_check= too"),
        ({"claims_check": bool, "claims_check_message": " "}, TypeError, "non-empty sentence"),
        ({"roles": ["a"], "match": "most"}, ValueError, "match must be"),
    ],
)
def test_requirements_are_validated_when_built(keywords: dict[str, object], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        Requirements(**keywords)  # type: ignore[arg-type]


def test_requirements_are_values_hashable_with_a_function_check() -> None:
    a = Requirements(roles=["admin"], feature_flags={"plan": "pro"}, org_codes=["org_1"], claims_check=broken_rule)
    b = Requirements(
        roles=("admin",),
        feature_flags=[("plan", "pro")] and {"plan": "pro"},
        org_codes=["org_1"],
        claims_check=broken_rule,
    )
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a.feature_flags == (("plan", "pro"),)
    assert Requirements(feature_flags={"beta": True}) != Requirements(feature_flags={"beta": 1})
    assert bool(Requirements(org_codes=["o"])) and bool(Requirements(claims_check=bool)) and not Requirements()


def test_passing_requirements_and_keywords_together_is_a_type_error(guard: KindeGuard, issuer: DevIssuer) -> None:
    with pytest.raises(TypeError, match="not both"):
        guard.verify(issuer.mint(), requirements=Requirements(), roles=["admin"])


def test_claims_read_roles_and_typed_feature_flags_in_kinde_shapes() -> None:
    claims = Claims.from_payload(
        {
            "roles": [{"id": "018e", "key": "admin", "name": "Admin"}, {"id": "018f", "key": "owner", "name": "Owner"}],
            "feature_flags": {
                "beta": {"t": "b", "v": True},
                "seats": {"t": "i", "v": 5},
                "theme": {"t": "s", "v": "pink"},
                "odd": {"t": "b", "v": 1},
            },
        }
    )
    assert claims.role_keys == {"admin", "owner"}
    assert claims.has_roles("admin", "owner") and claims.has_roles("admin", "cto", match="any")
    assert not claims.has_roles("cto")
    assert claims.feature_flag("beta") is True and claims.feature_flag("beta", False) is True
    assert claims.feature_flag("seats", 0) == 5 and claims.feature_flag("seats", False) is False
    assert claims.feature_flag("beta", 0) == 0  # a boolean flag is no integer
    assert claims.feature_flag("theme", "light") == "pink"
    assert claims.feature_flag("odd", False) is False and claims.feature_flag("odd") is None  # malformed
    assert claims.feature_flag("missing", "x") == "x"
    malformed = Claims.from_payload({"roles": [{"key": "admin"}, {"name": "no key"}]})
    assert malformed.role_keys == frozenset() and not malformed.has_roles("admin")


def test_explain_reports_each_kinde_requirement_as_the_guard_refuses(issuer: DevIssuer, guard: KindeGuard) -> None:
    policy = Policy.from_config(guard.config)
    token = issuer.mint(roles=["viewer"], feature_flags={"beta": False}, org_code="org_x")
    payload = guard.verify(token).raw
    needs = Requirements(roles=["admin"], feature_flags=["beta"], org_codes=["org_acme"], claims_check=broken_rule)
    results = {r.name: r for r in policy.explain(dict(payload), issuer.clock(), needs)}
    assert {n for n, r in results.items() if not r.ok} == {"roles", "feature_flags", "org_codes", "claims_check"}
    first = next(r for r in policy.explain(dict(payload), issuer.clock(), needs) if not r.ok)
    assert first.reason == refusal(guard, "Bearer " + token, needs).description  # type: ignore[union-attr]
    with pytest.raises(TypeError, match="not both"):
        policy.explain(dict(payload), issuer.clock(), needs, scopes=["x"])


def test_keyword_requirements_built_once_are_reused_and_stay_exact(issuer: DevIssuer) -> None:
    guard = issuer.guard()
    token = issuer.mint(scopes=["read:orders"])
    for _ in range(3):
        assert guard.verify(token, scopes=["read:orders"]).sub
        with pytest.raises(InsufficientScopeError):
            guard.verify(token, scopes=["write:orders"])
    # A generator is read once and still checked; a bare string is still refused.
    assert guard.verify(token, scopes=(s for s in ["read:orders"])).sub
    with pytest.raises(InsufficientScopeError):
        guard.verify(token, scopes=(s for s in ["write:orders"]))
    with pytest.raises(TypeError, match="list of names"):
        guard.verify(token, scopes="read:orders")
    with pytest.raises(TypeError):
        guard.verify(token, scopes=[["read:orders"]])  # type: ignore[list-item]
