"""``/oauth2/v2/user_profile``: Kinde's user profile for a bearer access token this server signed."""

from __future__ import annotations

from .._issuer_http import Request, Response, json_response
from .config import User
from .protocol import AuthorizationServer

__all__ = ["user_profile"]


def user_profile(server: AuthorizationServer, request: Request) -> Response:
    auth = request.headers.get("Authorization") or ""
    scheme, _, token = auth.partition(" ")
    claims = server.verify_own(token.strip()) if scheme.lower() == "bearer" else None
    user = _find_user(server, str(claims.get("sub"))) if claims else None
    if user is None:
        challenge = 'Bearer realm="kinde-dev-issuer", error="invalid_token"'
        return json_response(401, {"error": "invalid_token"}, {"WWW-Authenticate": challenge})
    return json_response(
        200,
        {
            "sub": user.id,
            "provided_id": None,
            "name": user.name,
            "given_name": user.given_name,
            "family_name": user.family_name,
            "updated_at": int(server.clock()),
            "email": user.email,
            "email_verified": True,
            "picture": None,
            "preferred_username": None,
            "id": user.id,
        },
    )


def _find_user(server: AuthorizationServer, user_id: str) -> User | None:
    user = server.config.user(user_id)
    if user is None:
        user = next((u for u in server.stores.known_users() if u.id == user_id), None)
    return user
