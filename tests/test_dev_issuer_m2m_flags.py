"""The dev issuer's tenant file: an M2M application carries feature flags, and its
client-credentials tokens (over real HTTP) carry them in Kinde's shape, read by a guard's route
requirements; only m2m clients may carry their own."""

from __future__ import annotations

import base64
import json
import urllib.request
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from kinde_guard import InsufficientScopeError
from kinde_guard.devserver import DevAuthorizationServer
from kinde_guard.devserver.config import (
    DEFAULT_M2M_CLIENT_ID,
    DEFAULT_M2M_SECRET,
    default_config_document,
    parse_config,
)
from kinde_guard.errors import ConfigurationError
from kinde_guard.testing import DEFAULT_AUDIENCE, DEFAULT_CLIENT_ID, FrozenClock


def tenant(m2m_flags: Any = None, **other: Any) -> dict[str, Any]:
    doc = default_config_document()
    for client in doc["clients"]:
        if client["client_id"] == DEFAULT_M2M_CLIENT_ID and m2m_flags is not None:
            client["feature_flags"] = m2m_flags
        if client["client_id"] == DEFAULT_CLIENT_ID and other:
            client.update(other)
    return doc


def m2m_token(issuer: DevAuthorizationServer) -> str:
    basic = base64.b64encode(f"{DEFAULT_M2M_CLIENT_ID}:{DEFAULT_M2M_SECRET}".encode()).decode()
    form = f"grant_type=client_credentials&audience={DEFAULT_AUDIENCE}&scope=read:orders".encode()
    req = urllib.request.Request(issuer.url + "/oauth2/token", data=form, headers={"Authorization": "Basic " + basic})
    with urllib.request.urlopen(req, timeout=10) as response:  # the local issuer, over loopback
        token = json.load(response)["access_token"]
    assert isinstance(token, str)
    return token


def test_an_m2m_clients_flags_are_in_its_tokens(rsa_keys: list[rsa.RSAPrivateKey], clock: FrozenClock) -> None:
    doc = tenant({"bulk_export": True, "rate": 50, "tier": "gold"})
    with DevAuthorizationServer(parse_config(doc), key=rsa_keys[0], clock=clock).serve() as issuer:
        token = m2m_token(issuer)
        guard = issuer.guard()
        claims = guard.verify(token, scopes=["read:orders"], feature_flags={"bulk_export": True, "rate": 50})
        assert claims.is_m2m
        assert claims.raw["feature_flags"] == {
            "bulk_export": {"t": "b", "v": True},
            "rate": {"t": "i", "v": 50},
            "tier": {"t": "s", "v": "gold"},
        }
        with pytest.raises(InsufficientScopeError, match=r'not met: tier \(token: "gold"\)'):
            guard.verify(token, feature_flags={"tier": "platinum"})


def test_an_m2m_client_without_flags_gets_no_feature_flags_claim(
    rsa_keys: list[rsa.RSAPrivateKey], clock: FrozenClock
) -> None:
    with DevAuthorizationServer(parse_config(tenant()), key=rsa_keys[0], clock=clock).serve() as issuer:
        token = m2m_token(issuer)
        assert "feature_flags" not in issuer.guard().verify(token).raw
        with pytest.raises(InsufficientScopeError, match='no "feature_flags" claim'):
            issuer.guard().verify(token, feature_flags=["bulk_export"])


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (tenant({"beta": 1.5}), r"clients\[1\]\.feature_flags\.beta must be true/false, a whole number or a string"),
        (tenant(["beta"]), r"clients\[1\]\.feature_flags must be a JSON object"),
        (
            tenant(feature_flags={"beta": True}),
            r"clients\[0\]\.feature_flags: only an m2m client carries its own flags",
        ),
    ],
)
def test_bad_client_flags_are_refused_with_the_place(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_config(doc)
