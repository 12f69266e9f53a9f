"""Swagger UI works without internet: examples/fastapi_app's /docs (and `make demo`'s, which serves
that app) rendered in a real headless chromium whose every request to a host other than loopback
fails, as offline. The assertions are on the rendered page (the Authorize button, the sign-in
dialog, a signed-in call), and on the requests the page made: none left the machine.

Chromium comes from Debian (installed when missing) and is driven over CDP with Playwright, as in
tests/test_browser_flow.py; without a browser these tests fail, they never skip.
"""

from __future__ import annotations

import ipaddress
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from kinde_guard.testing import DevIssuer
from tests.servers import import_app, serve_asgi
from tests.test_browser_flow import browser_script, chromium, wait_for_cdp  # noqa: F401 (fixtures)
from tests.test_demo import running_demo  # noqa: F401 (fixture)

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page, Route

AUDIENCE = "https://api.orders.example"
CLIENT_ID = "cid_swagger_offline"
DEMO_USER = "kp_de700000000000000000000000000001"


def is_loopback(url: str) -> bool:
    """True for URLs that stay on this machine (data: and blob: URLs have no host at all)."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Offline:
    """A browser context where a request to any host but loopback fails, as with no internet."""

    def __init__(self, context: BrowserContext) -> None:
        self.context = context
        self.requested: list[str] = []  # every URL the pages asked for, in order
        self.refused: list[str] = []  # those that would have left the machine
        context.on("request", lambda request: self.requested.append(request.url))
        context.route("**/*", self._route)

    def _route(self, route: Route) -> None:
        if is_loopback(route.request.url):
            route.continue_()
        else:
            self.refused.append(route.request.url)
            route.abort("internetdisconnected")

    def elsewhere(self) -> list[str]:
        """The URLs off this machine that were asked for (each once)."""
        return list(dict.fromkeys(url for url in self.requested + self.refused if not is_loopback(url)))


@pytest.fixture
def offline(browser_script: tuple[Path, int]) -> Iterator[Offline]:  # noqa: F811 (the fixture imported above)
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        pytest.fail("Playwright's Python package is missing: pip install -e '.[dev]' (never `playwright install`).")
    script, cdp_port = browser_script
    subprocess.run([str(script), "about:blank"], check=True, timeout=30)  # starts chromium, in the background
    wait_for_cdp(cdp_port)
    with sync_playwright() as pw:
        browser = pw.chromium.connect_over_cdp(f"http://127.0.0.1:{cdp_port}")
        try:
            context = browser.new_context()
            context.set_default_timeout(30_000)
            expect.set_options(timeout=30_000)  # a shared 2-core machine: more than the default 5 s
            yield Offline(context)
        finally:
            browser.close()


def open_docs(offline: Offline, base_url: str) -> Page:
    """/docs, rendered: Swagger UI has drawn the operations and its Authorize button."""
    from playwright.sync_api import expect

    page = offline.context.new_page()
    page.goto(base_url + "/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Orders API")
    expect(page.locator(".opblock-summary-path", has_text="/orders").first).to_be_visible()
    expect(page.get_by_role("button", name="Authorize")).to_be_visible()
    return page


@pytest.fixture(scope="module")
def issuer() -> Iterator[DevIssuer]:
    with DevIssuer(audience=AUDIENCE).serve() as served:
        yield served


@pytest.fixture(scope="module")
def example_url(issuer: DevIssuer) -> Iterator[str]:
    env = {"KINDE_DOMAIN": issuer.url, "KINDE_AUDIENCE": AUDIENCE, "KINDE_CLIENT_ID": CLIENT_ID}
    with serve_asgi(import_app("examples.fastapi_app.app", env)) as url:
        yield url


@pytest.mark.timeout(900)  # the first run may install chromium with apt-get
def test_example_docs_render_offline_with_the_authorize_button(
    offline: Offline, example_url: str, issuer: DevIssuer
) -> None:
    from playwright.sync_api import expect

    page = open_docs(offline, example_url)
    page.get_by_role("button", name="Authorize").click()
    dialog = page.locator(".modal-ux")
    expect(dialog).to_be_visible()
    # swagger_ui_init_oauth reached the dialog: the client id is filled in, the flow is PKCE.
    expect(dialog.get_by_label("client_id:")).to_have_value(CLIENT_ID)
    expect(dialog).to_contain_text("authorizationCode with PKCE")
    expect(dialog).to_contain_text(issuer.url + "/oauth2/auth")
    expect(dialog).to_contain_text("read:orders")
    assert offline.elsewhere() == []
    assert any(url.endswith("/docs-assets/swagger-ui-bundle.js") for url in offline.requested)


REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.mark.timeout(900)
def test_example_redoc_renders_offline_without_its_decorative_logo(offline: Offline, example_url: str) -> None:
    from playwright.sync_api import expect

    page = offline.context.new_page()
    page.goto(example_url + "/redoc")
    expect(page.locator("h1", has_text="Orders API")).to_be_visible()
    expect(page.get_by_role("menuitem").filter(has_text="List Orders")).to_be_visible()
    # ReDoc's one outside request is the Redocly logo in its footer, hard-coded in redoc.standalone.js;
    # it drops the image when that fails, as it does offline.
    assert offline.elsewhere() == [REDOCLY_LOGO]
    expect(page.get_by_alt_text("redocly logo")).to_have_count(0)


@pytest.mark.timeout(900)
def test_demo_docs_sign_in_with_authorize_and_call_the_api_offline(
    offline: Offline,
    running_demo: tuple[subprocess.Popen[str], dict[str, str], list[str]],  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
) -> None:
    """`make demo`'s Swagger UI, as a person uses it: Authorize, sign in on the dev issuer's page
    (a popup), back through /docs/oauth2-redirect, then GET /orders with the token, all offline."""
    from playwright.sync_api import expect

    _, env, _ = running_demo
    page = open_docs(offline, f"http://127.0.0.1:{env['DEMO_API_PORT']}")
    page.get_by_role("button", name="Authorize").click()
    dialog = page.locator(".modal-ux")
    for scope in ("read:orders", "write:orders"):
        dialog.locator(f"label[for^='{scope}-']").first.click()
    with page.expect_popup() as popup:
        dialog.locator("button.modal-btn.authorize").click()
    sign_in = popup.value
    sign_in.wait_for_load_state()
    assert sign_in.url.startswith(f"http://127.0.0.1:{env['DEMO_ISSUER_PORT']}/oauth2/auth?")
    sign_in.click(f"button[value={DEMO_USER}]")
    # The popup goes to /docs/oauth2-redirect, hands the code to Swagger UI and closes; Swagger UI
    # exchanges it (PKCE) at the dev issuer's token endpoint from the page (CORS).
    expect(dialog.get_by_role("heading", name="Authorized")).to_be_visible()
    expect(dialog.locator("button.modal-btn", has_text="Logout")).to_be_visible()
    dialog.locator("button.modal-btn", has_text="Close").click()

    operation = page.locator("#operations-default-list_orders_orders_get")
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    expect(operation.locator(".live-responses-table tr.response td.response-col_status")).to_have_text("200")
    expect(operation.locator(".curl-command")).to_contain_text("Authorization: Bearer eyJ")  # the signed-in token
    page.screenshot(path=str(tmp_path / "docs-signed-in.png"))
    assert offline.elsewhere() == []
    assert any("/docs/oauth2-redirect?code=" in url for url in offline.requested)
