"""``make demo``: the dev issuer, ``examples/fastapi_app`` guarded by it, and a walk through the API.

Run from the repository checkout (``examples/`` is not part of the installed package)::

    .venv/bin/python -m kinde_guard.demo           # walk through, then keep both servers up until Ctrl-C
    .venv/bin/python -m kinde_guard.demo --once    # walk through and exit (ONCE=1 does the same)

The user token comes from the real Authorization Code + PKCE flow (``kinde-guard token``). With a
display and without ``--once`` the browser opens and you sign in; otherwise the demo plays the
browser itself: it submits the dev issuer's sign-in form over HTTP as demo@example.com, and says so.

Ports (127.0.0.1 only): ``DEMO_ISSUER_PORT`` (53181), ``DEMO_API_PORT`` (8000) and
``DEMO_CALLBACK_PORT`` (53180, the token helper's loopback callback), or the matching flags.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from ._issuer_http import Request, Response
from .devserver import (
    DEFAULT_M2M_CLIENT_ID,
    DEFAULT_M2M_SECRET,
    KindeDevIssuer,
    default_config_document,
    default_keys_dir,
    load_config,
    load_or_create_key,
)
from .errors import ConfigurationError
from .testing import DEFAULT_AUDIENCE, DEFAULT_CLIENT_ID

__all__ = ["DOCS_CLIENT_ID", "main"]

ROOT = Path(__file__).resolve().parent.parent
#: The public application Swagger UI's *Authorize* button signs in with.
DOCS_CLIENT_ID = "kinde-guard-demo-docs"
DEMO_EMAIL = "demo@example.com"
USER_SCOPE = "openid email offline read:orders write:orders"
JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


class DemoError(Exception):
    """The demo cannot go on; the message says why and what to do."""


def abbreviate(token: str) -> str:
    """``eyJhbGciOi…`` (a token is never printed whole)."""
    return token[:10] + "…"


def redact(text: str) -> str:
    return JWT.sub(lambda m: abbreviate(m.group(0)), text)


def say(text: str = "") -> None:
    print(text, flush=True)


# -- the dev issuer ----------------------------------------------------------------------------------


class DemoIssuer(KindeDevIssuer):
    """The dev issuer plus CORS on the token endpoint for Swagger UI's origin, as Kinde's
    *Allowed origins* setting does: Swagger UI exchanges the code from the browser."""

    def __init__(self, *args: Any, origins: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.origins = origins

    def handle(self, request: Request) -> Response:
        origin = request.headers.get("Origin") or ""
        cors = request.path == "/oauth2/token" and origin in self.origins
        if cors and request.method == "OPTIONS":
            asked = request.headers.get("Access-Control-Request-Headers") or "Content-Type"
            headers = {"Access-Control-Allow-Methods": "POST", "Access-Control-Allow-Headers": asked}
            return Response(204, b"", {"Access-Control-Allow-Origin": origin, "Vary": "Origin", **headers})
        response = super().handle(request)
        if cors:
            response.headers.update({"Access-Control-Allow-Origin": origin, "Vary": "Origin"})
        return response


def tenant_document(api_port: int, callback: str) -> dict[str, Any]:
    """The built-in tenant, with the token helper's callback and a client for Swagger UI."""
    doc = default_config_document()
    for client in doc["clients"]:
        if client["client_id"] == DEFAULT_CLIENT_ID:
            client["redirect_uris"] = [callback]
    docs_redirects = [f"http://{host}:{api_port}/docs/oauth2-redirect" for host in ("127.0.0.1", "localhost")]
    doc["clients"].append(
        {
            "client_id": DOCS_CLIENT_ID,
            "type": "public",
            "name": "Orders API docs (Swagger UI)",
            "redirect_uris": docs_redirects,
            "apis": [DEFAULT_AUDIENCE],
        }
    )
    return doc


# -- ports and processes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Ports:
    issuer: int
    api: int
    callback: int


def ensure_free(port: int, what: str, variable: str) -> None:
    with socket.socket() as probe:
        # SO_REUSEADDR like the servers themselves: a socket lingering in TIME_WAIT is not "in use".
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise DemoError(
                f"Port {port} on 127.0.0.1 ({what}) is already in use: stop what is using it, "
                f"or pick another port: `{variable}=<port> make demo`."
            ) from None


def start_api(ports: Ports, issuer_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINDE_")}
    env.update(KINDE_DOMAIN=issuer_url, KINDE_AUDIENCE=DEFAULT_AUDIENCE, KINDE_CLIENT_ID=DOCS_CLIENT_ID)
    command = [sys.executable, "-m", "uvicorn", "examples.fastapi_app.app:app", "--host", "127.0.0.1"]
    command += ["--port", str(ports.api), "--log-level", "warning"]
    with log.open("wb") as out:
        # A session of its own: Ctrl-C reaches the demo, which then stops uvicorn itself.
        return subprocess.Popen(  # noqa: S603 (our own command line)
            command, cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True
        )


def wait_until_up(api: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if api.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-5:]
            if any("address already in use" in line.lower() for line in tail):
                ensure_free(port, "the API", "DEMO_API_PORT")
            raise DemoError("The API did not start:\n  " + "\n  ".join(tail))
        with contextlib.suppress(OSError):
            if request(port, "GET", "/healthz")[0] == 200:
                return
        time.sleep(0.1)
    raise DemoError(f"The API did not answer on 127.0.0.1:{port} within 30 s; see {log}.")


def stop_process(process: subprocess.Popen[Any] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# -- HTTP --------------------------------------------------------------------------------------------


def request(
    port: int, method: str, path: str, headers: Mapping[str, str] | None = None, body: bytes | None = None
) -> tuple[int, str, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}))
        answer = conn.getresponse()
        return answer.status, answer.reason, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        conn.close()


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
    order_id = _order_id(content)
    if order_id:
        title = "DELETE needs the permission delete:orders, which the demo user has: 204"
        ok &= call(ports.api, Step(title, "DELETE", f"/orders/{order_id}", user, 204), len(steps) + 1)[0]
    title = "A token signed by the dev issuer but expired an hour ago: 401"
    ok &= call(ports.api, Step(title, "GET", "/me", expired, 401, challenge), len(steps) + 2)[0]
    args = ["check", "-", "--domain", issuer.url, "--audience", DEFAULT_AUDIENCE, "--scope", "write:orders"]
    args += ["--permission", "delete:orders"]
    say(f"\n{len(steps) + 3}. `kinde-guard check`: does the user token pass a route's rules, and if not, why?")
    say("   $ echo $TOKEN | kinde-guard " + " ".join(args))
    code, out, err = kinde_guard(args, env, stdin=user)
    for line in redact(out + err).strip().splitlines():
        say("   | " + line)
    return ok and code == 0


def keep_serving(api: subprocess.Popen[bytes], issuer: DemoIssuer, ports: Ports, log: Path) -> None:
    base = f"http://127.0.0.1:{ports.api}"
    redirect = "" if ports.callback == 53180 else f" --redirect-uri http://127.0.0.1:{ports.callback}/callback"
    say(
        "\nBoth servers keep running; Ctrl-C stops them.\n"
        f"  API          {base}   (uvicorn log: {log})\n"
        f"  Swagger UI   {base}/docs   Authorize: tick the scopes, sign in as {DEMO_EMAIL}, try the routes\n"
        f"  dev issuer   {issuer.url}   ({issuer.url}/.well-known/openid-configuration)\n"
        "Call the API yourself:\n"
        f"  TOKEN=$(.venv/bin/kinde-guard token --domain {issuer.url} --client-id {DEFAULT_CLIENT_ID} "
        f'--audience {DEFAULT_AUDIENCE} --scope "{USER_SCOPE}"{redirect})\n'
        f'  curl -H "Authorization: Bearer $TOKEN" {base}/orders'
    )
    while api.poll() is None:
        time.sleep(0.5)
    raise DemoError(f"The API stopped unexpectedly (exit status {api.returncode}); see {log}.")


# -- main --------------------------------------------------------------------------------------------


def _has_browser() -> bool:
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _parse(argv: list[str] | None) -> argparse.Namespace:
    env = os.environ
    parser = argparse.ArgumentParser(prog="python -m kinde_guard.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--once", action="store_true", help="walk through and exit (env ONCE=1)")
    parser.add_argument("--no-browser", action="store_true", help="sign in by submitting the form, no browser")
    parser.add_argument("--issuer-port", type=int, default=int(env.get("DEMO_ISSUER_PORT") or 53181))
    parser.add_argument("--api-port", type=int, default=int(env.get("DEMO_API_PORT") or 8000))
    parser.add_argument("--callback-port", type=int, default=int(env.get("DEMO_CALLBACK_PORT") or 53180))
    parser.add_argument("--keys-dir", default=None, help="the dev issuer's key (default: the dev issuer's own)")
    args = parser.parse_args(argv)
    args.once = args.once or env.get("ONCE", "") not in ("", "0")
    return args


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM stops the demo the way Ctrl-C does (cleanly, both servers down)."""

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(args: argparse.Namespace) -> int:
    ports = Ports(args.issuer_port, args.api_port, args.callback_port)
    if not (ROOT / "examples" / "fastapi_app" / "app.py").is_file():
        raise DemoError(f"examples/fastapi_app is not in {ROOT}: run the demo from the repository checkout.")
    ensure_free(ports.issuer, "the dev issuer", "DEMO_ISSUER_PORT")
    ensure_free(ports.api, "the API", "DEMO_API_PORT")
    ensure_free(ports.callback, "the token helper's sign-in callback", "DEMO_CALLBACK_PORT")
    browser = _has_browser() and not args.once and not args.no_browser
    work = Path(tempfile.mkdtemp(prefix="kinde-guard-demo-"))
    api: subprocess.Popen[bytes] | None = None
    issuer: DemoIssuer | None = None
    try:
        tenant = work / "tenant.json"
        tenant.write_text(json.dumps(tenant_document(ports.api, f"http://127.0.0.1:{ports.callback}/callback")))
        key = load_or_create_key(args.keys_dir or default_keys_dir())
        origins = tuple(f"http://{host}:{ports.api}" for host in ("127.0.0.1", "localhost"))
        issuer = DemoIssuer(load_config(tenant), key=key, origins=origins)
        try:
            issuer.serve(ports.issuer)
        except OSError:
            ensure_free(ports.issuer, "the dev issuer", "DEMO_ISSUER_PORT")
            raise
        log = work / "api.log"
        api = start_api(ports, issuer.url, log)
        wait_until_up(api, ports.api, log)
        say(f"kinde_guard demo: dev issuer {issuer.url} (development only), API http://127.0.0.1:{ports.api}\n")
        # The token commands keep their cache in the demo's directory, not in yours.
        env = {**os.environ, "XDG_CACHE_HOME": str(work / "cache"), "PYTHONUNBUFFERED": "1"}
        ok = walk(issuer, ports, env, browser)
        say("\nThe walkthrough went as expected." if ok else "\nThe walkthrough did NOT go as expected (see above).")
        if args.once or not ok:
            return 0 if ok else 1
        keep_serving(api, issuer, ports, log)
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the shutdown short
        stop_process(api)
        if issuer is not None:
            issuer.stop()
        shutil.rmtree(work, ignore_errors=True)
        if api is not None:
            say("Stopped the API and the dev issuer.")


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    try:
        with _terminate_as_interrupt():
            return run(args)
    except KeyboardInterrupt:
        return 0
    except (DemoError, ConfigurationError) as exc:
        print(f"kinde_guard demo: {exc}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
