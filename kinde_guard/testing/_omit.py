"""``OMIT``: the marker that removes a claim or a header from a minted token."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["OMIT", "apply_overrides"]


class _Omit:
    def __repr__(self) -> str:
        return "OMIT"


#: Pass as a claim or header value to remove it from a minted token.
OMIT: Any = _Omit()


def apply_overrides(base: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` applied: each value set, or removed when it is :data:`OMIT`."""
    for name, value in overrides.items():
        if value is OMIT:
            base.pop(name, None)
        else:
            base[name] = value
    return base
