"""What the dev authorization server keeps between requests: sign-ins in progress, authorization
codes, refresh tokens and sign-in sessions. In memory only, behind one lock, and bounded (cachetools),
so a long-running dev server cannot grow without limit.

>>> from kinde_guard.devserver.stores import Stores
>>> stores = Stores(clock=lambda: 0.0, code_lifetime=120, pending_lifetime=600)
>>> stores.take_code("never-issued") is None
True
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable

from cachetools import LRUCache, TTLCache

from .config import User
from .records import AuthRequest, CodeRecord, Grant

__all__ = ["MAX_RECORDS", "Stores"]

#: How many sign-ins in progress, codes, refresh tokens and sessions each store keeps at most.
MAX_RECORDS = 10_000


class Stores:
    """Sign-ins in progress and codes expire on ``clock`` (after ``pending_lifetime`` and
    ``code_lifetime`` seconds); refresh tokens and sessions, which have no lifetime here, keep the
    ``max_records`` most recently used. Every identifier handed out is a fresh random token."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        code_lifetime: float,
        pending_lifetime: float,
        max_records: int = MAX_RECORDS,
    ) -> None:
        self._clock = clock
        self._code_lifetime = code_lifetime
        self._lock = threading.Lock()
        self._pending: TTLCache[str, AuthRequest] = TTLCache(max_records, pending_lifetime, timer=clock)
        self._codes: TTLCache[str, CodeRecord] = TTLCache(max_records, code_lifetime, timer=clock)
        self._refresh_tokens: LRUCache[str, Grant] = LRUCache(max_records)
        self._sessions: LRUCache[str, User] = LRUCache(max_records)
        #: Number of codes issued so far: handy in tests.
        self.codes_issued = 0

    # -- sign-ins in progress (the sign-in page is showing) --------------------------------------

    def new_pending(self, auth: AuthRequest) -> str:
        request_id = secrets.token_urlsafe(24)
        with self._lock:
            self._pending[request_id] = auth
        return request_id

    def pending(self, request_id: str) -> AuthRequest | None:
        with self._lock:
            auth = self._pending.get(request_id)
        return auth if auth is not None and auth.expires_at > self._clock() else None

    def finish_pending(self, request_id: str) -> None:
        with self._lock:
            self._pending.pop(request_id, None)

    # -- authorization codes ---------------------------------------------------------------------

    def new_code(self, grant: Grant, redirect_uri: str, code_challenge: str | None) -> str:
        code = secrets.token_urlsafe(32)
        record = CodeRecord(grant, redirect_uri, code_challenge, self._clock() + self._code_lifetime)
        with self._lock:
            self._codes[code] = record
            self.codes_issued += 1
        return code

    def take_code(self, code: str) -> CodeRecord | None:
        """The code's record, removed: a code is good for one redemption attempt only."""
        with self._lock:
            record = self._codes.pop(code, None)
        return record if record is not None and record.expires_at > self._clock() else None

    # -- refresh tokens --------------------------------------------------------------------------

    def new_refresh_token(self, grant: Grant) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._refresh_tokens[token] = grant
        return token

    def take_refresh_token(self, token: str) -> Grant | None:
        """Refresh tokens rotate: each is used once and replaced by a new one."""
        with self._lock:
            return self._refresh_tokens.pop(token, None)

    # -- sign-in sessions (single sign-on) -------------------------------------------------------

    def new_session(self, user: User) -> str:
        session_id = secrets.token_urlsafe(24)
        with self._lock:
            self._sessions[session_id] = user
        return session_id

    def session_user(self, session_id: str | None) -> User | None:
        with self._lock:
            return self._sessions.get(session_id) if session_id else None

    def end_session(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def known_users(self) -> list[User]:
        """Users with a session or a refresh token, including those who typed an email (not in the config)."""
        with self._lock:
            return list(self._sessions.values()) + [g.user for g in self._refresh_tokens.values()]
