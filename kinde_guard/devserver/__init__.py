"""The embedded Kinde-shaped dev issuer (``kinde-guard dev-issuer``): for development and tests only.

>>> from kinde_guard.devserver import KindeDevIssuer, load_config
>>> issuer = KindeDevIssuer(load_config())      # the built-in demo tenant
>>> sorted(issuer.config.clients)
['kinde-guard-dev-client', 'kinde-guard-dev-m2m']
"""

from __future__ import annotations

from .config import (
    DEFAULT_CALLBACK,
    DEFAULT_M2M_CLIENT_ID,
    DEFAULT_M2M_SECRET,
    DevIssuerConfig,
    default_config_document,
    load_config,
)
from .issuer import KindeDevIssuer
from .keys import default_keys_dir, load_or_create_key
from .run import DEFAULT_PORT, run

__all__ = [
    "DEFAULT_CALLBACK",
    "DEFAULT_M2M_CLIENT_ID",
    "DEFAULT_M2M_SECRET",
    "DEFAULT_PORT",
    "DevIssuerConfig",
    "KindeDevIssuer",
    "default_config_document",
    "default_keys_dir",
    "load_config",
    "load_or_create_key",
    "run",
]
