"""The dev issuer's tenant file: users carry feature flags (per organization and their own) and
roles per organization; their access tokens carry them as Kinde does, and a guard with route
requirements reads them."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from kinde_guard import InsufficientScopeError
from kinde_guard.devserver import DevAuthorizationServer
from kinde_guard.devserver.config import default_config_document, parse_config
from kinde_guard.devserver.records import Grant
from kinde_guard.errors import ConfigurationError
from kinde_guard.testing import DEFAULT_AUDIENCE, DEFAULT_CLIENT_ID


def tenant(**user: Any) -> dict[str, Any]:
    doc = default_config_document()
    doc["organizations"] = [{"code": "org_a", "name": "A"}, {"code": "org_b", "name": "B"}]
    doc["users"] = [{"id": "kp_1", "email": "ann@example.com", **user}]
    return doc


def access_token(issuer: DevAuthorizationServer, org_code: str | None) -> str:
    user = issuer.config.users[0]
    grant = Grant(DEFAULT_CLIENT_ID, user, ("openid",), (DEFAULT_AUDIENCE,), org_code, None, 0)
    token = issuer.user_token_response(grant)["access_token"]
    assert isinstance(token, str)
    return token


def test_tokens_carry_the_users_flags_and_roles_in_kinde_shapes(rsa_keys: list[rsa.RSAPrivateKey]) -> None:
    doc = tenant(
        organizations={
            "org_a": {"roles": ["admin"], "feature_flags": {"beta": True, "seats": 5}},
            "org_b": {"roles": [], "feature_flags": {"beta": False}},
        },
        feature_flags={"theme": "dark", "seats": 10},  # the user's own win over the organization's
    )
    issuer = DevAuthorizationServer(parse_config(doc), key=rsa_keys[0])
    guard = issuer.guard()
    in_a = guard.verify(access_token(issuer, "org_a"))
    assert in_a.raw["feature_flags"] == {
        "beta": {"t": "b", "v": True},
        "seats": {"t": "i", "v": 10},
        "theme": {"t": "s", "v": "dark"},
    }
    assert in_a.raw["roles"][0]["key"] == "admin" and set(in_a.raw["roles"][0]) == {"id", "key", "name"}
    guard.verify(access_token(issuer, "org_a"), roles=["admin"], feature_flags={"beta": True, "theme": "dark"})
    with pytest.raises(InsufficientScopeError, match="not met: beta"):
        guard.verify(access_token(issuer, "org_b"), feature_flags=["beta"])
    with pytest.raises(InsufficientScopeError, match='no "roles" claim'):
        guard.verify(access_token(issuer, "org_b"), roles=["admin"])


def test_a_user_without_flags_gets_no_feature_flags_claim(rsa_keys: list[rsa.RSAPrivateKey]) -> None:
    issuer = DevAuthorizationServer(parse_config(tenant(organizations={"org_a": {}})), key=rsa_keys[0])
    assert "feature_flags" not in issuer.guard().verify(access_token(issuer, "org_a")).raw


@pytest.mark.parametrize("flags", [{"ratio": 0.5}, {"x": None}, {"x": [1]}, "beta"])
def test_a_flag_value_without_a_kinde_type_is_a_configuration_error(flags: object) -> None:
    with pytest.raises(ConfigurationError, match="feature_flags"):
        parse_config(tenant(feature_flags=flags))
