"""README snippet: testing an app that builds its guard when its module is imported (runs as part
of the suite). examples/fastapi_app/app.py is such a module: ``app = ...`` at its end reads KINDE_*."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def client(kinde_env: dict[str, str]) -> Iterator[TestClient]:
    from examples.fastapi_app.app import app  # reads KINDE_* when first imported: import it once kinde_env is set

    with TestClient(app) as client:
        yield client


def test_orders(client: TestClient, kinde_token: Callable[..., str]) -> None:
    token = kinde_token(scopes=["read:orders"])
    assert client.get("/orders", headers={"Authorization": f"Bearer {token}"}).status_code == 200
