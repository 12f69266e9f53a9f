"""One table of HTTP cases that drives both example apps (FastAPI and Flask) over real HTTP.

Each case: a request (method, path, how to authenticate), and the exact answer expected: status,
JSON ``error`` code (None for success) and the exact ``WWW-Authenticate`` header (None when the
answer must have none). The apps' routes (issues #3 and #4) are:

    GET /public            no token needed                  200
    GET /me                any valid token                  200 {sub, scopes, permissions, org_code, azp, is_m2m}
    GET /orders            scope read:orders                200 [ ... ]
    POST /orders           scope write:orders               201 {order}
    DELETE /orders/{id}    permission delete:orders         204
    GET /healthz           keys loaded or loadable          200
    GET /admin/reports     Kinde role admin                 200 {"orders": <count>}
    GET /beta/suggestions  Kinde feature flag beta on       200 {"suggestions": [...]}
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kinde_guard.testing import DevIssuer

Auth = Callable[[DevIssuer], "str | None"]

ALL_SCOPES = ["openid", "email", "offline", "read:orders", "write:orders"]

#: How each case authenticates: a function of the issuer giving the Authorization header value.
AUTH: dict[str, Auth] = {
    "none": lambda i: None,
    "valid": lambda i: "Bearer " + i.mint(scopes=ALL_SCOPES, permissions=["delete:orders"]),
    "lowercase": lambda i: "bearer " + i.mint(scopes=ALL_SCOPES, permissions=["delete:orders"]),
    "m2m": lambda i: "Bearer " + i.mint_m2m(scopes=["read:orders", "write:orders"]),
    "read_only": lambda i: "Bearer " + i.mint(scopes=["openid", "read:orders"]),
    "no_permission": lambda i: "Bearer " + i.mint(scopes=ALL_SCOPES, permissions=["read:orders"]),
    "expired": lambda i: "Bearer " + i.mint(scopes=ALL_SCOPES, exp=int(i.clock()) - 3600),
    "wrong_audience": lambda i: "Bearer " + i.mint(scopes=ALL_SCOPES, aud=["https://other.example.com"]),
    "id_token": lambda i: "Bearer " + i.mint_id_token(),
    "malformed": lambda i: "Bearer not-a-jwt",
    "two_tokens": lambda i: "Bearer abc def",
    "empty_bearer": lambda i: "Bearer ",
    "basic": lambda i: "Basic dXNlcjpwYXNz",
    "admin": lambda i: "Bearer " + i.mint(scopes=ALL_SCOPES, roles=["admin"]),
    "viewer": lambda i: "Bearer " + i.mint(scopes=ALL_SCOPES, roles=["viewer"]),
    "beta_on": lambda i: "Bearer " + i.mint(scopes=ALL_SCOPES, feature_flags={"beta": True}),
    "beta_off": lambda i: "Bearer " + i.mint(scopes=ALL_SCOPES, feature_flags={"beta": False}),
}

BARE = 'Bearer realm="api"'
EXPIRED = 'Bearer realm="api", error="invalid_token", error_description="The \\"exp\\" claim is in the past: the token expired."'
WRONG_AUD = 'Bearer realm="api", error="invalid_token", error_description="The \\"aud\\" claim does not name this API."'
MALFORMED = (
    'Bearer realm="api", error="invalid_token", error_description="The token is not a JWT (three base64url segments)."'
)
TWO_TOKENS = 'Bearer realm="api", error="invalid_request", error_description="The Authorization header must carry exactly one bearer token."'
NO_TOKEN = 'Bearer realm="api", error="invalid_request", error_description="The Bearer credentials carry no token."'


def _scope_403(scope: str) -> str:
    return (
        'Bearer realm="api", error="insufficient_scope", error_description="The token lacks the required scope '
        f'(all of: {scope}; missing: {scope}).", scope="{scope}"'
    )


PERMISSION_403 = (
    'Bearer realm="api", error="insufficient_scope", error_description="The token lacks the required permission '
    '(all of: delete:orders; missing: delete:orders)."'
)


ROLE_403 = (
    'Bearer realm="api", error="insufficient_scope", error_description="The token lacks the required role '
    '(all of: admin; missing: admin)."'
)
NO_ROLES_403 = (
    'Bearer realm="api", error="insufficient_scope", error_description="The token has no \\"roles\\" claim, so it '
    "cannot show the required role (all of: admin): enable Roles in the Kinde application's token customization "
    '(Settings > Applications > your application > Tokens > Access token > Customize)."'
)
FLAG_403 = (
    'Bearer realm="api", error="insufficient_scope", error_description="The token lacks the required feature flag '
    '(all of: beta=true; not met: beta (token: false))."'
)
NO_FLAGS_403 = (
    'Bearer realm="api", error="insufficient_scope", error_description="The token has no \\"feature_flags\\" claim, '
    "so it cannot show the required feature flag (all of: beta=true): enable feature flags in the Kinde "
    "application's token customization (Settings > Applications > your application > Tokens; for an M2M "
    'application, its Tokens tab)."'
)


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    auth: str
    status: int
    error: str | None = None
    www_authenticate: str | None = None
    json: dict[str, object] | None = None

    @property
    def id(self) -> str:
        return f"{self.method} {self.path} [{self.auth}] -> {self.status}"


CASES: list[Case] = [
    Case("public needs no token", "GET", "/public", "none", 200),
    Case("public ignores a bad token", "GET", "/public", "malformed", 200),
    Case("me without a token", "GET", "/me", "none", 401, None, BARE),
    Case("me with another scheme", "GET", "/me", "basic", 401, None, BARE),
    Case("me with a valid token", "GET", "/me", "valid", 200),
    Case("me with lower-case bearer", "GET", "/me", "lowercase", 200),
    Case("me with an M2M token", "GET", "/me", "m2m", 200),
    Case("me with a malformed token", "GET", "/me", "malformed", 401, "invalid_token", MALFORMED),
    Case("me with two tokens", "GET", "/me", "two_tokens", 400, "invalid_request", TWO_TOKENS),
    Case("me with an empty bearer", "GET", "/me", "empty_bearer", 400, "invalid_request", NO_TOKEN),
    Case("me with an expired token", "GET", "/me", "expired", 401, "invalid_token", EXPIRED),
    Case("me with the wrong audience", "GET", "/me", "wrong_audience", 401, "invalid_token", WRONG_AUD),
    Case("me with an ID token", "GET", "/me", "id_token", 401, "invalid_token", WRONG_AUD),
    Case("orders without a token", "GET", "/orders", "none", 401, None, BARE),
    Case("orders with read scope", "GET", "/orders", "read_only", 200),
    Case("orders with an expired token", "GET", "/orders", "expired", 401, "invalid_token", EXPIRED),
    Case("orders with the wrong audience", "GET", "/orders", "wrong_audience", 401, "invalid_token", WRONG_AUD),
    Case("create order with write scope", "POST", "/orders", "valid", 201),
    Case("create order by M2M", "POST", "/orders", "m2m", 201),
    Case(
        "create order without write scope",
        "POST",
        "/orders",
        "read_only",
        403,
        "insufficient_scope",
        _scope_403("write:orders"),
    ),
    Case("create order without a token", "POST", "/orders", "none", 401, None, BARE),
    Case("create order with a malformed token", "POST", "/orders", "malformed", 401, "invalid_token", MALFORMED),
    Case("delete order with the permission", "DELETE", "/orders/ord_1", "valid", 204),
    Case(
        "delete order without the permission",
        "DELETE",
        "/orders/ord_1",
        "no_permission",
        403,
        "insufficient_scope",
        PERMISSION_403,
    ),
    Case("delete order with an expired token", "DELETE", "/orders/ord_1", "expired", 401, "invalid_token", EXPIRED),
    Case("delete order without a token", "DELETE", "/orders/ord_1", "none", 401, None, BARE),
    Case("healthz needs no token", "GET", "/healthz", "none", 200),
    Case("admin reports with the admin role", "GET", "/admin/reports", "admin", 200),
    Case("admin reports with another role", "GET", "/admin/reports", "viewer", 403, "insufficient_scope", ROLE_403),
    Case(
        "admin reports without a roles claim", "GET", "/admin/reports", "valid", 403, "insufficient_scope", NO_ROLES_403
    ),
    Case("admin reports without a token", "GET", "/admin/reports", "none", 401, None, BARE),
    Case("beta suggestions with the flag on", "GET", "/beta/suggestions", "beta_on", 200),
    Case(
        "beta suggestions with the flag off",
        "GET",
        "/beta/suggestions",
        "beta_off",
        403,
        "insufficient_scope",
        FLAG_403,
    ),
    Case(
        "beta suggestions without feature flags",
        "GET",
        "/beta/suggestions",
        "valid",
        403,
        "insufficient_scope",
        NO_FLAGS_403,
    ),
    Case(
        "beta suggestions with an expired token", "GET", "/beta/suggestions", "expired", 401, "invalid_token", EXPIRED
    ),
]
