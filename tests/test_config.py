"""GuardConfig: normalization, validation and from_env."""

from __future__ import annotations

import dataclasses

import pytest

from kinde_guard import ConfigurationError, GuardConfig


def test_bare_host_gets_https_and_trailing_slash_is_stripped() -> None:
    cfg = GuardConfig(domain="acme.kinde.com/", audience="https://api.acme.com")
    assert cfg.domain == "https://acme.kinde.com"
    assert cfg.issuers == ("https://acme.kinde.com",)
    assert cfg.jwks_uri == "https://acme.kinde.com/.well-known/jwks"


def test_audience_string_is_split_on_spaces() -> None:
    cfg = GuardConfig(domain="acme.kinde.com", audience="https://a.example https://b.example")
    assert cfg.audience == ("https://a.example", "https://b.example")


def test_defaults_are_the_documented_ones() -> None:
    cfg = GuardConfig(domain="acme.kinde.com", audience="api")
    assert cfg.algorithms == ("RS256",)
    assert (cfg.leeway, cfg.max_token_bytes, cfg.jwks_ttl, cfg.jwks_cooldown) == (60, 8192, 600, 30)
    assert (cfg.jwks_max_stale, cfg.http_timeout) == (86400, 5)
    assert cfg.token_cache_size > 0


def test_config_is_frozen_and_keyword_only() -> None:
    cfg = GuardConfig(domain="acme.kinde.com", audience="api")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.leeway = 0  # type: ignore[misc]
    with pytest.raises(TypeError):
        GuardConfig("acme.kinde.com", "api")  # type: ignore[misc]


def test_audience_is_required_unless_the_insecure_opt_out() -> None:
    with pytest.raises(ConfigurationError, match="audience is required"):
        GuardConfig(domain="acme.kinde.com")
    cfg = GuardConfig(domain="acme.kinde.com", insecure_accept_empty_audience=True)
    assert cfg.audience == ()


@pytest.mark.parametrize(
    "domain",
    ["http://127.0.0.1:8080", "http://localhost:9000", "http://[::1]:8000", "http://127.5.6.7"],
)
def test_http_is_accepted_on_loopback(domain: str) -> None:
    assert GuardConfig(domain=domain, audience="api").domain == domain


@pytest.mark.parametrize("domain", ["http://acme.kinde.com", "http://10.0.0.1", "http://localhost.evil.com"])
def test_http_elsewhere_is_refused_with_the_reason(domain: str) -> None:
    with pytest.raises(ConfigurationError, match="non-loopback"):
        GuardConfig(domain=domain, audience="api")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"algorithms": ["HS256"]}, "only asymmetric RSA"),
        ({"algorithms": ["none"]}, "only asymmetric RSA"),
        ({"issuers": ["https://acme.kinde.com/"]}, "trailing slash|ends with '/'"),
        ({"jwks_uri": "ftp://acme.kinde.com/jwks"}, "https"),
        ({"leeway": -1}, "leeway"),
        ({"token_cache_size": -1}, "token_cache_size"),
        ({"jwks_min_ttl": 100, "jwks_max_ttl": 10}, "jwks_min_ttl"),
        ({"http_timeout": 0}, "http_timeout"),
        ({"allow_m2m": False, "allow_user_tokens": False}, "no token could pass"),
    ],
)
def test_bad_settings_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        GuardConfig(domain="acme.kinde.com", audience="api", **options)  # type: ignore[arg-type]


def test_custom_domain_with_two_issuers() -> None:
    cfg = GuardConfig(
        domain="auth.acme.com", audience="api", issuers=["https://auth.acme.com", "https://acme.kinde.com"]
    )
    assert cfg.issuers == ("https://auth.acme.com", "https://acme.kinde.com")


def test_from_env_reads_every_kinde_variable() -> None:
    env = {
        "KINDE_DOMAIN": "acme.kinde.com",
        "KINDE_AUDIENCE": "https://api.acme.com https://api2.acme.com",
        "KINDE_ISSUER": "https://acme.kinde.com https://auth.acme.com",
        "KINDE_JWKS_URI": "https://acme.kinde.com/.well-known/jwks.json",
        "KINDE_LEEWAY": "5",
        "KINDE_REQUIRED_SCOPES": "read:orders",
        "KINDE_ALLOWED_CLIENT_IDS": "abc def",
        "KINDE_TOKEN_CACHE_SIZE": "0",
        "KINDE_ALLOW_M2M": "false",
        "KINDE_MAX_TOKEN_AGE": "3600",
    }
    cfg = GuardConfig.from_env(environ=env)
    assert cfg.audience == ("https://api.acme.com", "https://api2.acme.com")
    assert cfg.issuers == ("https://acme.kinde.com", "https://auth.acme.com")
    assert cfg.jwks_uri.endswith("jwks.json")
    assert (cfg.leeway, cfg.token_cache_size, cfg.allow_m2m, cfg.max_token_age) == (5.0, 0, False, 3600.0)
    assert cfg.required_scopes == ("read:orders",) and cfg.allowed_client_ids == ("abc", "def")


def test_from_env_names_the_missing_variable() -> None:
    with pytest.raises(ConfigurationError, match="KINDE_DOMAIN is not set"):
        GuardConfig.from_env(environ={"KINDE_AUDIENCE": "api"})
    with pytest.raises(ConfigurationError, match="KINDE_AUDIENCE is not set"):
        GuardConfig.from_env(environ={"KINDE_DOMAIN": "acme.kinde.com"})


def test_from_env_names_the_malformed_variable() -> None:
    with pytest.raises(ConfigurationError, match="KINDE_LEEWAY='soon' is malformed"):
        GuardConfig.from_env(environ={"KINDE_DOMAIN": "a.kinde.com", "KINDE_AUDIENCE": "api", "KINDE_LEEWAY": "soon"})
    with pytest.raises(ConfigurationError, match="KINDE_ALLOW_M2M"):
        GuardConfig.from_env(
            environ={"KINDE_DOMAIN": "a.kinde.com", "KINDE_AUDIENCE": "api", "KINDE_ALLOW_M2M": "perhaps"}
        )


def test_from_env_prefix_and_overrides() -> None:
    cfg = GuardConfig.from_env("APP_", environ={"APP_DOMAIN": "a.kinde.com", "APP_AUDIENCE": "api"}, leeway=0)
    assert cfg.domain == "https://a.kinde.com" and cfg.leeway == 0


def test_from_mapping_accepts_typed_values() -> None:
    cfg = GuardConfig.from_mapping({"KINDE_DOMAIN": "a.kinde.com", "KINDE_AUDIENCE": ["x", "y"], "KINDE_LEEWAY": 10})
    assert cfg.audience == ("x", "y") and cfg.leeway == 10
