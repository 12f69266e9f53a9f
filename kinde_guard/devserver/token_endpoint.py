"""``/oauth2/token`` (authorization_code with PKCE, refresh_token, client_credentials, the device
code grant of RFC 8628) and ``/oauth2/revoke``. Errors are RFC 6749 §5.2 JSON: ``{"error": ..., "error_description": ...}``."""

from __future__ import annotations

import base64
import binascii
import hmac
from urllib.parse import unquote

from .._issuer_http import Request, Response, json_response
from ..cli.pkce import verify_s256
from . import device
from .config import SECRETLESS_TYPES, Client
from .protocol import AuthorizationServer

__all__ = ["handle", "revoke"]


class _TokenError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


def handle(server: AuthorizationServer, request: Request) -> Response:
    form = request.form()
    try:
        client = _authenticate_client(server, request, form)
        grant_type = form.get("grant_type", "")
        if grant_type == "authorization_code":
            body = _authorization_code(server, client, form)
        elif grant_type == "refresh_token":
            body = _refresh_token(server, client, form)
        elif grant_type == "client_credentials":
            body = _client_credentials(server, client, form)
        elif grant_type == device.DEVICE_CODE_GRANT:
            body = _device_code(server, client, form)
        else:
            raise _TokenError("unsupported_grant_type", f"grant_type {grant_type!r} is not supported.")
    except _TokenError as exc:
        headers = {"WWW-Authenticate": 'Basic realm="kinde-dev-issuer"'} if exc.status == 401 else {}
        return json_response(exc.status, {"error": exc.error, "error_description": exc.description}, headers)
    return json_response(200, body, {"Pragma": "no-cache"})


def revoke(server: AuthorizationServer, request: Request) -> Response:
    """RFC 7009: revoke a refresh token; unknown tokens are answered 200 as well."""
    form = request.form()
    try:
        client = _authenticate_client(server, request, form)
    except _TokenError as exc:
        return json_response(exc.status, {"error": exc.error, "error_description": exc.description})
    grant = server.stores.take_refresh_token(form.get("token", ""))
    if grant is not None and grant.client_id != client.client_id:
        server.stores.new_refresh_token(grant)  # not this client's token: leave it alone
    return json_response(200, {})


def _authenticate_client(server: AuthorizationServer, request: Request, form: dict[str, str]) -> Client:
    client_id, secret = form.get("client_id", ""), form.get("client_secret")
    auth = request.headers.get("Authorization") or ""
    if auth[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise _TokenError("invalid_client", "The Basic credentials are malformed.", 401) from None
        basic_id, _, basic_secret = decoded.partition(":")
        client_id, secret = unquote(basic_id), unquote(basic_secret)
    client = server.config.clients.get(client_id)
    if client is None:
        raise _TokenError("invalid_client", f"Unknown client_id {client_id!r}.", 401)
    if client.type not in SECRETLESS_TYPES:
        expected = client.client_secret or ""
        if secret is None or not hmac.compare_digest(secret.encode(), expected.encode()):
            raise _TokenError("invalid_client", "Client authentication failed: wrong or missing client_secret.", 401)
    return client


def _authorization_code(server: AuthorizationServer, client: Client, form: dict[str, str]) -> dict[str, object]:
    if client.type == "m2m":
        raise _TokenError("unauthorized_client", "A machine-to-machine application cannot redeem codes.")
    # The code is removed at the first attempt, whatever its outcome (RFC 6749 §4.1.2: one use).
    record = server.stores.take_code(form.get("code", ""))
    if record is None:
        raise _TokenError("invalid_grant", "The authorization code is unknown, already used or expired.")
    if record.grant.client_id != client.client_id:
        raise _TokenError("invalid_grant", "The authorization code was issued to another client.")
    if form.get("redirect_uri") != record.redirect_uri:
        raise _TokenError("invalid_grant", "redirect_uri does not match the one of the authorization request.")
    if record.code_challenge is not None:
        verifier = form.get("code_verifier")
        if not verifier:
            raise _TokenError("invalid_grant", "code_verifier is required: the authorization used PKCE.")
        if not verify_s256(verifier, record.code_challenge):
            raise _TokenError("invalid_grant", "code_verifier does not match the code_challenge (PKCE S256).")
    return server.user_token_response(record.grant)


def _refresh_token(server: AuthorizationServer, client: Client, form: dict[str, str]) -> dict[str, object]:
    grant = server.stores.take_refresh_token(form.get("refresh_token", ""))
    if grant is None:
        raise _TokenError("invalid_grant", "The refresh token is unknown, revoked or already used.")
    if grant.client_id != client.client_id:
        server.stores.new_refresh_token(grant)
        raise _TokenError("invalid_grant", "The refresh token was issued to another client.")
    return server.user_token_response(grant)


def _client_credentials(server: AuthorizationServer, client: Client, form: dict[str, str]) -> dict[str, object]:
    if client.type != "m2m":
        raise _TokenError("unauthorized_client", "Only machine-to-machine applications may use client_credentials.")
    audiences = tuple(dict.fromkeys(form.get("audience", "").split())) or client.apis[:1]
    for audience in audiences:
        if audience not in client.apis:
            raise _TokenError("invalid_target", f"The application is not authorized for the API {audience!r}.")
    allowed = [s for s in client.scopes if any(s in server.config.apis[a].scopes for a in audiences)]
    asked = form.get("scope", "").split()
    refused = [s for s in asked if s not in allowed]
    if refused:
        raise _TokenError("invalid_scope", f"Scope not granted to this application: {' '.join(refused)}.")
    return server.m2m_token_response(client, audiences, asked or allowed)


def _device_code(server: AuthorizationServer, client: Client, form: dict[str, str]) -> dict[str, object]:
    try:
        return device.poll(server, client, form)
    except device.DeviceGrantError as exc:
        raise _TokenError(exc.error, exc.description, exc.status) from None
