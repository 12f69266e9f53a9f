"""README snippet: the core, framework-free (tests/test_readme.py runs it)."""

from __future__ import annotations

from kinde_guard import AuthError, Claims, GuardConfig, JWKSError, KindeGuard

guard = KindeGuard(domain="https://acme.kinde.com", audience=["https://api.acme.com"])
guard = KindeGuard(GuardConfig.from_env())  # KINDE_DOMAIN, KINDE_AUDIENCE, ... (see Configuration)


def orders_for(authorization: str | None) -> tuple[int, dict[str, object]]:
    """What any framework does with the Authorization header of a request to GET /orders."""
    try:
        claims: Claims = guard.authenticate(authorization, scopes=["read:orders"])
    except (AuthError, JWKSError) as exc:
        answer = guard.render_error(exc)  # status, headers (WWW-Authenticate, ...), JSON body
        return answer.status, {"headers": dict(answer.headers), "body": answer.body}
    return 200, {"sub": claims.sub, "scopes": sorted(claims.scopes), "org": claims.org_code, "m2m": claims.is_m2m}
