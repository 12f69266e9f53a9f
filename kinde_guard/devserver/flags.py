"""Feature flags in the dev issuer's tenant file: ``{"code": true | 5 | "text"}``, Kinde's types."""

from __future__ import annotations

from ..errors import ConfigurationError

__all__ = ["parse_flags"]


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
