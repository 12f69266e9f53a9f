"""RemoteKeySet: a tenant's JWKS, cached, shared by sync and async callers (docs/architecture.md,
"JWKS policy").

- Keys are indexed by ``kid``; :func:`kinde_guard.jwk.parse_jwks` keeps only RSA signing keys of
  at least 2048 bits.
- Fresh for ``Cache-Control: max-age`` (bounded by min/max) or the default TTL; once stale, a known
  ``kid`` is still served at once while one background refresh runs.
- An unknown ``kid`` refetches at most once per cooldown. The cooldown starts at *every* fetch
  attempt, successful or not, so neither kid-spraying nor an outage turns into a fetch per request.
- Concurrent callers, threads and asyncio tasks alike, share one fetch in flight.
- On failure the last good keys keep serving for ``max_stale`` after they stopped being fresh; then
  it fails closed with :class:`~kinde_guard.JWKSError`.
- A fetch is bounded by ``timeout`` from first byte to last; callers waiting for it are released at
  that deadline (plus a scheduling grace), never later.
- ``fresh_until`` and :meth:`RemoteKeySet.usable_key` let a cache of verdicts obey the key set:
  a verdict holds while its key is in a fresh set, or a stale one within ``max_stale``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from ._http import Fetcher, FetchError, fetch_url
from .config import RSA_ALGORITHMS, GuardConfig
from .errors import InvalidSignatureError, JWKSError
from .jwk import SigningKey, parse_jwks

__all__ = ["KeySetState", "RemoteKeySet", "SigningKey", "parse_jwks"]

logger = logging.getLogger("kinde_guard.jwks")

#: How long past a fetch's own deadline its waiters wait for the fetching thread to report.
_SCHEDULING_GRACE = 0.25


@dataclass(frozen=True)
class KeySetState:
    """A snapshot for health checks and metrics; holds no secrets."""

    jwks_uri: str
    kids: tuple[str, ...]
    loaded: bool
    fresh: bool
    usable: bool
    age: float | None
    last_error: str | None
    fetches: int
    seconds_until_retry: float
    #: True while a fetch is in flight (a first load, a refresh or a refetch).
    fetching: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "jwks_uri": self.jwks_uri,
            "kids": list(self.kids),
            "loaded": self.loaded,
            "fresh": self.fresh,
            "usable": self.usable,
            "age_seconds": None if self.age is None else round(self.age, 3),
            "last_error": self.last_error,
            "fetches": self.fetches,
            "seconds_until_retry": round(self.seconds_until_retry, 3),
            "fetching": self.fetching,
        }


def _max_age(cache_control: str | None) -> float | None:
    if not cache_control:
        return None
    directives = [d.strip().lower() for d in cache_control.split(",")]
    if "no-store" in directives or "no-cache" in directives:
        return 0.0
    for d in directives:
        name, _, value = d.partition("=")
        if name.strip() == "max-age":
            try:
                return max(0.0, float(int(value.strip().strip('"'))))
            except ValueError:
                return None
    return None


class RemoteKeySet:
    """The signing keys at ``jwks_uri``, fetched on demand and cached (see the module docstring).

    >>> keys = RemoteKeySet.from_config(GuardConfig(domain="acme.kinde.com", audience="api"))
    >>> keys.jwks_uri
    'https://acme.kinde.com/.well-known/jwks'
    """

    def __init__(
        self,
        jwks_uri: str,
        *,
        ttl: float = 600.0,
        min_ttl: float = 60.0,
        max_ttl: float = 3600.0,
        cooldown: float = 30.0,
        max_stale: float = 86400.0,
        timeout: float = 5.0,
        max_bytes: int = 262144,
        algorithms: frozenset[str] = RSA_ALGORITHMS,
        clock: Callable[[], float] = time.time,
        fetch: Fetcher | None = None,
        on_event: Callable[[str, Mapping[str, Any]], None] | None = None,
    ) -> None:
        self.jwks_uri = jwks_uri
        self._ttl, self._min_ttl, self._max_ttl = ttl, min_ttl, max_ttl
        self._cooldown, self._max_stale = cooldown, max_stale
        self._timeout, self._max_bytes = timeout, max_bytes
        self._algorithms = algorithms
        self._clock = clock
        self._fetch: Fetcher = fetch or fetch_url
        self._on_event = on_event
        self._lock = threading.Lock()
        self._keys: dict[str, SigningKey] = {}
        self._loaded_at: float | None = None
        self._fresh_until = float("-inf")
        self._usable_until = float("-inf")
        self._last_attempt: float | None = None
        self._last_error: str | None = None
        self._inflight: Future[None] | None = None
        self._inflight_deadline = 0.0  # time.monotonic() by which the fetch in flight has ended
        self._drop_listeners: list[Callable[[frozenset[str]], None]] = []
        self._fetches = 0

    @classmethod
    def from_config(
        cls,
        config: GuardConfig,
        *,
        clock: Callable[[], float] = time.time,
        fetch: Fetcher | None = None,
        on_event: Callable[[str, Mapping[str, Any]], None] | None = None,
    ) -> RemoteKeySet:
        return cls(
            config.jwks_uri,
            ttl=config.jwks_ttl,
            min_ttl=config.jwks_min_ttl,
            max_ttl=config.jwks_max_ttl,
            cooldown=config.jwks_cooldown,
            max_stale=config.jwks_max_stale,
            timeout=config.http_timeout,
            max_bytes=config.jwks_max_bytes,
            algorithms=frozenset(config.algorithms),
            clock=clock,
            fetch=fetch,
            on_event=on_event,
        )

    # -- lookups -------------------------------------------------------------------------------

    def get_key(self, kid: str) -> SigningKey:
        """The key for ``kid``, fetching the JWKS when needed (blocks the calling thread)."""
        entry = self._keys.get(kid)
        if entry is not None and self._clock() < self._fresh_until:
            return entry  # _lookup's hot path, without its frame
        found = self._lookup(kid)
        if isinstance(found, SigningKey):
            return found
        fut, owner = found
        if owner:
            self._run_fetch(fut)
        else:
            self._wait(fut)
        return self._after_fetch(kid)

    async def get_key_async(self, kid: str) -> SigningKey:
        """The key for ``kid``; a needed fetch runs in a worker thread, never on the event loop."""
        entry = self._keys.get(kid)
        if entry is not None and self._clock() < self._fresh_until:
            return entry  # as in get_key
        found = self._lookup(kid)
        if isinstance(found, SigningKey):
            return found
        fut, owner = found
        if owner:
            threading.Thread(target=self._run_fetch, args=(fut,), daemon=True, name="kinde-jwks").start()
        try:
            await asyncio.wait_for(asyncio.wrap_future(fut), self._wait_budget())
        except TimeoutError:
            raise self._overdue() from None
        return self._after_fetch(kid)

    def has_kid(self, kid: str) -> bool:
        """True while ``kid`` is among the current keys (cheap; no fetch)."""
        return kid in self._keys

    def holds(self, key: SigningKey) -> bool:
        """True while ``key`` is the current key set's key for its kid (cheap; no fetch)."""
        return self._keys.get(key.kid) is key

    def add_drop_listener(self, listener: Callable[[frozenset[str]], None]) -> None:
        """Call ``listener(kids)`` after a fetch that removed keys or changed a kid's key material,
        with those kids, once the new set is in place (a verdict cache drops what they signed)."""
        self._drop_listeners.append(listener)

    @property
    def fresh_until(self) -> float:
        """The clock time until which the current keys are fresh (``-inf`` before the first load)."""
        return self._fresh_until

    def usable_key(self, kid: str) -> SigningKey | None:
        """The key for ``kid`` when it can be had without waiting, else ``None``.

        Fresh keys are returned as they are; stale keys within ``max_stale`` too, starting the one
        background refresh :meth:`get_key` would start (one in flight, cooldown respected). ``None``
        — the kid is not in the set, or the set is past ``max_stale`` — means the caller must take
        :meth:`get_key`'s path, which refetches or fails. Never fetches in the calling thread.
        """
        now = self._clock()
        entry = self._keys.get(kid)
        if entry is not None and now < self._fresh_until:
            return entry
        return self._stale_key(kid, now)

    def refresh(self) -> None:
        """Fetch now, ignoring the cooldown (joins a fetch already in flight). For tests and ops."""
        with self._lock:
            fut = self._inflight
            owner = fut is None
            if fut is None:
                fut = self._new_flight(self._clock())
        if owner:
            self._run_fetch(fut)
        else:
            self._wait(fut)

    def state(self) -> KeySetState:
        """A snapshot for ``/healthz`` and metrics."""
        now = self._clock()
        with self._lock:
            retry = 0.0 if self._last_attempt is None else self._last_attempt + self._cooldown - now
            return KeySetState(
                jwks_uri=self.jwks_uri,
                kids=tuple(self._keys),
                loaded=bool(self._keys),
                fresh=bool(self._keys) and now < self._fresh_until,
                usable=bool(self._keys) and now < self._usable_until,
                age=None if self._loaded_at is None else now - self._loaded_at,
                last_error=self._last_error,
                fetches=self._fetches,
                seconds_until_retry=max(0.0, retry),
                fetching=self._inflight is not None,
            )

    # -- the policy ----------------------------------------------------------------------------

    def _lookup(self, kid: str) -> SigningKey | tuple[Future[None], bool]:
        """A key, or the fetch to wait for and whether this caller must run it."""
        now = self._clock()
        entry = self._keys.get(kid)
        if entry is not None and now < self._fresh_until:
            return entry  # the hot path: no lock
        entry = self._stale_key(kid, now)
        if entry is not None:
            return entry
        with self._lock:
            if self._inflight is not None:
                return self._inflight, False
            if self._may_attempt(now):
                return self._new_flight(now), True
            raise self._miss_error(kid, now < self._usable_until, now)

    def _stale_key(self, kid: str, now: float) -> SigningKey | None:
        """The key for ``kid`` from a set that is stale but within ``max_stale``, refreshing it in
        the background (once per cooldown); ``None`` when the kid is absent or the set unusable."""
        refreshing, age, last_error = False, None, None
        with self._lock:
            entry = self._keys.get(kid) if now < self._usable_until else None
            if entry is None:
                return None
            if now >= self._fresh_until and self._inflight is None and self._may_attempt(now):
                fut = self._new_flight(now)
                threading.Thread(target=self._run_fetch, args=(fut,), daemon=True, name="kinde-jwks").start()
                refreshing = True
            age = None if self._loaded_at is None else now - self._loaded_at
            last_error = self._last_error
        if refreshing and last_error is not None:
            # Serving keys the endpoint failed to renew: reported once per refresh attempt (not
            # per request), with how old the keys are.
            self._emit("jwks_stale", kid=kid, age=age, last_error=last_error)
        return entry

    def _after_fetch(self, kid: str) -> SigningKey:
        now = self._clock()
        with self._lock:
            usable = now < self._usable_until
            entry = self._keys.get(kid) if usable else None
            if entry is not None:
                return entry
            raise self._miss_error(kid, usable, now)

    def _miss_error(self, kid: str, usable: bool, now: float) -> Exception:
        retry = self._cooldown if self._last_attempt is None else self._last_attempt + self._cooldown - now
        if not usable:
            why = self._last_error or "no keys loaded"
            return JWKSError(f"signing keys unavailable: {why}", retry_after=int(retry) + 1)
        if self._last_error is not None:
            # Keys are cached, but not this one, and the endpoint is failing: it may be a new key
            # we cannot fetch; say so (503) rather than calling the token invalid.
            return JWKSError(
                f"no cached key with this kid and the JWKS endpoint is failing: {self._last_error}",
                retry_after=int(retry) + 1,
            )
        return InvalidSignatureError(f"no signing key with kid {kid!r} in the issuer's JWKS")

    def _may_attempt(self, now: float) -> bool:
        return self._last_attempt is None or now - self._last_attempt >= self._cooldown

    def _new_flight(self, now: float) -> Future[None]:
        fut: Future[None] = Future()
        # RUNNING from the start, so a cancelled awaiter cannot cancel the fetch others share.
        fut.set_running_or_notify_cancel()
        self._inflight = fut
        self._inflight_deadline = time.monotonic() + self._timeout + _SCHEDULING_GRACE
        self._last_attempt = now
        return fut

    def _wait_budget(self) -> float:
        """Seconds left until the fetch in flight must have ended: waiters are released then."""
        return max(0.0, self._inflight_deadline - time.monotonic())

    def _overdue(self) -> JWKSError:
        return JWKSError(f"the JWKS fetch did not end within {self._timeout:g} s", retry_after=int(self._cooldown) + 1)

    def _wait(self, fut: Future[None]) -> None:
        try:
            fut.result(timeout=self._wait_budget())
        except FutureTimeout:
            raise self._overdue() from None

    def _run_fetch(self, fut: Future[None]) -> None:
        started = time.monotonic()
        status: int | None = None
        try:
            response = self._fetch(self.jwks_uri, self._timeout, self._max_bytes)
            status = response.status
            if response.status != 200:
                raise FetchError(f"the JWKS endpoint answered HTTP {response.status}")
            keys = parse_jwks(response.body, self._algorithms)
            max_age = _max_age(response.headers.get("cache-control"))
        except (FetchError, ValueError, OSError) as exc:
            self._fetch_failed(str(exc), status, time.monotonic() - started)
        except Exception as exc:  # an injected fetcher's bug must not wedge the key set
            self._fetch_failed(f"unexpected {type(exc).__name__}", status, time.monotonic() - started)
        else:
            self._fetch_succeeded(keys, max_age, status, time.monotonic() - started)
        finally:
            with self._lock:
                self._inflight = None
                self._fetches += 1
            fut.set_result(None)

    def _fetch_succeeded(
        self, keys: dict[str, SigningKey], max_age: float | None, status: int | None, duration: float
    ) -> None:
        ttl = self._ttl if max_age is None else min(max(max_age, self._min_ttl), self._max_ttl)
        now = self._clock()
        with self._lock:
            # A kid whose key material is unchanged keeps its SigningKey object, so that a cached
            # verdict can tell "same key" by identity; a kid with new material gets a new object.
            for kid, key in keys.items():
                old = self._keys.get(kid)
                if old is not None and old.alg == key.alg and old.key.public_numbers() == key.key.public_numbers():
                    keys[kid] = old
            dropped = frozenset(kid for kid, old in self._keys.items() if keys.get(kid) is not old)
            self._keys = keys
            self._loaded_at = now
            self._fresh_until = now + ttl
            self._usable_until = now + ttl + self._max_stale
            self._last_error = None
        logger.info("JWKS fetched from %s: kids %s, fresh for %.0f s", self.jwks_uri, sorted(keys), ttl)
        if dropped:
            logger.warning("JWKS keys removed or replaced: %s", sorted(dropped))
            for listener in self._drop_listeners:
                try:
                    listener(dropped)
                except Exception:  # one listener's bug must not keep the others from hearing it
                    logger.exception("JWKS drop listener raised")
        self._emit("jwks_fetch", ok=True, status=status, duration=duration, kids=sorted(keys))

    def _fetch_failed(self, reason: str, status: int | None, duration: float) -> None:
        now = self._clock()
        with self._lock:
            self._last_error = reason
            has_stale = bool(self._keys) and now < self._usable_until
        if has_stale:
            logger.warning("JWKS fetch failed (%s); serving the last good keys", reason)
        else:
            logger.error("JWKS fetch failed (%s); no usable keys", reason)
        self._emit("jwks_fetch", ok=False, status=status, duration=duration, error=reason, serving_stale=has_stale)

    def _emit(self, event: str, **data: Any) -> None:
        if self._on_event is not None:
            try:
                self._on_event(event, data)
            except Exception:  # a metrics hook must never break verification
                logger.exception("on_event hook raised")
