"""The tenant file's Kinde API keys and the Management API's M2M application that verifies them.

Two optional top-level keys of the tenant file (a key the file names replaces the built-in one)::

    {
      "management_client": {"client_id": "kinde-guard-dev-management", "client_secret": "...",
                            "scopes": ["read:api_keys"]},
      "api_keys": [
        {"key": "k_live_dev_org_reader", "key_id": "api_key_dev_org_reader", "scopes": ["read:orders"],
         "org_code": "org_dev"},
        {"key": "k_live_dev_user_writer", "scopes": ["read:orders", "write:orders"],
         "user_id": "kp_de700000000000000000000000000001", "org_code": "org_dev"},
        {"key": "k_live_dev_revoked", "scopes": ["read:orders"], "org_code": "org_dev", "status": "revoked"}
      ]
    }

The built-in keys belong to the built-in users and organization: a file that replaces ``users`` or
``organizations`` but keeps the built-in ``api_keys`` keeps only those whose owner it still has.

``management_client`` is the M2M application authorised for the Kinde Management API (audience
``{issuer}/api``): a guard with ``api_keys`` on gets its token with these credentials
(``KINDE_M2M_CLIENT_ID`` / ``KINDE_M2M_CLIENT_SECRET``) and calls ``/api/v1/api_keys/verify``;
without ``read:api_keys`` in its ``scopes`` the issuer answers "Scope missing", as Kinde does.

Each key: ``key`` (required, the bearer value; letters, digits and ``_-~+/``, no dot), ``key_id``
(default ``api_key_`` + a digest of the key), ``scopes``, ``org_code`` (an organization of the
tenant), ``user_id`` (a user of the tenant: a user key; none: an organization key) and ``status``
(``active``, the default, ``inactive`` or ``revoked``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigurationError

__all__ = [
    "DEFAULT_MANAGEMENT_CLIENT_ID",
    "DEFAULT_MANAGEMENT_SECRET",
    "ManagementClient",
    "TenantApiKey",
    "TenantApiKeys",
    "default_api_keys_document",
    "parse_api_keys",
]

DEFAULT_MANAGEMENT_CLIENT_ID = "kinde-guard-dev-management"
#: A published secret, like the dev M2M application's: the dev issuer is never a real tenant.
DEFAULT_MANAGEMENT_SECRET = "dev-management-secret-not-for-production"  # noqa: S105
STATUSES = ("active", "inactive", "revoked")
_KEY = re.compile(r"[A-Za-z0-9_~+/-]+")


@dataclass(frozen=True)
class ManagementClient:
    """The M2M application authorised for the Kinde Management API."""

    client_id: str = DEFAULT_MANAGEMENT_CLIENT_ID
    client_secret: str = DEFAULT_MANAGEMENT_SECRET
    scopes: tuple[str, ...] = ("read:api_keys",)


@dataclass(frozen=True)
class TenantApiKey:
    key: str
    key_id: str
    scopes: tuple[str, ...] = ()
    org_code: str | None = None
    user_id: str | None = None
    status: str = "active"

    def __repr__(self) -> str:  # the key itself stays out of reprs and tracebacks
        return f"TenantApiKey(key_id={self.key_id!r}, status={self.status!r})"


@dataclass(frozen=True)
class TenantApiKeys:
    management: ManagementClient = ManagementClient()
    keys: tuple[TenantApiKey, ...] = ()


def default_api_keys_document() -> dict[str, Any]:
    """The built-in tenant's management application and keys, as the tenant file would hold them."""
    reader = {"key": "k_live_dev_org_reader", "key_id": "api_key_dev_org_reader", "scopes": ["read:orders"]}
    writer: dict[str, Any] = {"key": "k_live_dev_user_writer", "key_id": "api_key_dev_user_writer"}
    writer.update(scopes=["read:orders", "write:orders"], user_id="kp_de700000000000000000000000000001")
    revoked = {"key": "k_live_dev_revoked", "key_id": "api_key_dev_revoked", "scopes": ["read:orders"]}
    management = {"client_id": DEFAULT_MANAGEMENT_CLIENT_ID, "client_secret": DEFAULT_MANAGEMENT_SECRET}
    return {
        "management_client": {**management, "scopes": ["read:api_keys"]},
        "api_keys": [
            {**reader, "org_code": "org_dev"},
            {**writer, "org_code": "org_dev"},
            {**revoked, "org_code": "org_dev", "status": "revoked"},
        ],
    }


def _optional(doc: Mapping[str, Any], name: str, where: str) -> str | None:
    value = doc.get(name)
    if value is not None and (not isinstance(value, str) or not value):
        raise ConfigurationError(f"{where}.{name} must be a non-empty string.")
    return value


def _required(doc: Mapping[str, Any], name: str, where: str) -> str:
    value = _optional(doc, name, where)
    if value is None:
        raise ConfigurationError(f"{where}.{name} is required.")
    return value


def _scopes(doc: Mapping[str, Any], where: str) -> tuple[str, ...]:
    value = doc.get("scopes", [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v and " " not in v for v in value):
        raise ConfigurationError(f"{where}.scopes must be a list of scopes (non-empty strings without spaces).")
    return tuple(value)


def _management(doc: object, clients: Collection[str]) -> ManagementClient:
    if not isinstance(doc, dict):
        raise ConfigurationError("management_client must be a JSON object.")
    client_id = _required(doc, "client_id", "management_client")
    secret = _required(doc, "client_secret", "management_client")
    if client_id in clients:
        raise ConfigurationError(
            f"management_client.client_id {client_id!r} is also in 'clients': give the Management API's "
            "M2M application an id of its own."
        )
    scopes = _scopes(doc, "management_client") if "scopes" in doc else ("read:api_keys",)
    return ManagementClient(client_id, secret, scopes)


def _key(doc: object, where: str, orgs: Collection[str], users: Collection[str]) -> TenantApiKey:
    if not isinstance(doc, dict):
        raise ConfigurationError(f"{where} must be a JSON object.")
    key = _required(doc, "key", where)
    if not _KEY.fullmatch(key):
        raise ConfigurationError(f"{where}.key may hold letters, digits and _-~+/ only (Kinde's keys: k_live_...).")
    key_id = _optional(doc, "key_id", where) or "api_key_" + hashlib.sha256(key.encode()).hexdigest()[:24]
    org_code, user_id = _optional(doc, "org_code", where), _optional(doc, "user_id", where)
    if org_code is not None and org_code not in orgs:
        raise ConfigurationError(f"{where}.org_code {org_code!r} is not in 'organizations'.")
    if user_id is not None and user_id not in users:
        raise ConfigurationError(f"{where}.user_id {user_id!r} is not the id of one of 'users'.")
    status = doc.get("status", "active")
    if status not in STATUSES:
        raise ConfigurationError(f"{where}.status must be one of {', '.join(STATUSES)}.")
    return TenantApiKey(key, key_id, _scopes(doc, where), org_code, user_id, status)


def parse_api_keys(
    doc: Mapping[str, Any], orgs: Collection[str], users: Collection[str], clients: Collection[str]
) -> TenantApiKeys:
    """``management_client`` and ``api_keys`` of a tenant document (defaults already merged in),
    checked against the tenant's organization codes, user ids and client ids. The built-in keys
    that name a user or organization the document replaced are left out with them."""
    management = _management(doc.get("management_client", {}), clients)
    listed = doc.get("api_keys", [])
    if not isinstance(listed, list):
        raise ConfigurationError("api_keys must be a list of keys.")
    if listed == default_api_keys_document()["api_keys"]:
        listed = [k for k in listed if k.get("org_code") in (None, *orgs) and k.get("user_id") in (None, *users)]
    keys = tuple(_key(k, f"api_keys[{i}]", orgs, users) for i, k in enumerate(listed))
    for name in ("key", "key_id"):
        values = [getattr(k, name) for k in keys]
        if len(set(values)) != len(values):
            i = next(i for i, v in enumerate(values) if values.index(v) != i)
            raise ConfigurationError(f"api_keys[{i}].{name} is the same as an earlier key's.")
    return TenantApiKeys(management, keys)
