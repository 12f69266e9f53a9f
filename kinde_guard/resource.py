"""OAuth 2.0 Protected Resource Metadata (RFC 9728), framework-free.

When ``GuardConfig.resource`` is set, the adapters publish this document at the resource's
well-known URL and point every Bearer challenge at it (``resource_metadata="..."``, RFC 9728
§5.1), as MCP clients require.

>>> metadata_path("https://api.example.com/mcp")
'/.well-known/oauth-protected-resource/mcp'
>>> metadata_url("https://api.example.com/")
'https://api.example.com/.well-known/oauth-protected-resource'
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from .config import GuardConfig

__all__ = ["WELL_KNOWN", "metadata_document", "metadata_path", "metadata_query", "metadata_url"]

WELL_KNOWN = "/.well-known/oauth-protected-resource"

#: Headers of the metadata document (RFC 9728 §3.2: JSON; cacheable for an hour).
METADATA_HEADERS: tuple[tuple[str, str], ...] = (
    ("content-type", "application/json"),
    ("cache-control", "public, max-age=3600"),
)


def metadata_path(resource: str) -> str:
    """The path of the metadata document: the well-known segment, then the resource's path.

    RFC 9728 §3.1: a terminating "/" right after the host is removed before inserting the
    well-known segment between the host and the path.
    """
    path = urlsplit(resource).path
    if path in ("", "/"):
        return WELL_KNOWN
    return WELL_KNOWN + path


def metadata_query(resource: str) -> str:
    """The query the metadata URL keeps from the resource identifier (usually empty)."""
    return urlsplit(resource).query


def metadata_url(resource: str) -> str:
    """The absolute metadata URL, built from the configured resource only (never a Host header)."""
    parts = urlsplit(resource)
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme}://{parts.netloc}{metadata_path(resource)}{query}"


def metadata_document(config: GuardConfig, route_scopes: Iterable[str] = ()) -> dict[str, Any]:
    """The RFC 9728 §2 document: ``scopes_supported`` is the configured list, else the scopes
    the routes require (as far as the framework lets the adapters see them), else ``[]``."""
    scopes = list(config.scopes_supported) or sorted(set(route_scopes))
    doc: dict[str, Any] = {
        "resource": config.resource,
        "authorization_servers": list(config.issuers),
        "scopes_supported": scopes,
        "bearer_methods_supported": ["header"],
    }
    if config.resource_name:
        doc["resource_name"] = config.resource_name
    if config.resource_documentation:
        doc["resource_documentation"] = config.resource_documentation
    return doc


def metadata_body(config: GuardConfig, route_scopes: Iterable[str] = ()) -> bytes:
    return json.dumps(metadata_document(config, route_scopes), separators=(",", ":")).encode("utf-8")
