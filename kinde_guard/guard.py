"""KindeGuard: verify Kinde access tokens (sync and async), with a verified-token cache.

The request pipeline every adapter calls (docs/architecture.md, "Request pipeline"):
:meth:`KindeGuard.authenticate` / :meth:`~KindeGuard.authenticate_async` turn an ``Authorization``
header value and a route's :class:`~kinde_guard.Requirements` into :class:`~kinde_guard.Claims` or
an :class:`~kinde_guard.AuthError` / :class:`~kinde_guard.JWKSError`, which
:meth:`~KindeGuard.render_error` turns into the one answer (status, headers, JSON body). Inside:
the cache lookup, parsing, the key, the signature, the claims, then the authorization step.

>>> guard = KindeGuard(domain="https://acme.kinde.com", audience=["https://api.acme.com"])
>>> guard.config.jwks_uri
'https://acme.kinde.com/.well-known/jwks'
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from hashlib import blake2s as _blake2s
from typing import Any

from ._http import Fetcher
from .api_keys import ApiKeyState, ApiKeyVerifier, Requester, key_digest
from .bearer import bearer_value, parse_authorization
from .claims import Claims, FlagValue, Match
from .config import GuardConfig
from .errors import AuthError, ConfigurationError, InvalidTokenError, JWKSError
from .jwk import SigningKey
from .jwks import KeySetState, RemoteKeySet
from .jws import ParsedToken, parse_payload, parse_token, verify_signature
from .policy import Policy
from .requirements import NO_REQUIREMENTS, ClaimsCheck, Requirements
from .resource import metadata_body, metadata_url
from .responses import ErrorResponse, render_error

__all__ = ["EventHook", "KindeGuard"]

logger = logging.getLogger("kinde_guard")

#: ``on_event(name, data)``: called on verification outcomes and JWKS fetches (see the README).
EventHook = Callable[[str, Mapping[str, Any]], None]

_HEADER_CACHE_SIZE = 64

#: A cached verdict: (claims, hit deadline, valid until, the key that verified the signature).
#: The hit deadline is ``min(valid until, key set fresh until)`` at the time it was stamped, so a
#: hit is one comparison; past it, the verdict is re-checked against the key set (see _cached).
_Verdict = tuple[Claims, float, float, SigningKey]


class KindeGuard:
    """Verifies bearer tokens issued by one Kinde tenant for one API.

    Build it once at start-up and share it: it holds the JWKS cache and the verified-token cache,
    both safe for threads and asyncio tasks.

    ``clock`` (seconds since the epoch) and ``fetch`` (the JWKS fetcher) are injectable for tests.
    """

    def __init__(
        self,
        config: GuardConfig | None = None,
        /,
        *,
        clock: Callable[[], float] | None = None,
        fetch: Fetcher | None = None,
        key_set: RemoteKeySet | None = None,
        on_event: EventHook | None = None,
        api_key_request: Requester | None = None,
        **options: Any,
    ) -> None:
        if config is None:
            config = GuardConfig(**options)
        elif options:
            raise ConfigurationError("Pass either a GuardConfig or keyword options, not both.")
        self.config = config
        self._clock = clock or time.time
        self._on_event = on_event
        self.key_set = key_set or RemoteKeySet.from_config(config, clock=self._clock, fetch=fetch, on_event=on_event)
        self._policy = Policy.from_config(config)
        self._algorithms = frozenset(config.algorithms)
        self._headers: dict[str, tuple[str, str]] = {}
        # The verified-token cache: token -> _Verdict, least recently used first. An OrderedDict,
        # whose every operation is one C call (atomic under the GIL), so the hot path takes no lock
        # and runs no Python-level cache code; a race between threads costs at most a lost recency
        # bump or one extra eviction, never a wrong verdict (entries are immutable and re-checked on
        # every read).
        self._cache: OrderedDict[str, _Verdict] | None = OrderedDict() if config.token_cache_size else None
        # A refresh that removes a key (how a tenant answers a key compromise) or replaces its
        # material drops every cached verdict at once: one C call, and the rare re-verification
        # costs one RSA verify per token. Entries stamped against the old set are gone before any
        # hit can see them; _finish closes the race with a miss verified just before the swap.
        if self._cache is not None:
            self.key_set.add_drop_listener(self._keys_dropped)
        self._cache_size = config.token_cache_size
        # Admission "doorkeeper" (as in TinyLFU): once the cache is full, a token enters it only on
        # its second verification within the last ``token_cache_size`` first sightings. Traffic of
        # one-shot tokens then costs no evictions and keeps no claims alive for the garbage
        # collector; the hashes here are ints, invisible to it. (An OrderedDict again: dropping a
        # plain dict's oldest key, next(iter(d)), scans the holes earlier deletions left.)
        self._seen_once: OrderedDict[int, None] = OrderedDict()
        self._max_token_bytes = config.max_token_bytes
        # Whether every call must run the authorization step even for a route with no requirements.
        self._always_authorize = self._policy.always_authorizes
        #: Extra auth-params of every Bearer challenge: ``resource_metadata`` when a resource is set.
        self.challenge_params: tuple[tuple[str, str], ...] = (
            (("resource_metadata", metadata_url(config.resource)),) if config.resource else ()
        )
        self._route_scopes: set[str] = set()
        self._scope_sources: list[Callable[[], Iterable[str]]] = []
        #: The API-key verifier when ``config.api_keys`` is on (docs/architecture.md, "API keys").
        self.api_keys: ApiKeyVerifier | None = None
        if config.api_keys:
            self.api_keys = ApiKeyVerifier(config, clock=self._clock, request=api_key_request, on_event=on_event)
        # Its verified-key cache, read on the hot path: digest -> (claims, trusted until, ...).
        self._key_cache = self.api_keys.cache if self.api_keys is not None else None
        self._key_prefixes = tuple(config.api_key_prefixes)

    # -- public API: the request pipeline ------------------------------------------------------

    def verify(
        self,
        token: str,
        *,
        requirements: Requirements | None = None,
        scopes: Iterable[str] | None = None,
        permissions: Iterable[str] | None = None,
        match: Match = "all",
        roles: Iterable[str] | None = None,
        feature_flags: Mapping[str, FlagValue] | Iterable[str] | None = None,
        org_codes: Iterable[str] | None = None,
        claims_check: ClaimsCheck | None = None,
        claims_check_message: str | None = None,
    ) -> Claims:
        """Verify ``token`` and check that it meets the route's ``requirements`` (or, as keywords,
        grants ``scopes`` / ``permissions`` and holds ``roles`` with ``match``, has the
        ``feature_flags``, is for one of the ``org_codes`` and passes ``claims_check``, refused
        with ``claims_check_message``; see :class:`~kinde_guard.Requirements`).

        Raises an :class:`~kinde_guard.AuthError` subclass when the token is refused and
        :class:`~kinde_guard.JWKSError` when no signing key can be obtained.
        """
        needs = _needs(
            requirements,
            scopes,
            permissions,
            match,
            roles,
            feature_flags,
            org_codes,
            claims_check,
            claims_check_message,
        )
        claims = self._cached(token) or self._cached_key(token) or self._miss(token)
        if needs is not NO_REQUIREMENTS or self._always_authorize:
            self._authorize(claims, needs, token)
        return claims

    async def verify_async(
        self,
        token: str,
        *,
        requirements: Requirements | None = None,
        scopes: Iterable[str] | None = None,
        permissions: Iterable[str] | None = None,
        match: Match = "all",
        roles: Iterable[str] | None = None,
        feature_flags: Mapping[str, FlagValue] | Iterable[str] | None = None,
        org_codes: Iterable[str] | None = None,
        claims_check: ClaimsCheck | None = None,
        claims_check_message: str | None = None,
    ) -> Claims:
        """Like :meth:`verify`; a JWKS fetch runs in a worker thread, never blocking the loop."""
        needs = _needs(
            requirements,
            scopes,
            permissions,
            match,
            roles,
            feature_flags,
            org_codes,
            claims_check,
            claims_check_message,
        )
        claims = self._cached(token) or self._cached_key(token)
        if claims is None:
            claims = await self._miss_async(token)
        if needs is not NO_REQUIREMENTS or self._always_authorize:
            self._authorize(claims, needs, token)
        return claims

    def authenticate(
        self,
        authorization: str | bytes | None,
        *,
        requirements: Requirements | None = None,
        scopes: Iterable[str] | None = None,
        permissions: Iterable[str] | None = None,
        match: Match = "all",
        roles: Iterable[str] | None = None,
        feature_flags: Mapping[str, FlagValue] | Iterable[str] | None = None,
        org_codes: Iterable[str] | None = None,
        claims_check: ClaimsCheck | None = None,
        claims_check_message: str | None = None,
    ) -> Claims:
        """The pipeline: verify the token of an ``Authorization`` header value (``Bearer <token>``)
        and check the route's ``requirements``.

        No header or another scheme raises :class:`~kinde_guard.MissingTokenError` (401, bare
        challenge); a malformed ``Bearer`` value :class:`~kinde_guard.InvalidRequestError` (400).

        >>> guard = KindeGuard(domain="https://acme.kinde.com", audience="https://api.acme.com")
        >>> guard.authenticate("Basic dXNlcjpwYXNz")
        Traceback (most recent call last):
        ...
        kinde_guard.errors.MissingTokenError
        """
        needs = _needs(
            requirements,
            scopes,
            permissions,
            match,
            roles,
            feature_flags,
            org_codes,
            claims_check,
            claims_check_message,
        )
        token, claims = self._credential(authorization)
        if claims is None:
            claims = self._miss(token)
        if needs is not NO_REQUIREMENTS or self._always_authorize:
            self._authorize(claims, needs, token)
        return claims

    async def authenticate_async(
        self,
        authorization: str | bytes | None,
        *,
        requirements: Requirements | None = None,
        scopes: Iterable[str] | None = None,
        permissions: Iterable[str] | None = None,
        match: Match = "all",
        roles: Iterable[str] | None = None,
        feature_flags: Mapping[str, FlagValue] | Iterable[str] | None = None,
        org_codes: Iterable[str] | None = None,
        claims_check: ClaimsCheck | None = None,
        claims_check_message: str | None = None,
    ) -> Claims:
        """Async :meth:`authenticate`: a needed JWKS fetch runs in a worker thread."""
        needs = _needs(
            requirements,
            scopes,
            permissions,
            match,
            roles,
            feature_flags,
            org_codes,
            claims_check,
            claims_check_message,
        )
        token, claims = self._credential(authorization)
        if claims is None:
            claims = await self._miss_async(token)
        if needs is not NO_REQUIREMENTS or self._always_authorize:
            self._authorize(claims, needs, token)
        return claims

    def authenticate_cached(
        self, authorization: str | bytes | None, *, requirements: Requirements = NO_REQUIREMENTS
    ) -> Claims | None:
        """The cache-only half of :meth:`authenticate_async`, for async adapters that answer hits
        without creating a coroutine: the claims when the header's token is a cached verdict that
        still holds (``requirements`` checked, raising as :meth:`authenticate` would), else ``None``
        — then call :meth:`authenticate_async`, which does everything else."""
        token = bearer_value(authorization)
        if token is None:
            return None
        claims = self._cached(token) or self._cached_key(token)
        if claims is not None and (requirements is not NO_REQUIREMENTS or self._always_authorize):
            self._authorize(claims, requirements, token)
        return claims

    def authorize(
        self,
        claims: Claims,
        *,
        requirements: Requirements | None = None,
        scopes: Iterable[str] | None = None,
        permissions: Iterable[str] | None = None,
        match: Match = "all",
        roles: Iterable[str] | None = None,
        feature_flags: Mapping[str, FlagValue] | Iterable[str] | None = None,
        org_codes: Iterable[str] | None = None,
        claims_check: ClaimsCheck | None = None,
        claims_check_message: str | None = None,
    ) -> None:
        """Check already verified ``claims`` against a route's needs (raises InsufficientScopeError)."""
        self._authorize(
            claims,
            _needs(
                requirements,
                scopes,
                permissions,
                match,
                roles,
                feature_flags,
                org_codes,
                claims_check,
                claims_check_message,
            ),
        )

    def render_error(self, exc: AuthError | JWKSError, realm: str = "api") -> ErrorResponse:
        """The one error answer (status, headers, JSON body) adapters send for ``exc``."""
        return render_error(exc, realm, self.challenge_params)

    def declare_scopes(self, scopes: Iterable[str] | Callable[[], Iterable[str]]) -> None:
        """Record scopes that routes require, or a function listing them (adapters call this), for
        the metadata's ``scopes_supported``."""
        if callable(scopes):
            self._scope_sources.append(scopes)
        else:
            self._route_scopes.update(scopes)

    def resource_metadata(self) -> bytes:
        """The RFC 9728 Protected Resource Metadata document (JSON bytes) of ``config.resource``."""
        scopes = set(self._route_scopes)
        for source in self._scope_sources:
            scopes.update(source())
        return metadata_body(self.config, scopes)

    def key_set_state(self) -> KeySetState:
        """The JWKS cache's state for health checks: kids, age, last error. No secrets."""
        return self.key_set.state()

    def api_key_state(self) -> ApiKeyState | None:
        """The API-key path's state for health checks (cached keys, calls to Kinde, last error, the
        M2M token's lifetime; never a key or a secret); ``None`` unless ``api_keys`` is on."""
        return self.api_keys.state() if self.api_keys is not None else None

    # -- steps ---------------------------------------------------------------------------------

    def _miss(self, token: str) -> Claims:
        if self.api_keys is not None and self._is_api_key(token):
            return self.api_keys.verify(token)
        kid = None
        try:
            parsed = parse_token(token, self._max_token_bytes, self._headers, self._algorithms)
            kid = parsed.kid
            return self._finish(token, parsed, self.key_set.get_key(kid))
        except AuthError as exc:
            self._refused(exc, token)
            raise
        except JWKSError as exc:
            self._emit("jwks_unavailable", kid=kid, error=exc.description)
            raise

    async def _miss_async(self, token: str) -> Claims:
        if self.api_keys is not None and self._is_api_key(token):
            return await self.api_keys.verify_async(token)
        kid = None
        try:
            parsed = parse_token(token, self._max_token_bytes, self._headers, self._algorithms)
            kid = parsed.kid
            return self._finish(token, parsed, await self.key_set.get_key_async(kid))
        except AuthError as exc:
            self._refused(exc, token)
            raise
        except JWKSError as exc:
            self._emit("jwks_unavailable", kid=kid, error=exc.description)
            raise

    def _credential(self, authorization: str | bytes | None) -> tuple[str, Claims | None]:
        """The header's bearer token and its cached verdict, if one holds (one lookup, one parse).

        A plain ``Bearer <token>`` value is looked up before it is parsed. That is exact: every
        cached token passed :func:`parse_token`, whose strict base64url segments are a valid RFC
        6750 ``b64token``, so ``Bearer `` plus a cached token is a header
        :func:`parse_authorization` accepts, returning that same token.
        """
        plain = bearer_value(authorization)
        if plain is not None:
            key_cache = self._key_cache
            if key_cache is not None and "." not in plain:
                # An API key (a JWT has dots): the verified-key cache holds digests, never keys. As
                # exact as the token lookup: a cached digest is that of a key that passed the parser.
                entry = key_cache.get(_blake2s(plain.encode("utf-8", "surrogatepass")).digest())  # key_digest inlined
                if entry is not None and self._clock() < entry[1]:
                    return plain, entry[0]
            else:
                claims = self._cached(plain)
                if claims is not None:
                    return plain, claims
        token = parse_authorization(authorization)
        return token, (None if token == plain else self._cached(token) or self._cached_key(token))

    def _is_api_key(self, token: str) -> bool:
        """Not JWT-shaped and with a configured prefix. Anything else that is not JWT-shaped takes the
        JWT path, which refuses it as malformed (401) without a call to Kinde, as before."""
        return token.count(".") != 2 and token.startswith(self._key_prefixes)

    def _cached_key(self, value: str) -> Claims | None:
        """The claims of ``value`` when it is an API key in the verified-key cache, still trusted."""
        key_cache = self._key_cache
        if key_cache is None or "." in value:
            return None
        entry = key_cache.get(key_digest(value))
        return entry[0] if entry is not None and self._clock() < entry[1] else None

    def _cached(self, token: str) -> Claims | None:
        cache = self._cache
        if cache is None:
            return None
        entry = cache.get(token)
        if entry is None:
            return None
        if self._clock() < entry[1]:
            # Before the token's expiry and while the key set that held its key is fresh.
            try:  # noqa: SIM105 - free when nothing is raised; contextlib.suppress costs two calls
                cache.move_to_end(token)
            except KeyError:  # evicted by another thread just now: the verdict still holds
                pass
            return entry[0]
        return self._recheck(token, entry)

    def _recheck(self, token: str, entry: _Verdict) -> Claims | None:
        """A cached verdict past its hit deadline: it holds only while its key is still the key set's
        key for that kid, in a set that is fresh or stale within ``jwks_max_stale`` (a stale set is
        refreshed in the background, exactly as for a miss). Otherwise the entry is dropped and the
        caller verifies the token again — which refetches, refuses an unknown kid (401) or answers
        503 past ``jwks_max_stale``, like any uncached token."""
        claims, _, valid_until, key = entry
        key_set = self.key_set
        if self._clock() < valid_until and key_set.usable_key(key.kid) is key:
            # Re-stamped: while the set is stale, the deadline stays in the past and every hit comes
            # back here, so each can start the background refresh (once per cooldown).
            self._cache_put(token, (claims, min(valid_until, key_set.fresh_until), valid_until, key))
            return claims
        self._cache_drop(token)
        return None

    def _keys_dropped(self, kids: frozenset[str]) -> None:
        cache = self._cache
        if cache is not None:
            cache.clear()
            logger.info("verified-token cache cleared: the JWKS no longer holds kids %s as they were", sorted(kids))

    def _cache_put(self, token: str, entry: _Verdict) -> None:
        cache = self._cache
        if cache is not None:
            cache[token] = entry

    def _cache_drop(self, token: str) -> None:
        cache = self._cache
        if cache is not None:
            cache.pop(token, None)

    def _finish(self, token: str, parsed: ParsedToken, key: SigningKey) -> Claims:
        verify_signature(parsed, key)
        # The signature holds: from here on the header and claims are the issuer's own words.
        headers = self._headers
        if parsed.header_segment not in headers:
            if len(headers) >= _HEADER_CACHE_SIZE:
                headers.clear()
            headers[parsed.header_segment] = (parsed.alg, parsed.kid)
        payload = parse_payload(parsed)
        valid_until = self._policy.check_claims(payload, self._clock())
        claims = Claims.adopt(payload)
        cache = self._cache
        if cache is not None:
            # Admission: at once while there is room, else on the second sighting (doorkeeper).
            size = self._cache_size
            if len(cache) < size or self._seen_once.pop(hash(token), 0) is None:
                cache[token] = (claims, min(valid_until, self.key_set.fresh_until), valid_until, key)
                if not self.key_set.holds(key):  # the key left the set while this token was verified
                    cache.pop(token, None)
                if len(cache) > size:
                    try:  # noqa: SIM105
                        cache.popitem(last=False)  # the least recently used
                    except KeyError:  # emptied by other threads meanwhile
                        pass
            else:
                seen = self._seen_once
                seen[hash(token)] = None
                if len(seen) > size:
                    try:  # noqa: SIM105
                        seen.popitem(last=False)  # forget the oldest first sighting
                    except KeyError:
                        pass
        if self._on_event is not None:
            self._emit("token_verified", kid=parsed.kid, m2m=claims.is_m2m)
        return claims

    def _authorize(self, claims: Claims, needs: Requirements, token: str | None = None) -> None:
        try:
            if not needs.accept_api_keys and claims.credential == "api_key":
                raise InvalidTokenError("This route accepts Kinde access tokens only, not API keys.")
            self._policy.authorize(claims, needs)
        except AuthError as exc:
            self._refused(exc, token)
            raise

    def _refused(self, exc: AuthError, token: str | None) -> None:
        # Log the reason and, when the header parsed, the kid; never the token itself.
        kid = None
        if token is not None and isinstance(token, str) and "." in token:
            kid = self._headers.get(token.partition(".")[0], (None, None))[1]
        logger.debug("token refused: %s: %s (kid=%s)", type(exc).__name__, exc.description, kid)
        self._emit("token_refused", reason=type(exc).__name__, error=exc.error_code, kid=kid)

    def _emit(self, event: str, **data: Any) -> None:
        if self._on_event is not None:
            try:
                self._on_event(event, data)
            except Exception:  # a metrics hook must never break verification
                logger.exception("on_event hook raised")


def _needs(
    requirements: Requirements | None,
    scopes: Iterable[str] | None,
    permissions: Iterable[str] | None,
    match: Match,
    roles: Iterable[str] | None = None,
    feature_flags: Mapping[str, FlagValue] | Iterable[str] | None = None,
    org_codes: Iterable[str] | None = None,
    claims_check: ClaimsCheck | None = None,
    claims_check_message: str | None = None,
) -> Requirements:
    """One Requirements from either form of the public keywords."""
    if (
        permissions is None
        and roles is None
        and feature_flags is None
        and org_codes is None
        and claims_check is None
        and claims_check_message is None
        and requirements is None
        and type(scopes) is list
    ):
        # The commonest call of all, verify(token, scopes=[...]) per request: one tuple, one lookup.
        try:
            found = _SCOPE_NEEDS.get((match, *scopes))
        except TypeError:  # an unhashable entry: the path below refuses it with a sentence
            found = None
        if found is not None:
            return found
    keywords = (
        scopes is None
        and permissions is None
        and roles is None
        and feature_flags is None
        and org_codes is None
        and claims_check is None
        and claims_check_message is None
    )
    if requirements is not None:
        if not keywords or match != "all":
            raise TypeError("Pass either requirements= or the keyword requirements (scopes=, roles=, ...), not both.")
        return requirements
    if keywords and match == "all":
        return NO_REQUIREMENTS
    if feature_flags is None and claims_check is None and claims_check_message is None:
        # guard.verify(token, scopes=[...]) on every request names the same lists each time, so the
        # Requirements built for them once is reused: building and validating one costs more than
        # a cache hit. Keyed by the values as tuples (a generator is read once, here).
        args = (_as_tuple(scopes), _as_tuple(permissions), match, _as_tuple(roles), _as_tuple(org_codes))
        try:
            found = _KEYWORD_NEEDS.get(args)
        except TypeError:  # unhashable names: Requirements refuses them with its own message
            found = None
        if found is not None:
            return found
        needs = Requirements(scopes=args[0], permissions=args[1], match=match, roles=args[3], org_codes=args[4])
        if len(_KEYWORD_NEEDS) < _KEYWORD_NEEDS_SIZE:
            _KEYWORD_NEEDS[args] = needs
            if args[1:] == (None, match, None, None) and type(args[0]) is tuple:
                _SCOPE_NEEDS[(match, *args[0])] = needs
        return needs
    return Requirements(
        scopes=scopes,
        permissions=permissions,
        match=match,
        roles=roles,
        feature_flags=feature_flags,
        org_codes=org_codes,
        claims_check=claims_check,
        claims_check_message=claims_check_message,
    )


#: Requirements built from keyword arguments, by those arguments (see _needs); bounded, never evicted
#: (routes name a fixed set of scope lists; past the bound, new lists are built per call).
_KEYWORD_NEEDS: dict[tuple[object, ...], Requirements] = {}
#: The same for calls naming only a list of scopes, by (match, *scopes): their fast path.
_SCOPE_NEEDS: dict[tuple[str, ...], Requirements] = {}
_KEYWORD_NEEDS_SIZE = 256


def _as_tuple(values: Iterable[str] | None) -> Iterable[str] | None:
    # None and strings stay as they are (Requirements refuses a bare string with a clear message).
    if values is None or isinstance(values, (str, tuple)):
        return values
    return tuple(values)
