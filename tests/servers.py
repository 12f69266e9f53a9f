"""Run an ASGI app under a real uvicorn server on 127.0.0.1, in a thread, for the length of a test.

with serve_asgi(app) as base_url:
    httpx.get(base_url + "/public")
"""

from __future__ import annotations

import importlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn


@dataclass(frozen=True)
class BuildWithURL:
    """``serve_asgi(BuildWithURL(lambda base_url: app))``: build the app once its URL is known."""

    build: Callable[[str], Any]


def run_python(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python *args`` from the repository root with no ``KINDE_*`` settings but ``env``
    (how the examples' refusals to start without configuration are checked)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KINDE_")} | (env or {})
    root = Path(__file__).resolve().parent.parent
    return subprocess.run(
        [sys.executable, *args], cwd=root, env=clean, capture_output=True, text=True, timeout=60, check=False
    )


def import_app(module: str, env: dict[str, str], attribute: str = "app") -> Any:
    """Import ``module`` as uvicorn would, with exactly ``env`` as its ``KINDE_*`` settings (others
    unset), fresh rather than cached; returns its ``attribute``."""
    sys.modules.pop(module, None)
    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith("KINDE_")]:
            mp.delenv(name)
        for name, value in env.items():
            mp.setenv(name, value)
        loaded = importlib.import_module(module)
    sys.modules.pop(module, None)
    return getattr(loaded, attribute)


@contextmanager
def serve_asgi(app: Any, *, lifespan: str = "auto", **options: Any) -> Iterator[str]:
    """Serve ``app`` on a free port; yields ``http://127.0.0.1:<port>``; stops and joins on exit.

    ``app`` may also be a function of the base URL returning the app, for apps that must know
    where they are served (a resource identifier) before they are built.
    """
    # Bind first and hand uvicorn the socket: the port is ours, no race with other tests.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    if isinstance(app, BuildWithURL):
        app = app.build(f"http://127.0.0.1:{port}")
    # log_config=None: leave the test process's logging configuration alone.
    config = uvicorn.Config(app, lifespan=lifespan, log_config=None, log_level="warning", **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="uvicorn-test")
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
