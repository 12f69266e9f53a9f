"""The embedded Kinde-shaped dev authorization server (``kinde-guard dev-issuer``): a sign-in page,
the OAuth endpoints and Kinde's token shapes, for development and tests only.

>>> from kinde_guard.devserver import DevAuthorizationServer, load_config
>>> server = DevAuthorizationServer(load_config())      # the built-in demo tenant
>>> sorted(server.config.clients)
['kinde-guard-dev-client', 'kinde-guard-dev-device', 'kinde-guard-dev-m2m']

Built on :class:`kinde_guard.testing.TestIssuer`, the issuer that mints tokens for tests without
anyone signing in. ``KindeDevIssuer`` is this server's first name, kept as an alias.

Modules, one concept each, in layers: a module imports only from the layers below it, so no
import goes in a circle (``tests/test_devserver_layout.py`` checks)::

    run                                      the command: banner, serve until interrupted
    server                                   DevAuthorizationServer: routing, the tokens' shapes
    token_endpoint                           /oauth2/token (the device code grant from device)
    authorize  device  user_profile          the endpoints
    session                                  the sign-in session's cookie, /logout
    protocol                                 what the endpoints need from the server
    stores  pages  keys                      state between requests, HTML, the signing key file
    records                                  pending sign-ins, grants, codes
    config                                   the tenant
    tenant_api_keys  flags  checks           its API keys and Management API app, feature flags, shapes
"""

from __future__ import annotations

from .config import (
    DEFAULT_CALLBACK,
    DEFAULT_DEVICE_CLIENT_ID,
    DEFAULT_M2M_CLIENT_ID,
    DEFAULT_M2M_SECRET,
    DevIssuerConfig,
    default_config_document,
    load_config,
)
from .keys import default_keys_dir, load_or_create_key
from .run import DEFAULT_PORT, run
from .server import DevAuthorizationServer, KindeDevIssuer
from .tenant_api_keys import DEFAULT_MANAGEMENT_CLIENT_ID, DEFAULT_MANAGEMENT_SECRET

__all__ = [
    "DEFAULT_CALLBACK",
    "DEFAULT_DEVICE_CLIENT_ID",
    "DEFAULT_M2M_CLIENT_ID",
    "DEFAULT_M2M_SECRET",
    "DEFAULT_MANAGEMENT_CLIENT_ID",
    "DEFAULT_MANAGEMENT_SECRET",
    "DEFAULT_PORT",
    "DevAuthorizationServer",
    "DevIssuerConfig",
    "KindeDevIssuer",
    "default_config_document",
    "default_keys_dir",
    "load_config",
    "load_or_create_key",
    "run",
]
