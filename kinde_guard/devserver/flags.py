"""Feature flags in the dev issuer's tenant file: ``{"code": true | 5 | "text"}``, Kinde's types, on
users (per organization and their own) and on M2M applications."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ConfigurationError

__all__ = ["parse_client_flags", "parse_flags"]


def parse_flags(value: object, where: str) -> dict[str, bool | int | str]:
    """A tenant file's ``feature_flags`` object, each value a boolean, a whole number or a string."""
    if not isinstance(value, dict):
        raise ConfigurationError(f"{where} must be a JSON object.")
    for code, flag in value.items():
        if not code or type(flag) not in (bool, int, str):
            raise ConfigurationError(
                f"{where}.{code} must be true/false, a whole number or a string (Kinde's flag types)."
            )
    return dict(value)


def parse_client_flags(doc: Mapping[str, Any], kind: str, where: str) -> dict[str, bool | int | str]:
    """A tenant-file client's ``feature_flags``: an ``m2m`` application's own (Kinde adds them to its
    client-credentials tokens); other clients' tokens are users' and carry the users' flags."""
    flags = parse_flags(doc.get("feature_flags", {}), f"{where}.feature_flags")
    if flags and kind != "m2m":
        raise ConfigurationError(
            f"{where}.feature_flags: only an m2m client carries its own flags (a user's tokens carry the user's)."
        )
    return flags
