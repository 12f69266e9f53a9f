"""``/oauth2/auth``: validate the request like Kinde does, show the sign-in page, issue a code.

Errors that make the redirect untrustworthy (unknown client, unregistered callback URL, a short
``state``) are shown as a page and never redirected; the others go back to the callback as
``error=...`` (RFC 6749 §4.1.2.1).
"""

from __future__ import annotations

from urllib.parse import urlencode

from .._issuer_http import Request, Response
from ..cli.pkce import MIN_STATE_LENGTH
from .config import User, user_for_email
from .pages import error_page, html_response, sign_in_page
from .protocol import AuthorizationServer
from .records import AuthRequest, Grant
from .session import session_cookie, session_id

__all__ = ["handle"]

OIDC_SCOPES = ("openid", "profile", "email", "offline")
PROMPTS = ("", "login", "create", "none", "consent")
PENDING_LIFETIME = 600


class _Refused(Exception):
    """Refuse on a page (the callback URL cannot be trusted yet)."""

    def __init__(self, title: str, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.title, self.message, self.detail = title, message, detail


class _Redirected(Exception):
    """Send ``error`` back to the (validated) callback URL."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error, self.description = error, description


def handle(server: AuthorizationServer, request: Request) -> Response:
    if request.method == "POST":
        return _sign_in(server, request)
    args = {name: values[0] for name, values in request.query.items() if values}
    try:
        auth = _validate(server, args)
    except _Refused as exc:
        return html_response(400, error_page(exc.title, exc.message, exc.detail))
    except _Redirected as exc:
        return _error_redirect(args["redirect_uri"], args.get("state", ""), exc.error, exc.description)
    user = server.stores.session_user(session_id(request))
    if user is not None and auth.prompt not in ("login", "create"):
        return _issue_code(server, auth, user, {})  # single sign-on: an existing session
    if auth.prompt == "none":
        return _error_redirect(auth.redirect_uri, auth.state, "login_required", "No session; sign in first.")
    request_id = server.stores.new_pending(auth)
    client = server.config.clients[auth.client_id]
    page = sign_in_page(
        request_id=request_id,
        client_name=client.name,
        users=server.config.users,
        login_hint=auth.login_hint,
        create=auth.prompt == "create",
        audiences=auth.audiences,
    )
    return html_response(200, page)


def _validate(server: AuthorizationServer, args: dict[str, str]) -> AuthRequest:
    config = server.config
    client_id = args.get("client_id", "")
    client = config.clients.get(client_id)
    if client is None or client.type == "m2m":
        raise _Refused(
            "Unknown application",
            f"No application with client_id {client_id!r} signs users in here. "
            f"Known: {', '.join(c.client_id for c in config.clients.values() if c.type != 'm2m')}.",
        )
    redirect_uri = args.get("redirect_uri", "")
    if redirect_uri not in client.redirect_uris:
        raise _Refused(
            "Callback URL not allowed",
            f"The callback URL is not registered for {client.name}. Callback URLs must match exactly: "
            f'add this one to the "redirect_uris" of client {client.client_id!r} in the dev issuer config '
            "(in Kinde: Settings > Applications > Allowed callback URLs):",
            redirect_uri,
        )
    state = args.get("state", "")
    if len(state) < MIN_STATE_LENGTH:
        raise _Refused("Invalid state", f"state must be at least {MIN_STATE_LENGTH} characters long.")
    if args.get("response_type") != "code":
        raise _Redirected("unsupported_response_type", "response_type must be code.")
    challenge, method = args.get("code_challenge"), args.get("code_challenge_method", "plain")
    if challenge is None and client.type == "public":
        raise _Redirected("invalid_request", "code_challenge is required (PKCE) for this application.")
    if challenge is not None and method != "S256":
        raise _Redirected("invalid_request", "code_challenge_method must be S256.")
    audiences = tuple(dict.fromkeys(args.get("audience", "").split()))
    for audience in audiences:
        if audience not in client.apis:
            raise _Redirected("invalid_request", f"audience {audience!r} is not an API this application may use.")
    prompt = args.get("prompt", "")
    if prompt not in PROMPTS:
        raise _Redirected("invalid_request", f"prompt {prompt!r} is not supported.")
    org_code = args.get("org_code") or None
    if org_code is not None and org_code not in config.organizations:
        raise _Redirected("invalid_request", f"org_code {org_code!r} is not an organization here.")
    # Granted: the OpenID scopes asked for, plus asked-for scopes of the requested APIs.
    api_scopes = {s for a in audiences for s in config.apis[a].scopes}
    asked = args.get("scope", "").split()
    scopes = tuple(dict.fromkeys(s for s in asked if s in OIDC_SCOPES or s in api_scopes))
    return AuthRequest(
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        state=state,
        scopes=scopes,
        audiences=audiences,
        code_challenge=challenge,
        nonce=args.get("nonce"),
        prompt=prompt,
        org_code=org_code,
        login_hint=args.get("login_hint", ""),
        expires_at=server.clock() + PENDING_LIFETIME,
    )


def _sign_in(server: AuthorizationServer, request: Request) -> Response:
    form = request.form()
    request_id = form.get("request_id", "")
    auth = server.stores.pending(request_id)
    if auth is None:
        return html_response(
            400, error_page("Sign-in expired", "This sign-in request is unknown or expired; start again.")
        )
    server.stores.finish_pending(request_id)
    if form.get("cancel"):
        return _error_redirect(auth.redirect_uri, auth.state, "access_denied", "The user cancelled the sign-in.")
    if form.get("user_id"):
        user = server.config.user(form["user_id"])
        if user is None:
            return html_response(400, error_page("Unknown user", "No such demo user."))
    elif "@" in form.get("email", ""):
        user = user_for_email(form["email"].strip(), server.config.users)
    else:
        return html_response(400, error_page("Email required", "Pick a user or type an email address."))
    return _issue_code(server, auth, user, session_cookie(server.stores.new_session(user)))


def _issue_code(server: AuthorizationServer, auth: AuthRequest, user: User, headers: dict[str, str]) -> Response:
    org_code = auth.org_code
    if org_code is not None and org_code not in user.organizations:
        return _error_redirect(
            auth.redirect_uri, auth.state, "access_denied", f"{user.email} is not a member of {org_code}."
        )
    if org_code is None and user.organizations:
        org_code = next(iter(user.organizations))  # Kinde signs users into their default organization
    grant = Grant(
        client_id=auth.client_id,
        user=user,
        scopes=auth.scopes,
        audiences=auth.audiences,
        org_code=org_code,
        nonce=auth.nonce,
        auth_time=int(server.clock()),
    )
    code = server.stores.new_code(grant, auth.redirect_uri, auth.code_challenge)
    return _redirect(auth.redirect_uri, {"code": code, "scope": " ".join(auth.scopes), "state": auth.state}, headers)


def _error_redirect(redirect_uri: str, state: str, error: str, description: str) -> Response:
    params = {"error": error, "error_description": description}
    if state:
        params["state"] = state
    return _redirect(redirect_uri, params, {})


def _redirect(redirect_uri: str, params: dict[str, str], headers: dict[str, str]) -> Response:
    separator = "&" if "?" in redirect_uri else "?"
    location = redirect_uri + separator + urlencode(params)
    return Response(302, b"", {"Location": location, "Cache-Control": "no-store", **headers})
