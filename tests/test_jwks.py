"""RemoteKeySet behaviour over a real local HTTP server (docs/architecture.md, "JWKS policy")."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from kinde_guard import InvalidSignatureError, JWKSError, KindeGuard
from kinde_guard._http import FetchError, fetch_url
from kinde_guard._issuer_http import IssuerHTTPServer, Request, Response
from kinde_guard.jwks import parse_jwks
from kinde_guard.testing import DevIssuer, FrozenClock, generate_rsa_key


def spray(guard: KindeGuard, issuer: DevIssuer, n: int) -> list[BaseException | None]:
    tokens = [issuer.mint(headers={"kid": f"spray-{i}"}) for i in range(n)]

    def one(token: str) -> BaseException | None:
        try:
            guard.verify(token)
        except Exception as exc:
            return exc
        return None

    with ThreadPoolExecutor(max_workers=50) as pool:
        return list(pool.map(one, tokens))


def test_unknown_kids_from_200_threads_cause_one_fetch_per_cooldown(
    served_issuer: DevIssuer, clock: FrozenClock
) -> None:
    guard = served_issuer.guard(clock=clock)
    guard.verify(served_issuer.mint())
    assert served_issuer.jwks_fetches == 1
    # Within the cooldown that started with the first fetch: no fetch at all.
    results = spray(guard, served_issuer, 200)
    assert all(isinstance(r, InvalidSignatureError) for r in results)
    assert served_issuer.jwks_fetches == 1
    # Each later cooldown window: exactly one fetch, however many ask.
    for expected in (2, 3):
        clock.advance(31)
        results = spray(guard, served_issuer, 200)
        assert all(isinstance(r, InvalidSignatureError) for r in results)
        assert served_issuer.jwks_fetches == expected


def test_unknown_kids_from_200_asyncio_tasks_cause_one_fetch(served_issuer: DevIssuer, clock: FrozenClock) -> None:
    guard = served_issuer.guard(clock=clock)
    tokens = [served_issuer.mint(headers={"kid": f"spray-{i}"}) for i in range(200)]

    async def main() -> list[BaseException | object]:
        await guard.verify_async(served_issuer.mint())
        clock.advance(31)
        served_issuer.jwks_hang = 0.2  # keep the fetch in flight while the others arrive
        return await asyncio.gather(*(guard.verify_async(t) for t in tokens), return_exceptions=True)

    results = asyncio.run(main())
    assert all(isinstance(r, InvalidSignatureError) for r in results)
    assert served_issuer.jwks_fetches == 2


def test_cold_start_under_100_concurrent_threads_fetches_once(served_issuer: DevIssuer, clock: FrozenClock) -> None:
    guard = served_issuer.guard(clock=clock)
    served_issuer.jwks_hang = 0.2
    tokens = [served_issuer.mint() for _ in range(100)]
    barrier = threading.Barrier(100)

    def one(token: str) -> str | None:
        barrier.wait()
        return guard.verify(token).sub

    with ThreadPoolExecutor(max_workers=100) as pool:
        subs = list(pool.map(one, tokens))
    assert all(subs)
    assert served_issuer.jwks_fetches == 1


def test_cold_start_under_100_asyncio_tasks_fetches_once(served_issuer: DevIssuer, clock: FrozenClock) -> None:
    guard = served_issuer.guard(clock=clock)
    served_issuer.jwks_hang = 0.2
    tokens = [served_issuer.mint() for _ in range(100)]

    async def main() -> list[object]:
        return await asyncio.gather(*(guard.verify_async(t) for t in tokens))

    assert len(asyncio.run(main())) == 100
    assert served_issuer.jwks_fetches == 1


@pytest.mark.parametrize("failure", ["status_500", "hang", "garbage", "empty"])
def test_outage_serves_cached_keys_then_fails_closed(
    served_issuer: DevIssuer, clock: FrozenClock, failure: str
) -> None:
    guard = served_issuer.guard(clock=clock, jwks_max_stale=3600, http_timeout=0.3, token_cache_size=0)
    token = served_issuer.mint(expires_in=10 * 86400)
    guard.verify(token)
    if failure == "status_500":
        served_issuer.jwks_status = 500
    elif failure == "hang":
        served_issuer.jwks_hang = 5
    elif failure == "garbage":
        served_issuer.jwks_body = b"<html>oops</html>"
    else:
        served_issuer.jwks_body = json.dumps({"keys": []}).encode()
    clock.advance(601)  # past the TTL (max-age=600): a refresh is due, and fails
    assert guard.verify(token).sub  # served from the stale keys at once
    guard.key_set.refresh()
    state = guard.key_set_state()
    assert state.usable and not state.fresh and state.last_error
    clock.advance(3000)  # still within max_stale
    assert guard.verify(token).sub
    clock.advance(700)  # now beyond fresh + max_stale: fail closed
    with pytest.raises(JWKSError) as info:
        guard.verify(token)
    assert info.value.status_code == 503 and info.value.retry_after >= 1


def test_cold_outage_is_a_jwks_error_and_retries_only_after_the_cooldown(
    served_issuer: DevIssuer, clock: FrozenClock
) -> None:
    served_issuer.jwks_status = 500
    guard = served_issuer.guard(clock=clock)
    token = served_issuer.mint()
    for _ in range(20):
        with pytest.raises(JWKSError):
            guard.verify(token)
    assert served_issuer.jwks_fetches == 1
    served_issuer.jwks_status = 200
    clock.advance(31)
    assert guard.verify(token).sub
    assert served_issuer.jwks_fetches == 2


def test_unknown_kid_while_the_endpoint_fails_is_503_not_401(served_issuer: DevIssuer, clock: FrozenClock) -> None:
    guard = served_issuer.guard(clock=clock)
    guard.verify(served_issuer.mint())
    served_issuer.jwks_status = 500
    clock.advance(31)
    with pytest.raises(JWKSError):
        guard.verify(served_issuer.mint(headers={"kid": "new-key"}))


def test_rotation_is_picked_up_and_removed_keys_stop_working(
    served_issuer: DevIssuer, clock: FrozenClock, rsa_keys: list[rsa.RSAPrivateKey]
) -> None:
    guard = served_issuer.guard(clock=clock)
    old_token = served_issuer.mint()
    guard.verify(old_token)
    served_issuer.rotate(key=rsa_keys[1])  # the old key leaves the JWKS
    new_token = served_issuer.mint()
    clock.advance(31)
    assert guard.verify(new_token).sub  # unknown kid -> refetch -> found
    assert served_issuer.jwks_fetches == 2
    # The old token was cached as verified; its kid left the JWKS, so the cache must not serve it.
    with pytest.raises(InvalidSignatureError):
        guard.verify(old_token)


def test_rotation_keeping_the_previous_key(
    served_issuer: DevIssuer, clock: FrozenClock, rsa_keys: list[rsa.RSAPrivateKey]
) -> None:
    guard = served_issuer.guard(clock=clock, token_cache_size=0)
    old_token = served_issuer.mint()
    served_issuer.rotate(keep_previous=True, key=rsa_keys[1])
    new_token = served_issuer.mint()
    assert guard.verify(old_token).sub and guard.verify(new_token).sub
    assert served_issuer.jwks_fetches == 1


def test_cache_control_max_age_is_honoured_within_bounds(served_issuer: DevIssuer, clock: FrozenClock) -> None:
    served_issuer.jwks_headers = {"Cache-Control": "public, max-age=120"}
    guard = served_issuer.guard(clock=clock, jwks_min_ttl=60, jwks_max_ttl=3600)
    guard.verify(served_issuer.mint())
    clock.advance(119)
    assert guard.key_set_state().fresh
    clock.advance(2)
    assert not guard.key_set_state().fresh
    served_issuer.jwks_headers = {"Cache-Control": "max-age=5"}
    guard.key_set.refresh()
    clock.advance(30)
    assert guard.key_set_state().fresh  # 5 s was raised to the 60 s minimum
    served_issuer.jwks_headers = {"Cache-Control": "max-age=999999"}
    guard.key_set.refresh()
    clock.advance(3601)
    assert not guard.key_set_state().fresh  # capped at the 3600 s maximum


def test_verify_async_never_blocks_the_event_loop_while_the_jwks_hangs(
    served_issuer: DevIssuer, clock: FrozenClock
) -> None:
    served_issuer.jwks_hang = 0.6
    guard = served_issuer.guard(clock=clock)
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            ticks.append(time.monotonic())
            await asyncio.sleep(0.02)

    async def main() -> None:
        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        await guard.verify_async(served_issuer.mint())
        task.cancel()

    started = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - started >= 0.5
    assert len(ticks) >= 15  # ~30 expected over 0.6 s; a blocked loop would give 1
    assert max(b - a for a, b in itertools.pairwise(ticks)) < 0.3


def test_only_rsa_signing_keys_of_2048_bits_are_used(rsa_keys: list[rsa.RSAPrivateKey]) -> None:
    good = RSAAlgorithm.to_jwk(rsa_keys[0].public_key(), as_dict=True) | {"kid": "good", "use": "sig"}
    enc = RSAAlgorithm.to_jwk(rsa_keys[1].public_key(), as_dict=True) | {"kid": "enc", "use": "enc"}
    small = RSAAlgorithm.to_jwk(rsa.generate_private_key(65537, 1024).public_key(), as_dict=True) | {"kid": "small"}
    ecjwk = ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key(), as_dict=True) | {"kid": "ec"}
    hs = {"kty": "oct", "k": "c2VjcmV0", "kid": "hs"}
    signer = RSAAlgorithm.to_jwk(rsa_keys[2], as_dict=True) | {"kid": "signer"}  # key_ops ["sign"]
    private = {k: v for k, v in signer.items() if k != "key_ops"} | {"kid": "private"}
    keys = parse_jwks(json.dumps({"keys": [good, enc, small, ecjwk, hs, signer, private, {"kid": 3}]}).encode())
    assert sorted(keys) == ["good", "private"]
    assert not hasattr(keys["private"].key, "private_numbers")  # only the public half is kept
    with pytest.raises(ValueError, match="no usable RSA"):
        parse_jwks(json.dumps({"keys": [ecjwk, hs]}).encode())


def _server(handle: object) -> IssuerHTTPServer:
    return IssuerHTTPServer(handle)  # type: ignore[arg-type]


def test_fetch_refuses_a_redirect_to_another_host_but_follows_same_origin() -> None:
    def handle(request: Request) -> Response:
        if request.path == "/elsewhere":
            return Response(302, b"", {"Location": "http://localhost:1/jwks"})
        if request.path == "/here":
            return Response(302, b"", {"Location": "/jwks"})
        return Response(200, b'{"keys": []}', {"Content-Type": "application/json"})

    server = _server(handle)
    try:
        with pytest.raises(FetchError, match="redirect"):
            fetch_url(server.url + "/elsewhere", 2, 10_000)
        assert fetch_url(server.url + "/here", 2, 10_000).body == b'{"keys": []}'
    finally:
        server.stop()


def test_fetch_refuses_a_body_over_the_cap_and_non_loopback_http() -> None:
    server = _server(lambda request: Response(200, b"x" * 50_000))
    try:
        with pytest.raises(FetchError, match="exceeds"):
            fetch_url(server.url + "/jwks", 2, 10_000)
    finally:
        server.stop()
    with pytest.raises(FetchError, match="only https"):
        fetch_url("http://example.com/jwks", 2, 10_000)
    with pytest.raises(FetchError, match="only https"):
        fetch_url("file:///etc/passwd", 2, 10_000)


def test_fetch_times_out_on_a_hanging_server() -> None:
    release = threading.Event()

    def handle(request: Request) -> Response:
        release.wait(5)
        return Response(200, b"{}")

    server = _server(handle)
    started = time.monotonic()
    try:
        with pytest.raises(FetchError):
            fetch_url(server.url + "/jwks", 0.3, 10_000)
        assert time.monotonic() - started < 2
    finally:
        release.set()
        server.stop()


def test_a_fresh_key_set_uses_generated_keys_end_to_end() -> None:
    issuer = DevIssuer(key=generate_rsa_key())
    assert issuer.guard().verify(issuer.mint()).sub
