"""Claims: the verified content of a Kinde access token, with typed accessors.

>>> c = Claims.from_payload({"sub": "kp_1", "scp": ["openid"], "scope": "read:orders", "exp": 2})
>>> sorted(c.scopes), c.is_m2m
(['openid', 'read:orders'], False)

Kinde's authorization claims beyond scopes, as Kinde issues them:

- ``roles`` (opt-in, enabled in the token customization of the Kinde application):
  ``[{"id": "018e...", "key": "admin", "name": "Admin"}]`` — routes match on ``key``;
- ``feature_flags``: ``{"<code>": {"t": "b" | "i" | "s", "v": <value>}}`` — boolean, integer or
  string ``v`` as ``t`` says;
- ``org_code``: the organization the user signed into (``org_...``), also on org-scoped M2M tokens.

>>> c = Claims.from_payload({
...     "roles": [{"id": "018e", "key": "admin", "name": "Admin"}],
...     "feature_flags": {"beta": {"t": "b", "v": True}, "seats": {"t": "i", "v": 5}},
... })
>>> c.role_keys, c.has_roles("admin"), c.feature_flag("beta", False), c.feature_flag("seats", False)
(frozenset({'admin'}), True, True, False)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Literal

__all__ = ["FLAG_TYPES", "Claims", "Credential", "FlagValue", "Match", "flag_items_of", "flag_value", "role_keys_of"]

Match = Literal["all", "any"]

#: The kind of credential verified claims come from.
Credential = Literal["access_token", "api_key"]

#: The value of a Kinde feature flag: boolean, integer or string.
FlagValue = bool | int | str

#: Kinde's feature flag type codes (the ``t`` of a flag) and the Python type of each one's ``v``.
FLAG_TYPES: Mapping[str, type] = MappingProxyType({"b": bool, "i": int, "s": str})

_EMPTY: Mapping[str, Any] = MappingProxyType({})


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
    scp = payload.get("scp")
    scopes = {s for s in scp if type(s) is str} if type(scp) is list else set()
    scope = payload.get("scope")
    if type(scope) is str:
        scopes.update(scope.split())
    return frozenset(scopes)


def role_keys_of(payload: Mapping[str, Any]) -> frozenset[str]:
    """The ``key`` of every entry of the ``roles`` claim; empty unless the claim is well formed
    (a list of objects each with a non-empty string ``key``): a malformed claim grants no role."""
    roles = payload.get("roles")
    if type(roles) is not list:
        return frozenset()
    keys = []
    for role in roles:
        key = role.get("key") if type(role) is dict else None
        if type(key) is not str or not key:
            return frozenset()
        keys.append(key)
    return frozenset(keys)


def flag_value(flag: object) -> FlagValue | None:
    """The ``v`` of one well-formed Kinde flag entry (``{"t": ..., "v": ...}``, ``v`` of ``t``'s
    type; ``True`` is not an integer), else ``None``."""
    if type(flag) is not dict:
        return None
    value = flag.get("v")
    expected = FLAG_TYPES.get(flag.get("t"))  # type: ignore[arg-type]
    return value if expected is not None and type(value) is expected else None  # type: ignore[return-value]


def flag_items_of(payload: Mapping[str, Any]) -> frozenset[tuple[str, str, FlagValue]]:
    """The ``feature_flags`` claim's well-formed flags as ``(code, t, v)`` triples."""
    flags = payload.get("feature_flags")
    if type(flags) is not dict:
        return frozenset()
    items = []
    for code, flag in flags.items():
        value = flag_value(flag)
        if value is not None:
            items.append((code, flag["t"], value))
    return frozenset(items)


def _has(granted: frozenset[str], wanted: Iterable[str], match: Match) -> bool:
    wanted = tuple(wanted)
    if not wanted:
        return True
    if match == "any":
        return any(w in granted for w in wanted)
    return all(w in granted for w in wanted)


class Claims:
    """The claims of a verified token; immutable. ``raw`` is the whole claim set (read-only).

    Accessors are computed from ``raw`` on first use and remembered, so a request pays only for
    what it reads. ``sub`` is ``None`` for machine-to-machine tokens, which Kinde issues without
    a subject.
    """

    # Immutable: every public attribute is a read-only property over the slots below.
    __slots__ = ("_credential", "_flag_items", "_key_id", "_permissions", "_raw", "_role_keys", "_scopes")

    _raw: Mapping[str, Any]
    _scopes: frozenset[str] | None
    _permissions: frozenset[str] | None
    _role_keys: frozenset[str] | None
    _flag_items: frozenset[tuple[str, str, FlagValue]] | None
    _credential: Credential
    _key_id: str | None

    def __init__(self, payload: Mapping[str, Any]) -> None:
        self._raw = MappingProxyType(dict(payload))
        self._scopes = None
        self._permissions = None
        self._role_keys = None
        self._flag_items = None
        self._credential = "access_token"
        self._key_id = None

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Claims:
        """Build from a claim set that has already been verified."""
        return cls(payload)

    @classmethod
    def adopt(cls, payload: dict[str, Any]) -> Claims:
        """Claims over ``payload`` itself, without a copy: for a dict that the caller just decoded
        and that no one else holds (the verifier's own; anyone else should use :meth:`from_payload`)."""
        self = cls.__new__(cls)
        self._raw = MappingProxyType(payload)
        self._scopes = None
        self._permissions = None
        self._role_keys = None
        self._flag_items = None
        self._credential = "access_token"
        self._key_id = None
        return self

    @classmethod
    def for_api_key(
        cls, key_id: str, scopes: Iterable[str], *, org_code: str | None = None, user_id: str | None = None
    ) -> Claims:
        """The claims of a Kinde API key, from Kinde's verification answer: ``sub`` is the key's
        user (``None`` for an organization key), ``scopes`` the key's, no permissions.

        >>> c = Claims.for_api_key("api_key_1", ["read:orders"], org_code="org_1")
        >>> c.credential, c.key_id, c.sub, sorted(c.scopes), c.org_code, c.is_m2m
        ('api_key', 'api_key_1', None, ['read:orders'], 'org_1', False)
        """
        payload: dict[str, Any] = {"key_id": key_id, "scp": [s for s in scopes if isinstance(s, str)]}
        if org_code is not None:
            payload["org_code"] = org_code
        if user_id is not None:
            payload["sub"] = user_id
        self = cls.adopt(payload)
        self._credential = "api_key"
        self._key_id = key_id
        return self

    @property
    def credential(self) -> Credential:
        """What the caller presented: ``"access_token"`` (a Kinde JWT) or ``"api_key"``."""
        return self._credential

    @property
    def key_id(self) -> str | None:
        """The Kinde id of the API key (``api_key_...``); ``None`` for access tokens."""
        return self._key_id

    @property
    def raw(self) -> Mapping[str, Any]:
        """The whole verified claim set, read-only."""
        return self._raw

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Claims) and self._credential == other._credential and dict(self.raw) == dict(other.raw)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Claims(sub={self.sub!r}, azp={self.azp!r}, scopes={sorted(self.scopes)!r}, is_m2m={self.is_m2m})"

    @property
    def sub(self) -> str | None:
        return _opt_str(self._raw.get("sub"))

    @property
    def scopes(self) -> frozenset[str]:
        """The union of ``scp`` and ``scope.split()``."""
        scopes = self._scopes
        if scopes is None:
            scopes = self._scopes = scopes_of(self._raw)
        return scopes

    @property
    def permissions(self) -> frozenset[str]:
        permissions = self._permissions
        if permissions is None:
            permissions = self._permissions = frozenset(_str_list(self._raw.get("permissions")))
        return permissions

    @property
    def org_code(self) -> str | None:
        return _opt_str(self._raw.get("org_code"))

    @property
    def azp(self) -> str | None:
        return _opt_str(self._raw.get("azp"))

    @property
    def audience(self) -> tuple[str, ...]:
        return _str_list(self._raw.get("aud"))

    @property
    def issuer(self) -> str | None:
        return _opt_str(self._raw.get("iss"))

    @property
    def expires_at(self) -> float | None:
        return _opt_num(self._raw.get("exp"))

    @property
    def issued_at(self) -> float | None:
        return _opt_num(self._raw.get("iat"))

    @property
    def is_m2m(self) -> bool:
        """True for client-credentials tokens (``gty`` contains ``client_credentials``)."""
        return "client_credentials" in _str_list(self._raw.get("gty"))

    @property
    def roles(self) -> tuple[Mapping[str, Any], ...]:
        """The ``roles`` claim's entries as Kinde issues them, ``{"id", "key", "name"}`` each (an
        opt-in claim: ``()`` unless roles are enabled in the Kinde application's token customization)."""
        roles = self._raw.get("roles")
        return tuple(r for r in roles if isinstance(r, dict)) if isinstance(roles, list) else ()

    @property
    def role_keys(self) -> frozenset[str]:
        """The ``key`` of every role, what routes match on; empty when the claim is absent or
        malformed (an entry that is not an object with a string ``key``)."""
        keys = self._role_keys
        if keys is None:
            keys = self._role_keys = role_keys_of(self._raw)
        return keys

    @property
    def feature_flags(self) -> Mapping[str, Any]:
        """The ``feature_flags`` claim as Kinde issues it: ``{"<code>": {"t": "b"|"i"|"s", "v": ...}}``."""
        flags = self._raw.get("feature_flags")
        return MappingProxyType(flags) if isinstance(flags, dict) else _EMPTY

    @property
    def flag_items(self) -> frozenset[tuple[str, str, FlagValue]]:
        """Every well-formed feature flag as ``(code, t, v)``, e.g. ``("beta", "b", True)``
        (malformed entries left out): a route's flags are met when this includes them."""
        items = self._flag_items
        if items is None:
            items = self._flag_items = flag_items_of(self._raw)
        return items

    def feature_flag(self, code: str, default: FlagValue | None = None) -> FlagValue | None:
        """The value of the feature flag ``code`` (``bool`` for ``"t": "b"``, ``int`` for ``"i"``,
        ``str`` for ``"s"``), or ``default`` when the flag is absent or malformed. With a
        ``default``, only a flag of the default's type counts (``feature_flag("beta", False)`` is
        a ``bool`` and never the ``1`` of an integer flag), as Kinde's SDKs' typed getters do.

        >>> Claims.from_payload({"feature_flags": {"theme": {"t": "s", "v": "pink"}}}).feature_flag("theme", "light")
        'pink'
        """
        value = flag_value(self.feature_flags.get(code))
        if value is None or (default is not None and type(value) is not type(default)):
            return default
        return value

    def has_roles(self, *keys: str, match: Match = "all") -> bool:
        """True when the token holds the roles with these ``key`` values (all, or any with ``match="any"``)."""
        return _has(self.role_keys, keys, match)

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
