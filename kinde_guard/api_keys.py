"""ApiKeyVerifier: Kinde API keys, verified by calling Kinde, with the JWKS path's resilience
(docs/architecture.md, "API keys").

- Kinde verifies a key: ``POST {domain}/api/v1/api_keys/verify`` with ``{"api_key": ...}`` and an
  M2M bearer token for the Kinde Management API (audience ``{domain}/api``, scope
  ``read:api_keys``). A key is accepted only when ``is_valid`` is true and ``status`` is
  ``"active"``.
- The M2M token is fetched once (``client_credentials``), reused until shortly before it expires,
  refreshed with one request in flight (the old token serves meanwhile) and refetched once when
  Kinde answers 401 with it.
- Verified keys are cached for ``api_key_cache_ttl`` under a BLAKE2s digest of the key: the key
  itself is never stored, logged or put in an event. A hit is one dict lookup and one comparison.
- Concurrent first requests with one key share one verification (single flight).
- Unknown keys cannot be turned into Kinde traffic: refused keys are remembered for
  ``api_key_negative_ttl``, and calls for keys not in the cache draw from a token bucket
  (``api_key_verify_burst`` at once, ``api_key_verify_rate`` per second); over it, 503.
- Kinde failing (5xx, timeout, hang, garbage): a verified key keeps working for
  ``api_key_max_stale`` past its TTL; unknown keys get 503 with ``Retry-After``, and no new call
  is made for ``api_key_cooldown``. One verification (token included) is bounded by
  ``http_timeout``; waiters are released at that deadline plus a scheduling grace.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from ._http import FetchError, HTTPResponse, request_url
from .claims import Claims
from .config import GuardConfig
from .errors import AuthError, InvalidClaimError, InvalidTokenError, JWKSError

__all__ = ["ApiKeyState", "ApiKeyUnavailableError", "ApiKeyVerifier", "key_digest"]

logger = logging.getLogger("kinde_guard.api_keys")

#: How long past a verification's own deadline its waiters wait for the verifying thread to report.
_SCHEDULING_GRACE = 0.25
#: The M2M token is refreshed this long before it expires (at most a tenth of its lifetime).
_TOKEN_REFRESH_MARGIN = 60.0
_MAX_ANSWER_BYTES = 65536

#: The cache key of an API key: a 32-byte BLAKE2s digest (a cryptographic hash, and the fastest in
#: the standard library; the key itself is never kept).
_blake2s = hashlib.blake2s

#: ``request(url, timeout, max_bytes, method=, body=, headers=) -> HTTPResponse``, like request_url.
Requester = Callable[..., HTTPResponse]

#: A verified key: (claims, trusted until = verified + api_key_cache_ttl, usable until when Kinde is
#: down = trusted until + api_key_max_stale).
_Entry = tuple[Claims, float, float]


def key_digest(key: str) -> bytes:
    """The cache key of an API key (BLAKE2s of its UTF-8 bytes)."""
    return _blake2s(key.encode("utf-8", "surrogatepass")).digest()


class ApiKeyUnavailableError(JWKSError):
    """Kinde cannot verify an API key right now: 503 with ``Retry-After``, like a JWKS outage."""


@dataclass(frozen=True)
class ApiKeyState:
    """A snapshot of the API-key path for health checks and metrics; holds no keys or secrets."""

    verify_url: str
    cached_keys: int
    refused_keys: int
    verifications: int
    token_fetches: int
    has_token: bool
    token_expires_in: float | None
    rate_limited: int
    in_flight: int
    last_error: str | None
    seconds_until_retry: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "verify_url": self.verify_url,
            "cached_keys": self.cached_keys,
            "refused_keys": self.refused_keys,
            "verifications": self.verifications,
            "token_fetches": self.token_fetches,
            "has_token": self.has_token,
            "token_expires_in": None if self.token_expires_in is None else round(self.token_expires_in, 3),
            "rate_limited": self.rate_limited,
            "in_flight": self.in_flight,
            "last_error": self.last_error,
            "seconds_until_retry": round(self.seconds_until_retry, 3),
        }


class ApiKeyVerifier:
    """Verifies Kinde API keys for one guard (see the module docstring). Thread- and asyncio-safe.

    >>> config = GuardConfig(domain="acme.kinde.com", audience="api", api_keys=True,
    ...                      m2m_client_id="id", m2m_client_secret="secret")
    >>> ApiKeyVerifier(config).verify_url
    'https://acme.kinde.com/api/v1/api_keys/verify'
    """

    def __init__(
        self,
        config: GuardConfig,
        *,
        clock: Callable[[], float] = time.time,
        request: Requester | None = None,
        on_event: Callable[[str, Mapping[str, Any]], None] | None = None,
    ) -> None:
        self.verify_url = f"{config.domain}/api/v1/api_keys/verify"
        self.token_url = f"{config.domain}/oauth2/token"
        self.management_audience = f"{config.domain}/api"
        self.prefixes = tuple(config.api_key_prefixes)
        self._client_id, self._client_secret = config.m2m_client_id, config.m2m_client_secret
        self._ttl, self._negative_ttl = config.api_key_cache_ttl, config.api_key_negative_ttl
        self._max_stale, self._cooldown = config.api_key_max_stale, config.api_key_cooldown
        self._burst, self._rate = float(config.api_key_verify_burst), config.api_key_verify_rate
        self._size = config.api_key_cache_size
        self._timeout = config.http_timeout
        self._allowed_orgs = frozenset(config.allowed_org_codes)
        self._clock = clock
        self._request: Requester = request or request_url
        self._on_event = on_event
        self._lock = threading.Lock()
        #: digest -> _Entry. Public for the guard's hot path (one lookup, one comparison); insertion
        #: order, oldest evicted first (entries expire after the TTL anyway).
        self.cache: OrderedDict[bytes, _Entry] = OrderedDict()
        # digest -> (refused until, error class, description): keys Kinde refused.
        self._refused: OrderedDict[bytes, tuple[float, type[AuthError], str]] = OrderedDict()
        # digest -> (the verification in flight, its deadline on time.monotonic()).
        self._flights: dict[bytes, tuple[Future[Claims], float]] = {}
        self._bucket, self._bucket_at = self._burst, clock()
        self._failed_until = float("-inf")
        self._last_error: str | None = None
        self._token: str | None = None
        self._token_expires = self._token_refresh_at = float("-inf")
        self._token_flight: Future[str] | None = None
        self.verifications = 0
        self.token_fetches = 0
        self.rate_limited = 0

    # -- public --------------------------------------------------------------------------------

    def verify(self, key: str) -> Claims:
        """The claims of ``key``, verifying it with Kinde when needed (blocks the calling thread).

        Raises :class:`~kinde_guard.InvalidTokenError` (401) for a key Kinde refuses or that lacks
        a configured prefix, :class:`ApiKeyUnavailableError` (503) when it cannot be verified now.
        """
        digest = key_digest(key)
        entry = self.cache.get(digest)
        if entry is not None and self._clock() < entry[1]:
            return entry[0]
        found = self._lookup(key, digest, entry)
        if isinstance(found, Claims):
            return found
        fut, owner, deadline = found
        if owner:
            self._run(fut, key, digest, deadline)
        else:
            try:
                fut.result(timeout=max(0.0, deadline + _SCHEDULING_GRACE - time.monotonic()))
            except FutureTimeout:
                return self._overdue(digest)
            except (AuthError, JWKSError):
                pass
        return self._settle(fut, digest)

    async def verify_async(self, key: str) -> Claims:
        """Like :meth:`verify`; the call to Kinde runs in a worker thread, never on the event loop."""
        digest = key_digest(key)
        entry = self.cache.get(digest)
        if entry is not None and self._clock() < entry[1]:
            return entry[0]
        found = self._lookup(key, digest, entry)
        if isinstance(found, Claims):
            return found
        fut, owner, deadline = found
        if owner:
            threading.Thread(
                target=self._run, args=(fut, key, digest, deadline), daemon=True, name="kinde-api-key"
            ).start()
        try:
            await asyncio.wait_for(asyncio.wrap_future(fut), max(0.0, deadline + _SCHEDULING_GRACE - time.monotonic()))
        except TimeoutError:
            return self._overdue(digest)
        except (AuthError, JWKSError):
            pass
        return self._settle(fut, digest)

    def state(self) -> ApiKeyState:
        """A snapshot for ``/healthz`` and metrics."""
        now = self._clock()
        with self._lock:
            return ApiKeyState(
                verify_url=self.verify_url,
                cached_keys=len(self.cache),
                refused_keys=len(self._refused),
                verifications=self.verifications,
                token_fetches=self.token_fetches,
                has_token=self._token is not None and now < self._token_expires,
                token_expires_in=None if self._token is None else self._token_expires - now,
                rate_limited=self.rate_limited,
                in_flight=len(self._flights),
                last_error=self._last_error,
                seconds_until_retry=max(0.0, self._failed_until - now),
            )

    # -- the policy ----------------------------------------------------------------------------

    def _lookup(self, key: str, digest: bytes, entry: _Entry | None) -> Claims | tuple[Future[Claims], bool, float]:
        """Claims (refused, stale), or the verification to wait for and whether to run it."""
        if not key.startswith(self.prefixes):
            self._emit("api_key_refused", reason="prefix", key_id=None)
            raise InvalidTokenError("The bearer value is neither a Kinde access token nor a Kinde API key.")
        now = self._clock()
        stale = None
        with self._lock:
            refused = self._refused.get(digest)
            if refused is not None and now < refused[0]:
                error, description = refused[1], refused[2]
            else:
                error = None
                flight = self._flights.get(digest)
                if flight is not None:
                    return flight[0], False, flight[1]
                usable = entry is not None and now < entry[2]
                if now < self._failed_until:
                    if not usable:
                        raise self._unavailable(self._last_error or "Kinde is failing", self._failed_until - now)
                    stale = entry
                elif entry is None and not self._take(now):
                    self.rate_limited += 1
                    wait = (1.0 - self._bucket) / self._rate
                    unknown = "too many verifications of API keys not seen before; retry shortly"
                    raise ApiKeyUnavailableError(unknown, retry_after=math.ceil(wait))
                else:
                    fut: Future[Claims] = Future()
                    fut.set_running_or_notify_cancel()  # a cancelled waiter cannot cancel the others'
                    deadline = time.monotonic() + self._timeout
                    self._flights[digest] = (fut, deadline)
                    return fut, True, deadline
        if error is not None:
            self._emit("api_key_refused", reason="remembered", key_id=None)
            raise error(description)
        assert stale is not None
        self._emit("api_key_stale", key_id=stale[0].key_id, last_error=self._last_error)
        return stale[0]

    def _take(self, now: float) -> bool:
        """One verification call from the token bucket (under the lock)."""
        tokens = min(self._burst, self._bucket + max(0.0, now - self._bucket_at) * self._rate)
        self._bucket_at = now
        if tokens >= 1.0:
            self._bucket = tokens - 1.0
            return True
        self._bucket = tokens
        return False

    def _settle(self, fut: Future[Claims], digest: bytes) -> Claims:
        try:
            return fut.result(timeout=0)
        except ApiKeyUnavailableError:
            stale = self._stale(digest)
            if stale is not None:
                return stale
            raise

    def _stale(self, digest: bytes) -> Claims | None:
        entry = self.cache.get(digest)
        if entry is not None and self._clock() < entry[2]:
            self._emit("api_key_stale", key_id=entry[0].key_id, last_error=self._last_error)
            return entry[0]
        return None

    def _overdue(self, digest: bytes) -> Claims:
        stale = self._stale(digest)
        if stale is not None:
            return stale
        why = f"Kinde did not answer the API key verification within {self._timeout:g} s"
        raise ApiKeyUnavailableError(why, retry_after=math.ceil(self._cooldown) + 1)

    def _unavailable(self, why: str, retry: float) -> ApiKeyUnavailableError:
        return ApiKeyUnavailableError(f"API keys cannot be verified now: {why}", retry_after=math.ceil(retry) + 1)

    def _run(self, fut: Future[Claims], key: str, digest: bytes, deadline: float) -> None:
        """One verification, in the calling thread; its outcome lands in the cache and in ``fut``."""
        try:
            claims = self._call_kinde(key, deadline)
        except AuthError as exc:
            now = self._clock()
            with self._lock:
                self.cache.pop(digest, None)
                self._refused[digest] = (now + self._negative_ttl, type(exc), exc.description)
                if len(self._refused) > 4 * self._size:
                    self._refused.popitem(last=False)
                self._flights.pop(digest, None)
            self._emit("api_key_refused", reason=type(exc).__name__, key_id=None)
            fut.set_exception(exc)
        except Exception as exc:  # ApiKeyUnavailableError, or anything unforeseen: fail closed, 503
            error = exc if isinstance(exc, ApiKeyUnavailableError) else self._unavailable(str(exc), self._cooldown)
            with self._lock:
                self._failed_until = self._clock() + self._cooldown
                self._last_error = error.description
                self._flights.pop(digest, None)
            logger.warning("API key verification failed: %s", error.description)
            self._emit("api_key_verify_failed", error=error.description)
            fut.set_exception(error)
        else:
            now = self._clock()
            trusted = now + self._ttl
            with self._lock:
                self.cache[digest] = (claims, trusted, trusted + self._max_stale)
                if len(self.cache) > self._size:
                    self.cache.popitem(last=False)
                self._refused.pop(digest, None)
                self._last_error = None
                self._flights.pop(digest, None)
            self._emit("api_key_verified", key_id=claims.key_id, org_code=claims.org_code, user=claims.sub is not None)
            fut.set_result(claims)

    # -- talking to Kinde ----------------------------------------------------------------------

    def _call_kinde(self, key: str, deadline: float) -> Claims:
        token = self._m2m_token(deadline)
        response = self._post_verify(key, token, deadline)
        if response.status == 401:  # the M2M token was rejected (revoked, rotated secret): once more
            self._drop_token(token)
            response = self._post_verify(key, self._m2m_token(deadline), deadline)
            if response.status == 401:
                raise self._unavailable("Kinde rejected a freshly issued M2M token (HTTP 401)", self._cooldown)
        return self._read_answer(response)

    def _remaining(self, deadline: float, what: str) -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise self._unavailable(f"{what} did not end within {self._timeout:g} s", self._cooldown)
        return left

    def _post_verify(self, key: str, token: str, deadline: float) -> HTTPResponse:
        timeout = self._remaining(deadline, "the verification")
        with self._lock:
            self.verifications += 1
        try:
            return self._request(
                self.verify_url,
                timeout,
                _MAX_ANSWER_BYTES,
                method="POST",
                body=json.dumps({"api_key": key}).encode("utf-8"),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
        except (FetchError, OSError) as exc:
            raise self._unavailable(str(exc), self._cooldown) from None

    def _read_answer(self, response: HTTPResponse) -> Claims:
        status = response.status
        if status == 403:
            raise self._unavailable(
                "Kinde refused the verification (HTTP 403): the M2M application needs the scope read:api_keys "
                "of the Kinde Management API",
                self._cooldown,
            )
        if status == 429:
            retry = response.headers.get("retry-after", "")
            wait = float(retry) if retry.isdigit() else self._cooldown
            raise self._unavailable("Kinde is rate limiting API key verifications (HTTP 429)", wait)
        answer = _json_object(response.body) if status in (200, 400, 404) else None
        if answer is None or type(answer.get("is_valid")) is not bool:
            why = f"HTTP {status}" if status != 200 else "an answer that is not Kinde's verification result"
            raise self._unavailable(f"the API key verification endpoint answered {why}", self._cooldown)
        key_status = answer.get("status")
        if not answer["is_valid"] or key_status != "active":
            if key_status in ("inactive", "revoked"):
                raise InvalidTokenError(f"The API key is {key_status}.")
            raise InvalidTokenError("The API key is not valid.")
        key_id, scopes = answer.get("key_id"), answer.get("scopes", [])
        org_code, user_id = answer.get("org_code"), answer.get("user_id")
        if (
            type(key_id) is not str
            or type(scopes) is not list
            or not all(type(s) is str for s in scopes)
            or not (org_code is None or type(org_code) is str)
            or not (user_id is None or type(user_id) is str)
        ):
            raise self._unavailable("the API key verification answer is malformed", self._cooldown)
        if self._allowed_orgs and org_code not in self._allowed_orgs:
            raise InvalidClaimError('The "org_code" claim names an organization this API does not accept.')
        return Claims.for_api_key(key_id, scopes, org_code=org_code or None, user_id=user_id or None)

    def _m2m_token(self, deadline: float) -> str:
        """The M2M token: cached; refreshed shortly before expiry with one request in flight."""
        now = self._clock()
        with self._lock:
            token = self._token
            if token is not None and now < self._token_refresh_at:
                return token
            fut = self._token_flight
            owner = fut is None
            if fut is None:
                fut = self._token_flight = Future()
                fut.set_running_or_notify_cancel()
            elif token is not None and now < self._token_expires:
                return token  # a refresh is in flight; the current token still holds
        if owner:
            try:
                fut.set_result(self._fetch_token(deadline))
            except Exception as exc:
                fut.set_exception(exc)
            finally:
                with self._lock:
                    self._token_flight = None
        try:
            return fut.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            raise self._unavailable(
                f"the M2M token did not arrive within {self._timeout:g} s", self._cooldown
            ) from None

    def _drop_token(self, token: str) -> None:
        with self._lock:
            if self._token == token:
                self._token = None
                self._token_expires = self._token_refresh_at = float("-inf")

    def _fetch_token(self, deadline: float) -> str:
        timeout = self._remaining(deadline, "the M2M token request")
        form = {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "client_secret": self._client_secret,
            "audience": self.management_audience,
        }
        with self._lock:
            self.token_fetches += 1
        try:
            response = self._request(
                self.token_url,
                timeout,
                _MAX_ANSWER_BYTES,
                method="POST",
                body=urlencode(form).encode("ascii"),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        except (FetchError, OSError) as exc:
            raise self._token_failed(str(exc)) from None
        answer = _json_object(response.body)
        if response.status != 200 or answer is None:
            code = answer.get("error") if answer is not None else None
            said = f" ({code})" if type(code) is str and code.isascii() and len(code) < 64 else ""
            raise self._token_failed(f"Kinde's token endpoint answered HTTP {response.status}{said} for the M2M app")
        token, lifetime = answer.get("access_token"), answer.get("expires_in", 3600)
        if type(token) is not str or not token or type(lifetime) not in (int, float) or lifetime <= 0:
            raise self._token_failed("Kinde's token endpoint answered without a usable access_token")
        now = self._clock()
        with self._lock:
            self._token = token
            self._token_expires = now + lifetime
            self._token_refresh_at = now + lifetime - min(_TOKEN_REFRESH_MARGIN, lifetime / 10)
        self._emit("m2m_token_fetched", expires_in=lifetime)
        return token

    def _token_failed(self, why: str) -> ApiKeyUnavailableError:
        self._emit("m2m_token_failed", error=why)
        return self._unavailable(why, self._cooldown)

    def _emit(self, event: str, **data: Any) -> None:
        if self._on_event is not None:
            try:
                self._on_event(event, data)
            except Exception:  # a metrics hook must never break verification
                logger.exception("on_event hook raised")


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return doc if isinstance(doc, dict) else None
