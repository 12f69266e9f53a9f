"""Policy.explain: every check of the verifier on a verified claim set, each one reported, agreeing
with check_claims_one_by_one and authorize (the guard's own path) on every payload."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kinde_guard import AuthError, GuardConfig
from kinde_guard.claims import Claims, Match
from kinde_guard.policy import CheckResult, Policy
from kinde_guard.requirements import Requirements

DOMAIN = "https://acme.kinde.com"
API = "https://api.example.com"
NOW = 1_700_000_000
NAMES = ["iss", "aud", "exp", "nbf", "iat", "azp", "org_code", "token_type"]
NAMES += ["required_scopes", "required_permissions", "scopes", "permissions"]
NAMES += ["roles", "feature_flags", "org_codes", "claims_check"]
VALID: dict[str, Any] = {
    "iss": DOMAIN,
    "aud": [API],
    "exp": NOW + 3600,
    "iat": NOW - 10,
    "azp": "client",
    "sub": "kp_1",
    "scp": ["openid", "read:orders"],
    "permissions": ["delete:orders"],
    "org_code": "org_a",
}


def policy(**options: Any) -> Policy:
    return Policy.from_config(GuardConfig(domain=DOMAIN, audience=[API], **options))


def guard_verdict(
    p: Policy, payload: dict[str, Any], scopes: tuple[str, ...], permissions: tuple[str, ...], match: Match
) -> str | None:
    """What the guard's path says: None when the payload passes, else the refusal's description."""
    try:
        p.check_claims_one_by_one(payload, NOW)
        p.authorize(Claims.from_payload(payload), Requirements(scopes=scopes, permissions=permissions, match=match))
    except AuthError as exc:
        return exc.description
    return None


def failed(results: list[CheckResult]) -> dict[str, str]:
    return {r.name: r.reason for r in results if not r.ok}


def test_a_passing_token_passes_every_check_in_the_guards_order() -> None:
    results = policy().explain(VALID, NOW, scopes=["read:orders"], permissions=["delete:orders"])
    assert [r.name for r in results] == NAMES
    assert all(r.ok and r.reason == "" for r in results)


CASES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any], dict[str, str]]] = [
    ("wrong issuer", {"iss": "https://evil.kinde.com"}, {}, {}, {"iss": "not an accepted issuer"}),
    ("empty audience", {"aud": []}, {}, {}, {"aud": "missing or empty"}),
    ("id token audience", {"aud": ["client", DOMAIN]}, {}, {}, {"aud": "does not name this API"}),
    ("expired", {"exp": NOW - 3600}, {}, {}, {"exp": "the token expired"}),
    ("not yet valid", {"nbf": NOW + 3600}, {}, {}, {"nbf": "not valid yet"}),
    ("issued in the future", {"iat": NOW + 3600}, {}, {}, {"iat": "in the future"}),
    ("too old", {"iat": NOW - 7200}, {"max_token_age": 600}, {}, {"iat": "maximum age"}),
    ("other client", {"azp": "other"}, {"allowed_client_ids": ["client"]}, {}, {"azp": "azp"}),
    ("other organization", {"org_code": "org_b"}, {"allowed_org_codes": ["org_a"]}, {}, {"org_code": "org_code"}),
    ("m2m refused", {"gty": ["client_credentials"]}, {"allow_m2m": False}, {}, {"token_type": "machine-to-machine"}),
    ("missing scope", {}, {}, {"scopes": ["write:orders"]}, {"scopes": "missing: write:orders"}),
    ("missing required scope", {}, {"required_scopes": ["admin"]}, {}, {"required_scopes": "missing: admin"}),
    (
        "missing required permission",
        {},
        {"required_permissions": ["refund:orders"]},
        {},
        {"required_permissions": "missing: refund:orders"},
    ),
    (
        # authorize checks the policy's own permissions before the call's scopes: so does explain.
        "required permission and call scope",
        {},
        {"required_permissions": ["refund:orders"]},
        {"scopes": ["write:orders"]},
        {"required_permissions": "refund:orders", "scopes": "write:orders"},
    ),
    ("scope only in permissions", {}, {}, {"scopes": ["delete:orders"]}, {"scopes": "missing: delete:orders"}),
    ("missing permission", {}, {}, {"permissions": ["refund:orders"]}, {"permissions": "missing: refund:orders"}),
    ("any of", {}, {}, {"scopes": ["x", "y"], "match": "any"}, {"scopes": "one of: x, y"}),
    (
        "several at once",
        {"iss": "https://evil.kinde.com", "exp": NOW - 3600},
        {},
        {"permissions": ["refund:orders"]},
        {"iss": "issuer", "exp": "expired", "permissions": "refund:orders"},
    ),
]


@pytest.mark.parametrize(("name", "changes", "options", "call", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_failing_check_is_named_with_the_guards_reason(
    name: str, changes: dict[str, Any], options: dict[str, Any], call: dict[str, Any], expected: dict[str, str]
) -> None:
    p = policy(**options)
    payload = {**VALID, **changes}
    results = p.explain(payload, NOW, **call)
    assert [r.name for r in results] == NAMES
    found = failed(results)
    assert found.keys() == expected.keys()
    for check, text in expected.items():
        assert text in found[check]
    # The first failure is exactly the refusal the guard's own path raises.
    scopes, permissions = tuple(call.get("scopes", ())), tuple(call.get("permissions", ()))
    first = next(r.reason for r in results if not r.ok)
    assert first == guard_verdict(p, payload, scopes, permissions, call.get("match", "all"))


def test_a_check_result_is_a_frozen_value() -> None:
    result = CheckResult("iss", True, "")
    assert result == CheckResult("iss", True, "")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.ok = False  # type: ignore[misc]


_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.text(max_size=3))
_PAYLOADS = st.fixed_dictionaries(
    {},
    optional={
        "iss": st.sampled_from([DOMAIN, DOMAIN + "/", "other"]) | _VALUES,
        "aud": st.sampled_from([[API], [], API, ["x"], [API, 1], None]),
        "exp": st.sampled_from([NOW + 60, NOW - 61, NOW - 59, float(NOW + 1), "soon", True, float("nan")]),
        "nbf": st.sampled_from([NOW, NOW + 61, NOW + 59, "now"]),
        "iat": st.sampled_from([NOW, NOW + 61, NOW - 7200, None]),
        "azp": st.sampled_from(["a", "b"]),
        "org_code": st.sampled_from(["org_a", "org_b"]),
        "gty": st.sampled_from([["client_credentials"], []]),
        "scp": st.lists(st.sampled_from(["read", "write", "admin"]), max_size=3),
        "scope": st.sampled_from(["read", "write admin", ""]),
        "permissions": st.lists(st.sampled_from(["read", "delete"]), max_size=2),
    },
)
_OPTIONS = st.fixed_dictionaries(
    {},
    optional={
        "leeway": st.sampled_from([0, 60]),
        "max_token_age": st.sampled_from([None, 3600]),
        "allowed_client_ids": st.sampled_from([(), ("a",)]),
        "allowed_org_codes": st.sampled_from([(), ("org_a",)]),
        "allow_m2m": st.booleans(),
        "required_scopes": st.sampled_from([(), ("read",)]),
        "required_permissions": st.sampled_from([(), ("delete",)]),
        "insecure_accept_empty_audience": st.booleans(),
    },
)
_WANTED = st.lists(st.sampled_from(["read", "write", "admin", "delete"]), max_size=2).map(tuple)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    payload=_PAYLOADS,
    options=_OPTIONS,
    scopes=_WANTED,
    permissions=_WANTED,
    match=st.sampled_from(["all", "any"]),
)
def test_explain_agrees_with_the_guards_checks_on_any_payload(
    payload: dict[str, Any],
    options: dict[str, Any],
    scopes: tuple[str, ...],
    permissions: tuple[str, ...],
    match: Match,
) -> None:
    p = policy(**options)
    results = p.explain(payload, NOW, scopes=scopes, permissions=permissions, match=match)
    verdict = guard_verdict(p, payload, scopes, permissions, match)
    assert [r.name for r in results] == NAMES
    if verdict is None:
        assert all(r.ok for r in results), results
    else:
        assert next(r.reason for r in results if not r.ok) == verdict
