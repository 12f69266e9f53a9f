"""What both wirings of the example share: the orders, the tools' scopes, the SDK's transport
security for the resource's host. Importing it reads no configuration."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from mcp.server.transport_security import TransportSecuritySettings

from kinde_guard import ConfigurationError, GuardConfig

__all__ = ["ORDERS", "TOOL_SCOPES", "config_from_env", "mcp_path", "transport_security"]

#: The scopes each tool needs (all of them); a tool not listed needs only a valid token.
TOOL_SCOPES: Mapping[str, tuple[str, ...]] = {"list_orders": ("read:orders",)}

ORDERS: tuple[Mapping[str, Any], ...] = (
    {"id": "ord_1", "item": "coffee", "quantity": 2},
    {"id": "ord_2", "item": "tea", "quantity": 1},
)


def mcp_path(resource: str) -> str:
    """Where the MCP endpoint listens: the path of the resource identifier."""
    return urlsplit(resource).path.rstrip("/") or "/mcp"


def transport_security(resource: str) -> TransportSecuritySettings | None:
    """The SDK's DNS-rebinding check (Host and Origin) for the host of the resource identifier.
    ``None`` on loopback, where the SDK's own default (any port of 127.0.0.1/localhost/[::1]) applies."""
    parts = urlsplit(resource)
    if parts.hostname in ("127.0.0.1", "localhost", "::1"):
        return None
    origin = f"{parts.scheme}://{parts.netloc}"
    return TransportSecuritySettings(allowed_hosts=[parts.netloc], allowed_origins=[origin])


def config_from_env(module: str) -> GuardConfig:
    """The guard's settings from ``KINDE_*``, or a one-line ``SystemExit`` naming what to set."""
    missing = [name for name in ("KINDE_DOMAIN", "KINDE_RESOURCE") if not os.environ.get(name)]
    if missing:
        raise SystemExit(
            f"{module} cannot start: set {' and '.join(missing)}, e.g. "
            "KINDE_DOMAIN=https://acme.kinde.com KINDE_RESOURCE=http://127.0.0.1:8000/mcp "
            "(see examples/mcp_server/README.md)."
        )
    try:
        return GuardConfig.from_env()
    except ConfigurationError as exc:
        raise SystemExit(f"{module} cannot start: {exc}") from None
