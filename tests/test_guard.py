"""KindeGuard policy options and the verified-token cache."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import pytest

from kinde_guard import (
    ConfigurationError,
    ExpiredTokenError,
    GuardConfig,
    InsufficientScopeError,
    InvalidClaimError,
    KindeGuard,
)
from kinde_guard.testing import OMIT, DevIssuer, FrozenClock


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, name: str, data: Mapping[str, Any]) -> None:
        self.seen.append((name, dict(data)))

    def count(self, name: str) -> int:
        return sum(1 for n, _ in self.seen if n == name)


def guard_with_events(issuer: DevIssuer, clock: FrozenClock, **options: Any) -> tuple[KindeGuard, Events]:
    events = Events()
    return KindeGuard(issuer.guard_config(**options), clock=clock, fetch=issuer.fetch, on_event=events), events


def test_repeated_token_is_verified_once_and_scopes_are_checked_every_call(
    issuer: DevIssuer, clock: FrozenClock
) -> None:
    guard, events = guard_with_events(issuer, clock)
    token = issuer.mint(scopes=["read:orders"])
    for _ in range(5):
        assert guard.verify(token, scopes=["read:orders"]).sub
    assert events.count("token_verified") == 1
    with pytest.raises(InsufficientScopeError):
        guard.verify(token, scopes=["write:orders"])  # a hit still checks the route's scopes


def test_cache_never_serves_a_token_past_its_exp(issuer: DevIssuer, clock: FrozenClock) -> None:
    guard, events = guard_with_events(issuer, clock)
    token = issuer.mint(expires_in=120)
    guard.verify(token)
    clock.advance(120 + 59)
    guard.verify(token)  # within leeway: a hit
    assert events.count("token_verified") == 1
    clock.advance(2)
    with pytest.raises(ExpiredTokenError):
        guard.verify(token)


def test_cache_is_bounded_and_zero_turns_it_off(issuer: DevIssuer, clock: FrozenClock) -> None:
    guard, events = guard_with_events(issuer, clock, token_cache_size=3)
    tokens = [issuer.mint() for _ in range(4)]
    for token in tokens[:3]:
        guard.verify(token)  # room in the cache: admitted at once
        guard.verify(token)
    assert events.count("token_verified") == 3
    # The cache is full: a new token enters only on its second verification (doorkeeper), then
    # evicts the least recently used one.
    guard.verify(tokens[3])
    guard.verify(tokens[3])
    guard.verify(tokens[3])
    assert events.count("token_verified") == 5
    guard.verify(tokens[0])  # evicted
    assert events.count("token_verified") == 6
    for token in tokens[1:]:
        guard.verify(token)  # still cached
    assert events.count("token_verified") == 6
    off, off_events = guard_with_events(issuer, clock, token_cache_size=0)
    off.verify(tokens[0])
    off.verify(tokens[0])
    assert off_events.count("token_verified") == 2


def test_one_shot_tokens_do_not_churn_a_full_cache(issuer: DevIssuer, clock: FrozenClock) -> None:
    guard, events = guard_with_events(issuer, clock, token_cache_size=2)
    regulars = [issuer.mint() for _ in range(2)]
    for token in regulars:
        guard.verify(token)
    for _ in range(20):
        guard.verify(issuer.mint())  # a stream of distinct tokens, each seen once
    before = events.count("token_verified")
    for token in regulars:
        guard.verify(token)
    assert events.count("token_verified") == before  # the regulars are still cached


def test_a_first_sighting_is_forgotten_after_a_window_of_cache_size_others(
    issuer: DevIssuer, clock: FrozenClock
) -> None:
    guard, events = guard_with_events(issuer, clock, token_cache_size=2)
    for token in (issuer.mint(), issuer.mint()):
        guard.verify(token)  # the cache is full
    late = issuer.mint()
    guard.verify(late)  # first sighting: remembered, not admitted
    for _ in range(2):
        guard.verify(issuer.mint())  # two newer first sightings push it out of the window
    guard.verify(late)  # a first sighting again
    guard.verify(late)  # the second: admitted
    before = events.count("token_verified")
    guard.verify(late)
    assert events.count("token_verified") == before  # a hit
    assert before == 2 + 1 + 2 + 2


def test_every_spelling_of_a_bearer_header_finds_the_cached_token(issuer: DevIssuer, clock: FrozenClock) -> None:
    guard, events = guard_with_events(issuer, clock)
    token = issuer.mint(sub="kp_1")
    spellings = ["Bearer " + token, "bearer " + token, "BEARER " + token, ("Bearer " + token).encode()]
    spellings += ["  Bearer " + token + " ", "Bearer  " + token, b"bearer  " + token.encode()]
    for header in spellings:
        assert guard.authenticate(header).sub == "kp_1", header
    assert events.count("token_verified") == 1


@pytest.mark.parametrize(
    ("tail", "error"),
    [("x", "InvalidSignatureError"), ("!", "InvalidRequestError"), (" more", "InvalidRequestError")],
)
def test_a_header_close_to_a_cached_token_is_verified_in_full(
    issuer: DevIssuer, clock: FrozenClock, tail: str, error: str
) -> None:
    guard = issuer.guard(clock=clock)
    token = issuer.mint()
    guard.authenticate("Bearer " + token)
    with pytest.raises(Exception) as caught:
        guard.authenticate("Bearer " + token + tail)
    assert type(caught.value).__name__ == error


def test_a_cache_hit_still_meets_the_configured_requirements(issuer: DevIssuer, clock: FrozenClock) -> None:
    guard, events = guard_with_events(issuer, clock, required_scopes=["read:orders"], allow_m2m=False)
    user = issuer.mint(scopes=["read:orders"])
    machine = issuer.mint_m2m(scopes=["read:orders"])
    for _ in range(3):
        assert guard.authenticate("Bearer " + user)
        with pytest.raises(InsufficientScopeError, match="machine-to-machine"):
            guard.authenticate("Bearer " + machine)
    assert events.count("token_verified") == 2 and events.count("token_refused") == 3
    unscoped = issuer.mint(scopes=["openid"])
    for _ in range(2):
        with pytest.raises(InsufficientScopeError, match="read:orders"):
            guard.authenticate("Bearer " + unscoped)


def test_a_refused_token_is_never_cached(issuer: DevIssuer, clock: FrozenClock) -> None:
    guard, events = guard_with_events(issuer, clock)
    token = issuer.mint(aud=["https://other.example.com"])
    for _ in range(3):
        with pytest.raises(Exception, match="aud"):
            guard.verify(token)
    assert events.count("token_refused") == 3 and events.count("token_verified") == 0


def test_allowed_client_ids(issuer: DevIssuer, clock: FrozenClock) -> None:
    guard = issuer.guard(clock=clock, allowed_client_ids=["client-a"])
    assert guard.verify(issuer.mint(azp="client-a"))
    with pytest.raises(InvalidClaimError, match="azp"):
        guard.verify(issuer.mint(azp="client-b"))
    with pytest.raises(InvalidClaimError, match="azp"):
        guard.verify(issuer.mint(azp=OMIT))


def test_allowed_org_codes(issuer: DevIssuer, clock: FrozenClock) -> None:
    guard = issuer.guard(clock=clock, allowed_org_codes=["org_a"])
    assert guard.verify(issuer.mint(org_code="org_a"))
    with pytest.raises(InvalidClaimError, match="org_code"):
        guard.verify(issuer.mint(org_code="org_b"))


def test_max_token_age(issuer: DevIssuer, clock: FrozenClock) -> None:
    guard = issuer.guard(clock=clock, max_token_age=600, token_cache_size=0)
    token = issuer.mint(expires_in=86400)
    assert guard.verify(token)
    clock.advance(600 + 61)
    with pytest.raises(ExpiredTokenError, match="iat"):
        guard.verify(token)
    with pytest.raises(InvalidClaimError, match="iat"):
        guard.verify(issuer.mint(iat=OMIT))


def test_m2m_and_user_restrictions(issuer: DevIssuer, clock: FrozenClock) -> None:
    users_only = issuer.guard(clock=clock, allow_m2m=False)
    assert users_only.verify(issuer.mint())
    with pytest.raises(InsufficientScopeError, match="machine-to-machine"):
        users_only.verify(issuer.mint_m2m())
    m2m_only = issuer.guard(clock=clock, allow_user_tokens=False)
    assert m2m_only.verify(issuer.mint_m2m())
    with pytest.raises(InsufficientScopeError):
        m2m_only.verify(issuer.mint())


def test_config_level_required_scopes_and_permissions(issuer: DevIssuer, clock: FrozenClock) -> None:
    guard = issuer.guard(clock=clock, required_scopes=["read:orders"], required_permissions=["p"])
    assert guard.verify(issuer.mint(scopes=["read:orders"], permissions=["p"]))
    with pytest.raises(InsufficientScopeError):
        guard.verify(issuer.mint(scopes=["read:orders"], permissions=[]))
    with pytest.raises(InsufficientScopeError):
        guard.verify(issuer.mint(scopes=[], permissions=["p"]))


def test_config_or_options_not_both(issuer: DevIssuer) -> None:
    with pytest.raises(ConfigurationError):
        KindeGuard(GuardConfig(domain="a.kinde.com", audience="x"), leeway=3)


def test_authenticate_async(issuer: DevIssuer, clock: FrozenClock) -> None:
    import asyncio

    guard = issuer.guard(clock=clock)
    claims = asyncio.run(guard.authenticate_async("Bearer " + issuer.mint(scopes=["x"]), scopes=["x"]))
    assert claims.has_scopes("x")


def test_no_token_text_appears_in_any_log_record(
    issuer: DevIssuer, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    guard = issuer.guard(clock=clock)
    tokens = [
        issuer.mint(),
        issuer.mint(aud=["other"]),
        issuer.mint(exp=int(clock()) - 3600),
        issuer.mint(headers={"kid": "unknown"}),
        issuer.mint(scopes=[]),
        "garbage.garbage.garbage",
    ]
    for token in tokens:
        with contextlib.suppress(Exception):
            guard.verify(token, scopes=["openid"])
    assert any("refused" in r.getMessage() for r in caplog.records)
    for record in caplog.records:
        text = record.getMessage()
        for token in tokens:
            for segment in token.split("."):
                assert len(segment) < 8 or segment not in text


def test_events_report_outcomes_fetches_stale_keys_and_outages(served_issuer: DevIssuer, clock: FrozenClock) -> None:
    events = Events()
    guard = KindeGuard(served_issuer.guard_config(jwks_max_stale=100, token_cache_size=0), clock=clock, on_event=events)
    token = served_issuer.mint(expires_in=86400)
    guard.verify(token)
    fetch = next(data for name, data in events.seen if name == "jwks_fetch")
    assert fetch["ok"] and fetch["status"] == 200 and fetch["kids"] == [served_issuer.kid] and fetch["duration"] >= 0
    with pytest.raises(InsufficientScopeError):
        guard.verify(token, scopes=["admin"])
    assert events.seen[-1] == (
        "token_refused",
        {"reason": "InsufficientScopeError", "error": "insufficient_scope", "kid": served_issuer.kid},
    )
    served_issuer.jwks_status = 503
    clock.advance(601)
    guard.verify(token)  # stale keys answer; a background refresh starts and fails
    guard.key_set.refresh()
    failed = [data for name, data in events.seen if name == "jwks_fetch" and not data["ok"]]
    assert failed and failed[-1]["status"] == 503 and failed[-1]["serving_stale"]
    clock.advance(31)
    guard.verify(token)
    assert any(name == "jwks_stale" and data["last_error"] for name, data in events.seen)
    clock.advance(200)  # beyond jwks_max_stale
    from kinde_guard import JWKSError

    with pytest.raises(JWKSError):
        guard.verify(token)
    assert events.seen[-1][0] == "jwks_unavailable"
    assert all(token not in repr(data) for _, data in events.seen)
