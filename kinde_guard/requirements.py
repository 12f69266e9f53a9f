"""Requirements: what one route needs of a verified token, as one value adapters pass through.

Every adapter hands a route's :class:`Requirements` to :meth:`KindeGuard.authenticate
<kinde_guard.KindeGuard.authenticate>` unchanged, so a new kind of requirement is added here and in
:class:`~kinde_guard.policy.Policy`, not in every adapter's signature.

>>> needs = Requirements(scopes=["read:orders"], permissions=("delete:orders",), match="any")
>>> needs.scopes, needs.permissions, needs.match
(('read:orders',), ('delete:orders',), 'any')
>>> bool(Requirements()), bool(needs)
(False, True)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .claims import Match

__all__ = ["NO_REQUIREMENTS", "Requirements"]


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


@dataclass(frozen=True, slots=True, init=False)
class Requirements:
    """A route's needs beyond the guard's own rules (``GuardConfig.required_scopes`` and friends).

    - ``scopes``: OAuth scopes the token must grant (``scp`` and ``scope``);
    - ``permissions``: Kinde permissions it must hold (``permissions``);
    - ``match``: ``"all"`` (default) or ``"any"`` — every listed scope and permission, or at least
      one of the scopes and one of the permissions.

    Built once per route (at decoration or start-up), immutable, hashable; validated when built.
    """

    scopes: tuple[str, ...]
    permissions: tuple[str, ...]
    match: Match

    def __init__(
        self,
        *,
        scopes: Iterable[str] | None = None,
        permissions: Iterable[str] | None = None,
        match: Match = "all",
    ) -> None:
        if match not in ("all", "any"):
            raise ValueError("match must be 'all' or 'any'")
        object.__setattr__(self, "scopes", _names(scopes, "scopes"))
        object.__setattr__(self, "permissions", _names(permissions, "permissions"))
        object.__setattr__(self, "match", match)

    def __bool__(self) -> bool:
        return bool(self.scopes or self.permissions)


#: The requirements of a route that needs nothing beyond the guard's own rules.
NO_REQUIREMENTS = Requirements()
