"""Property-based tests: whatever arrives, the guard answers with an AuthError, fast, and never
accepts what the issuer did not sign. (A longer run: see the README's Security section.)"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kinde_guard import AuthError, GuardConfig, KindeGuard
from kinde_guard.bearer import parse_authorization
from kinde_guard.policy import Policy
from kinde_guard.testing import DevIssuer, b64url, generate_rsa_key, sign_jws

ISSUER = DevIssuer(key=generate_rsa_key())
GUARD: KindeGuard = ISSUER.guard()
VALID = ISSUER.mint(expires_in=10 * 365 * 86400, scopes=["read:orders"])
GUARD.verify(VALID)
SEGMENTS = VALID.split(".")

# `make fuzz` runs the same properties with many more examples (KINDE_FUZZ_EXAMPLES).
EXAMPLES = int(os.environ.get("KINDE_FUZZ_EXAMPLES", "300"))
# "Bounded time": generous enough for a noisy shared machine, far below what a quadratic or
# exponential slowdown would take (seconds to hours); speed itself is measured in benchmarks/.
BOUND = 2.0
FAST = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def refused_quickly(header: str | None) -> None:
    started = time.perf_counter()
    with pytest.raises(AuthError):
        GUARD.authenticate(header)
    assert time.perf_counter() - started < BOUND


@FAST
@given(st.text())
def test_any_header_text_gives_an_auth_error_or_a_token(header: str) -> None:
    try:
        token = parse_authorization(header)
    except AuthError:
        return
    assert token and " " not in token


@FAST
@given(st.text(max_size=3000))
def test_any_bearer_value_is_refused_with_an_auth_error(value: str) -> None:
    refused_quickly("Bearer " + value)


@FAST
@given(st.integers(0, 2), st.binary(max_size=2000))
def test_arbitrary_bytes_in_any_segment_are_refused(index: int, data: bytes) -> None:
    parts = list(SEGMENTS)
    parts[index] = b64url(data)
    if parts == SEGMENTS:
        return
    refused_quickly("Bearer " + ".".join(parts))


@FAST
@given(
    st.integers(0, len(VALID) - 1),
    st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.+/="),
)
def test_a_changed_character_is_never_accepted_unless_the_signed_bytes_are_the_same(position: int, char: str) -> None:
    mutated = VALID[:position] + char + VALID[position + 1 :]
    if mutated == VALID:
        return
    try:
        claims = GUARD.verify(mutated)
    except AuthError:
        return
    # Only the signature's last character can change without changing what it decodes to
    # (base64's unused trailing bits); the signed header and payload must be untouched.
    assert mutated.rsplit(".", 1)[0] == VALID.rsplit(".", 1)[0]
    assert claims.raw == GUARD.verify(VALID).raw


@settings(max_examples=max(60, EXAMPLES // 5), deadline=None)
@given(st.sampled_from(["deep_array", "deep_object", "huge_int", "long_string", "many_keys"]), st.integers(100, 6000))
def test_pathological_signed_payloads_are_answered_in_bounded_time(kind: str, size: int) -> None:
    body = {
        "deep_array": "[" * size + "]" * size,
        "deep_object": '{"a":' * size + "1" + "}" * size,
        "huge_int": "9" * size,
        "long_string": '"' + "x" * size + '"',
        "many_keys": "{" + ",".join(f'"k{i}":{i}' for i in range(size // 8)) + "}",
    }[kind]
    payload = f'{{"iss":"{ISSUER.issuer}","aud":["https://api.example.com"],"exp":{body}}}'.encode()
    token = sign_jws({"alg": "RS256", "kid": ISSUER.kid}, payload, ISSUER.private_key)
    started = time.perf_counter()
    with contextlib.suppress(AuthError):
        GUARD.verify(token)  # a 100-digit exp is a (very distant) valid expiry
    assert time.perf_counter() - started < BOUND


# -- the claim checks' fast path and the claim-by-claim path agree ------------------------------

NOW = 1_800_000_000
_DATES = st.one_of(
    st.integers(NOW - 200, NOW + 200),  # around now and the 60 s leeway
    st.integers(-(2**60), 2**60),
    st.sampled_from([2**53 - 1, 2**53, -(2**53) + 1, -(2**53), 0, True, False]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.none(),
    st.text(max_size=3),
)
_AUDIENCES = ["https://api.example.com", "https://other.example.com"]
_AUD = st.one_of(
    st.sampled_from(_AUDIENCES),
    st.lists(st.one_of(st.sampled_from(_AUDIENCES), st.integers(), st.none()), max_size=3),
    st.none(),
    st.integers(),
)
_ISS = st.one_of(
    st.sampled_from(["https://acme.kinde.com", "https://acme.kinde.com/", "https://evil.example"]),
    st.none(),
    st.integers(),
)


def _verdict(check: Callable[[], float]) -> tuple[str, object]:
    try:
        return "valid until", check()
    except AuthError as exc:
        return type(exc).__name__, exc.description


_VALID_CLAIMS = {
    "iss": "https://acme.kinde.com",
    "aud": ["https://api.example.com"],
    "exp": NOW + 3600,
    "iat": NOW - 10,
}
_CHANGES = st.fixed_dictionaries(
    {},
    optional={
        "iss": _ISS,
        "aud": _AUD,
        "exp": _DATES,
        "nbf": _DATES,
        "iat": _DATES,
        "azp": st.sampled_from(["a", "b"]),
    },
)


@FAST
@given(
    changes=st.one_of(st.just({}), _CHANGES),
    removed=st.sets(st.sampled_from(sorted(_VALID_CLAIMS))),
    now=st.one_of(st.just(NOW), st.integers(NOW - 100, NOW + 100), st.floats(NOW - 100, NOW + 100)),
    options=st.fixed_dictionaries(
        {},
        optional={
            "leeway": st.sampled_from([0, 60, 0.5]),
            "max_token_age": st.sampled_from([None, 120]),
            "allowed_client_ids": st.sampled_from([(), ("a",)]),
            "insecure_accept_empty_audience": st.booleans(),
        },
    ),
)
def test_the_fast_claim_check_agrees_with_the_claim_by_claim_checks(
    changes: dict[str, Any], removed: set[str], now: float, options: dict[str, Any]
) -> None:
    claims = {k: v for k, v in {**_VALID_CLAIMS, **changes}.items() if k not in removed}
    policy = Policy.from_config(
        GuardConfig(domain="https://acme.kinde.com", audience=["https://api.example.com"], **options)
    )
    fast = _verdict(lambda: policy.check_claims(claims, now))
    one_by_one = _verdict(lambda: policy.check_claims_one_by_one(claims, now))
    assert fast == one_by_one


def test_the_fast_claim_check_agrees_on_every_boundary() -> None:
    # Every combination of values at and around each claim's limit, with the leeways and clocks
    # (whole and fractional) where an off-by-one or a float rounding would show.
    absent = object()
    specials = [True, False, None, "1", 2**53 - 1, 2**53, -(2**53) + 1, -(2**53), float("inf"), float("nan")]
    for leeway, now in itertools.product((0, 60, 0.5), (NOW, NOW + 0.25)):
        policy = Policy.from_config(
            GuardConfig(domain="https://acme.kinde.com", audience=["https://api.example.com"], leeway=leeway)
        )
        low, high = math.floor(now - leeway), math.floor(now + leeway)
        exps = [low - 1, low, low + 1, float(low + 1), *specials]
        dates = [absent, high - 1, high, high + 1, float(high), *specials]
        ours = "https://api.example.com"
        auds = [[ours], [ours, "x"], [ours, 1], ["x", ours], ours, [1], []]
        for iss, aud, exp, nbf, iat in itertools.product(
            ["https://acme.kinde.com", "https://acme.kinde.com/"], auds, exps, dates, dates
        ):
            claims = {"iss": iss, "aud": aud, "exp": exp, "nbf": nbf, "iat": iat}
            claims = {k: v for k, v in claims.items() if v is not absent}
            fast = _verdict(lambda: policy.check_claims(claims, now))  # noqa: B023 - called at once
            assert fast == _verdict(lambda: policy.check_claims_one_by_one(claims, now)), claims  # noqa: B023
