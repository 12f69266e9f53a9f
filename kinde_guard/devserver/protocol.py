"""What the endpoints need from the authorization server they run in.

The endpoint modules (``authorize``, ``token_endpoint``, ``session``, ``user_profile``) are typed
against this Protocol, not against :class:`~kinde_guard.devserver.server.DevAuthorizationServer`:
the server imports the endpoints to route to them, and no endpoint imports the server back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from .config import Client, DevIssuerConfig
from .records import Grant
from .stores import Stores

__all__ = ["AuthorizationServer"]


class AuthorizationServer(Protocol):
    @property
    def config(self) -> DevIssuerConfig:
        """The tenant: users, organizations, applications and APIs."""

    @property
    def stores(self) -> Stores:
        """Sign-ins in progress, codes, refresh tokens and sessions."""

    @property
    def issuer(self) -> str:
        """The issuer's URL (``iss``), the base of the pages it links to."""

    @property
    def clock(self) -> Callable[[], float]:
        """The server's clock (seconds since the epoch)."""

    def user_token_response(self, grant: Grant) -> dict[str, Any]:
        """The token endpoint's answer for a user grant: access, ID and refresh token as granted."""

    def m2m_token_response(self, client: Client, audiences: Sequence[str], scopes: Sequence[str]) -> dict[str, Any]:
        """The token endpoint's answer for a client-credentials grant already checked."""

    def verify_own(self, token: str) -> dict[str, Any] | None:
        """The claims of a still-valid access token this server signed, else None."""
