"""The dev issuer's HTML: the sign-in page, error pages and the signed-out page. Everything
interpolated is escaped; the pages load nothing from anywhere (a strict Content-Security-Policy)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from .._issuer_http import Response
from .config import User

__all__ = ["device_code_page", "device_done_page", "error_page", "html_response", "sign_in_page", "signed_out_page"]

_STYLE = """
body{font-family:system-ui,sans-serif;background:#f5f5f7;margin:0;display:flex;justify-content:center}
main{background:#fff;margin:3rem 1rem;padding:2rem 2.5rem;border-radius:12px;max-width:30rem;
box-shadow:0 2px 12px #0001}
h1{font-size:1.4rem;margin:0 0 .5rem} .note{color:#666;font-size:.85rem}
button{display:block;width:100%;padding:.7rem;margin:.4rem 0;border:1px solid #ccc;border-radius:8px;
background:#fff;font-size:1rem;cursor:pointer;text-align:left} button.primary{background:#111;color:#fff}
input{width:100%;box-sizing:border-box;padding:.6rem;font-size:1rem;border:1px solid #ccc;border-radius:8px}
code{background:#eee;padding:.1rem .3rem;border-radius:4px;word-break:break-all}
.banner{background:#fff3cd;padding:.5rem;border-radius:6px;font-size:.8rem;margin-bottom:1rem}
"""

_BANNER = '<div class="banner">kinde-guard dev issuer: for development and tests only.</div>'


def html_response(status: int, body: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status,
        body.encode("utf-8"),
        {
            "Content-Type": "text/html; charset=utf-8",
            "Cache-Control": "no-store",
            "X-Frame-Options": "DENY",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
            **(headers or {}),
        },
    )


def _page(title: str, content: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{_STYLE}</style></head>'
        f"<body><main>{_BANNER}{content}</main></body></html>"
    )


def sign_in_page(
    *,
    request_id: str,
    client_name: str,
    users: Sequence[User],
    login_hint: str,
    create: bool,
    audiences: Sequence[str],
    action: str = "/oauth2/auth",
) -> str:
    """Pick a demo user or type an email (no passwords): the form posts back to ``action``."""
    rid = f'<input type="hidden" name="request_id" value="{escape(request_id)}">'
    buttons = "".join(
        f'<button type="submit" name="user_id" value="{escape(u.id)}" data-email="{escape(u.email)}">'
        f"{escape(u.name)} <span class=note>{escape(u.email)}</span></button>"
        for u in users
    )
    api_note = f"<p class=note>API: {escape(' '.join(audiences))}</p>" if audiences else ""
    heading = "Create an account" if create else "Sign in"
    content = (
        f"<h1>{heading}</h1><p>to continue to <b>{escape(client_name)}</b></p>{api_note}"
        f'<form method="post" action="{escape(action)}" id="users">{rid}{buttons}</form>'
        f'<form method="post" action="{escape(action)}" id="email-form">{rid}'
        f'<label for="email">Or use any email address</label>'
        f'<input id="email" name="email" type="email" required value="{escape(login_hint)}">'
        f'<button type="submit" class="primary" id="continue">Continue</button></form>'
        f'<form method="post" action="{escape(action)}" id="cancel-form">{rid}'
        f'<button type="submit" name="cancel" value="1" id="cancel">Cancel</button></form>'
        f"<p class=note>No password: this is a local test issuer.</p>"
    )
    return _page(heading, content)


def error_page(title: str, message: str, detail: str = "") -> str:
    extra = f"<p><code>{escape(detail)}</code></p>" if detail else ""
    return _page(title, f"<h1>{escape(title)}</h1><p>{escape(message)}</p>{extra}")


def signed_out_page() -> str:
    return _page("Signed out", "<h1>Signed out</h1><p>You can close this tab.</p>")


def device_code_page(user_code: str, message: str = "") -> str:
    """RFC 8628's verification page: type the code the device shows (the complete URL pre-fills it)."""
    note = f"<p><b>{escape(message)}</b></p>" if message else ""
    check = "<p class=note>Check that it is the code your device shows.</p>" if user_code else ""
    content = (
        f"<h1>Connect a device</h1>{note}<p>Enter the code shown on your device.</p>"
        f'<form method="post" action="/device" id="device-form"><label for="user_code">Code</label>'
        f'<input id="user_code" name="user_code" required autocomplete="off" value="{escape(user_code)}">'
        f'{check}<button type="submit" class="primary" id="continue">Continue</button></form>'
    )
    return _page("Connect a device", content)


def device_done_page(approved: bool, client_name: str) -> str:
    if approved:
        return _page(
            "Device connected",
            f"<h1>Device connected</h1><p>{escape(client_name)} is signed in. You can close this tab "
            "and return to your device.</p>",
        )
    return _page("Device not connected", "<h1>Device not connected</h1><p>The sign-in was cancelled.</p>")
