"""Kinde's authorization claims as Kinde issues them, from plain Python values (for minting)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["kinde_claims", "kinde_feature_flags", "kinde_roles"]


def kinde_roles(roles: Sequence[str | Mapping[str, Any]]) -> list[Any]:
    """The ``roles`` claim as Kinde issues it: ``[{"id": ..., "key": "admin", "name": "Admin"}]``.
    A mapping is kept as given (to mint a malformed claim)."""
    claim: list[Any] = []
    for role in roles:
        if isinstance(role, str):
            ident = str(uuid.uuid5(uuid.NAMESPACE_URL, "kinde-guard-role:" + role))
            claim.append({"id": ident, "key": role, "name": role.replace("-", " ").replace("_", " ").title()})
        else:
            claim.append(dict(role))
    return claim


def kinde_feature_flags(flags: Mapping[str, Any]) -> dict[str, Any]:
    """The ``feature_flags`` claim as Kinde issues it: ``{"code": {"t": "b"|"i"|"s", "v": value}}``
    from ``{"code": value}``. A mapping value is kept as given (to mint a malformed flag)."""
    claim: dict[str, Any] = {}
    for code, value in flags.items():
        if isinstance(value, Mapping):
            claim[code] = dict(value)
        elif type(value) in _FLAG_CODES:
            claim[code] = {"t": _FLAG_CODES[type(value)], "v": value}
        else:
            raise TypeError(f"feature flag {code!r}: a bool, int or str (or a raw mapping), got {value!r}")
    return claim


_FLAG_CODES: dict[type, str] = {bool: "b", int: "i", str: "s"}


def kinde_claims(roles: Sequence[str | Mapping[str, Any]] | None, flags: Mapping[str, Any] | None) -> dict[str, Any]:
    """``roles`` and ``feature_flags`` claims for a token, each only when given."""
    claims: dict[str, Any] = {}
    if roles is not None:
        claims["roles"] = kinde_roles(roles)
    if flags is not None:
        claims["feature_flags"] = kinde_feature_flags(flags)
    return claims
