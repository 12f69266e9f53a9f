"""``kinde-guard token``, ``refresh`` and ``m2m``: get an access token, cache it, print it.

Only the access token goes to stdout; every note goes to stderr. A cached token is handed out
again only while it is valid for more than a minute **and** its ``kid`` is still in the issuer's
JWKS (a token signed by a retired key would only earn a 401); otherwise its refresh token gets a
new one, and failing that the user signs in again.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from typing import Any

from .check import decode_token, human_duration
from .device import DeviceFlow
from .loopback import TokenHelperError
from .options import Identity, identity, words
from .token_cache import TokenCache, cache_key
from .token_helper import (
    DEFAULT_SCOPE,
    AuthFlow,
    Endpoints,
    client_credentials,
    discover,
    expires_at,
    refresh,
    signing_kids,
)

__all__ = ["cmd_m2m", "cmd_refresh", "cmd_token"]

#: A cached token expiring sooner than this many seconds is not handed out again.
REUSE_MARGIN = 60.0


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def emit(response: dict[str, Any], as_json: bool) -> None:
    """The access token on stdout (or, with --json, the response and decoded claims); a note on stderr."""
    token = response["access_token"]
    _, claims = decode_token(token)
    if as_json:
        # The refresh token stays in the cache: printed, it would end up in terminals and logs.
        shown = {k: v for k, v in response.items() if k != "refresh_token"}
        if "refresh_token" in response:
            shown["refresh_token_cached"] = True
        decoded = {"access_token": claims}
        if isinstance(response.get("id_token"), str):
            decoded["id_token"] = decode_token(response["id_token"])[1]
        print(json.dumps({"token_response": shown, "claims": decoded}, indent=2))
    else:
        print(token)
    exp = claims.get("exp")
    life = f", expires in {human_duration(exp - time.time())}" if isinstance(exp, (int, float)) else ""
    scopes = " ".join(claims.get("scp") or []) or claims.get("scope") or "none"
    _say(f"Access token for aud {json.dumps(claims.get('aud'))}, scopes: {scopes}{life}.")
    if not claims.get("aud"):
        _say(
            "Warning: this token names no audience (aud is empty), so an API guarded by kinde_guard will "
            "refuse it: pass --audience with your API's audience (or set KINDE_AUDIENCE)."
        )


@dataclass(frozen=True)
class Wanted:
    """One kind of token: who asks, with which scope, in which organization; its cache key."""

    who: Identity
    scope: str
    org_code: str | None

    @property
    def key(self) -> str:
        return cache_key(self.who.domain, self.who.client_id, self.who.audiences, self.scope, self.org_code)

    def cache_entry(self, response: dict[str, Any]) -> dict[str, Any]:
        # audiences, requested_scope and org_code let `refresh` without --scope find this entry again.
        entry: dict[str, Any] = {
            "domain": self.who.domain,
            "client_id": self.who.client_id,
            "audiences": sorted(self.who.audiences),
            "requested_scope": self.scope,
            "org_code": self.org_code,
            "expires_at": expires_at(response),
        }
        keep = ("access_token", "refresh_token", "id_token", "scope")
        entry.update({k: response[k] for k in keep if k in response})
        return entry


def _save(cache: TokenCache, wanted: Wanted, response: dict[str, Any]) -> None:
    try:
        cache.save(wanted.key, wanted.cache_entry(response))
    except OSError as exc:  # the token is still good: print it, say why it is not cached
        _say(f"Could not cache the token in {cache.directory} ({exc.strerror}).")


def _still_valid(entry: dict[str, Any]) -> bool:
    try:
        return float(entry.get("expires_at", 0)) - REUSE_MARGIN > time.time()
    except (TypeError, ValueError):
        return False


def _endpoints(domain: str) -> Endpoints:
    try:
        return discover(domain)
    except TokenHelperError:  # said by the key fetch below, which fails the same way
        return Endpoints.kinde_defaults(domain)


def _signed_by_a_current_key(domain: str, token: str, endpoints: Endpoints) -> bool:
    """False when the token's ``kid`` left the issuer's JWKS. When the JWKS cannot be fetched the
    token is given the benefit of the doubt (it may work offline), and the user is told."""
    try:
        kid = decode_token(token)[0].get("kid")
    except TokenHelperError:
        return False
    try:
        kids = signing_kids(endpoints.jwks)
    except TokenHelperError as exc:
        _say(
            f"Could not fetch the keys of {domain} to check the cached token ({exc}); "
            "using it anyway (--fresh signs in again)."
        )
        return True
    if kid in kids:
        return True
    _say(f"The cached token's signing key {kid!r} is no longer in {endpoints.jwks}: dropping the token.")
    return False


def _reuse(cache: TokenCache, wanted: Wanted, entry: dict[str, Any], as_json: bool) -> bool:
    """Print the cached token (or one refreshed from it) and return True; False to sign in again."""
    who = wanted.who
    token = entry.get("access_token")
    endpoints = None
    if isinstance(token, str) and _still_valid(entry):
        endpoints = _endpoints(who.domain)
        if _signed_by_a_current_key(who.domain, token, endpoints):
            _say("Using the cached token (--fresh signs in again).")
            emit(entry, as_json)
            return True
        cache.delete(wanted.key)
    refresh_token = entry.get("refresh_token")
    if not isinstance(refresh_token, str):
        return False
    try:
        response = refresh(who.domain, who.client_id, who.client_secret, refresh_token, endpoints)
    except TokenHelperError as exc:
        _say(f"Could not refresh the cached token ({exc}); signing in again.")
        return False
    _save(cache, wanted, response)
    _say("Refreshed the cached token.")
    emit(response, as_json)
    return True


def cmd_token(args: argparse.Namespace) -> int:
    if args.device and args.org_code:  # RFC 8628 has no organization parameter
        raise TokenHelperError("--org-code works with the browser sign-in only, not with --device.")
    who = identity(args)
    wanted = Wanted(who, " ".join(words(args.scope)) or DEFAULT_SCOPE, args.org_code)
    cache = TokenCache()
    entry = None if args.fresh else cache.load(wanted.key)
    if entry is not None and _reuse(cache, wanted, entry, args.json):
        return 0
    response = _sign_in(args, wanted)
    _save(cache, wanted, response)
    emit(response, args.json)
    return 0


def _sign_in(args: argparse.Namespace, wanted: Wanted) -> dict[str, Any]:
    """The browser flow (Authorization Code + PKCE), or with --device the device flow (RFC 8628)."""
    who = wanted.who
    if args.device:
        device = DeviceFlow(who.domain, who.client_id, who.client_secret, who.audiences, wanted.scope)
        return device.run()
    flow = AuthFlow(
        domain=who.domain,
        client_id=who.client_id,
        client_secret=who.client_secret,
        audiences=who.audiences,
        scope=wanted.scope,
        redirect_uri=args.redirect_uri,
        prompt=args.prompt,
        org_code=args.org_code,
        open_browser=not args.no_browser,
        timeout=args.timeout,
    )
    return flow.run()


def _same_kind(entry: dict[str, Any], who: Identity, org_code: str | None) -> bool:
    """An entry of this domain, client, audience and organization, whatever its scope."""
    return (
        entry.get("domain") == who.domain
        and entry.get("client_id") == who.client_id
        and entry.get("audiences") == sorted(who.audiences)
        and (entry.get("org_code") or None) == (org_code or None)
        and isinstance(entry.get("requested_scope"), str)
        and isinstance(entry.get("refresh_token"), str)
    )


def cmd_refresh(args: argparse.Namespace) -> int:
    who = identity(args)
    cache = TokenCache()
    scope = " ".join(words(args.scope))
    if scope:
        entry = cache.load(Wanted(who, scope, args.org_code).key) or {}
    else:  # the newest token of this domain, client, audience and organization, whatever its scope
        _, entry = cache.newest(lambda e: _same_kind(e, who, args.org_code)) or ("", {})
        scope = entry.get("requested_scope") or ""
    if not isinstance(entry.get("refresh_token"), str):
        raise TokenHelperError(
            "no cached refresh token for this domain, client, audience, organization"
            + (" and scope" if args.scope else "")
            + '; run `kinde-guard token` first (with the scope "offline", as by default).'
        )
    response = refresh(who.domain, who.client_id, who.client_secret, entry["refresh_token"])
    _save(cache, Wanted(who, scope, args.org_code), response)
    emit(response, args.json)
    return 0


def cmd_m2m(args: argparse.Namespace) -> int:
    who = identity(args)
    if not who.client_secret:
        raise TokenHelperError("--client-secret is required (or set KINDE_CLIENT_SECRET).")
    scope = " ".join(words(args.scope)) or None
    emit(client_credentials(who.domain, who.client_id, who.client_secret, who.audiences, scope), args.json)
    return 0
