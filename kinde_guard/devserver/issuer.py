"""KindeDevIssuer: the whole Kinde-shaped authorization server, grown from testing.DevIssuer.

>>> from kinde_guard.devserver import KindeDevIssuer
>>> with KindeDevIssuer().serve() as issuer:          # http://127.0.0.1:<free port>
...     token = issuer.mint()                         # minting helpers still work

Routes (besides discovery and the JWKS): ``/oauth2/auth`` (sign-in page), ``/oauth2/token``,
``/oauth2/v2/user_profile``, ``/oauth2/revoke``, ``/logout``.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

import jwt
from cachetools import LRUCache, TTLCache
from cryptography.hazmat.primitives.asymmetric import rsa

from .._issuer_http import Request, Response, json_response
from ..testing import DevIssuer
from . import authorize, token_endpoint
from .config import DevIssuerConfig, User, load_config
from .pages import error_page, html_response, signed_out_page
from .records import AuthRequest, CodeRecord, Grant

__all__ = ["KindeDevIssuer"]

SESSION_COOKIE = "kg_dev_session"


class KindeDevIssuer(DevIssuer):
    """A local Kinde tenant for development and tests. Never for production."""

    #: How many sign-ins in progress, codes, refresh tokens and sessions each store keeps at most.
    MAX_RECORDS = 10_000

    def __init__(
        self,
        config: DevIssuerConfig | None = None,
        *,
        key: rsa.RSAPrivateKey | None = None,
        issuer: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config or load_config()
        audiences = list(self.config.apis)
        super().__init__(issuer=issuer, audience=audiences[:1] or [], key=key, clock=clock)
        self._store_lock = threading.Lock()
        # Bounded stores (cachetools), so a long-running dev issuer cannot grow without limit:
        # sign-ins in progress and codes also expire on the issuer's clock; refresh tokens and
        # sessions, which have no lifetime here, keep the most recently used MAX_RECORDS.
        limit = self.MAX_RECORDS
        self._pending: TTLCache[str, AuthRequest] = TTLCache(limit, authorize.PENDING_LIFETIME, timer=clock)
        self._codes: TTLCache[str, CodeRecord] = TTLCache(limit, self.config.code_lifetime, timer=clock)
        self._refresh_tokens: LRUCache[str, Grant] = LRUCache(limit)
        self._sessions: LRUCache[str, User] = LRUCache(limit)
        #: Number of codes issued, token requests answered: handy in tests.
        self.codes_issued = 0

    # -- routing ---------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        route = (request.method, request.path)
        if request.path == "/oauth2/auth" and request.method in ("GET", "POST"):
            return authorize.handle(self, request)
        if route == ("POST", "/oauth2/token"):
            return token_endpoint.handle(self, request)
        if route == ("POST", "/oauth2/revoke"):
            return token_endpoint.revoke(self, request)
        if route == ("GET", "/oauth2/v2/user_profile"):
            return self._user_profile(request)
        if route == ("GET", "/logout"):
            return self._logout(request)
        return super().handle(request)

    # -- state (one lock; everything in memory) --------------------------------------------------

    def new_pending(self, auth: AuthRequest) -> str:
        request_id = secrets.token_urlsafe(24)
        with self._store_lock:
            self._pending[request_id] = auth
        return request_id

    def pending(self, request_id: str) -> AuthRequest | None:
        with self._store_lock:
            auth = self._pending.get(request_id)
        return auth if auth is not None and auth.expires_at > self.clock() else None

    def finish_pending(self, request_id: str) -> None:
        with self._store_lock:
            self._pending.pop(request_id, None)

    def new_code(self, grant: Grant, redirect_uri: str, code_challenge: str | None) -> str:
        code = secrets.token_urlsafe(32)
        record = CodeRecord(grant, redirect_uri, code_challenge, self.clock() + self.config.code_lifetime)
        with self._store_lock:
            self._codes[code] = record
            self.codes_issued += 1
        return code

    def take_code(self, code: str) -> CodeRecord | None:
        """The code's record, removed: a code is good for one redemption attempt only."""
        with self._store_lock:
            record = self._codes.pop(code, None)
        return record if record is not None and record.expires_at > self.clock() else None

    def new_refresh_token(self, grant: Grant) -> str:
        token = secrets.token_urlsafe(32)
        with self._store_lock:
            self._refresh_tokens[token] = grant
        return token

    def take_refresh_token(self, token: str) -> Grant | None:
        """Refresh tokens rotate: each is used once and replaced by a new one."""
        with self._store_lock:
            return self._refresh_tokens.pop(token, None)

    def new_session(self, user: User) -> str:
        sid = secrets.token_urlsafe(24)
        with self._store_lock:
            self._sessions[sid] = user
        return sid

    def session_user(self, request: Request) -> User | None:
        sid = _cookie(request, SESSION_COOKIE)
        with self._store_lock:
            return self._sessions.get(sid) if sid else None

    # -- tokens ----------------------------------------------------------------------------------

    def user_token_response(self, grant: Grant) -> dict[str, Any]:
        """The token endpoint's answer for a user grant: access token, ID token, refresh token."""
        lifetime = self.config.token_lifetime
        claims: dict[str, Any] = {"aud": list(grant.audiences), "azp": grant.client_id, "sub": grant.user.id}
        membership = grant.user.organizations.get(grant.org_code) if grant.org_code else None
        if grant.org_code is not None and membership is not None:
            claims["org_code"] = grant.org_code
            claims["permissions"] = list(membership.permissions)
            if membership.roles:
                claims["roles"] = [{"id": _role_id(r), "key": r, "name": r.title()} for r in membership.roles]
        access = self.mint(scopes=grant.scopes, expires_in=lifetime, **claims)
        body: dict[str, Any] = {"access_token": access, "expires_in": lifetime}
        if "openid" in grant.scopes:
            body["id_token"] = self._id_token(grant, access)
        if "offline" in grant.scopes:
            body["refresh_token"] = self.new_refresh_token(grant)
        body.update(scope=" ".join(grant.scopes), token_type="bearer")  # noqa: S106 (not a password)
        return body

    def _id_token(self, grant: Grant, access_token: str) -> str:
        user = grant.user
        digest = hashlib.sha256(access_token.encode("ascii")).digest()
        claims: dict[str, Any] = {
            "aud": [grant.client_id, self.issuer],
            "azp": grant.client_id,
            "at_hash": base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode(),
            "auth_time": grant.auth_time,
            "email": user.email,
            "family_name": user.family_name,
            "given_name": user.given_name,
            "name": user.name,
            "org_codes": list(user.organizations),
            "sub": user.id,
            "updated_at": grant.auth_time,
        }
        if grant.nonce:
            claims["nonce"] = grant.nonce
        return self.mint_id_token(expires_in=3600, **claims)

    def verify_own(self, token: str) -> dict[str, Any] | None:
        """The claims of an access token this issuer signed and that is still valid, else None."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = next((k for i, k in self._keys if i == kid), None)
            if key is None:
                return None
            claims: dict[str, Any] = jwt.decode(
                token, key.public_key(), algorithms=["RS256"], issuer=self.issuer, options={"verify_aud": False}
            )
        except jwt.PyJWTError:
            return None
        return claims

    # -- user profile and logout -----------------------------------------------------------------

    def _user_profile(self, request: Request) -> Response:
        auth = request.headers.get("Authorization") or ""
        scheme, _, token = auth.partition(" ")
        claims = self.verify_own(token.strip()) if scheme.lower() == "bearer" else None
        user = self._find_user(str(claims.get("sub"))) if claims else None
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
                "updated_at": int(self.clock()),
                "email": user.email,
                "email_verified": True,
                "picture": None,
                "preferred_username": None,
                "id": user.id,
            },
        )

    def _find_user(self, user_id: str) -> User | None:
        user = self.config.user(user_id)
        if user is None:
            with self._store_lock:
                known = list(self._sessions.values()) + [g.user for g in self._refresh_tokens.values()]
            user = next((u for u in known if u.id == user_id), None)
        return user

    def _logout(self, request: Request) -> Response:
        sid = _cookie(request, SESSION_COOKIE)
        if sid:
            with self._store_lock:
                self._sessions.pop(sid, None)
        expire = {"Set-Cookie": f"{SESSION_COOKIE}=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax"}
        target = request.arg("redirect")
        if not target:
            return html_response(200, signed_out_page(), expire)
        allowed = {uri for c in self.config.clients.values() for uri in c.logout_uris}
        if target not in allowed:
            return html_response(
                400,
                error_page(
                    "Logout redirect not allowed",
                    "This URL is not an allowed logout redirect of any application. Add it to the "
                    '"logout_uris" of the application in the dev issuer config:',
                    target,
                ),
                expire,
            )
        return Response(302, b"", {"Location": target, "Cache-Control": "no-store", **expire})


def _cookie(request: Request, name: str) -> str | None:
    for part in (request.headers.get("Cookie") or "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name and value:
            return value
    return None


def _role_id(role: str) -> str:
    return hashlib.sha256(role.encode()).hexdigest()[:32]
