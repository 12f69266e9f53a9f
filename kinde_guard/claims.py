"""Claims: the verified content of a Kinde access token, with typed accessors.

>>> c = Claims.from_payload({"sub": "kp_1", "scp": ["openid"], "scope": "read:orders", "exp": 2})
>>> sorted(c.scopes), c.is_m2m
(['openid', 'read:orders'], False)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

__all__ = ["Claims", "Match"]

Match = Literal["all", "any"]


def _str_list(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(v for v in value if isinstance(v, str))
    return ()


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _opt_num(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def scopes_of(payload: Mapping[str, Any]) -> frozenset[str]:
    """Scopes granted by a token: the union of ``scp`` (array) and ``scope`` (space-separated)."""
    scopes = set(_str_list(payload.get("scp")))
    scope = payload.get("scope")
    if isinstance(scope, str):
        scopes.update(scope.split())
    return frozenset(scopes)


def _has(granted: frozenset[str], wanted: Iterable[str], match: Match) -> bool:
    wanted = tuple(wanted)
    if not wanted:
        return True
    if match == "any":
        return any(w in granted for w in wanted)
    return all(w in granted for w in wanted)


@dataclass(frozen=True, slots=True)
class Claims:
    """The claims of a verified token. ``raw`` is the whole claim set (read-only).

    ``sub`` is ``None`` for machine-to-machine tokens, which Kinde issues without a subject.
    """

    sub: str | None
    scopes: frozenset[str]
    permissions: frozenset[str]
    org_code: str | None
    azp: str | None
    audience: tuple[str, ...]
    issuer: str | None
    expires_at: float | None
    issued_at: float | None
    is_m2m: bool
    roles: tuple[Mapping[str, Any], ...]
    feature_flags: Mapping[str, Any]
    raw: Mapping[str, Any]

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Claims:
        """Build from a claim set that has already been verified."""
        roles = payload.get("roles")
        flags = payload.get("feature_flags")
        return cls(
            sub=_opt_str(payload.get("sub")),
            scopes=scopes_of(payload),
            permissions=frozenset(_str_list(payload.get("permissions"))),
            org_code=_opt_str(payload.get("org_code")),
            azp=_opt_str(payload.get("azp")),
            audience=_str_list(payload.get("aud")),
            issuer=_opt_str(payload.get("iss")),
            expires_at=_opt_num(payload.get("exp")),
            issued_at=_opt_num(payload.get("iat")),
            is_m2m="client_credentials" in _str_list(payload.get("gty")),
            roles=tuple(r for r in roles if isinstance(r, dict)) if isinstance(roles, list) else (),
            feature_flags=MappingProxyType(flags) if isinstance(flags, dict) else MappingProxyType({}),
            raw=MappingProxyType(dict(payload)),
        )

    def has_scopes(self, *scopes: str, match: Match = "all") -> bool:
        """True when the token carries the scopes (all of them, or any with ``match="any"``)."""
        return _has(self.scopes, scopes, match)

    def has_permissions(self, *permissions: str, match: Match = "all") -> bool:
        """True when the token carries the permissions (all, or any with ``match="any"``)."""
        return _has(self.permissions, permissions, match)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly summary (what the examples' ``/me`` route returns)."""
        return {
            "sub": self.sub,
            "scopes": sorted(self.scopes),
            "permissions": sorted(self.permissions),
            "org_code": self.org_code,
            "azp": self.azp,
            "is_m2m": self.is_m2m,
        }
