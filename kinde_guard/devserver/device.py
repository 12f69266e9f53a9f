"""The device authorization flow (RFC 8628) as Kinde runs it for *Device and IoT* applications.

``POST /oauth2/device/auth`` hands a device a ``device_code`` and a ``user_code``; on ``/device``
the user types the code (``verification_uri_complete`` pre-fills it) and signs in with the sign-in
page; meanwhile the device polls ``/oauth2/token`` with the device-code grant (:func:`poll`), which
answers ``authorization_pending``, ``slow_down`` (polled sooner than the interval), ``access_denied``,
``expired_token``, or the tokens once. Only clients of type ``device`` may use it.
"""

from __future__ import annotations

from urllib.parse import urlencode

from .._issuer_http import Request, Response, json_response
from .authorize import OIDC_SCOPES
from .config import Client, user_for_email
from .pages import device_code_page, device_done_page, error_page, html_response, sign_in_page
from .protocol import AuthorizationServer
from .records import DeviceRecord, Grant

__all__ = ["DEVICE_CODE_GRANT", "DeviceGrantError", "authorize_device", "poll", "sign_in", "verification_page"]

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


class DeviceGrantError(Exception):
    """An RFC 6749 §5.2 error of the device flow: ``error`` and its description."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


def _device_client(server: AuthorizationServer, client_id: str) -> Client:
    client = server.config.clients.get(client_id)
    if client is None:
        raise DeviceGrantError("invalid_client", f"Unknown client_id {client_id!r}.", 401)
    if client.type != "device":
        raise DeviceGrantError(
            "unauthorized_client",
            f'{client.client_id!r} is not a Device and IoT application: declare it with "type": "device".',
        )
    return client


def authorize_device(server: AuthorizationServer, request: Request) -> Response:
    """``POST /oauth2/device/auth``: ``client_id``, ``scope``, ``audience`` → the codes (RFC 8628 §3.2)."""
    form = request.form()
    try:
        client = _device_client(server, form.get("client_id", ""))
        audiences = tuple(dict.fromkeys(form.get("audience", "").split()))
        for audience in audiences:
            if audience not in client.apis:
                raise DeviceGrantError(
                    "invalid_request", f"audience {audience!r} is not an API this application may use."
                )
    except DeviceGrantError as exc:
        return json_response(exc.status, {"error": exc.error, "error_description": exc.description})
    api_scopes = {s for a in audiences for s in server.config.apis[a].scopes}
    scopes = tuple(dict.fromkeys(s for s in form.get("scope", "").split() if s in OIDC_SCOPES or s in api_scopes))
    config = server.config
    record = DeviceRecord(
        client_id=client.client_id,
        user_code="",
        scopes=scopes,
        audiences=audiences,
        expires_at=server.clock() + config.device_code_lifetime,
        interval=config.device_interval,
    )
    device_code = server.stores.new_device(record)
    stored = server.stores.device(device_code)
    user_code = stored.user_code if stored is not None else ""
    verification_uri = f"{server.issuer}/device"
    body = {
        "device_code": device_code,
        "user_code": user_code,
        "verification_uri": verification_uri,
        "verification_uri_complete": f"{verification_uri}?{urlencode({'user_code': user_code})}",
        "expires_in": config.device_code_lifetime,
        "interval": config.device_interval,
    }
    return json_response(200, body, {"Pragma": "no-cache"})


def verification_page(server: AuthorizationServer, request: Request) -> Response:
    """``GET /device`` (the code form, pre-filled by ``?user_code=``) and ``POST /device`` (the
    code typed: the sign-in page for it)."""
    if request.method == "GET":
        return html_response(200, device_code_page(request.arg("user_code") or ""))
    typed = request.form().get("user_code", "")
    record = server.stores.waiting_device(typed)
    if record is None:
        return html_response(400, device_code_page(typed, "This code is unknown, used or expired."))
    client = server.config.clients[record.client_id]
    page = sign_in_page(
        request_id=server.stores.new_device_sign_in(record.user_code),
        client_name=client.name,
        users=server.config.users,
        login_hint="",
        create=False,
        audiences=record.audiences,
        action="/device/sign-in",
    )
    return html_response(200, page)


def sign_in(server: AuthorizationServer, request: Request) -> Response:
    """``POST /device/sign-in``: the user picked (approve) or cancelled (deny) on the sign-in page."""
    form = request.form()
    request_id = form.get("request_id", "")
    grant = None
    if not form.get("cancel"):
        if form.get("user_id"):
            user = server.config.user(form["user_id"])
            if user is None:
                return html_response(400, error_page("Unknown user", "No such demo user."))
        elif "@" in form.get("email", ""):
            user = user_for_email(form["email"].strip(), server.config.users)
        else:
            return html_response(400, error_page("Email required", "Pick a user or type an email address."))
        grant = Grant(
            client_id="",  # filled in from the device record below
            user=user,
            scopes=(),
            audiences=(),
            org_code=next(iter(user.organizations), None),  # Kinde signs users into their default organization
            nonce=None,
            auth_time=int(server.clock()),
        )
    decided = server.stores.finish_device_sign_in(request_id, grant)
    if decided is None:
        return html_response(
            400, error_page("Sign-in expired", "This device sign-in is unknown, used or expired; start again.")
        )
    return html_response(200, device_done_page(grant is not None, server.config.clients[decided.client_id].name))


def poll(server: AuthorizationServer, client: Client, form: dict[str, str]) -> dict[str, object]:
    """The device-code grant at ``/oauth2/token`` (RFC 8628 §3.4-3.5); DeviceGrantError when no token."""
    if client.type != "device":
        raise DeviceGrantError("unauthorized_client", "Only Device and IoT applications may use the device code grant.")
    outcome, record = server.stores.poll_device(form.get("device_code", ""), client.client_id)
    if outcome == "approved" and record is not None and record.grant is not None:
        grant = record.grant
        full = Grant(
            client_id=record.client_id,
            user=grant.user,
            scopes=record.scopes,
            audiences=record.audiences,
            org_code=grant.org_code,
            nonce=None,
            auth_time=grant.auth_time,
        )
        return server.user_token_response(full)
    errors = {
        "unknown": ("invalid_grant", "The device code is unknown, already used or not this client's."),
        "expired": ("expired_token", "The device code expired; start the device flow again."),
        "denied": ("access_denied", "The user cancelled the sign-in."),
        "slow_down": ("slow_down", "Polled sooner than the interval; poll 5 seconds less often."),
        "pending": ("authorization_pending", "The user has not signed in yet."),
    }
    raise DeviceGrantError(*errors.get(outcome, errors["unknown"]))
