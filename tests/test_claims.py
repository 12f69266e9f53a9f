"""Claims built from Kinde's own documented claim sets (tests/data/kinde-samples.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kinde_guard import Claims, InsufficientScopeError, InvalidAudienceError
from kinde_guard.testing import OMIT, DevIssuer, FrozenClock

SAMPLES = {
    s["name"]: s for s in json.loads((Path(__file__).parent / "data" / "kinde-samples.json").read_text())["samples"]
}


def signed(issuer: DevIssuer, clock: FrozenClock, claims: dict[str, Any]) -> str:
    """A sample's claims, re-issued by the dev issuer (iss, times) with its aud kept when non-empty."""
    now = int(clock())
    payload = dict(claims, iss=issuer.issuer, iat=now, exp=now + 3600)
    return issuer.sign(payload)


@pytest.mark.parametrize("name", ["user_access_token_docs", "user_access_token_nextjs_with_roles_and_properties"])
def test_user_access_tokens_from_the_docs(name: str, issuer: DevIssuer, clock: FrozenClock) -> None:
    sample = SAMPLES[name]["claims"]
    guard = issuer.guard(clock=clock, audience=sample["aud"])
    claims = guard.verify(signed(issuer, clock, sample))
    assert claims.sub == sample["sub"] and not claims.is_m2m
    assert claims.scopes == frozenset(sample["scp"])
    assert claims.permissions == frozenset(sample["permissions"])
    assert claims.org_code == sample["org_code"]
    assert claims.audience == tuple(sample["aud"])
    assert claims.raw["jti"] == sample["jti"]
    assert claims.has_permissions(*sample["permissions"])


def test_roles_and_feature_flags(issuer: DevIssuer, clock: FrozenClock) -> None:
    sample = SAMPLES["user_access_token_nextjs_with_roles_and_properties"]["claims"]
    claims = issuer.guard(clock=clock, audience=sample["aud"]).verify(signed(issuer, clock, sample))
    assert claims.roles[0]["key"] == "admin"
    assert claims.feature_flags["isonboardingcomplete"] == {"t": "b", "v": False}
    assert claims.azp is None  # the sample's azp is a number, not a client id string


@pytest.mark.parametrize("name", ["m2m_global", "m2m_org_scoped"])
def test_m2m_tokens_from_the_docs(name: str, issuer: DevIssuer, clock: FrozenClock) -> None:
    sample = SAMPLES[name]["claims"]
    guard = issuer.guard(clock=clock, audience=sample["aud"])
    claims = guard.verify(signed(issuer, clock, sample), scopes=["read:users", "write:flags"])
    assert claims.is_m2m and claims.sub is None
    assert claims.azp == sample["azp"]
    assert claims.org_code == sample.get("org_code")


def test_m2m_management_api_token_has_scope_string_only(issuer: DevIssuer, clock: FrozenClock) -> None:
    sample = SAMPLES["m2m_management_api"]["claims"]
    claims = issuer.guard(clock=clock, audience=sample["aud"]).verify(signed(issuer, clock, sample))
    assert claims.scopes == {"read:users", "update:users"}


def test_token_without_audience_needs_the_insecure_opt_out(issuer: DevIssuer, clock: FrozenClock) -> None:
    token = signed(issuer, clock, SAMPLES["user_access_token_no_audience"]["claims"])
    with pytest.raises(InvalidAudienceError):
        issuer.guard(clock=clock).verify(token)
    open_guard = issuer.guard(clock=clock, audience=(), insecure_accept_empty_audience=True)
    assert open_guard.verify(token).sub == "kp_123457890"
    # Even under the opt-out, a token naming another API is refused.
    with pytest.raises(InvalidAudienceError):
        open_guard.verify(issuer.mint(aud=["https://other.example.com"]))
    assert open_guard.verify(issuer.mint(aud=OMIT)).sub


def test_id_token_from_the_docs_is_not_an_access_token(issuer: DevIssuer, clock: FrozenClock) -> None:
    sample = SAMPLES["id_token_docs"]["claims"]
    with pytest.raises(InvalidAudienceError):
        issuer.guard(clock=clock).verify(signed(issuer, clock, sample))


def test_has_scopes_all_and_any() -> None:
    claims = Claims.from_payload({"scp": ["a", "b"], "scope": "c", "permissions": ["p"]})
    assert claims.has_scopes("a", "c") and not claims.has_scopes("a", "z")
    assert claims.has_scopes("z", "c", match="any") and not claims.has_scopes("y", "z", match="any")
    assert claims.has_permissions("p") and not claims.has_permissions("a")


def test_match_any_at_verify(issuer: DevIssuer, clock: FrozenClock) -> None:
    guard = issuer.guard(clock=clock)
    token = issuer.mint(scopes=["read:orders"])
    assert guard.verify(token, scopes=["admin", "read:orders"], match="any")
    with pytest.raises(InsufficientScopeError) as info:
        guard.verify(token, scopes=["admin", "read:orders"])
    assert info.value.required_scopes == ("admin", "read:orders")


def test_claims_are_immutable() -> None:
    claims = Claims.from_payload({"sub": "kp_1", "scp": ["a"]})
    for name in ("sub", "scopes", "raw", "is_m2m"):
        with pytest.raises(AttributeError):
            setattr(claims, name, "x")
    with pytest.raises(AttributeError):
        claims.extra = 1  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        claims.raw["sub"] = "kp_2"  # type: ignore[index]
    assert claims == Claims.from_payload({"sub": "kp_1", "scp": ["a"]})
