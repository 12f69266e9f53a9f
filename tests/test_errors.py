"""Errors render RFC 6750 challenges and JSON bodies, escaped, without the token."""

from __future__ import annotations

import json

from kinde_guard import InsufficientScopeError, InvalidTokenError, JWKSError, MissingTokenError
from kinde_guard.responses import render_error


def test_missing_token_gets_a_bare_challenge() -> None:
    assert MissingTokenError().www_authenticate("api") == 'Bearer realm="api"'


def test_quotes_and_backslashes_are_escaped_and_controls_dropped() -> None:
    err = InvalidTokenError('bad "exp" \\ claim\r\nX-Injected: 1')
    assert err.www_authenticate('my "realm"') == (
        'Bearer realm="my \\"realm\\"", error="invalid_token", error_description="bad \\"exp\\" \\\\ claimX-Injected: 1"'
    )


def test_insufficient_scope_carries_the_scopes() -> None:
    err = InsufficientScopeError("needs more", required_scopes=["read:orders", "write:orders"])
    assert err.status_code == 403
    assert err.www_authenticate("api").endswith('scope="read:orders write:orders"')


def test_render_error_gives_json_and_headers() -> None:
    rendered = render_error(InvalidTokenError("nope"), realm="orders")
    headers = dict(rendered.headers)
    assert rendered.status == 401
    assert json.loads(rendered.body) == {"error": "invalid_token", "error_description": "nope"}
    assert headers["www-authenticate"] == 'Bearer realm="orders", error="invalid_token", error_description="nope"'
    assert headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(rendered.body)


def test_jwks_error_is_503_with_retry_after() -> None:
    rendered = render_error(JWKSError("down", retry_after=12))
    headers = dict(rendered.headers)
    assert rendered.status == 503 and headers["retry-after"] == "12"
    assert json.loads(rendered.body)["error"] == "temporarily_unavailable"
