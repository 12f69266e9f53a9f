"""kinde_guard.testing.TestIssuer: Kinde-shaped tokens and a real local server."""

from __future__ import annotations

import json
import urllib.request

import jwt

from kinde_guard import testing
from kinde_guard.testing import OMIT, FrozenClock, TestIssuer


def decode(token: str) -> tuple[dict[str, object], dict[str, object]]:
    return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})


def test_user_token_has_kinde_shape(issuer: TestIssuer) -> None:
    header, claims = decode(issuer.mint())
    assert header == {"alg": "RS256", "kid": issuer.kid, "typ": "JWT"}
    assert set(claims) == {"aud", "azp", "exp", "iat", "iss", "jti", "scp", "sub"}
    assert isinstance(claims["aud"], list) and str(claims["sub"]).startswith("kp_")
    assert claims["exp"] == claims["iat"] + 3600  # type: ignore[operator]
    assert claims["scp"] == ["openid", "email", "offline"]


def test_m2m_token_has_kinde_shape(issuer: TestIssuer) -> None:
    _, claims = decode(issuer.mint_m2m(scopes=["read:users", "write:flags"]))
    assert "sub" not in claims
    assert claims["gty"] == ["client_credentials"] and claims["v"] == "2"
    assert claims["scope"] == "read:users write:flags" and claims["scp"] == ["read:users", "write:flags"]


def test_id_token_has_two_audiences(issuer: TestIssuer) -> None:
    _, claims = decode(issuer.mint_id_token())
    assert claims["aud"] == [issuer.client_id, issuer.issuer]
    assert "at_hash" in claims and "auth_time" in claims


def test_claims_and_headers_can_be_overridden_or_removed(issuer: TestIssuer) -> None:
    header, claims = decode(issuer.mint(sub="kp_me", exp=OMIT, headers={"typ": OMIT, "x": 1}))
    assert claims["sub"] == "kp_me" and "exp" not in claims
    assert "typ" not in header and header["x"] == 1


def test_served_issuer_answers_discovery_and_jwks_and_counts_fetches(served_issuer: TestIssuer) -> None:
    with urllib.request.urlopen(served_issuer.url + "/.well-known/openid-configuration") as r:
        discovery = json.load(r)
    assert discovery["issuer"] == served_issuer.url == served_issuer.issuer
    assert discovery["jwks_uri"] == served_issuer.url + "/.well-known/jwks"
    for path in ("/.well-known/jwks", "/.well-known/jwks.json"):
        with urllib.request.urlopen(served_issuer.url + path) as r:
            assert json.load(r)["keys"][0]["kid"] == served_issuer.kid
    assert served_issuer.jwks_fetches == 2


def test_pyjwt_accepts_what_the_test_issuer_mints(issuer: TestIssuer) -> None:
    key = jwt.PyJWK(issuer.jwks()["keys"][0]).key
    claims = jwt.decode(issuer.mint(), key, algorithms=["RS256"], audience=issuer.audience, issuer=issuer.issuer)
    assert claims["iss"] == issuer.issuer


def test_frozen_clock_drives_minted_times() -> None:
    clock = FrozenClock(1_700_000_000)
    issuer = TestIssuer(clock=clock)
    _, claims = decode(issuer.mint())
    assert claims["iat"] == 1_700_000_000
    clock.advance(10)
    assert clock() == 1_700_000_010


def test_dev_issuer_is_still_importable_as_the_test_issuers_first_name() -> None:
    from kinde_guard.testing import DevIssuer

    assert DevIssuer is TestIssuer
    assert {"DevIssuer", "TestIssuer"} <= set(testing.__all__)


def test_every_name_in_all_is_importable() -> None:
    for name in testing.__all__:
        assert getattr(testing, name) is not None, name
