"""The whole sign-in in a real headless browser: `kinde-guard token` opens Debian's chromium itself
through $BROWSER, the test clicks the demo user on the dev issuer's page over CDP (Playwright's
connect_over_cdp; no `playwright install`), and the command prints a token the guard accepts.

Chromium is installed with apt-get when missing. Without a browser this test fails; it never skips.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from kinde_guard.devserver import KindeDevIssuer
from kinde_guard.devserver.config import parse_config
from kinde_guard.testing import DEFAULT_AUDIENCE, DEFAULT_CLIENT_ID
from tests.system_tools import debian_tool

DEMO = "kp_de700000000000000000000000000001"
CHROMIUM_FLAGS = (
    "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking "
    "--disable-component-update --disable-sync"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, installed when missing; the test fails if it cannot be had."""
    return debian_tool("chromium")


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


@pytest.fixture
def browser_script(chromium: str, tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A $BROWSER script starting headless chromium with a CDP port; chromium is stopped afterwards."""
    port, pidfile = free_port(), tmp_path / "chromium.pid"
    script = tmp_path / "open-in-headless-chromium"
    script.write_text(
        "#!/bin/sh\n"
        f'"{chromium}" {CHROMIUM_FLAGS} --user-data-dir="{tmp_path / "profile"}" '
        f'--remote-debugging-port={port} "$1" </dev/null >"{tmp_path / "chromium.log"}" 2>&1 &\n'
        f'echo $! > "{pidfile}"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    yield script, port
    if pidfile.exists():
        pid = int(pidfile.read_text())
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def wait_for_cdp(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", "/json/version")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
        finally:
            conn.close()
    pytest.fail(f"chromium's DevTools endpoint on port {port} did not come up within {timeout:g} s")


@pytest.mark.timeout(900)  # the first run may install chromium with apt-get
def test_token_command_signs_in_through_headless_chromium(
    rsa_keys: list[rsa.RSAPrivateKey], browser_script: tuple[Path, int], tmp_path: Path
) -> None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright's Python package is missing: pip install -e '.[dev]' (never `playwright install`).")
    script, cdp_port = browser_script
    callback = f"http://127.0.0.1:{free_port()}/callback"
    doc = {"clients": [{"client_id": DEFAULT_CLIENT_ID, "redirect_uris": [callback], "apis": [DEFAULT_AUDIENCE]}]}
    with KindeDevIssuer(parse_config(doc), key=rsa_keys[0]).serve() as issuer:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KINDE_") and k != "DISPLAY"}
        env.update(BROWSER=str(script), XDG_CACHE_HOME=str(tmp_path / "cache"))
        argv = [sys.executable, "-m", "kinde_guard", "token", "--domain", issuer.url, "--client-id", DEFAULT_CLIENT_ID]
        argv += ["--audience", DEFAULT_AUDIENCE, "--scope", "openid email offline read:orders"]
        argv += ["--redirect-uri", callback, "--timeout", "90"]
        with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as proc:
            try:
                wait_for_cdp(cdp_port)
                with sync_playwright() as pw:
                    browser = pw.chromium.connect_over_cdp(f"http://127.0.0.1:{cdp_port}")
                    try:
                        deadline = time.monotonic() + 30
                        pages = []
                        while not pages and time.monotonic() < deadline:
                            pages = [p for c in browser.contexts for p in c.pages if "/oauth2/auth" in p.url]
                            time.sleep(0.1)
                        assert pages, "the command did not open the sign-in page in the browser"
                        page = pages[0]
                        page.wait_for_selector("button[name=user_id]", timeout=30_000)
                        assert "Sign in" in page.title()
                        page.screenshot(path=str(tmp_path / "sign-in.png"))
                        page.click(f"button[value={DEMO}]")
                        page.wait_for_url(callback + "?*", timeout=30_000)
                        page.wait_for_selector("text=You can close this tab", timeout=30_000)
                    finally:
                        browser.close()
                out, err = proc.communicate(timeout=60)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate()
        assert proc.returncode == 0, err
        claims = issuer.guard().verify(out.strip(), scopes=["read:orders"], permissions=["delete:orders"])
        assert claims.sub == DEMO and claims.azp == DEFAULT_CLIENT_ID
        assert "Opening your browser" in err and out.strip() not in err
