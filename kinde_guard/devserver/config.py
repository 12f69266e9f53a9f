"""The dev issuer's tenant: users, organizations, applications (clients) and APIs.

Read from a small JSON file (``kinde-guard dev-issuer --config FILE``). Every top-level key is
optional: a key the file names replaces that part of the built-in defaults, the others stay::

    {
      "token_lifetime": 86400,
      "organizations": [{"code": "org_dev", "name": "Dev Org"}],
      "apis": [{"audience": "https://api.example.com", "scopes": ["read:orders", "write:orders"]}],
      "users": [{"id": "kp_...", "email": "demo@example.com", "given_name": "Demo", "family_name": "User",
                 "organizations": {"org_dev": {"permissions": ["delete:orders"], "roles": ["admin"],
                                               "feature_flags": {"beta": true}}},
                 "feature_flags": {"theme": "dark"}}],
      "clients": [
        {"client_id": "kinde-guard-dev-client", "type": "public", "name": "Token helper",
         "redirect_uris": ["http://127.0.0.1:53180/callback"], "apis": ["https://api.example.com"]},
        {"client_id": "kinde-guard-dev-m2m", "type": "m2m", "client_secret": "...",
         "apis": ["https://api.example.com"], "scopes": ["read:orders", "write:orders"]},
        {"client_id": "kinde-guard-dev-device", "type": "device", "apis": ["https://api.example.com"]}
      ],
      "device_code_lifetime": 600, "device_interval": 5
    }

A user's ``feature_flags`` (``{"code": true | 5 | "text"}``, per organization and the user's own,
which win) go into the user's access tokens as Kinde issues them, ``{"code": {"t": "b", "v": true}}``;
organization ``roles`` as ``[{"id", "key", "name"}]``. An ``m2m`` client's own ``feature_flags`` (same
values) go into its client-credentials tokens the same way, as Kinde adds an M2M application's flags.

Client ``type``: ``public`` (SPA or CLI: PKCE required, no secret), ``confidential`` (back-end web
app: secret required at the token endpoint), ``m2m`` (client credentials only) or ``device`` (Kinde's
*Device and IoT* application: the device authorization flow, RFC 8628, no secret). Device codes live
``device_code_lifetime`` seconds and are polled every ``device_interval`` seconds at most.

Kinde API keys (``api_keys``) and the Management API's M2M application that verifies them
(``management_client``): see :mod:`kinde_guard.devserver.tenant_api_keys`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from ..testing import DEFAULT_AUDIENCE, DEFAULT_CLIENT_ID
from .checks import json_object, string_list
from .flags import parse_client_flags, parse_flags
from .tenant_api_keys import TenantApiKeys, default_api_keys_document, parse_api_keys

__all__ = [
    "DEFAULT_CALLBACK",
    "DEFAULT_DEVICE_CLIENT_ID",
    "DEFAULT_M2M_CLIENT_ID",
    "DEFAULT_M2M_SECRET",
    "Api",
    "Client",
    "DevIssuerConfig",
    "Membership",
    "User",
    "default_config_document",
    "load_config",
    "user_for_email",
]

DEFAULT_CALLBACK = "http://127.0.0.1:53180/callback"
DEFAULT_M2M_CLIENT_ID = "kinde-guard-dev-m2m"
DEFAULT_DEVICE_CLIENT_ID = "kinde-guard-dev-device"
#: A published secret: the dev issuer binds to 127.0.0.1 and is never a real tenant.
DEFAULT_M2M_SECRET = "dev-m2m-secret-not-for-production"  # noqa: S105
CLIENT_TYPES = ("public", "confidential", "m2m", "device")
#: Client types without a secret: they run where a secret would not stay secret.
SECRETLESS_TYPES = ("public", "device")


@dataclass(frozen=True)
class Membership:
    permissions: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    #: The organization's feature flag values for this user (Kinde: organization overrides).
    feature_flags: Mapping[str, bool | int | str] = field(default_factory=dict)


@dataclass(frozen=True)
class User:
    id: str
    email: str
    given_name: str = ""
    family_name: str = ""
    organizations: Mapping[str, Membership] = field(default_factory=dict)
    #: The user's own feature flag values (Kinde: user overrides win over the organization's).
    feature_flags: Mapping[str, bool | int | str] = field(default_factory=dict)

    def flags_in(self, org_code: str | None) -> dict[str, bool | int | str]:
        """The feature flags of this user's tokens for ``org_code``: the organization's, then the user's own."""
        membership = self.organizations.get(org_code) if org_code else None
        return {**(membership.feature_flags if membership else {}), **self.feature_flags}

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip() or self.email


@dataclass(frozen=True)
class Api:
    audience: str
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Client:
    client_id: str
    type: str = "public"
    name: str = ""
    client_secret: str | None = None
    redirect_uris: tuple[str, ...] = ()
    logout_uris: tuple[str, ...] = ()
    apis: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    org_code: str | None = None
    feature_flags: Mapping[str, bool | int | str] = field(default_factory=dict)


@dataclass(frozen=True)
class DevIssuerConfig:
    users: tuple[User, ...]
    clients: Mapping[str, Client]
    apis: Mapping[str, Api]
    organizations: Mapping[str, str]
    token_lifetime: int = 86400
    code_lifetime: int = 120
    device_code_lifetime: int = 600
    device_interval: int = 5
    #: The Management API's M2M application and the tenant's API keys.
    api_keys: TenantApiKeys = field(default_factory=TenantApiKeys)

    def user(self, user_id: str) -> User | None:
        return next((u for u in self.users if u.id == user_id), None)


def default_config_document() -> dict[str, Any]:
    """The built-in tenant, as the JSON a config file would hold."""
    return {
        "token_lifetime": 86400,
        "code_lifetime": 120,
        "device_code_lifetime": 600,
        "device_interval": 5,
        "organizations": [{"code": "org_dev", "name": "Dev Org"}],
        "apis": [{"audience": DEFAULT_AUDIENCE, "scopes": ["read:orders", "write:orders"]}],
        "users": [
            {
                "id": "kp_de700000000000000000000000000001",
                "email": "demo@example.com",
                "given_name": "Demo",
                "family_name": "User",
                "organizations": {
                    "org_dev": {"permissions": ["delete:orders"], "roles": ["admin"], "feature_flags": {"beta": True}}
                },
            },
            {
                "id": "kp_de700000000000000000000000000002",
                "email": "reader@example.com",
                "given_name": "Read",
                "family_name": "Only",
                "organizations": {"org_dev": {"permissions": [], "roles": []}},
            },
        ],
        "clients": [
            {
                "client_id": DEFAULT_CLIENT_ID,
                "type": "public",
                "name": "kinde-guard token helper",
                "redirect_uris": [DEFAULT_CALLBACK],
                "logout_uris": ["http://127.0.0.1:53180/"],
                "apis": [DEFAULT_AUDIENCE],
            },
            {
                "client_id": DEFAULT_M2M_CLIENT_ID,
                "type": "m2m",
                "name": "Dev machine-to-machine app",
                "client_secret": DEFAULT_M2M_SECRET,
                "apis": [DEFAULT_AUDIENCE],
                "scopes": ["read:orders", "write:orders"],
            },
            {
                "client_id": DEFAULT_DEVICE_CLIENT_ID,
                "type": "device",
                "name": "kinde-guard token helper (device flow)",
                "apis": [DEFAULT_AUDIENCE],
            },
        ],
        **default_api_keys_document(),
    }


def _user(doc: Mapping[str, Any], where: str, orgs: Mapping[str, str]) -> User:
    email = doc.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise ConfigurationError(f"{where}.email must be an email address.")
    memberships: dict[str, Membership] = {}
    for code, m in json_object(doc.get("organizations", {}), f"{where}.organizations").items():
        if code not in orgs:
            raise ConfigurationError(f"{where} is in organization {code!r}, which is not in 'organizations'.")
        m = json_object(m, f"{where}.organizations.{code}")
        memberships[code] = Membership(
            string_list(m.get("permissions", []), f"{where}.organizations.{code}.permissions"),
            string_list(m.get("roles", []), f"{where}.organizations.{code}.roles"),
            parse_flags(m.get("feature_flags", {}), f"{where}.organizations.{code}.feature_flags"),
        )
    return User(
        id=str(doc.get("id") or user_for_email(email).id),
        email=email,
        given_name=str(doc.get("given_name", "")),
        family_name=str(doc.get("family_name", "")),
        organizations=memberships,
        feature_flags=parse_flags(doc.get("feature_flags", {}), f"{where}.feature_flags"),
    )


def _client(doc: Mapping[str, Any], where: str, apis: Mapping[str, Api], orgs: Mapping[str, str]) -> Client:
    client_id, kind, secret = doc.get("client_id"), doc.get("type", "public"), doc.get("client_secret")
    if not isinstance(client_id, str) or not client_id:
        raise ConfigurationError(f"{where}.client_id is required.")
    if kind not in CLIENT_TYPES:
        raise ConfigurationError(f"{where}.type must be one of {', '.join(CLIENT_TYPES)}.")
    secretless = kind in SECRETLESS_TYPES
    if secretless == isinstance(secret, str) or secret == "":
        raise ConfigurationError(f"{where}: a {kind} client {'has no' if secretless else 'needs'} client_secret.")
    client = Client(
        client_id=client_id,
        type=kind,
        name=str(doc.get("name") or client_id),
        client_secret=secret,
        redirect_uris=string_list(doc.get("redirect_uris", []), f"{where}.redirect_uris"),
        logout_uris=string_list(doc.get("logout_uris", []), f"{where}.logout_uris"),
        apis=string_list(doc.get("apis", []), f"{where}.apis"),
        scopes=string_list(doc.get("scopes", []), f"{where}.scopes"),
        org_code=doc.get("org_code"),
        feature_flags=parse_client_flags(doc, kind, where),  # an M2M application's, in its tokens
    )
    for audience in client.apis:
        if audience not in apis:
            raise ConfigurationError(f"{where}.apis names {audience!r}, which is not in 'apis'.")
    if client.org_code is not None and client.org_code not in orgs:
        raise ConfigurationError(f"{where}.org_code {client.org_code!r} is not in 'organizations'.")
    return client


def parse_config(doc: Mapping[str, Any]) -> DevIssuerConfig:
    """Validate a config document (defaults filled in for absent top-level keys)."""
    merged = {**default_config_document(), **json_object(doc, "the config file")}
    orgs = {}
    for i, o in enumerate(merged["organizations"]):
        o = json_object(o, f"organizations[{i}]")
        if not isinstance(o.get("code"), str):
            raise ConfigurationError(f"organizations[{i}].code is required.")
        orgs[o["code"]] = str(o.get("name") or o["code"])
    apis = {}
    for i, a in enumerate(merged["apis"]):
        a = json_object(a, f"apis[{i}]")
        if not isinstance(a.get("audience"), str) or not a["audience"]:
            raise ConfigurationError(f"apis[{i}].audience is required.")
        apis[a["audience"]] = Api(a["audience"], string_list(a.get("scopes", []), f"apis[{i}].scopes"))
    users = tuple(_user(json_object(u, f"users[{i}]"), f"users[{i}]", orgs) for i, u in enumerate(merged["users"]))
    clients = {}
    for i, c in enumerate(merged["clients"]):
        client = _client(json_object(c, f"clients[{i}]"), f"clients[{i}]", apis, orgs)
        clients[client.client_id] = client
    lifetimes = {}
    for name in ("token_lifetime", "code_lifetime", "device_code_lifetime", "device_interval"):
        value = merged[name]
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigurationError(f"{name} must be a whole number of seconds > 0.")
        lifetimes[name] = value
    api_keys = parse_api_keys(merged, orgs, [u.id for u in users], clients)
    return DevIssuerConfig(users, clients, apis, orgs, api_keys=api_keys, **lifetimes)


def load_config(path: str | Path | None = None) -> DevIssuerConfig:
    """The config in ``path`` (JSON), or the built-in defaults when ``path`` is None."""
    if path is None:
        return parse_config({})
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"cannot read the dev issuer config {path}: {exc.strerror}.") from None
    except ValueError as exc:
        raise ConfigurationError(f"the dev issuer config {path} is not valid JSON: {exc}.") from None
    return parse_config(doc)


def user_for_email(email: str, known: Sequence[User] = ()) -> User:
    """The configured user with this email, or a new one (no organization) with a stable id."""
    for user in known:
        if user.email.lower() == email.lower():
            return user
    digest = hashlib.sha256(email.lower().encode()).hexdigest()[:32]
    return User(id="kp_" + digest, email=email, given_name=email.split("@")[0])
