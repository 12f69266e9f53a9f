"""Kinde API keys on the test issuer: ``POST /api/v1/api_keys/verify`` (an M2M bearer token for
the Management API, audience ``{issuer}/api``, with ``read:api_keys``, as Kinde requires), the M2M
token for it from ``POST /oauth2/token`` (``client_credentials``), and ``POST /oauth2/introspect``
(a Bearer management token; ``active``, ``aud``, ``client_id``, ``exp``, ``iat``).

Keys are created and revoked in memory; the issuer keeps only their SHA-256, as Kinde shows a key
once. Counters (:attr:`ApiKeyEndpoints.api_key_verifications`, ``m2m_token_requests``) and
switches (``api_key_verify_status``, ``api_key_verify_hang``, ``api_key_verify_body``) serve the
resilience tests.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import jwt

from .._issuer_http import IssuerHTTPServer, Request, Response, json_response

__all__ = ["ApiKeyEndpoints", "ApiKeyRecord"]

MANAGEMENT_SCOPE = "read:api_keys"


@dataclass(frozen=True)
class ApiKeyRecord:
    """One API key as the issuer knows it (never the key itself)."""

    key_id: str
    scopes: tuple[str, ...]
    org_code: str | None
    user_id: str | None
    status: str
    verification_count: int = 0
    last_verified_on: str | None = None


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


class ApiKeyEndpoints:
    """Mixed into :class:`~kinde_guard.testing.TestIssuer`: Kinde's API-key side."""

    # Provided by the issuer this is mixed into.
    @property
    def issuer(self) -> str:
        raise NotImplementedError

    clock: Callable[[], float]
    _server: IssuerHTTPServer | None
    mint_m2m: Callable[..., str]
    jwks: Callable[[], dict[str, Any]]

    def _init_api_keys(self) -> None:
        self._api_key_lock = threading.Lock()
        #: The M2M application authorised for the Management API (what ``m2m_client_id`` /
        #: ``m2m_client_secret`` of a guard name) and the scopes its tokens get.
        self.m2m_client_id = "kinde-guard-test-m2m"
        self.m2m_client_secret = secrets.token_urlsafe(24)
        self.m2m_scopes: list[str] = [MANAGEMENT_SCOPE]
        #: ``expires_in`` of the management M2M tokens, in seconds.
        self.m2m_token_lifetime = 86400
        #: HTTP status the verify endpoint answers (200 = normal), seconds it waits first, a raw
        #: body to answer instead.
        self.api_key_verify_status = 200
        self.api_key_verify_hang = 0.0
        self.api_key_verify_body: bytes | None = None
        #: Verification requests and management token requests served (or refused) so far.
        self.api_key_verifications = 0
        self.m2m_token_requests = 0
        self._api_key_records: dict[str, ApiKeyRecord] = {}
        self._management_tokens: dict[str, tuple[float, tuple[str, ...]]] = {}

    @property
    def management_audience(self) -> str:
        return f"{self.issuer}/api"

    # -- keys ------------------------------------------------------------------------------------

    def create_api_key(
        self,
        *,
        scopes: Sequence[str] = (),
        org_code: str | None = None,
        user_id: str | None = None,
        status: str = "active",
        prefix: str = "k_live_",
        key: str | None = None,
        key_id: str | None = None,
    ) -> str:
        """A new API key (returned once, as Kinde shows it): an organization key, or a user's with
        ``user_id``; ``status`` ``"active"`` (default), ``"inactive"`` or ``"revoked"``. ``key`` and
        ``key_id`` fix the key and its id (a tenant file's keys); by default both are random."""
        if status not in ("active", "inactive", "revoked"):
            raise ValueError("status must be 'active', 'inactive' or 'revoked'")
        if key is None:
            key = prefix + secrets.token_urlsafe(32).replace("-", "A").replace("_", "B")
        record = ApiKeyRecord(key_id or "api_key_" + secrets.token_hex(12), tuple(scopes), org_code, user_id, status)
        with self._api_key_lock:
            self._api_key_records[_sha(key)] = record
        return key

    def revoke_api_key(self, key: str) -> None:
        """Revoke ``key``: Kinde answers ``is_valid: false``, ``status: "revoked"`` from now on."""
        with self._api_key_lock:
            record = self._api_key_records.get(_sha(key))
            if record is None:
                raise KeyError("no such API key")
            self._api_key_records[_sha(key)] = replace(record, status="revoked")

    def api_key_record(self, key: str) -> ApiKeyRecord | None:
        """What the issuer knows of ``key`` (its id, scopes, status, verification count)."""
        return self._api_key_records.get(_sha(key))

    def revoke_m2m_tokens(self) -> None:
        """Reject every management token issued so far (the verify endpoint answers 401 to them)."""
        with self._api_key_lock:
            self._management_tokens.clear()

    # -- HTTP ------------------------------------------------------------------------------------

    def handle_api_keys(self, request: Request) -> Response | None:
        """The answer for the API-key routes, ``None`` for any other request."""
        if request.method != "POST":
            return None
        if request.path == "/api/v1/api_keys/verify":
            return self._verify(request)
        if request.path == "/oauth2/introspect":
            return self._introspect(request)
        if request.path == "/oauth2/token":
            form = request.form()
            if form.get("audience") == self.management_audience and form.get("client_id") == self.m2m_client_id:
                return self._management_token(form)
        return None

    def _management_token(self, form: dict[str, str]) -> Response:
        with self._api_key_lock:
            self.m2m_token_requests += 1
        if form.get("grant_type") != "client_credentials":
            return json_response(400, {"error": "unsupported_grant_type"})
        if not secrets.compare_digest(form.get("client_secret", ""), self.m2m_client_secret):
            return json_response(401, {"error": "invalid_client"})
        scopes, lifetime = tuple(self.m2m_scopes), self.m2m_token_lifetime
        token = self.mint_m2m(
            scopes=scopes, expires_in=lifetime, aud=[self.management_audience], azp=self.m2m_client_id
        )
        with self._api_key_lock:
            self._management_tokens[_sha(token)] = (self.clock() + lifetime, scopes)
        body = {"access_token": token, "expires_in": lifetime, "scope": " ".join(scopes), "token_type": "bearer"}
        return json_response(200, body)

    def _bearer_scopes(self, request: Request) -> tuple[str, ...] | None:
        header = request.headers.get("Authorization") or ""
        if not header.startswith("Bearer "):
            return None
        known = self._management_tokens.get(_sha(header[7:]))
        if known is None or self.clock() >= known[0]:
            return None
        return known[1]

    def _verify(self, request: Request) -> Response:
        with self._api_key_lock:
            self.api_key_verifications += 1
        if self.api_key_verify_hang > 0 and self._server is not None:
            self._server.stopping.wait(self.api_key_verify_hang)
        if self.api_key_verify_status != 200:
            return json_response(self.api_key_verify_status, {"errors": [{"code": "INTERNAL_ERROR"}]})
        if self.api_key_verify_body is not None:
            return Response(200, self.api_key_verify_body, {"Content-Type": "application/json"})
        scopes = self._bearer_scopes(request)
        if scopes is None:
            return json_response(401, {"errors": [{"code": "TOKEN_INVALID", "message": "Invalid token"}]})
        if MANAGEMENT_SCOPE not in scopes:
            return json_response(403, {"errors": [{"code": "SCOPE_MISSING", "message": "Scope missing"}]})
        try:
            doc: Any = json.loads(request.body)
            key = doc["api_key"]
            if type(key) is not str:
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return json_response(400, {"errors": [{"code": "INVALID_REQUEST", "message": "api_key is required"}]})
        with self._api_key_lock:
            record = self._api_key_records.get(_sha(key))
            if record is not None:
                record = replace(record, verification_count=record.verification_count + 1)
                self._api_key_records[_sha(key)] = record
        if record is None:
            return json_response(200, {"code": "API_KEY_INVALID", "message": "API key invalid", "is_valid": False})
        valid = record.status == "active"
        return json_response(
            200,
            {
                "code": "API_KEY_VERIFIED" if valid else "API_KEY_INVALID",
                "message": "API key verified" if valid else f"API key {record.status}",
                "is_valid": valid,
                "key_id": record.key_id,
                "status": record.status,
                "scopes": list(record.scopes),
                "org_code": record.org_code,
                "user_id": record.user_id,
                "last_verified_on": record.last_verified_on,
                "verification_count": record.verification_count,
            },
        )

    def _introspect(self, request: Request) -> Response:
        """RFC 7662 as Kinde serves it: a Bearer management token; ``active`` and a few claims."""
        if self._bearer_scopes(request) is None:
            return json_response(401, {"error": "invalid_token"}, {"WWW-Authenticate": 'Bearer realm="kinde"'})
        token = request.form().get("token", "")
        claims = self._own_claims(token)
        if claims is None:
            return json_response(200, {"active": False})
        doc: dict[str, Any] = {"active": True, **{k: claims[k] for k in ("aud", "exp", "iat") if k in claims}}
        doc["client_id"] = claims.get("azp")
        return json_response(200, doc)

    def _own_claims(self, token: str) -> dict[str, Any] | None:
        """The claims of an unexpired token this issuer signed, else ``None``."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = next((k.key for k in jwt.PyJWKSet.from_dict(self.jwks()).keys if k.key_id == kid), None)
            if key is None:
                return None
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=["RS256"], issuer=self.issuer, options={"verify_aud": False}
            )
        except jwt.PyJWTError:
            return None
        return claims
