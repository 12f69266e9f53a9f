"""The token helper's OAuth 2.0 client side: discovery, the Authorization Code + PKCE flow, code
exchange, refresh and client credentials. Standard library HTTP only; speaks to Kinde (or the dev
issuer) like any client. Errors are :class:`TokenHelperError` with a one-sentence message.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
import webbrowser
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO
from urllib.parse import urlencode, urlsplit

from .._http import FetchError, fetch_url
from ..config import is_loopback_host
from ..jwks import parse_jwks
from .loopback import CallbackListener, TokenHelperError
from .pkce import make_nonce, make_state, make_verifier, s256_challenge

__all__ = [
    "AuthFlow",
    "EndpointUnreachable",
    "Endpoints",
    "TokenHelperError",
    "client_credentials",
    "discover",
    "expires_at",
    "normalize_domain",
    "post_form",
    "post_token",
    "refresh",
    "refusal",
    "signing_kids",
]

DEFAULT_REDIRECT_URI = "http://127.0.0.1:53180/callback"
DEFAULT_SCOPE = "openid email offline"
HTTP_TIMEOUT = 15.0


class EndpointUnreachable(TokenHelperError):
    """The endpoint could not be reached at all (connection refused, timed out): maybe transient."""


def normalize_domain(domain: str) -> str:
    """``acme.kinde.com`` → ``https://acme.kinde.com``; no trailing slash; http only on loopback."""
    domain = domain.strip().rstrip("/")
    if "://" not in domain:
        domain = "https://" + domain
    parts = urlsplit(domain)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TokenHelperError(f"--domain {domain!r} is not a URL like https://acme.kinde.com.")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise TokenHelperError(f"--domain {domain!r} must use https:// (http:// only for 127.0.0.1 or localhost).")
    return domain


@dataclass(frozen=True)
class Endpoints:
    authorization: str
    token: str
    jwks: str
    #: RFC 8628's device authorization endpoint: the discovery document's, else Kinde's path.
    device_authorization: str = ""

    @classmethod
    def kinde_defaults(cls, domain: str) -> Endpoints:
        return cls(
            f"{domain}/oauth2/auth",
            f"{domain}/oauth2/token",
            f"{domain}/.well-known/jwks",
            f"{domain}/oauth2/device/auth",
        )


def discover(domain: str, timeout: float = HTTP_TIMEOUT) -> Endpoints:
    """Endpoints from the discovery document when it is served, else Kinde's paths."""
    url = f"{domain}/.well-known/openid-configuration"
    try:
        response = fetch_url(url, timeout, 256 * 1024)
    except FetchError as exc:
        raise TokenHelperError(f"cannot reach {domain} ({exc}); check --domain (KINDE_DOMAIN).") from None
    fallback = Endpoints.kinde_defaults(domain)
    if response.status != 200:
        return fallback
    try:
        doc = json.loads(response.body)
    except ValueError:
        return fallback
    if not isinstance(doc, dict):
        return fallback
    auth, token, jwks = doc.get("authorization_endpoint"), doc.get("token_endpoint"), doc.get("jwks_uri")
    if not isinstance(auth, str) or not isinstance(token, str):
        return fallback
    device = doc.get("device_authorization_endpoint")
    return Endpoints(
        auth,
        token,
        jwks if isinstance(jwks, str) else fallback.jwks,
        device if isinstance(device, str) and device else fallback.device_authorization,
    )


def signing_kids(jwks_uri: str, timeout: float = HTTP_TIMEOUT) -> frozenset[str]:
    """The kids of the usable signing keys the issuer publishes now; TokenHelperError if unknown."""
    try:
        response = fetch_url(jwks_uri, timeout, 1024 * 1024)
    except FetchError as exc:
        raise TokenHelperError(str(exc)) from None
    if response.status != 200:
        raise TokenHelperError(f"{jwks_uri} answered HTTP {response.status}")
    try:
        return frozenset(parse_jwks(response.body))
    except ValueError as exc:
        raise TokenHelperError(f"{jwks_uri}: {exc}") from None


def post_form(
    url: str, fields: dict[str, str], timeout: float = HTTP_TIMEOUT, what: str = "the token endpoint"
) -> tuple[int, dict[str, Any]]:
    """POST a form to an OAuth endpoint; its status and JSON object, or TokenHelperError when the
    endpoint cannot be reached or answers no JSON object. Credentials go to https:// (or loopback) only."""
    parts = urlsplit(url)
    if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback_host(parts.hostname)):
        raise TokenHelperError(f"refusing to send credentials to {url}: only https:// (or http:// on loopback).")
    handlers = [urllib.request.ProxyHandler({})] if is_loopback_host(parts.hostname) else []
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        url,
        data=urlencode(fields).encode(),
        headers={"Accept": "application/json", "User-Agent": "kinde-guard"},
        method="POST",
    )
    try:
        with opener.open(request, timeout=timeout) as response:
            status, body = response.status, response.read(1024 * 1024)
    except urllib.error.HTTPError as exc:
        with exc:
            status, body = exc.code, exc.read(64 * 1024)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise EndpointUnreachable(f"cannot reach {what} {url} ({reason}).") from None
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise TokenHelperError(f"{what} {url} answered HTTP {status} without a JSON body.")
    return status, doc


def refusal(doc: dict[str, Any], status: int, endpoint: str = "the token endpoint") -> TokenHelperError:
    """An OAuth error answer (RFC 6749 §5.2) as one sentence."""
    description = doc.get("error_description") or f"HTTP {status}"
    hint = " Check --client-id and --client-secret." if doc.get("error") == "invalid_client" else ""
    return TokenHelperError(f"{endpoint} refused: {doc.get('error', 'error')}: {description}{hint}")


def post_token(url: str, fields: dict[str, str], timeout: float = HTTP_TIMEOUT) -> dict[str, Any]:
    """POST a form to the token endpoint; the JSON answer, or TokenHelperError naming the OAuth error."""
    status, doc = post_form(url, fields, timeout)
    if status != 200 or "error" in doc:
        raise refusal(doc, status)
    if not isinstance(doc.get("access_token"), str):
        raise TokenHelperError(f"the token endpoint {url} answered without an access_token.")
    return doc


@dataclass
class AuthFlow:
    """One Authorization Code + PKCE sign-in (the seed doc's Postman steps 6-15)."""

    domain: str
    client_id: str
    client_secret: str | None = None
    audiences: Sequence[str] = ()
    scope: str = DEFAULT_SCOPE
    redirect_uri: str = DEFAULT_REDIRECT_URI
    prompt: str = "login"
    org_code: str | None = None
    open_browser: bool = True
    timeout: float = 300.0
    log: TextIO = sys.stderr

    def run(self) -> dict[str, Any]:
        """Sign in through the browser; the token endpoint's answer."""
        endpoints = discover(self.domain)
        verifier, state, nonce = make_verifier(), make_state(), make_nonce()
        url = self.authorization_url(endpoints.authorization, state, s256_challenge(verifier), nonce)
        with CallbackListener(self.redirect_uri, state) as listener:
            if self.open_browser:
                self._say(f"Opening your browser to sign in. If it does not open, visit:\n\n  {url}\n")
                webbrowser.open(url)
            else:
                self._say(f"Open this URL in a browser to sign in:\n\n  {url}\n")
            self._say(f"Waiting for the callback on {self.redirect_uri} (up to {self.timeout:g} s)...")
            params = listener.wait(self.timeout)
        fields = {
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": self.redirect_uri,
            "client_id": self.client_id,
            "code_verifier": verifier,
        }
        if self.client_secret:
            fields["client_secret"] = self.client_secret
        return post_token(endpoints.token, fields)

    def authorization_url(self, endpoint: str, state: str, challenge: str, nonce: str) -> str:
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": self.scope,
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        if self.audiences:
            params["audience"] = " ".join(self.audiences)  # Kinde: several audiences, one value
        if self.prompt:
            params["prompt"] = self.prompt
        if self.org_code:
            params["org_code"] = self.org_code
        separator = "&" if "?" in endpoint else "?"
        return endpoint + separator + urlencode(params)

    def _say(self, message: str) -> None:
        print(message, file=self.log, flush=True)


def refresh(
    domain: str, client_id: str, client_secret: str | None, refresh_token: str, endpoints: Endpoints | None = None
) -> dict[str, Any]:
    fields = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id}
    if client_secret:
        fields["client_secret"] = client_secret
    return post_token((endpoints or discover(domain)).token, fields)


def client_credentials(
    domain: str, client_id: str, client_secret: str, audiences: Sequence[str], scope: str | None
) -> dict[str, Any]:
    fields = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
    if audiences:
        fields["audience"] = " ".join(audiences)
    if scope:
        fields["scope"] = scope
    return post_token(discover(domain).token, fields)


def expires_at(response: dict[str, Any], now: float | None = None) -> float:
    """When the access token expires, from ``expires_in`` (default one hour)."""
    lifetime = response.get("expires_in")
    if isinstance(lifetime, bool) or not isinstance(lifetime, (int, float)):
        lifetime = 3600
    return (time.time() if now is None else now) + float(lifetime)
