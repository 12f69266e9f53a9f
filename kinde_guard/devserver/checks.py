"""Shape checks shared by the tenant file's parsers: each raises ConfigurationError naming the place."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ConfigurationError

__all__ = ["json_object", "string_list"]


def string_list(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigurationError(f"{where} must be a list of non-empty strings.")
    return tuple(value)


def json_object(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ConfigurationError(f"{where} must be a JSON object.")
    return value
