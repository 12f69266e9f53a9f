"""What the dev authorization server keeps between requests: sign-ins in progress, authorization
codes, refresh tokens, sign-in sessions and device codes. In memory only, behind one lock, and bounded (cachetools),
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
from dataclasses import replace

from cachetools import LRUCache, TTLCache

from .config import User
from .records import AuthRequest, CodeRecord, DeviceRecord, Grant

__all__ = ["MAX_RECORDS", "USER_CODE_ALPHABET", "Stores", "normalize_user_code"]

#: How many sign-ins in progress, codes, refresh tokens and sessions each store keeps at most.
MAX_RECORDS = 10_000
#: RFC 8628 §6.1: base-20 letters, no vowels (no words) and none easily confused; 8 of them ~ 34 bits.
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"


def normalize_user_code(typed: str) -> str:
    """A user code as typed (any case, dashes, spaces) in its stored form ``WDJB-MJHT``."""
    letters = "".join(c for c in typed.upper() if c in USER_CODE_ALPHABET)
    return f"{letters[:4]}-{letters[4:]}" if len(letters) == 8 else letters


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
        # Device codes are checked against their own expires_at (not evicted on time), so a late
        # poll is answered expired_token rather than invalid_grant.
        self._devices: LRUCache[str, DeviceRecord] = LRUCache(max_records)
        self._user_codes: LRUCache[str, str] = LRUCache(max_records)
        self._device_sign_ins: TTLCache[str, str] = TTLCache(max_records, pending_lifetime, timer=clock)
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

    # -- device codes (RFC 8628) -----------------------------------------------------------------

    def new_device(self, record: DeviceRecord) -> str:
        """Keep ``record`` (its ``user_code`` left empty) under a new device code and user code; the device code."""
        device_code = secrets.token_urlsafe(32)
        with self._lock:
            while True:
                letters = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(8))
                user_code = normalize_user_code(letters)
                if user_code not in self._user_codes:
                    break
            self._devices[device_code] = replace(record, user_code=user_code)
            self._user_codes[user_code] = device_code
        return device_code

    def device(self, device_code: str) -> DeviceRecord | None:
        with self._lock:
            return self._devices.get(device_code)

    def waiting_device(self, user_code: str) -> DeviceRecord | None:
        """The device authorization of this user code while it waits for the user, else None."""
        with self._lock:
            record = self._devices.get(self._user_codes.get(normalize_user_code(user_code), ""))
        if record is None or record.grant is not None or record.denied or record.expires_at <= self._clock():
            return None
        return record

    def new_device_sign_in(self, user_code: str) -> str:
        """The id of the sign-in page shown for this user code."""
        request_id = secrets.token_urlsafe(24)
        with self._lock:
            self._device_sign_ins[request_id] = normalize_user_code(user_code)
        return request_id

    def finish_device_sign_in(self, request_id: str, grant: Grant | None) -> DeviceRecord | None:
        """Approve (``grant``) or deny (None) the device code the sign-in page was shown for, once."""
        with self._lock:
            user_code = self._device_sign_ins.pop(request_id, None)
            device_code = self._user_codes.pop(user_code or "", None)
            record = self._devices.get(device_code or "")
            if device_code is None or record is None or record.grant is not None or record.denied:
                return None
            if record.expires_at <= self._clock():
                return None
            decided = replace(record, grant=grant, denied=grant is None)
            self._devices[device_code] = decided
            return decided

    def poll_device(self, device_code: str, client_id: str) -> tuple[str, DeviceRecord | None]:
        """One poll of the token endpoint (RFC 8628 §3.5): ``unknown``, ``expired``, ``slow_down``,
        ``pending``, ``denied`` or ``approved`` (with its record). A decided code is used up."""
        now = self._clock()
        with self._lock:
            record = self._devices.get(device_code)
            if record is None or record.client_id != client_id:
                return "unknown", None
            if record.expires_at <= now:
                return "expired", record
            if record.denied or record.grant is not None:
                del self._devices[device_code]  # one answer per decision: the code is used up
                return ("denied" if record.denied else "approved"), record
            too_soon = record.last_poll is not None and now - record.last_poll < record.interval
            # slow_down: the client must add 5 s to its interval from now on, and so does the check.
            interval = record.interval + 5 if too_soon else record.interval
            self._devices[device_code] = replace(record, last_poll=now, interval=interval)
            return ("slow_down" if too_soon else "pending"), record
