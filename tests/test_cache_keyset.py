"""Cached verdicts obey the key set: a verdict holds only while the key that signed it is in a key
set that is fresh, or stale within ``jwks_max_stale``; past that it fails like an uncached token.

Real issuer over HTTP on 127.0.0.1, frozen clock; background refreshes are waited for by polling
the key set's own fetch counter against the server's request counter.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from kinde_guard import InvalidSignatureError, JWKSError, KindeGuard
from kinde_guard.testing import DevIssuer, FrozenClock

TTL = 600  # the dev issuer's Cache-Control max-age
LONG = 200_000  # tokens that outlive every window below


def settle(guard: KindeGuard, issuer: DevIssuer, timeout: float = 5.0) -> None:
    """Wait until no JWKS fetch is in flight and every request the server saw has completed."""
    deadline = time.monotonic() + timeout
    while (state := guard.key_set_state()).fetching or state.fetches != issuer.jwks_fetches:
        assert time.monotonic() < deadline, "a JWKS fetch never completed"
        time.sleep(0.005)


Verify = Callable[[KindeGuard, str], object]


def by_verify(guard: KindeGuard, token: str) -> object:
    return guard.verify(token)


def by_header(guard: KindeGuard, token: str) -> object:
    return guard.authenticate("Bearer " + token)  # the header-keyed fast path


def by_async_header(guard: KindeGuard, token: str) -> object:
    return asyncio.run(guard.authenticate_async(b"Bearer " + token.encode()))


PATHS = [by_verify, by_header, by_async_header]


@pytest.mark.parametrize("call", PATHS, ids=lambda f: f.__name__)
def test_a_cached_token_is_refused_once_a_refresh_drops_its_key(
    served_issuer: DevIssuer, clock: FrozenClock, rsa_keys: list[rsa.RSAPrivateKey], call: Verify
) -> None:
    guard = served_issuer.guard(clock=clock)
    token = served_issuer.mint(expires_in=LONG)
    call(guard, token)
    assert served_issuer.jwks_fetches == 1
    served_issuer.rotate(key=rsa_keys[1])  # the tenant removes the key (e.g. after a compromise)
    # Within the TTL the set is fresh: the cached verdict holds, nothing is fetched.
    clock.advance(TTL - 1)
    call(guard, token)
    assert served_issuer.jwks_fetches == 1
    # Past the TTL: the hit is answered at once from the stale set, with one background refresh,
    # even while the JWKS endpoint is slow (no request blocks on the refresh).
    clock.advance(2)
    served_issuer.jwks_hang = 0.5
    started = time.monotonic()
    call(guard, token)
    call(guard, token)
    assert time.monotonic() - started < 0.3
    served_issuer.jwks_hang = 0
    settle(guard, served_issuer)
    assert served_issuer.jwks_fetches == 2
    # The refresh dropped the kid: the cached verdict is gone, the token refused (401), no refetch.
    for _ in range(3):
        with pytest.raises(InvalidSignatureError, match="no signing key with kid"):
            call(guard, token)
    assert served_issuer.jwks_fetches == 2
    # Much later still refused, with one refetch per cooldown at most.
    clock.advance(86_000)
    with pytest.raises(InvalidSignatureError):
        call(guard, token)
    settle(guard, served_issuer)
    assert served_issuer.jwks_fetches == 3


def test_a_refresh_that_keeps_the_key_keeps_the_verdict_cached(served_issuer: DevIssuer, clock: FrozenClock) -> None:
    guard = served_issuer.guard(clock=clock)
    token = served_issuer.mint(expires_in=LONG)
    claims = guard.verify(token)
    clock.advance(TTL + 1)
    assert guard.verify(token) is claims  # stale set: served from cache, refresh started
    settle(guard, served_issuer)
    assert served_issuer.jwks_fetches == 2
    assert guard.verify(token) is claims  # the same key came back: still the cached verdict
    assert guard.key_set_state().fresh


def test_a_kid_whose_key_material_changes_is_not_trusted_for_its_old_verdicts(
    served_issuer: DevIssuer, clock: FrozenClock, rsa_keys: list[rsa.RSAPrivateKey]
) -> None:
    guard = served_issuer.guard(clock=clock)
    token = served_issuer.mint(expires_in=LONG)
    guard.verify(token)
    # Same kid, other key: a JWKS that swaps material under a kid must not keep old verdicts.
    served_issuer.rotate(key=rsa_keys[1])
    served_issuer.jwks_headers = {}
    replaced = served_issuer.jwks()
    replaced["keys"][0]["kid"] = guard.key_set_state().kids[0]
    served_issuer.jwks_body = json.dumps(replaced).encode()
    clock.advance(TTL + 1)
    guard.verify(token)  # stale: served once, refresh in the background
    settle(guard, served_issuer)
    with pytest.raises(InvalidSignatureError):  # re-verified against the new material: fails
        guard.verify(token)


@pytest.mark.parametrize("call", PATHS, ids=lambda f: f.__name__)
def test_a_cached_token_fails_closed_past_max_stale_while_the_jwks_is_down(
    served_issuer: DevIssuer, clock: FrozenClock, call: Verify
) -> None:
    max_stale = 3600
    guard = served_issuer.guard(clock=clock, jwks_max_stale=max_stale)
    token = served_issuer.mint(expires_in=LONG)
    call(guard, token)
    served_issuer.jwks_status = 500  # down from the start of the stale window
    clock.advance(TTL)
    elapsed = 0
    step = 7
    while elapsed + step < max_stale:
        clock.advance(step)
        elapsed += step
        call(guard, token)  # within jwks_max_stale: accepted
        settle(guard, served_issuer)
    # One attempt per cooldown (30 s) at most, however many requests.
    assert 2 <= served_issuer.jwks_fetches <= 2 + elapsed // 30
    state = guard.key_set_state()
    assert not state.fresh and state.usable and "HTTP 500" in (state.last_error or "")
    clock.advance(max_stale - elapsed + 1)
    for _ in range(3):
        with pytest.raises(JWKSError) as refused:
            call(guard, token)
        assert refused.value.status_code == 503
    # Exactly what an uncached token gets at the same moment.
    with pytest.raises(JWKSError):
        guard.verify(served_issuer.mint())
    # Still failing closed a day later.
    clock.advance(86_400)
    with pytest.raises(JWKSError):
        call(guard, token)


def test_a_cached_token_recovers_when_the_jwks_comes_back_within_max_stale(
    served_issuer: DevIssuer, clock: FrozenClock
) -> None:
    guard = served_issuer.guard(clock=clock, jwks_max_stale=3600)
    token = served_issuer.mint(expires_in=LONG)
    claims = guard.verify(token)
    served_issuer.jwks_status = 500
    clock.advance(TTL + 1)
    assert guard.verify(token) is claims
    settle(guard, served_issuer)
    served_issuer.jwks_status = 200
    clock.advance(31)  # past the cooldown: the next hit's background refresh succeeds
    assert guard.verify(token) is claims
    settle(guard, served_issuer)
    assert guard.key_set_state().fresh
    clock.advance(3600)  # the set was renewed, so this is within the new freshness + max_stale
    assert guard.verify(token) is claims


def test_a_cached_hit_is_one_comparison_while_the_set_is_fresh(served_issuer: DevIssuer, clock: FrozenClock) -> None:
    """No fetch, no lock on hits: the key set is not consulted at all while it is fresh."""
    guard = served_issuer.guard(clock=clock)
    token = served_issuer.mint(expires_in=LONG)
    claims = guard.verify(token)
    consulted: list[str] = []
    original = guard.key_set.usable_key

    def spy(kid: str) -> object:
        consulted.append(kid)
        return original(kid)

    guard.key_set.usable_key = spy  # type: ignore[method-assign]
    for _ in range(100):
        assert guard.verify(token) is claims
    assert consulted == []
    clock.advance(TTL + 1)
    guard.verify(token)
    assert len(consulted) == 1  # past the fresh set's deadline the key set is asked
