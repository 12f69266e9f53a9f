"""One table of route requirements beyond scopes (roles, feature flags, organizations, claims
checks) x real signed tokens -> the answer: status, error code, description. The core test
(tests/test_route_requirements.py) and the adapters' test over real HTTP
(tests/test_route_requirements_http.py) both run it."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from kinde_guard import Claims
from kinde_guard.testing import OMIT, DevIssuer


def only_alice(claims: Claims) -> bool:
    return claims.raw.get("email") == "alice@example.com"


def broken_rule(claims: Claims) -> bool:
    raise KeyError("no such claim")


def truthy_not_true(claims: Claims) -> bool:
    return "yes"  # type: ignore[return-value]  # a rule returning anything but True refuses


#: Each route's requirements, as the keywords every adapter's require(...) takes.
ROUTES: dict[str, dict[str, Any]] = {
    "role": {"roles": ["admin"]},
    "roles_all": {"roles": ["admin", "owner"]},
    "roles_any": {"roles": ["admin", "owner"], "match": "any"},
    "flag_on": {"feature_flags": ["beta"]},
    "flag_values": {"feature_flags": {"plan": "pro", "seats": 5}},
    "org": {"org_codes": ["org_acme", "org_beta"]},
    "check": {"claims_check": only_alice, "claims_check_message": "Only Alice may read the audit log."},
    "check_raises": {"claims_check": broken_rule},
    "check_truthy": {"claims_check": truthy_not_true},
    "scope_and_role": {"scopes": ["read:orders"], "roles": ["admin"]},
}

#: Each token's claims (DevIssuer.mint keywords); every token is really signed by the issuer.
TOKENS: dict[str, dict[str, Any]] = {
    "admin": {"roles": ["admin"]},
    "owner": {"roles": ["owner"]},
    "admin_owner": {"roles": ["admin", "owner"]},
    "viewer": {"roles": ["viewer"]},
    "no_roles": {},
    "role_without_key": {"roles": [{"id": "018e", "name": "Admin"}]},
    "roles_not_a_list": {"roles": "admin"},
    "beta_on": {"feature_flags": {"beta": True}},
    "beta_off": {"feature_flags": {"beta": False}},
    "beta_integer_1": {"feature_flags": {"beta": {"t": "i", "v": 1}}},
    "no_flags": {},
    "flag_without_t": {"feature_flags": {"beta": {"v": True}}},
    "flag_v_not_of_t": {"feature_flags": {"beta": {"t": "b", "v": 1}}},
    "pro_5": {"feature_flags": {"plan": "pro", "seats": 5}},
    "free_5": {"feature_flags": {"plan": "free", "seats": 5}},
    "pro_true": {"feature_flags": {"plan": "pro", "seats": True}},
    "org_acme": {"org_code": "org_acme"},
    "org_other": {"org_code": "org_other"},
    "no_org": {"org_code": OMIT},
    "org_not_a_string": {"org_code": 7},
    "alice": {"email": "alice@example.com"},
    "bob": {"email": "bob@example.com"},
    "admin_no_scope": {"roles": ["admin"], "scopes": ["openid"]},
    "admin_with_scope": {"roles": ["admin"], "scopes": ["openid", "read:orders"]},
}

ROLES_ABSENT = (
    'The token has no "roles" claim, so it cannot show the required role (all of: admin): enable Roles in the '
    "Kinde application's token customization (Settings > Applications > your application > Tokens > "
    "Access token > Customize)."
)
ROLES_MALFORMED = (
    'The "roles" claim is malformed: it must be a list of objects each with a string "key", as Kinde issues it '
    '([{"id": ..., "key": "admin", "name": "Admin"}]).'
)
FLAGS_ABSENT = (
    'The token has no "feature_flags" claim, so it cannot show the required feature flag (all of: beta=true): '
    "enable feature flags in the Kinde application's token customization (Settings > Applications > your "
    "application > Tokens; for an M2M application, its Tokens tab)."
)
FLAG_MALFORMED = (
    'The "feature_flags" claim is malformed: flag "beta" is not {"t": "b" | "i" | "s", "v": <a value of that type>}.'
)


@dataclass(frozen=True)
class Row:
    route: str
    token: str
    status: int
    description: str | None = None  # exact, when given
    contains: str = ""  # a part of the description, when not given exactly
    scope: str | None = None  # the challenge's scope= parameter (only when scopes are missing)

    @property
    def id(self) -> str:
        return f"{self.route}[{self.token}]->{self.status}"

    @property
    def error(self) -> str | None:
        return "insufficient_scope" if self.status == 403 else None


ROWS: list[Row] = [
    # roles: met / not met / absent / malformed; match="all" and "any"
    Row("role", "admin", 200),
    Row("role", "viewer", 403, "The token lacks the required role (all of: admin; missing: admin)."),
    Row("role", "no_roles", 403, ROLES_ABSENT),
    Row("role", "role_without_key", 403, ROLES_MALFORMED),
    Row("role", "roles_not_a_list", 403, ROLES_MALFORMED),
    Row("roles_all", "admin_owner", 200),
    Row("roles_all", "admin", 403, "The token lacks the required role (all of: admin, owner; missing: owner)."),
    Row("roles_any", "owner", 200),
    Row("roles_any", "admin", 200),
    Row("roles_any", "viewer", 403, "The token lacks the required role (one of: admin, owner; missing: admin, owner)."),
    # feature flags: on / off / absent / malformed; type strictness (True is not 1)
    Row("flag_on", "beta_on", 200),
    Row(
        "flag_on",
        "beta_off",
        403,
        "The token lacks the required feature flag (all of: beta=true; not met: beta (token: false)).",
    ),
    Row(
        "flag_on",
        "beta_integer_1",
        403,
        "The token lacks the required feature flag (all of: beta=true; not met: beta (an integer flag, 1)).",
    ),
    Row("flag_on", "no_flags", 403, FLAGS_ABSENT),
    Row("flag_on", "flag_without_t", 403, FLAG_MALFORMED),
    Row("flag_on", "flag_v_not_of_t", 403, FLAG_MALFORMED),
    Row("flag_on", "pro_5", 403, contains="not met: beta (absent)"),
    Row("flag_values", "pro_5", 200),
    Row("flag_values", "free_5", 403, contains='not met: plan (token: "free")'),
    Row("flag_values", "pro_true", 403, contains="not met: seats (a boolean flag, true)"),
    # organizations: one of / another / absent / malformed
    Row("org", "org_acme", 200),
    Row(
        "org",
        "org_other",
        403,
        'The token is for the organization "org_other"; this route requires one of the organizations org_acme, org_beta.',
    ),
    Row("org", "no_org", 403, contains='The token has no "org_code" claim'),
    Row("org", "org_not_a_string", 403, 'The "org_code" claim is malformed: it must be a string (org_...).'),
    # claims_check: passes / refuses with the route's message / raises (refused, not 500) / truthy
    Row("check", "alice", 200),
    Row("check", "bob", 403, "Only Alice may read the audit log."),
    Row("check_raises", "alice", 403, "The token does not meet this route's requirements."),
    Row("check_truthy", "alice", 403, "The token does not meet this route's requirements."),
    # scope= in the challenge only when scopes are missing
    Row("scope_and_role", "admin_with_scope", 200),
    Row(
        "scope_and_role",
        "admin_no_scope",
        403,
        "The token lacks the required scope (all of: read:orders; missing: read:orders).",
        scope="read:orders",
    ),
    Row("scope_and_role", "viewer", 403, contains="missing: admin"),  # scopes met: no scope= parameter
]


def mint(issuer: DevIssuer, token: str) -> str:
    claims = dict(TOKENS[token])
    claims.setdefault("scopes", ["openid", "read:orders"])
    roles = claims.pop("roles", None)
    if isinstance(roles, str):  # a malformed claim, signed as given (mint's roles= builds Kinde's shape)
        token = issuer.mint(**claims)
        payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
        return issuer.sign({**payload, "roles": roles})
    return issuer.mint(roles=roles, **claims)
