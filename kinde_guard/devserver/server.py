"""DevAuthorizationServer: the interactive, Kinde-shaped OAuth authorization server of
``kinde-guard dev-issuer``. A :class:`~kinde_guard.testing.TestIssuer` (keys, minting, discovery,
JWKS) that also signs users in and runs the OAuth endpoints.

>>> from kinde_guard.devserver import DevAuthorizationServer
>>> with DevAuthorizationServer().serve() as server:      # http://127.0.0.1:<free port>
...     token = server.mint()                             # the test issuer's minting still works

Routes (besides discovery and the JWKS): ``/oauth2/auth`` (sign-in page), ``/oauth2/token``,
``/oauth2/v2/user_profile``, ``/oauth2/revoke``, ``/oauth2/introspect``, ``/logout``,
``/api/v1/api_keys/verify`` (see :mod:`kinde_guard.testing`), and the device flow's
``/oauth2/device/auth``, ``/device`` and ``/device/sign-in``. This module routes and shapes the
tokens; each endpoint lives in its own module, typed against
:class:`~kinde_guard.devserver.protocol.AuthorizationServer`.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable, Sequence
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from .._issuer_http import Request, Response
from ..testing import TestIssuer
from . import authorize, device, session, token_endpoint, user_profile
from .config import Client, DevIssuerConfig, load_config
from .records import Grant
from .stores import MAX_RECORDS, Stores

__all__ = ["DevAuthorizationServer", "KindeDevIssuer"]


class DevAuthorizationServer(TestIssuer):
    """A local Kinde tenant for development and tests. Never for production."""

    #: How many sign-ins in progress, codes, refresh tokens and sessions each store keeps at most.
    MAX_RECORDS = MAX_RECORDS

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
        self.stores = Stores(
            clock=clock,
            code_lifetime=self.config.code_lifetime,
            pending_lifetime=authorize.PENDING_LIFETIME,
            max_records=self.MAX_RECORDS,
        )
        # The tenant's Management API application and API keys (fixed credentials, unlike the test issuer's).
        management = self.config.api_keys.management
        self.m2m_client_id, self.m2m_client_secret = management.client_id, management.client_secret
        self.m2m_scopes = list(management.scopes)
        for k in self.config.api_keys.keys:
            self.create_api_key(
                key=k.key, key_id=k.key_id, scopes=k.scopes, org_code=k.org_code, user_id=k.user_id, status=k.status
            )

    # -- routing ---------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if (answer := self.handle_api_keys(request)) is not None:  # API keys, the Management API's M2M app
            return answer
        route = (request.method, request.path)
        if request.path == "/oauth2/auth" and request.method in ("GET", "POST"):
            return authorize.handle(self, request)
        if route == ("POST", "/oauth2/token"):
            return token_endpoint.handle(self, request)
        if route == ("POST", "/oauth2/revoke"):
            return token_endpoint.revoke(self, request)
        if route == ("GET", "/oauth2/v2/user_profile"):
            return user_profile.user_profile(self, request)
        if route == ("GET", "/logout"):
            return session.logout(self, request)
        if route == ("POST", "/oauth2/device/auth"):
            return device.authorize_device(self, request)
        if request.path == "/device" and request.method in ("GET", "POST"):
            return device.verification_page(self, request)
        if route == ("POST", "/device/sign-in"):
            return device.sign_in(self, request)
        return super().handle(request)

    def discovery(self) -> dict[str, Any]:
        """The test issuer's discovery document, with the device authorization endpoint (RFC 8628 §4)."""
        doc = super().discovery()
        doc["device_authorization_endpoint"] = f"{self.issuer}/oauth2/device/auth"
        doc["grant_types_supported"] = [*doc["grant_types_supported"], device.DEVICE_CODE_GRANT]
        return doc

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
        # mint() puts them in Kinde's shape: {"code": {"t": "b" | "i" | "s", "v": value}}.
        flags = grant.user.flags_in(grant.org_code) or None
        access = self.mint(scopes=grant.scopes, expires_in=lifetime, feature_flags=flags, **claims)
        body: dict[str, Any] = {"access_token": access, "expires_in": lifetime}
        if "openid" in grant.scopes:
            body["id_token"] = self._id_token(grant, access)
        if "offline" in grant.scopes:
            body["refresh_token"] = self.stores.new_refresh_token(grant)
        body.update(scope=" ".join(grant.scopes), token_type="bearer")  # noqa: S106 (not a password)
        return body

    def m2m_token_response(self, client: Client, audiences: Sequence[str], scopes: Sequence[str]) -> dict[str, Any]:
        """The token endpoint's answer for a client-credentials grant (audiences and scopes checked)."""
        claims: dict[str, Any] = {"aud": list(audiences), "azp": client.client_id}
        if client.org_code:
            claims["org_code"] = client.org_code
        lifetime = self.config.token_lifetime
        flags = dict(client.feature_flags) or None  # mint_m2m puts them in Kinde's shape
        token = self.mint_m2m(scopes=scopes, expires_in=lifetime, feature_flags=flags, **claims)
        return {"access_token": token, "expires_in": lifetime, "scope": " ".join(scopes), "token_type": "bearer"}

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
        """The claims of an access token this server signed and that is still valid, else None."""
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


def _role_id(role: str) -> str:
    return hashlib.sha256(role.encode()).hexdigest()[:32]


#: The first name of :class:`DevAuthorizationServer`, kept for code that imports it.
KindeDevIssuer = DevAuthorizationServer
