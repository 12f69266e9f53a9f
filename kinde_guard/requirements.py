"""Requirements: what one route needs of a verified token, as one value adapters pass through.

Every adapter hands a route's :class:`Requirements` to :meth:`KindeGuard.authenticate
<kinde_guard.KindeGuard.authenticate>` unchanged, so a new kind of requirement is added here and in
:class:`~kinde_guard.policy.Policy`, not in every adapter's signature.

>>> needs = Requirements(scopes=["read:orders"], permissions=("delete:orders",), match="any")
>>> needs.scopes, needs.permissions, needs.match
(('read:orders',), ('delete:orders',), 'any')
>>> bool(Requirements()), bool(needs)
(False, True)
>>> Requirements(roles=["admin"], feature_flags=["beta"], org_codes=["org_acme"]).feature_flags
(('beta', True),)
>>> Requirements(feature_flags={"plan": "pro", "seats": 5}).describe()
'feature flags plan="pro", seats=5'
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypedDict

from .claims import FlagValue, Match

if TYPE_CHECKING:
    from .claims import Claims

__all__ = ["DEFAULT_CLAIMS_CHECK_MESSAGE", "NO_REQUIREMENTS", "ClaimsCheck", "RequirementOptions", "Requirements"]

#: ``claims_check(claims) -> bool``: a route's own rule over the verified claims (sync, no I/O).
ClaimsCheck = Callable[["Claims"], bool]

#: The refusal's description when a ``claims_check`` refuses and the route set no message.
DEFAULT_CLAIMS_CHECK_MESSAGE = "The token does not meet this route's requirements."


class RequirementOptions(TypedDict, total=False):
    """The keyword form of :class:`Requirements`, which every adapter's ``require(...)`` takes as
    ``**options: Unpack[RequirementOptions]`` and hands to ``Requirements(**options)``: a new kind
    of requirement is added here and in :class:`Requirements`, not to each adapter's signature."""

    scopes: Iterable[str] | None
    permissions: Iterable[str] | None
    match: Match
    roles: Iterable[str] | None
    feature_flags: Mapping[str, FlagValue] | Iterable[str] | None
    org_codes: Iterable[str] | None
    claims_check: ClaimsCheck | None
    claims_check_message: str | None
    accept_api_keys: bool


def _names(values: Iterable[str] | None, what: str) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        # scopes="read:orders" would otherwise require the scopes "r", "e", "a", ...
        raise TypeError(f"{what} must be a list of names, e.g. {what}=[{values!r}]")
    names = tuple(values)
    for name in names:
        if not isinstance(name, str) or not name:
            raise TypeError(f"{what} must be non-empty strings, got {name!r}")
    return names


def _flags(values: Mapping[str, FlagValue] | Iterable[str] | None) -> tuple[tuple[str, FlagValue], ...]:
    """``{"code": value}`` as (code, value) pairs; a list of codes means each boolean flag is on."""
    if values is None:
        return ()
    if isinstance(values, Mapping):
        pairs = tuple(values.items())
    else:
        pairs = tuple((code, True) for code in _names(values, "feature_flags"))
    for code, value in pairs:
        if not isinstance(code, str) or not code:
            raise TypeError(f"feature_flags codes must be non-empty strings, got {code!r}")
        # Kinde's flag types: boolean "b", integer "i", string "s". A float or None has no Kinde type.
        if type(value) not in (bool, int, str):
            raise TypeError(
                f"feature_flags[{code!r}] must be a bool, an int or a str (Kinde's flag types), got {value!r}"
            )
    return pairs


_FLAG_CODES = {bool: "b", int: "i", str: "s"}


def _flag_text(code: str, value: FlagValue) -> str:
    return f"{code}={json.dumps(value)}"


@dataclass(frozen=True, slots=True, init=False)
class Requirements:
    """A route's needs beyond the guard's own rules (``GuardConfig.required_scopes`` and friends).

    - ``scopes``: OAuth scopes the token must grant (``scp`` and ``scope``);
    - ``permissions``: Kinde permissions it must hold (``permissions``);
    - ``roles``: keys of Kinde roles it must hold (the ``key`` of each ``roles`` entry);
    - ``match``: ``"all"`` (default) or ``"any"`` — every listed scope, permission and role, or
      at least one of the scopes, one of the permissions and one of the roles;
    - ``feature_flags``: ``{"code": value}`` — each flag present with the Kinde type of the Python
      value (``bool`` "b", ``int`` "i", ``str`` "s"; ``True`` is not ``1``) and equal to it; a list
      of codes (``["beta"]``) requires each boolean flag to be on. Stored as (code, value) pairs;
    - ``org_codes``: the token's ``org_code`` must be one of them;
    - ``claims_check``: ``callable(Claims) -> bool``, the route's own rule: anything but ``True``
      (or an exception) refuses, with ``claims_check_message`` as the description;
    - ``accept_api_keys``: ``False`` for a route that takes Kinde access tokens only, refusing
      Kinde API keys (401) even when the guard accepts them (``GuardConfig.api_keys``).

    Built once per route (at decoration or start-up), immutable, validated when built. Hashable
    when its ``claims_check`` is (functions and lambdas are, by identity; two equal-looking
    lambdas are different requirements).
    """

    scopes: tuple[str, ...]
    permissions: tuple[str, ...]
    match: Match
    roles: tuple[str, ...]
    feature_flags: tuple[tuple[str, FlagValue], ...]
    org_codes: tuple[str, ...]
    claims_check: ClaimsCheck | None
    claims_check_message: str
    accept_api_keys: bool
    #: ``feature_flags`` as Kinde types them, ``{(code, "b" | "i" | "s", value)}``: what a token's
    #: :attr:`Claims.flag_items <kinde_guard.Claims.flag_items>` must include (one set operation).
    #: The type letter also keeps ``{"beta": True}`` and ``{"beta": 1}`` apart (``True == 1`` in Python).
    flag_items: frozenset[tuple[str, str, FlagValue]] = field(repr=False)

    def __init__(
        self,
        *,
        scopes: Iterable[str] | None = None,
        permissions: Iterable[str] | None = None,
        match: Match = "all",
        roles: Iterable[str] | None = None,
        feature_flags: Mapping[str, FlagValue] | Iterable[str] | None = None,
        org_codes: Iterable[str] | None = None,
        claims_check: ClaimsCheck | None = None,
        claims_check_message: str | None = None,
        accept_api_keys: bool = True,
    ) -> None:
        if type(accept_api_keys) is not bool:
            raise TypeError("accept_api_keys must be True or False")
        if match not in ("all", "any"):
            raise ValueError("match must be 'all' or 'any'")
        if claims_check is not None and not callable(claims_check):
            raise TypeError("claims_check must be a function taking the Claims and returning a bool")
        if claims_check_message is not None:
            if claims_check is None:
                raise TypeError("claims_check_message is the refusal of a claims_check: pass claims_check= too")
            if not isinstance(claims_check_message, str) or not claims_check_message.strip():
                raise TypeError("claims_check_message must be a non-empty sentence")
        object.__setattr__(self, "scopes", _names(scopes, "scopes"))
        object.__setattr__(self, "permissions", _names(permissions, "permissions"))
        object.__setattr__(self, "match", match)
        object.__setattr__(self, "roles", _names(roles, "roles"))
        flags = _flags(feature_flags)
        object.__setattr__(self, "feature_flags", flags)
        object.__setattr__(self, "flag_items", frozenset((c, _FLAG_CODES[type(v)], v) for c, v in flags))
        object.__setattr__(self, "org_codes", _names(org_codes, "org_codes"))
        object.__setattr__(self, "claims_check", claims_check)
        object.__setattr__(self, "claims_check_message", claims_check_message or DEFAULT_CLAIMS_CHECK_MESSAGE)
        object.__setattr__(self, "accept_api_keys", accept_api_keys)

    def __bool__(self) -> bool:
        return bool(
            self.scopes
            or self.permissions
            or self.roles
            or self.feature_flags
            or self.org_codes
            or self.claims_check is not None
            or not self.accept_api_keys
        )

    def describe(self) -> str:
        """What the route requires, in words (the FastAPI adapter puts it in the OpenAPI description).

        >>> Requirements(roles=["admin", "owner"], match="any", org_codes=["org_1"]).describe()
        'one of the roles admin, owner; organization org_1'
        """
        how = "all of" if self.match == "all" else "one of"
        parts = []
        for kind, names in (("scopes", self.scopes), ("permissions", self.permissions), ("roles", self.roles)):
            if len(names) == 1:
                parts.append(f"{kind[:-1]} {names[0]}")
            elif names:
                parts.append(f"{how} the {kind} {', '.join(names)}")
        if self.feature_flags:
            label = "feature flag" if len(self.feature_flags) == 1 else "feature flags"
            parts.append(f"{label} {', '.join(_flag_text(c, v) for c, v in self.feature_flags)}")
        if self.org_codes:
            label = "organization" if len(self.org_codes) == 1 else "one of the organizations"
            parts.append(f"{label} {', '.join(self.org_codes)}")
        if self.claims_check is not None:
            parts.append(f"a claims check ({getattr(self.claims_check, '__name__', 'custom')})")
        if not self.accept_api_keys:
            parts.append("an access token (not an API key)")
        return "; ".join(parts) or "any valid token"


#: The requirements of a route that needs nothing beyond the guard's own rules.
NO_REQUIREMENTS = Requirements()
