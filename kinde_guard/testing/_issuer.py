"""TestIssuer: a Kinde-shaped token issuer for tests, served on 127.0.0.1 when asked.

It mints tokens on demand (no sign-in) and serves discovery and the JWKS, with switches to make
the JWKS fail. The interactive authorization server of ``kinde-guard dev-issuer``
(:mod:`kinde_guard.devserver`) is built on it.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Self

from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from .._http import HTTPResponse
from .._issuer_http import IssuerHTTPServer, Request, Response, json_response
from ..config import GuardConfig
from ..guard import KindeGuard
from ._api_keys import ApiKeyEndpoints
from ._jws import b64url, generate_rsa_key, kid_for, sign_jws
from ._kinde_claims import kinde_claims
from ._omit import OMIT, apply_overrides

__all__ = ["DEFAULT_AUDIENCE", "DEFAULT_CLIENT_ID", "OMIT", "DevIssuer", "TestIssuer"]

UNSERVED_ISSUER = "https://dev-issuer.kinde-guard.invalid"
DEFAULT_AUDIENCE = "https://api.example.com"
DEFAULT_CLIENT_ID = "kinde-guard-dev-client"
DEFAULT_SCOPES = ("openid", "email", "offline")


class TestIssuer(ApiKeyEndpoints):
    """A local stand-in for a Kinde tenant's token signing, for tests. Not for production: keys
    live in memory. Also importable as ``DevIssuer``, its first name.

    ``serve()`` starts a real HTTP server on 127.0.0.1 (a free port unless ``port`` is given)
    serving discovery and the JWKS; switch it to fail with :attr:`jwks_status`, :attr:`jwks_hang`
    or :attr:`jwks_body`, and read :attr:`jwks_fetches` to count key-set fetches. Kinde API keys:
    :meth:`create_api_key`, :meth:`revoke_api_key` and the verify endpoint (:mod:`._api_keys`).
    """

    __test__ = False  # not a test class, whatever pytest's collection rules say

    def __init__(
        self,
        *,
        issuer: str | None = None,
        audience: str | Sequence[str] = DEFAULT_AUDIENCE,
        client_id: str = DEFAULT_CLIENT_ID,
        key: rsa.RSAPrivateKey | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._issuer = issuer
        self.audience: list[str] = audience.split() if isinstance(audience, str) else list(audience)
        self.client_id = client_id
        self.clock = clock
        self._lock = threading.Lock()
        first = key or generate_rsa_key()
        self._keys: list[tuple[str, rsa.RSAPrivateKey]] = [(kid_for(first), first)]
        self._server: IssuerHTTPServer | None = None
        #: HTTP status the JWKS endpoint answers (200 = normal).
        self.jwks_status = 200
        #: Seconds the JWKS endpoint waits before answering (0 = at once).
        self.jwks_hang = 0.0
        #: Raw body to answer instead of the real JWKS (``None`` = the real one).
        self.jwks_body: bytes | None = None
        #: Extra headers on the JWKS response, e.g. ``{"Cache-Control": "max-age=60"}``.
        self.jwks_headers: dict[str, str] = {}
        #: Number of JWKS requests served (or refused) so far.
        self.jwks_fetches = 0
        self._init_api_keys()

    # -- identity --------------------------------------------------------------------------------

    @property
    def issuer(self) -> str:
        """The ``iss`` of minted tokens: the given one, the served URL, or a placeholder."""
        if self._issuer is not None:
            return self._issuer
        return self._server.url if self._server is not None else UNSERVED_ISSUER

    @property
    def url(self) -> str:
        """Base URL of the running server."""
        if self._server is None:
            raise RuntimeError("the issuer is not served; call serve() first")
        return self._server.url

    @property
    def kid(self) -> str:
        """The kid of the current signing key."""
        return self._keys[-1][0]

    @property
    def private_key(self) -> rsa.RSAPrivateKey:
        return self._keys[-1][1]

    def rotate(self, *, keep_previous: bool = False, key: rsa.RSAPrivateKey | None = None) -> str:
        """Sign with a new key from now on; keep the old one in the JWKS only if asked. Returns the new kid."""
        new = key or generate_rsa_key()
        with self._lock:
            self._keys = [*self._keys, (kid_for(new), new)] if keep_previous else [(kid_for(new), new)]
        return self.kid

    def jwks(self) -> dict[str, Any]:
        """The public JWKS document, shaped like Kinde's."""
        keys = []
        for kid, key in self._keys:
            jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
            keys.append({"e": jwk["e"], "n": jwk["n"], "alg": "RS256", "kid": kid, "kty": "RSA", "use": "sig"})
        return {"keys": keys}

    # -- minting ---------------------------------------------------------------------------------

    def _base_claims(self, expires_in: float) -> dict[str, Any]:
        now = int(self.clock())
        return {"iat": now, "exp": now + int(expires_in), "iss": self.issuer, "jti": str(uuid.uuid4())}

    def sign(
        self, payload: Mapping[str, Any], headers: Mapping[str, Any] | None = None, key: rsa.RSAPrivateKey | None = None
    ) -> str:
        """Sign ``payload`` as is, with Kinde's header (``alg``, ``kid``, ``typ``) plus ``headers``."""
        header = apply_overrides({"alg": "RS256", "kid": self.kid, "typ": "JWT"}, headers or {})
        return sign_jws(header, payload, key or self.private_key)

    def mint(
        self,
        *,
        scopes: Sequence[str] | None = None,
        permissions: Sequence[str] | None = None,
        roles: Sequence[str | Mapping[str, Any]] | None = None,
        feature_flags: Mapping[str, Any] | None = None,
        expires_in: float = 3600,
        headers: Mapping[str, Any] | None = None,
        key: rsa.RSAPrivateKey | None = None,
        **claims: Any,
    ) -> str:
        """A Kinde-shaped user access token: ``aud`` list, ``azp``, ``sub`` ``kp_...``, ``scp``,
        ``iat``, ``exp`` (+1 h), ``jti``. ``scopes`` sets ``scp``; ``permissions`` adds
        ``permissions`` and ``org_code``; ``roles=["admin"]`` and ``feature_flags={"beta": True}``
        add those claims in Kinde's shapes (:func:`kinde_claims`); keyword claims override or (with OMIT) remove."""
        payload = self._base_claims(expires_in)
        payload.update(
            aud=list(self.audience),
            azp=self.client_id,
            scp=list(DEFAULT_SCOPES if scopes is None else scopes),
            sub="kp_" + secrets.token_hex(16),
        )
        if permissions is not None:
            payload.update(org_code="org_" + secrets.token_hex(6), permissions=list(permissions))
        payload.update(kinde_claims(roles, feature_flags))
        return self.sign(apply_overrides(payload, claims), headers, key)

    def mint_m2m(
        self,
        *,
        scopes: Sequence[str] = (),
        feature_flags: Mapping[str, Any] | None = None,
        expires_in: float = 86400,
        headers: Mapping[str, Any] | None = None,
        key: rsa.RSAPrivateKey | None = None,
        **claims: Any,
    ) -> str:
        """A Kinde-shaped M2M (client credentials) token: ``gty``, ``scope`` and ``scp``, no ``sub``;
        ``feature_flags`` as for :meth:`mint` (Kinde adds the flags an M2M app's Tokens tab turns on)."""
        payload = self._base_claims(expires_in)
        payload.update(
            aud=list(self.audience),
            azp=self.client_id,
            gty=["client_credentials"],
            scope=" ".join(scopes),
            scp=list(scopes),
            v="2",
        )
        payload.update(kinde_claims(None, feature_flags))
        return self.sign(apply_overrides(payload, claims), headers, key)

    def mint_id_token(
        self, *, expires_in: float = 3600, headers: Mapping[str, Any] | None = None, **claims: Any
    ) -> str:
        """A Kinde-shaped ID token (``aud`` = client id and issuer). Never a valid access token."""
        payload = self._base_claims(expires_in)
        payload.update(
            aud=[self.client_id, self.issuer],
            at_hash=b64url(secrets.token_bytes(16)),
            auth_time=payload["iat"],
            azp=self.client_id,
            email="jane.smith@example.com",
            family_name="Smith",
            given_name="Jane",
            name="Jane Smith",
            org_codes=[],
            sub="kp_" + secrets.token_hex(16),
            updated_at=payload["iat"],
        )
        return self.sign(apply_overrides(payload, claims), headers)

    # -- serving ---------------------------------------------------------------------------------

    def discovery(self) -> dict[str, Any]:
        base = self.issuer
        return {
            "issuer": base,
            "authorization_endpoint": f"{base}/oauth2/auth",
            "token_endpoint": f"{base}/oauth2/token",
            "userinfo_endpoint": f"{base}/oauth2/v2/user_profile",
            "jwks_uri": f"{base}/.well-known/jwks",
            "end_session_endpoint": f"{base}/logout",
            "revocation_endpoint": f"{base}/oauth2/revoke",
            "introspection_endpoint": f"{base}/oauth2/introspect",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "code_challenge_methods_supported": ["S256"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic", "none"],
            "scopes_supported": ["openid", "profile", "email", "offline"],
        }

    def handle(self, request: Request) -> Response:
        """Answer one request. Subclasses add routes and call ``super().handle`` for the rest."""
        if (answer := self.handle_api_keys(request)) is not None:
            return answer
        if request.method not in ("GET", "HEAD"):
            return json_response(405, {"error": "method_not_allowed"}, {"Allow": "GET, HEAD"})
        if request.path == "/.well-known/openid-configuration":
            return json_response(200, self.discovery())
        if request.path in ("/.well-known/jwks", "/.well-known/jwks.json"):
            return self._jwks_response()
        return json_response(404, {"error": "not_found"})

    def _jwks_response(self) -> Response:
        with self._lock:
            self.jwks_fetches += 1
        if self.jwks_hang > 0 and self._server is not None:
            self._server.stopping.wait(self.jwks_hang)
        if self.jwks_status != 200:
            # jwks_headers apply here too, e.g. jwks_status=302 with a Location to another host.
            return json_response(self.jwks_status, {"error": "server_error"}, self.jwks_headers)
        if self.jwks_body is not None:
            return Response(200, self.jwks_body, {"Content-Type": "application/json", **self.jwks_headers})
        return json_response(200, self.jwks(), {"Cache-Control": "public, max-age=600", **self.jwks_headers})

    def fetch(self, url: str, timeout: float, max_bytes: int) -> HTTPResponse:
        """An in-process JWKS fetcher, for ``KindeGuard(..., fetch=issuer.fetch)``."""
        path = url.split("://", 1)[-1].partition("/")[2]
        response = self.handle(Request("GET", "/" + path, {}, {}))
        headers = {k.lower(): v for k, v in response.headers.items()}
        return HTTPResponse(status=response.status, body=response.body, headers=headers)

    def serve(self, port: int = 0) -> Self:
        """Start the HTTP server on 127.0.0.1 (``port`` 0 = a free one). Use as a context manager."""
        if self._server is None:
            self._server = IssuerHTTPServer(self.handle, port=port)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> Self:
        return self.serve()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- guards ----------------------------------------------------------------------------------

    def guard_config(self, **options: Any) -> GuardConfig:
        """A GuardConfig trusting this issuer for its audience (and, with ``api_keys=True``, its
        Management API M2M app); ``options`` override."""
        options.setdefault("audience", self.audience)
        if options.get("api_keys"):
            options.setdefault("m2m_client_id", self.m2m_client_id)
            options.setdefault("m2m_client_secret", self.m2m_client_secret)
        return GuardConfig(domain=self.issuer, **options)

    def guard(self, *, clock: Callable[[], float] | None = None, **options: Any) -> KindeGuard:
        """A KindeGuard for this issuer: over HTTP when served, else through :meth:`fetch`."""
        fetch = None if self._server is not None else self.fetch
        return KindeGuard(self.guard_config(**options), clock=clock or self.clock, fetch=fetch)


#: The first name of :class:`TestIssuer`, kept: users' tests and the README's examples import it.
DevIssuer = TestIssuer
