"""Reading the command line and the ``KINDE_*`` environment, one rule for every subcommand.

``--audience``, ``--scope``, ``--permission`` and ``--issuer`` are all repeatable, and each value
may hold several space-separated words: ``--scope "read:orders write:orders"`` and
``--scope read:orders --scope write:orders`` mean the same thing everywhere.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import ConfigurationError
from .loopback import TokenHelperError
from .token_helper import normalize_domain

__all__ = ["Identity", "audiences", "config_error", "domain", "env_value", "identity", "required", "words"]


def words(values: Sequence[str] | None) -> list[str]:
    """The space-separated words of every value of a repeatable option, duplicates dropped."""
    return list(dict.fromkeys(word for value in values or () for word in value.split()))


def env_value(value: str | None, name: str) -> str | None:
    """The option's value, else the environment variable ``name``, else None."""
    return value if value else (os.environ.get(name) or None)


def required(value: str | None, option: str, env: str) -> str:
    if not value:
        raise TokenHelperError(f"{option} is required (or set {env}).")
    return value


def audiences(args: argparse.Namespace) -> list[str]:
    """``--audience`` values, else ``KINDE_AUDIENCE`` (space-separated)."""
    return words(args.audience) or (os.environ.get("KINDE_AUDIENCE") or "").split()


def domain(args: argparse.Namespace) -> str:
    return normalize_domain(required(env_value(args.domain, "KINDE_DOMAIN"), "--domain", "KINDE_DOMAIN"))


@dataclass(frozen=True)
class Identity:
    """Who asks for a token: the tenant, the application and the APIs it wants a token for."""

    domain: str
    client_id: str
    client_secret: str | None
    audiences: list[str]


def identity(args: argparse.Namespace) -> Identity:
    tenant = domain(args)
    client_id = required(env_value(args.client_id, "KINDE_CLIENT_ID"), "--client-id", "KINDE_CLIENT_ID")
    return Identity(tenant, client_id, env_value(args.client_secret, "KINDE_CLIENT_SECRET"), audiences(args))


#: GuardConfig field names as this command's flags, for configuration errors.
_FLAGS = {
    "domain": "--domain",
    "audience": "--audience",
    "issuer": "--issuer",
    "issuers": "--issuer",
    "jwks_uri": "--jwks-uri",
    "leeway": "--leeway",
}
_FIRST_SENTENCE = re.compile(r"(?<=[.;])\s+(?=[A-Z])")


def config_error(exc: ConfigurationError) -> TokenHelperError:
    """A GuardConfig error in this command's words: the flag instead of the field, one sentence."""
    message = _FIRST_SENTENCE.split(str(exc), maxsplit=1)[0]
    field, _, rest = message.partition(" ")
    message = f"{_FLAGS.get(field, field)} {rest}" if rest else message
    return TokenHelperError(message if message.endswith(".") else message + ".")
