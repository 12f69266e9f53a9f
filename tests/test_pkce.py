"""PKCE (RFC 7636), state and nonce."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from kinde_guard.cli.pkce import make_nonce, make_state, make_verifier, s256_challenge, valid_verifier, verify_s256

RFC7636_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
RFC7636_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_s256_challenge_matches_rfc7636_appendix_b() -> None:
    assert s256_challenge(RFC7636_VERIFIER) == RFC7636_CHALLENGE
    assert verify_s256(RFC7636_VERIFIER, RFC7636_CHALLENGE)


@pytest.mark.parametrize("length", [43, 64, 128])
def test_verifiers_have_the_asked_length_and_only_unreserved_characters(length: int) -> None:
    verifier = make_verifier(length)
    assert len(verifier) == length
    assert re.fullmatch(r"[A-Za-z0-9\-._~]+", verifier)
    assert valid_verifier(verifier)


@pytest.mark.parametrize("length", [42, 129, 0])
def test_verifier_lengths_outside_43_to_128_are_refused(length: int) -> None:
    with pytest.raises(ValueError, match="43 to 128"):
        make_verifier(length)


def test_verifiers_are_random() -> None:
    assert len({make_verifier() for _ in range(50)}) == 50


@pytest.mark.parametrize(
    "verifier",
    ["a" * 42, "a" * 129, "a" * 42 + " ", "é" * 43, "a" * 42 + "+"],
)
def test_malformed_verifiers_never_verify(verifier: str) -> None:
    assert not valid_verifier(verifier)
    # Even the challenge that hashes to exactly these bytes is refused: the verifier is malformed.
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert not verify_s256(verifier, challenge)


def test_a_wrong_verifier_does_not_match_the_challenge() -> None:
    assert not verify_s256(make_verifier(), RFC7636_CHALLENGE)
    assert not verify_s256(RFC7636_VERIFIER, RFC7636_CHALLENGE[:-1] + "x")


def test_state_is_long_enough_for_kinde_and_random() -> None:
    states = {make_state() for _ in range(50)}
    assert len(states) == 50
    assert all(len(s) >= 8 and re.fullmatch(r"[A-Za-z0-9_-]+", s) for s in states)


def test_nonces_are_random() -> None:
    assert len({make_nonce() for _ in range(50)}) == 50
