"""The pytest plugin: its fixtures used directly, and in a pytester session that loads it the way a
user's does (the ``pytest11`` entry point, nothing imported or registered)."""

from __future__ import annotations

import importlib.metadata
import os

import httpx
import pytest

from kinde_guard import ExpiredTokenError, InsufficientScopeError, InvalidAudienceError
from kinde_guard.pytest_plugin import TokenFactory
from kinde_guard.testing import OMIT, TestIssuer

pytest_plugins = ["pytester"]


def test_the_plugin_is_registered_through_the_pytest11_entry_point(pytestconfig: pytest.Config) -> None:
    entry_points = importlib.metadata.entry_points(group="pytest11")
    assert [e.value for e in entry_points if e.name == "kinde_guard"] == ["kinde_guard.pytest_plugin"]
    assert pytestconfig.pluginmanager.has_plugin("kinde_guard")


def test_kinde_issuer_is_served_on_loopback_with_kindes_endpoints(kinde_issuer: TestIssuer) -> None:
    assert kinde_issuer.url.startswith("http://127.0.0.1:")
    discovery = httpx.get(f"{kinde_issuer.url}/.well-known/openid-configuration").json()
    assert discovery["issuer"] == kinde_issuer.url
    assert httpx.get(discovery["jwks_uri"]).json()["keys"][0]["kid"] == kinde_issuer.kid


def test_a_default_token_is_a_kinde_user_token_the_guard_accepts(
    kinde_issuer: TestIssuer, kinde_token: TokenFactory
) -> None:
    claims = kinde_issuer.guard().verify(kinde_token())
    assert claims.sub is not None and claims.sub.startswith("kp_") and not claims.is_m2m
    assert claims.audience == ("https://api.example.com",) and claims.raw["iss"] == kinde_issuer.url
    assert set(claims.scopes) == {"openid", "email", "offline"}


def test_scopes_and_permissions_reach_the_claims(kinde_issuer: TestIssuer, kinde_token: TokenFactory) -> None:
    token = kinde_token(scopes=["read:orders"], permissions=["delete:orders"])
    claims = kinde_issuer.guard().verify(token, scopes=["read:orders"], permissions=["delete:orders"])
    assert claims.org_code is not None and set(claims.permissions) == {"delete:orders"}
    with pytest.raises(InsufficientScopeError):
        kinde_issuer.guard().verify(token, scopes=["write:orders"])


def test_m2m_tokens_have_gty_and_scope_and_no_sub(kinde_issuer: TestIssuer, kinde_token: TokenFactory) -> None:
    claims = kinde_issuer.guard().verify(kinde_token(m2m=True, scopes=["write:orders"]), scopes=["write:orders"])
    assert claims.is_m2m and claims.sub is None
    assert claims.raw["gty"] == ["client_credentials"] and claims.raw["scope"] == "write:orders"


def test_expired_tokens_are_refused_as_expired(kinde_issuer: TestIssuer, kinde_token: TokenFactory) -> None:
    for token in (kinde_token(expired=True), kinde_token(m2m=True, expired=True)):
        with pytest.raises(ExpiredTokenError):
            kinde_issuer.guard().verify(token)


def test_audience_and_claim_overrides(kinde_issuer: TestIssuer, kinde_token: TokenFactory) -> None:
    with pytest.raises(InvalidAudienceError):
        kinde_issuer.guard().verify(kinde_token(audience="https://other.example"))
    both = kinde_token(audience=["https://other.example", "https://api.example.com"], org_code="org_x", jti=OMIT)
    claims = kinde_issuer.guard().verify(both)
    assert claims.org_code == "org_x" and "jti" not in claims.raw


def test_kinde_env_points_the_environment_at_the_issuer(kinde_issuer: TestIssuer, kinde_env: dict[str, str]) -> None:
    assert kinde_env == {"KINDE_DOMAIN": kinde_issuer.url, "KINDE_AUDIENCE": "https://api.example.com"}
    assert os.environ["KINDE_DOMAIN"] == kinde_issuer.url
    assert not [n for n in os.environ if n.startswith("KINDE_") and n not in kinde_env]


# -- as a user's test session sees it (pytester: a separate session in a temporary directory) -------


def test_in_a_users_session_one_issuer_serves_every_test_with_a_fresh_state(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from kinde_guard import JWKSError

        URLS = set()

        def test_a_test_breaks_the_issuer(kinde_issuer, kinde_token):
            URLS.add(kinde_issuer.url)
            token = kinde_token()
            kinde_issuer.rotate()
            kinde_issuer.jwks_status = 503
            kinde_issuer.jwks_headers = {"Retry-After": "5"}
            with pytest.raises(JWKSError):
                kinde_issuer.guard().verify(token)
            assert kinde_issuer.jwks_fetches == 1

        def test_the_next_test_gets_it_as_new(kinde_issuer, kinde_token):
            URLS.add(kinde_issuer.url)
            assert len(URLS) == 1 and kinde_issuer.jwks_fetches == 0
            assert kinde_issuer.jwks_status == 200 and kinde_issuer.jwks_headers == {}
            assert len(kinde_issuer.jwks()["keys"]) == 1
            kinde_issuer.guard().verify(kinde_token())
        """
    )
    result = pytester.runpytest("-W", "error")
    result.assert_outcomes(passed=2)


def test_importing_the_test_issuer_into_a_test_module_collects_no_test_class(pytester: pytest.Pytester) -> None:
    # Its name starts with "Test": without __test__ = False pytest would try to collect it and warn
    # (an error under -W error) that it cannot, for its __init__.
    pytester.makepyfile(
        """
        from kinde_guard.testing import DevIssuer, TestIssuer

        def test_mint(kinde_issuer):
            assert isinstance(kinde_issuer, TestIssuer) and DevIssuer is TestIssuer
        """
    )
    result = pytester.runpytest("-W", "error")
    result.assert_outcomes(passed=1)
    assert "TestIssuer" not in result.stdout.str()


def test_kinde_audience_in_the_users_configuration(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nkinde_audience = https://api.acme.com https://api2.acme.com\n")
    pytester.makepyfile(
        """
        import os

        def test_audience(kinde_issuer, kinde_token, kinde_env):
            assert os.environ["KINDE_AUDIENCE"] == "https://api.acme.com https://api2.acme.com"
            claims = kinde_issuer.guard().verify(kinde_token())
            assert claims.audience == ("https://api.acme.com", "https://api2.acme.com")
        """
    )
    pytester.runpytest("-W", "error").assert_outcomes(passed=1)


def test_kinde_env_undoes_itself_after_the_test(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KINDE_DOMAIN", "https://acme.kinde.com")
    monkeypatch.setenv("KINDE_JWKS_URI", "https://acme.kinde.com/.well-known/jwks")
    pytester.makepyfile(
        """
        import os

        def test_inside(kinde_env):
            assert os.environ["KINDE_DOMAIN"].startswith("http://127.0.0.1:")
            assert "KINDE_JWKS_URI" not in os.environ

        def test_after():
            assert os.environ["KINDE_DOMAIN"] == "https://acme.kinde.com"
            assert os.environ["KINDE_JWKS_URI"] == "https://acme.kinde.com/.well-known/jwks"
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


def test_the_fixtures_are_listed_with_their_help(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--fixtures")
    listed = result.stdout.str()
    assert "fixtures defined from kinde_guard.pytest_plugin" in listed
    for name in ("kinde_issuer", "kinde_token", "kinde_env"):
        assert f"\n{name} -- " in listed
