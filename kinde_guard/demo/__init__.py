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
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from ..devserver import default_keys_dir, load_config, load_or_create_key
from ..errors import ConfigurationError
from ..testing import DEFAULT_AUDIENCE, DEFAULT_CLIENT_ID
from .servers import (
    DOCS_CLIENT_ID,
    ROOT,
    DemoError,
    DemoIssuer,
    Ports,
    ensure_free,
    start_api,
    stop_process,
    tenant_document,
    wait_until_up,
)
from .walk import DEMO_EMAIL, USER_SCOPE, say, walk

__all__ = ["DOCS_CLIENT_ID", "main"]


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
        f'  curl -H "Authorization: Bearer $TOKEN" {base}/orders\n'
        f'  curl -H "Authorization: Bearer k_live_dev_org_reader" {base}/orders   (an API key of the dev tenant)'
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
        api = start_api(ports, issuer.url, log, (issuer.m2m_client_id, issuer.m2m_client_secret))
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
