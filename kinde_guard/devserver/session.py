"""The sign-in session: its cookie (what single sign-on and ``prompt`` look at) and ``/logout``."""

from __future__ import annotations

from .._issuer_http import Request, Response
from .pages import error_page, html_response, signed_out_page
from .protocol import AuthorizationServer

__all__ = ["SESSION_COOKIE", "logout", "session_cookie", "session_id"]

SESSION_COOKIE = "kg_dev_session"
_ATTRIBUTES = "Path=/; HttpOnly; SameSite=Lax"


def session_id(request: Request) -> str | None:
    """The session id the request's ``Cookie`` header carries, if any."""
    for part in (request.headers.get("Cookie") or "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == SESSION_COOKIE and value:
            return value
    return None


def session_cookie(session: str) -> dict[str, str]:
    """The ``Set-Cookie`` header that starts a session."""
    return {"Set-Cookie": f"{SESSION_COOKIE}={session}; {_ATTRIBUTES}"}


def logout(server: AuthorizationServer, request: Request) -> Response:
    """End the session, then show a signed-out page or go to ``redirect`` if an application
    registered it as a logout URL (anything else is refused on a page naming the URL to add)."""
    session = session_id(request)
    if session:
        server.stores.end_session(session)
    expire = {"Set-Cookie": f"{SESSION_COOKIE}=; Max-Age=0; {_ATTRIBUTES}"}
    target = request.arg("redirect")
    if not target:
        return html_response(200, signed_out_page(), expire)
    allowed = {uri for c in server.config.clients.values() for uri in c.logout_uris}
    if target not in allowed:
        return html_response(
            400,
            error_page(
                "Logout redirect not allowed",
                "This URL is not an allowed logout redirect of any application. Add it to the "
                '"logout_uris" of the application in the dev issuer config:',
                target,
            ),
            expire,
        )
    return Response(302, b"", {"Location": target, "Cache-Control": "no-store", **expire})
