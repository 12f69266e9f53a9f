"""How the guard's token options treat Kinde API keys, against the dev issuer over HTTP: an API key
is neither an M2M token nor a user token, so ``allow_m2m`` / ``allow_user_tokens`` sort access
tokens only; ``allowed_client_ids`` checks ``azp``, which keys lack, so it does not apply to them;
``api_keys`` (guard) and ``accept_api_keys`` (route) are the switches for keys."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kinde_guard import AuthError, KindeGuard, Requirements
from kinde_guard.testing import DevIssuer


@pytest.fixture
def issuer() -> Iterator[DevIssuer]:
    with DevIssuer().serve() as served:
        yield served


def guard_for(issuer: DevIssuer, **options: Any) -> KindeGuard:
    return issuer.guard(api_keys=True, http_timeout=5, **options)


def refusal(guard: KindeGuard, credential: str, **route: Any) -> tuple[int, str] | None:
    try:
        guard.authenticate("Bearer " + credential, **route)
    except AuthError as exc:
        return exc.status_code, exc.description
    return None


def keys(issuer: DevIssuer) -> dict[str, str]:
    return {
        "organization key": issuer.create_api_key(scopes=["read:orders"], org_code="org_acme"),
        "user key": issuer.create_api_key(scopes=["read:orders"], user_id="kp_owner", org_code="org_acme"),
    }


def test_allow_user_tokens_false_refuses_user_tokens_not_api_keys(issuer: DevIssuer) -> None:
    guard = guard_for(issuer, allow_user_tokens=False)
    assert refusal(guard, issuer.mint(sub="kp_1")) == (403, "This API accepts only machine-to-machine tokens.")
    assert refusal(guard, issuer.mint_m2m()) is None
    for name, key in keys(issuer).items():
        assert refusal(guard, key) is None, name
        assert refusal(guard, key, scopes=["read:orders"]) is None, name


def test_allow_m2m_false_refuses_m2m_tokens_not_api_keys(issuer: DevIssuer) -> None:
    guard = guard_for(issuer, allow_m2m=False)
    assert refusal(guard, issuer.mint_m2m()) == (403, "This API does not accept machine-to-machine tokens.")
    assert refusal(guard, issuer.mint(sub="kp_1")) is None
    for name, key in keys(issuer).items():
        assert refusal(guard, key) is None, name


def test_allowed_client_ids_checks_the_azp_of_tokens_and_keys_have_none(issuer: DevIssuer) -> None:
    guard = guard_for(issuer, allowed_client_ids=["the-only-app"])
    status, _ = refusal(guard, issuer.mint(azp="another-app")) or (0, "")
    assert status == 401
    assert refusal(guard, issuer.mint(azp="the-only-app")) is None
    for name, key in keys(issuer).items():
        assert refusal(guard, key) is None, name


def test_the_switches_for_keys_are_api_keys_and_accept_api_keys(issuer: DevIssuer) -> None:
    key = issuer.create_api_key(scopes=["read:orders"])
    only_tokens = Requirements(accept_api_keys=False)
    guard = guard_for(issuer, allow_m2m=False, allow_user_tokens=True)
    assert refusal(guard, key, requirements=only_tokens) == (
        401,
        "This route accepts Kinde access tokens only, not API keys.",
    )
    off = issuer.guard(allow_user_tokens=False)  # api_keys off: a key is a malformed token, Kinde not asked
    before = issuer.api_key_verifications
    status, _ = refusal(off, key) or (0, "")
    assert status == 401 and issuer.api_key_verifications == before
