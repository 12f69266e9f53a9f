"""What the dev issuer remembers between requests: pending sign-ins, codes and grants."""

from __future__ import annotations

from dataclasses import dataclass

from .config import User

__all__ = ["AuthRequest", "CodeRecord", "DeviceRecord", "Grant"]


@dataclass(frozen=True)
class AuthRequest:
    """A validated /oauth2/auth request waiting for the user to sign in."""

    client_id: str
    redirect_uri: str
    state: str
    scopes: tuple[str, ...]
    audiences: tuple[str, ...]
    code_challenge: str | None
    nonce: str | None
    prompt: str
    org_code: str | None
    login_hint: str
    expires_at: float


@dataclass(frozen=True)
class Grant:
    """What a user granted a client: the content of every token issued for it."""

    client_id: str
    user: User
    scopes: tuple[str, ...]
    audiences: tuple[str, ...]
    org_code: str | None
    nonce: str | None
    auth_time: int


@dataclass(frozen=True)
class CodeRecord:
    grant: Grant
    redirect_uri: str
    code_challenge: str | None
    expires_at: float


@dataclass(frozen=True)
class DeviceRecord:
    """A device authorization (RFC 8628) waiting to be approved, approved (``grant``) or denied."""

    client_id: str
    user_code: str
    scopes: tuple[str, ...]
    audiences: tuple[str, ...]
    expires_at: float
    interval: float
    last_poll: float | None = None
    grant: Grant | None = None
    denied: bool = False
