"""Run an ASGI app under a real uvicorn server on 127.0.0.1, in a thread, for the length of a test.

with serve_asgi(app) as base_url:
    httpx.get(base_url + "/public")
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


@contextmanager
def serve_asgi(app: Any, *, lifespan: str = "auto", **options: Any) -> Iterator[str]:
    """Serve ``app`` on a free port; yields ``http://127.0.0.1:<port>``; stops and joins on exit."""
    # Bind first and hand uvicorn the socket: the port is ours, no race with other tests.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
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
