"""Property-based tests: whatever arrives, the guard answers with an AuthError, fast, and never
accepts what the issuer did not sign. (A longer run: see the README's Security section.)"""

from __future__ import annotations

import contextlib
import os
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kinde_guard import AuthError, KindeGuard
from kinde_guard.bearer import parse_authorization
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
