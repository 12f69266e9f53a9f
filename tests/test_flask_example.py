"""examples/flask_app over real HTTP: gunicorn on 127.0.0.1 against a served DevIssuer.

The cases come from tests/example_cases.py, the table the FastAPI example is held to as well.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from kinde_guard.testing import DevIssuer
from tests.example_contract import *  # noqa: F403  (the shared contract, run against this app)
from tests.servers import run_python
from tests.wsgi_servers import run_gunicorn

AUDIENCE = "https://api.orders.example"
TARGET = "examples.flask_app.app:app"


@pytest.fixture(scope="module")
def issuer() -> Iterator[DevIssuer]:
    with DevIssuer(audience=AUDIENCE).serve() as served:
        yield served


def _env(issuer: DevIssuer) -> dict[str, str]:
    return {"KINDE_DOMAIN": issuer.url, "KINDE_AUDIENCE": AUDIENCE}


@pytest.fixture(scope="module")
def base_url(issuer: DevIssuer) -> Iterator[str]:
    with run_gunicorn(TARGET, _env(issuer)) as url:
        yield url


def test_unknown_routes_answer_json_not_html(base_url: str) -> None:
    missing = httpx.get(base_url + "/nope")
    wrong_method = httpx.put(base_url + "/public")
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
    assert (wrong_method.status_code, wrong_method.json()["error"]) == (405, "method_not_allowed")
    assert "GET" in wrong_method.headers["allow"]


def test_healthz_is_503_when_keys_cannot_be_had(issuer: DevIssuer) -> None:
    issuer.jwks_status = 500
    try:
        with run_gunicorn(TARGET, _env(issuer)) as url:
            fetches = issuer.jwks_fetches
            response = httpx.get(url + "/healthz")
            again = httpx.get(url + "/healthz")
            fetched = issuer.jwks_fetches - fetches
    finally:
        issuer.jwks_status = 200
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert "500" in response.json()["keys"]["last_error"]
    assert int(response.headers["retry-after"]) >= 1
    assert again.status_code == 503
    assert fetched == 1  # the second probe falls within the cooldown: no second fetch


def test_cold_jwks_outage_answers_503_with_retry_after(issuer: DevIssuer) -> None:
    issuer.jwks_status = 503
    try:
        with run_gunicorn(TARGET, _env(issuer)) as url:
            response = httpx.get(url + "/me", headers={"Authorization": "Bearer " + issuer.mint()})
    finally:
        issuer.jwks_status = 200
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) >= 1
    assert "www-authenticate" not in response.headers
    assert response.json()["error"] == "temporarily_unavailable"


@pytest.mark.parametrize(
    "command",
    [
        ["-m", "flask", "--app", "examples.flask_app.app", "run", "--port", "0"],
        ["-m", "gunicorn", TARGET, "--bind", "127.0.0.1:0", "--no-control-socket"],
    ],
    ids=["flask run", "gunicorn"],
)
def test_example_refuses_to_start_without_configuration(command: list[str]) -> None:
    result = run_python(command)
    assert result.returncode != 0
    assert "examples.flask_app cannot start: KINDE_DOMAIN is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_example_refuses_to_start_with_an_http_domain_that_is_not_loopback() -> None:
    result = run_python(
        ["-c", "import examples.flask_app.app"], {"KINDE_DOMAIN": "http://acme.kinde.com", "KINDE_AUDIENCE": AUDIENCE}
    )
    assert result.returncode != 0
    assert "uses http:// on a non-loopback host" in result.stderr
    assert "Traceback" not in result.stderr
