"""The walk through the API: tokens from the dev issuer, then one request per rule, printed."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from ..devserver import DEFAULT_M2M_CLIENT_ID, DEFAULT_M2M_SECRET
from ..testing import DEFAULT_AUDIENCE, DEFAULT_CLIENT_ID
from .servers import DemoError, DemoIssuer, Ports, request, stop_process

__all__ = ["DEMO_EMAIL", "USER_SCOPE", "abbreviate", "redact", "say", "walk"]

DEMO_EMAIL = "demo@example.com"
USER_SCOPE = "openid email offline read:orders write:orders"
JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def abbreviate(token: str) -> str:
    """``eyJhbGciOi…`` (a token is never printed whole)."""
    return token[:10] + "…"


def redact(text: str) -> str:
    return JWT.sub(lambda m: abbreviate(m.group(0)), text)


def say(text: str = "") -> None:
    print(text, flush=True)


def play_the_browser(sign_in_url: str, user_id: str) -> None:
    """What a browser does: open the sign-in page, pick the user, follow the redirect to the callback."""
    parts = urlsplit(sign_in_url)
    port = parts.port or 80
    status, _, _, page = request(port, "GET", f"{parts.path}?{parts.query}")
    found = re.search(r'name="request_id" value="([^"]+)"', page.decode())
    if status != 200 or found is None:
        raise DemoError(f"The dev issuer's sign-in page answered {status} without a form.")
    form = urlencode({"request_id": found.group(1), "user_id": user_id}).encode()
    content = {"Content-Type": "application/x-www-form-urlencoded"}
    status, _, headers, _ = request(port, "POST", parts.path, content, form)
    callback = urlsplit(headers.get("location", ""))
    if status != 302 or callback.port is None:
        raise DemoError(f"Signing in answered {status} instead of redirecting to the callback.")
    request(callback.port, "GET", f"{callback.path}?{callback.query}")


# -- tokens ------------------------------------------------------------------------------------------


def kinde_guard(args: list[str], env: Mapping[str, str], stdin: str | None = None) -> tuple[int, str, str]:
    done = subprocess.run(  # noqa: S603 (our own command, arguments built here)
        [sys.executable, "-m", "kinde_guard", *args], input=stdin, capture_output=True, text=True, env=dict(env)
    )
    return done.returncode, done.stdout, done.stderr


def user_token(issuer: DemoIssuer, ports: Ports, env: Mapping[str, str], browser: bool) -> str:
    callback = f"http://127.0.0.1:{ports.callback}/callback"
    args = ["token", "--domain", issuer.url, "--client-id", DEFAULT_CLIENT_ID, "--audience", DEFAULT_AUDIENCE]
    args += ["--scope", USER_SCOPE, "--redirect-uri", callback, "--fresh", "--timeout", "300" if browser else "30"]
    if not browser:
        args.append("--no-browser")
    say("$ kinde-guard " + " ".join(_quoted(a) for a in args))
    if browser:
        say(f"  Your browser opens the dev issuer's sign-in page: pick {DEMO_EMAIL} (Demo User).")
    else:
        say(f"  No browser here (or ONCE=1): the demo signs in as {DEMO_EMAIL} itself, submitting the dev")
        say("  issuer's sign-in form over HTTP, as a browser would, and delivering the callback.")
    command = [sys.executable, "-m", "kinde_guard", *args]
    process = subprocess.Popen(  # noqa: S603 (our own command line)
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(env)
    )
    try:
        assert process.stderr is not None and process.stdout is not None
        for line in process.stderr:
            if line.strip():
                shown = redact(line.strip())
                say("  | " + (shown if len(shown) <= 160 else shown[:160] + "…"))
            if not browser and "/oauth2/auth?" in line:
                demo_user = next(u for u in issuer.config.users if u.email == DEMO_EMAIL)
                play_the_browser(line.strip(), demo_user.id)
        token = process.stdout.read().strip()
        process.wait(timeout=30)
    finally:
        stop_process(process)
    if process.returncode != 0 or not JWT.fullmatch(token):
        raise DemoError("`kinde-guard token` did not give a token (see its messages above).")
    say(f"  -> user access token {abbreviate(token)} ({len(token)} characters)")
    return token


def m2m_token(issuer: DemoIssuer, env: Mapping[str, str]) -> str:
    args = ["m2m", "--domain", issuer.url, "--client-id", DEFAULT_M2M_CLIENT_ID, "--client-secret"]
    args += [DEFAULT_M2M_SECRET, "--audience", DEFAULT_AUDIENCE, "--scope", "read:orders"]
    say("$ kinde-guard " + " ".join(_quoted(a) for a in args))
    code, out, err = kinde_guard(args, env)
    token = out.strip()
    if code != 0 or not JWT.fullmatch(token):
        raise DemoError(f"`kinde-guard m2m` did not give a token: {redact(err).strip()}")
    say(f"  -> M2M access token {abbreviate(token)} (scope read:orders only: no write:orders)")
    return token


def api_keys(issuer: DemoIssuer) -> tuple[str, str]:
    """Two Kinde API keys of org_dev with scope read:orders, made in the dev issuer (Kinde's
    *Organization API keys*), the second one revoked: (the key, the revoked key)."""
    say("\nKinde API keys, made in the dev issuer as you would in Kinde (the API verifies them with")
    say(f"the dev issuer's Management API, as M2M app {issuer.m2m_client_id} with scope read:api_keys):")
    key = issuer.create_api_key(scopes=["read:orders"], org_code="org_dev")
    revoked = issuer.create_api_key(scopes=["read:orders"], org_code="org_dev")
    issuer.revoke_api_key(revoked)
    say(f"  -> API key {abbreviate(key)} of org_dev (scope read:orders only: no write:orders)")
    say(f"  -> API key {abbreviate(revoked)} of org_dev, revoked")
    return key, revoked


def expired_copy(issuer: DemoIssuer, token: str) -> str:
    """The user token's claims, issued two hours ago and expired one hour ago, signed with the
    dev issuer's own key: a token the guard can only refuse for its lifetime."""
    claims = issuer.verify_own(token)
    if claims is None:
        raise DemoError("The dev issuer does not recognise the token it just issued.")
    now = int(time.time())
    return issuer.sign({**claims, "iat": now - 7200, "exp": now - 3600, "jti": str(uuid.uuid4())})


def _order_id(content: bytes) -> str | None:
    with contextlib.suppress(ValueError):
        doc = json.loads(content)
        found = doc.get("id") if isinstance(doc, dict) else None
        if isinstance(found, str):
            return found
    return None


def _quoted(arg: str) -> str:
    return f'"{arg}"' if " " in arg else arg


# -- the walk ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    title: str
    method: str
    path: str
    token: str | None
    expect: int
    show: tuple[str, ...] = ()  # response headers worth showing


def call(port: int, step: Step, number: int) -> tuple[bool, bytes]:
    say(f"\n{number}. {step.title}")
    headers = {"Authorization": f"Bearer {step.token}"} if step.token else {}
    sent = f"   Authorization: Bearer {abbreviate(step.token)}" if step.token else "   (no Authorization header)"
    body = b"{}" if step.method == "POST" else None
    if body is not None:
        headers["Content-Type"] = "application/json"
    say(f"   {step.method} {step.path}\n{sent}")
    status, reason, answer, content = request(port, step.method, step.path, headers, body)
    mark = "" if status == step.expect else f"   <- UNEXPECTED: expected {step.expect}"
    say(f"   -> {status} {reason}{mark}")
    for name in step.show:
        if name.lower() in answer:
            say(f"      {name}: {answer[name.lower()]}")
    if content:
        text = redact(content.decode("utf-8", "replace"))
        with contextlib.suppress(ValueError):
            text = json.dumps(json.loads(text), separators=(", ", ": "))
        say("      " + (text if len(text) <= 300 else text[:300] + "…"))
    return status == step.expect, content


def walk(issuer: DemoIssuer, ports: Ports, env: Mapping[str, str], browser: bool) -> bool:
    say("Getting tokens from the dev issuer, as you would from Kinde:\n")
    user = user_token(issuer, ports, env, browser)
    say()
    machine = m2m_token(issuer, env)
    expired = expired_copy(issuer, user)
    key, revoked = api_keys(issuer)
    challenge = ("WWW-Authenticate",)
    steps = [
        Step("A public route needs no token", "GET", "/public", None, 200),
        Step("A guarded route without a token: 401 and a challenge", "GET", "/me", None, 401, challenge),
        Step("The same route with the user token: 200 and the verified claims", "GET", "/me", user, 200),
        Step(
            "POST /orders needs scope write:orders; the M2M token has only read:orders: 403",
            "POST",
            "/orders",
            machine,
            403,
            challenge,
        ),
        Step("The user token has write:orders: 201, order created", "POST", "/orders", user, 201),
    ]
    ok, content = True, b""
    for number, step in enumerate(steps, 1):
        passed, content = call(ports.api, step, number)
        ok &= passed
    more: list[Step] = []
    order_id = _order_id(content)
    if order_id:
        title = "DELETE needs the permission delete:orders, which the demo user has: 204"
        more.append(Step(title, "DELETE", f"/orders/{order_id}", user, 204))
    title = "A token signed by the dev issuer but expired an hour ago: 401"
    more.append(Step(title, "GET", "/me", expired, 401, challenge))
    title = "GET /orders with the API key instead of a token: 200 (Kinde verified it; cached for 300 s)"
    more.append(Step(title, "GET", "/orders", key, 200))
    more.append(Step("The revoked API key: 401", "GET", "/orders", revoked, 401, challenge))
    title = "POST /orders needs scope write:orders; the API key has only read:orders: 403"
    more.append(Step(title, "POST", "/orders", key, 403, challenge))
    number = len(steps)
    for step in more:
        number += 1
        ok &= call(ports.api, step, number)[0]
    args = ["check", "-", "--domain", issuer.url, "--audience", DEFAULT_AUDIENCE, "--scope", "write:orders"]
    args += ["--permission", "delete:orders"]
    say(f"\n{number + 1}. `kinde-guard check`: does the user token pass a route's rules, and if not, why?")
    say("   $ echo $TOKEN | kinde-guard " + " ".join(args))
    code, out, err = kinde_guard(args, env, stdin=user)
    for line in redact(out + err).strip().splitlines():
        say("   | " + line)
    return ok and code == 0
