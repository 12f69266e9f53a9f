"""Kinde API keys through the core pipeline, against the dev issuer over real HTTP on 127.0.0.1:
valid / revoked / inactive / unknown keys, scopes, the M2M token's life, single flight, the spray
bound, Kinde failing in every way, and the key never reaching a log record, an event or an answer."""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from kinde_guard import (
    ConfigurationError,
    GuardConfig,
    InsufficientScopeError,
    InvalidTokenError,
    JWKSError,
    KindeGuard,
    MalformedTokenError,
    Requirements,
)
from kinde_guard.api_keys import ApiKeyUnavailableError
from kinde_guard.testing import DevIssuer, FrozenClock

TIMEOUT = 0.5


@pytest.fixture
def issuer() -> Iterator[DevIssuer]:
    with DevIssuer().serve() as issuer:
        yield issuer


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, name: str, data: Any) -> None:
        self.seen.append((name, dict(data)))

    def names(self) -> list[str]:
        return [n for n, _ in self.seen]


def guard_for(issuer: DevIssuer, clock: Any = None, on_event: Any = None, **options: Any) -> KindeGuard:
    options.setdefault("http_timeout", TIMEOUT)
    config = issuer.guard_config(api_keys=True, **options)
    return KindeGuard(config, clock=clock or time.time, on_event=on_event)


def bearer(value: str) -> str:
    return "Bearer " + value


def test_valid_org_and_user_keys(issuer: DevIssuer) -> None:
    guard = guard_for(issuer)
    org_key = issuer.create_api_key(scopes=["read:orders"], org_code="org_acme")
    claims = guard.authenticate(bearer(org_key), scopes=["read:orders"])
    record = issuer.api_key_record(org_key)
    assert record is not None
    assert (claims.credential, claims.key_id, claims.sub, claims.org_code) == (
        "api_key",
        record.key_id,
        None,
        "org_acme",
    )
    assert claims.scopes == {"read:orders"} and claims.permissions == frozenset() and not claims.is_m2m
    user_key = issuer.create_api_key(scopes=["read:orders"], user_id="kp_jane")
    assert guard.authenticate(bearer(user_key)).sub == "kp_jane"
    # The same through the token entry points (what the MCP verifier calls).
    assert guard.verify(user_key).sub == "kp_jane"
    assert asyncio.run(guard.verify_async(org_key)).org_code == "org_acme"
    assert asyncio.run(guard.authenticate_async(bearer(org_key))).credential == "api_key"
    assert guard.authenticate_cached(bearer(org_key)) is not None


@pytest.mark.parametrize("status", ["revoked", "inactive"])
def test_revoked_inactive_unknown_are_401(issuer: DevIssuer, status: str) -> None:
    guard = guard_for(issuer)
    key = issuer.create_api_key(scopes=["read:orders"], status=status)
    with pytest.raises(InvalidTokenError, match=rf"The API key is {status}\.") as caught:
        guard.authenticate(bearer(key))
    answer = guard.render_error(caught.value)
    assert answer.status == 401 and b'"invalid_token"' in answer.body
    with pytest.raises(InvalidTokenError, match=r"The API key is not valid\."):
        guard.authenticate(bearer("k_live_" + secrets.token_urlsafe(24)))


def test_revocation_takes_effect_after_the_cache_ttl(issuer: DevIssuer) -> None:
    clock = FrozenClock()
    guard = guard_for(issuer, clock=clock, api_key_cache_ttl=300)
    key = issuer.create_api_key()
    guard.authenticate(bearer(key))
    issuer.revoke_api_key(key)
    clock.advance(299)
    assert guard.authenticate(bearer(key)).credential == "api_key"  # trusted for the TTL
    clock.advance(2)
    with pytest.raises(InvalidTokenError, match="revoked"):
        guard.authenticate(bearer(key))
    verifications = issuer.api_key_verifications
    with pytest.raises(InvalidTokenError, match="revoked"):
        guard.authenticate(bearer(key))  # remembered: no second call
    assert issuer.api_key_verifications == verifications


def test_missing_scope_is_403_with_the_challenge(issuer: DevIssuer) -> None:
    guard = guard_for(issuer)
    key = issuer.create_api_key(scopes=["read:orders"])
    with pytest.raises(InsufficientScopeError) as caught:
        guard.authenticate(bearer(key), scopes=["write:orders"])
    answer = guard.render_error(caught.value)
    assert answer.status == 403
    assert ("www-authenticate", answer.headers[2][1]) in answer.headers
    assert 'error="insufficient_scope"' in answer.headers[2][1] and 'scope="write:orders"' in answer.headers[2][1]
    # Roles, flags: an API key has none, refused with their usual sentences (403).
    with pytest.raises(InsufficientScopeError):
        guard.authenticate(bearer(key), roles=["admin"])


def test_access_tokens_only_route(issuer: DevIssuer) -> None:
    guard = guard_for(issuer)
    key = issuer.create_api_key()
    only_tokens = Requirements(accept_api_keys=False)
    with pytest.raises(InvalidTokenError, match="access tokens only"):
        guard.authenticate(bearer(key), requirements=only_tokens)
    assert guard.authenticate(bearer(issuer.mint()), requirements=only_tokens).credential == "access_token"
    assert "not an API key" in only_tokens.describe()


def test_org_allowlist_applies(issuer: DevIssuer) -> None:
    guard = guard_for(issuer, allowed_org_codes=["org_acme"])
    assert guard.authenticate(bearer(issuer.create_api_key(org_code="org_acme"))).org_code == "org_acme"
    with pytest.raises(InvalidTokenError, match="org_code"):
        guard.authenticate(bearer(issuer.create_api_key(org_code="org_other")))


def test_jwt_path_unchanged_and_unprefixed_values_never_reach_kinde(issuer: DevIssuer) -> None:
    guard = guard_for(issuer)
    claims = guard.authenticate(bearer(issuer.mint(scp=["read:orders"])), scopes=["read:orders"])
    assert claims.credential == "access_token" and claims.key_id is None
    for value in ("not-a-key", "sk_live_abc", "a.b", "a.b.c.d"):
        with pytest.raises(MalformedTokenError):
            guard.authenticate(bearer(value))
    assert issuer.api_key_verifications == 0 and issuer.m2m_token_requests == 0
    # With api_keys off, a key is just a malformed token.
    with pytest.raises(MalformedTokenError):
        issuer.guard().authenticate(bearer(issuer.create_api_key()))
    assert issuer.api_key_verifications == 0


def test_configuration_requires_the_m2m_app() -> None:
    with pytest.raises(ConfigurationError, match="m2m_client_id and m2m_client_secret") as caught:
        GuardConfig(domain="acme.kinde.com", audience="api", api_keys=True, m2m_client_id="id")
    assert "read:api_keys" in str(caught.value) and "https://acme.kinde.com/api" in str(caught.value)
    env = {"KINDE_DOMAIN": "acme.kinde.com", "KINDE_AUDIENCE": "api", "KINDE_API_KEYS": "true"}
    with pytest.raises(ConfigurationError, match="KINDE_M2M_CLIENT_ID"):
        GuardConfig.from_env(environ=env)
    config = GuardConfig.from_env(
        environ={
            **env,
            "KINDE_M2M_CLIENT_ID": "id",
            "KINDE_M2M_CLIENT_SECRET": "s3cr3t-value",
            "KINDE_API_KEY_CACHE_TTL": "60",
        }
    )
    assert config.api_keys and config.api_key_cache_ttl == 60 and "s3cr3t-value" not in repr(config)
    with pytest.raises(ConfigurationError, match="api_key_verify_burst"):
        GuardConfig(domain="acme.kinde.com", audience="api", api_key_verify_burst=0)


def test_one_m2m_token_for_many_verifications(issuer: DevIssuer) -> None:
    guard = guard_for(issuer)
    for _ in range(10):
        guard.authenticate(bearer(issuer.create_api_key()))
    assert issuer.api_key_verifications == 10 and issuer.m2m_token_requests == 1


def test_token_expiry_makes_exactly_one_refresh(issuer: DevIssuer) -> None:
    clock = FrozenClock()
    issuer.clock = clock
    issuer.m2m_token_lifetime = 600
    guard = guard_for(issuer, clock=clock, http_timeout=5)
    guard.authenticate(bearer(issuer.create_api_key()))
    clock.advance(545)  # within the last 60 s of the token's life: refresh
    keys = [issuer.create_api_key() for _ in range(20)]
    with ThreadPoolExecutor(20) as pool:
        assert all(c.credential == "api_key" for c in pool.map(lambda k: guard.authenticate(bearer(k)), keys))
    assert issuer.m2m_token_requests == 2
    state = guard.api_key_state()
    assert state is not None and state.token_fetches == 2 and state.has_token


def test_a_rejected_m2m_token_is_refetched_once(issuer: DevIssuer) -> None:
    guard = guard_for(issuer)
    guard.authenticate(bearer(issuer.create_api_key()))
    issuer.revoke_m2m_tokens()  # Kinde now answers 401 to the token the guard holds
    assert guard.authenticate(bearer(issuer.create_api_key())).credential == "api_key"
    assert issuer.m2m_token_requests == 2


def test_wrong_m2m_secret_or_missing_scope_is_503_never_401(issuer: DevIssuer) -> None:
    guard = guard_for(issuer, m2m_client_secret="wrong")
    with pytest.raises(JWKSError, match="HTTP 401") as caught:
        guard.authenticate(bearer(issuer.create_api_key()))
    assert guard.render_error(caught.value).status == 503
    issuer.m2m_scopes = []
    with pytest.raises(ApiKeyUnavailableError, match="read:api_keys"):
        guard_for(issuer).authenticate(bearer(issuer.create_api_key()))


def test_200_concurrent_first_requests_make_one_verification(issuer: DevIssuer) -> None:
    guard = guard_for(issuer, http_timeout=5)
    key = issuer.create_api_key(scopes=["read:orders"])
    issuer.api_key_verify_hang = 0.3  # every request arrives while the first verification runs
    barrier = threading.Barrier(200)

    def call(_: int) -> str:
        barrier.wait()
        return guard.authenticate(bearer(key)).credential

    with ThreadPoolExecutor(200) as pool:
        assert set(pool.map(call, range(200))) == {"api_key"}
    assert issuer.api_key_verifications == 1


def test_200_concurrent_async_first_requests_make_one_verification(issuer: DevIssuer) -> None:
    guard = guard_for(issuer, http_timeout=5)
    key = issuer.create_api_key()
    issuer.api_key_verify_hang = 0.3

    async def main() -> set[str]:
        results = await asyncio.gather(*(guard.authenticate_async(bearer(key)) for _ in range(200)))
        return {c.credential for c in results}

    assert asyncio.run(main()) == {"api_key"}
    assert issuer.api_key_verifications == 1


def test_a_spray_of_2000_keys_is_bounded_while_a_cached_key_keeps_working(issuer: DevIssuer) -> None:
    guard = guard_for(issuer)  # defaults: burst 20, 5 per second
    good = issuer.create_api_key(scopes=["read:orders"])
    guard.authenticate(bearer(good))
    before = issuer.api_key_verifications
    started = time.monotonic()
    statuses: dict[int, int] = {}
    for i in range(2000):
        try:
            guard.authenticate(bearer("k_live_" + secrets.token_urlsafe(24)))
        except (InvalidTokenError, JWKSError) as exc:
            status = guard.render_error(exc).status
            statuses[status] = statuses.get(status, 0) + 1
        if i % 50 == 0:
            assert guard.authenticate(bearer(good), scopes=["read:orders"]).credential == "api_key"
    elapsed = time.monotonic() - started
    calls = issuer.api_key_verifications - before
    assert calls <= 20 + 5 * elapsed + 1 and calls <= 200, (calls, elapsed)
    assert statuses.get(503, 0) >= 2000 - calls and set(statuses) <= {401, 503}
    state = guard.api_key_state()
    assert state is not None and state.rate_limited >= 1800


def test_a_burst_of_20_legitimate_first_seen_keys_goes_through(issuer: DevIssuer) -> None:
    guard = guard_for(issuer, http_timeout=5)
    keys = [issuer.create_api_key() for _ in range(20)]
    with ThreadPoolExecutor(20) as pool:
        assert [c.credential for c in pool.map(lambda k: guard.authenticate(bearer(k)), keys)] == ["api_key"] * 20


FAULTS = {
    "status 500": ("api_key_verify_status", 500),
    "hang": ("api_key_verify_hang", 5.0),
    "garbage": ("api_key_verify_body", b"<html>502 Bad Gateway</html>"),
    "wrong shape": ("api_key_verify_body", b'{"is_valid": true, "status": "active", "scopes": "all"}'),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_kinde_failing(issuer: DevIssuer, fault: str) -> None:
    clock = FrozenClock()
    guard = guard_for(issuer, clock=clock, api_key_cache_ttl=60, api_key_max_stale=600)
    cached = issuer.create_api_key(scopes=["read:orders"])
    guard.authenticate(bearer(cached))
    setattr(issuer, *FAULTS[fault])
    clock.advance(61)  # past the TTL: the key is re-verified, and Kinde fails
    started = time.monotonic()
    assert guard.authenticate(bearer(cached), scopes=["read:orders"]).credential == "api_key"
    for _ in range(3):  # unknown keys: 503 with Retry-After, at once during the cooldown
        with pytest.raises(JWKSError) as caught:
            guard.authenticate(bearer(issuer.create_api_key()))
        answer = guard.render_error(caught.value)
        assert answer.status == 503 and any(name == "retry-after" for name, _ in answer.headers)
    assert time.monotonic() - started < TIMEOUT + 0.5
    clock.advance(600)  # past the bounded staleness: the cached key fails closed too
    with pytest.raises(JWKSError):
        guard.authenticate(bearer(cached))


def test_an_unknown_key_while_kinde_hangs_is_503_within_the_timeout(issuer: DevIssuer) -> None:
    guard = guard_for(issuer)
    issuer.api_key_verify_hang = 5.0
    started = time.monotonic()
    with pytest.raises(JWKSError):
        guard.authenticate(bearer(issuer.create_api_key()))
    assert time.monotonic() - started < TIMEOUT + 0.5


def test_async_never_blocks_the_loop_while_kinde_hangs(issuer: DevIssuer) -> None:
    guard = guard_for(issuer)
    issuer.api_key_verify_hang = 5.0

    async def main() -> tuple[int, float]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        started = time.monotonic()
        with pytest.raises(JWKSError):
            await guard.authenticate_async(bearer(issuer.create_api_key()))
        elapsed = time.monotonic() - started
        task.cancel()
        return ticks, elapsed

    ticks, elapsed = asyncio.run(main())
    assert elapsed < TIMEOUT + 0.5 and ticks >= 20


def test_the_key_never_reaches_a_log_record_an_event_or_an_answer(
    issuer: DevIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    events = Events()
    clock = FrozenClock()
    guard = guard_for(issuer, clock=clock, on_event=events, api_key_cache_ttl=60)
    keys = {
        "valid": issuer.create_api_key(scopes=["read:orders"]),
        "revoked": issuer.create_api_key(status="revoked"),
        "unknown": "k_live_" + secrets.token_urlsafe(24),
        "unprefixed": "x" + secrets.token_urlsafe(24),
    }
    answers = []
    for key in keys.values():
        for scopes in (None, ["write:orders"]):
            try:
                guard.authenticate(bearer(key), scopes=scopes)
            except (InvalidTokenError, InsufficientScopeError, JWKSError) as exc:
                answers.append(guard.render_error(exc))
    issuer.api_key_verify_status = 500
    clock.advance(61)
    guard.authenticate(bearer(keys["valid"]))  # stale
    with pytest.raises(JWKSError) as caught:
        guard.authenticate(bearer(issuer.create_api_key()))
    answers.append(guard.render_error(caught.value))
    assert {"api_key_verified", "api_key_refused", "api_key_verify_failed", "api_key_stale"} <= set(events.names())
    text = "\n".join(
        [r.getMessage() + repr(r.args) for r in caplog.records]
        + [repr(e) for e in events.seen]
        + [repr(a) for a in answers]
        + [repr(guard.api_key_state())]
    )
    for key in keys.values():
        assert key not in text and key[7:] not in text
    assert issuer.m2m_client_secret not in text
    assert not any(isinstance(k, str) for k in guard.api_keys.cache) if guard.api_keys else False
