"""Run WSGI apps on real HTTP servers on 127.0.0.1 for the length of a test.

with serve_wsgi(app) as base_url:             # werkzeug's threaded server, in this process
    httpx.get(base_url + "/public")

with run_gunicorn("examples.flask_app.app:app", env) as base_url:   # a real gunicorn process
    httpx.get(base_url + "/public")
"""

from __future__ import annotations

import http.client
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from werkzeug.serving import WSGIRequestHandler, make_server

ROOT = Path(__file__).resolve().parent.parent


class _QuietHandler(WSGIRequestHandler):
    """werkzeug's handler without the per-request access log line."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


@contextmanager
def serve_wsgi(app: Any) -> Iterator[str]:
    """Serve ``app`` with werkzeug's threaded server (a thread per request) on a free port.

    Yields ``http://127.0.0.1:<port>``; shuts the server down and joins its thread on exit.
    """
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


_LISTENING = re.compile(r"Listening at: (http://127\.0\.0\.1:\d+)")


class GunicornFailed(RuntimeError):
    """gunicorn exited or did not say where it listens; the message holds its output."""


@contextmanager
def run_gunicorn(target: str, env: Mapping[str, str], *, threads: int = 4, workers: int = 1) -> Iterator[str]:
    """Start ``gunicorn target`` from the repository root, bound to a free port on 127.0.0.1.

    ``env`` is added to a copy of this process's environment minus any ``KINDE_*`` variable.
    Yields the base URL once gunicorn logs it; terminates gunicorn (and its workers) on exit.
    """
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("KINDE_")}
    full_env.update(env)
    command = [sys.executable, "-m", "gunicorn", target, "--bind", "127.0.0.1:0"]
    # Port 0: the kernel picks a free port and gunicorn logs it; no race with other tests.
    command += ["--workers", str(workers), "--threads", str(threads), "--no-control-socket"]
    with run_server_process(command, full_env, _LISTENING, ready="Booting worker", name="gunicorn") as url:
        yield url


@contextmanager
def run_server_process(
    command: list[str], env: Mapping[str, str], listening: re.Pattern[str], *, ready: str | None = None, name: str
) -> Iterator[str]:
    """Run a server ``command`` from the repository root; yield the base URL its log names (group 1
    of ``listening``) once it answers (and, with ``ready``, once a log line says so). Stops it on exit.
    """
    process = subprocess.Popen(
        command, cwd=ROOT, env=dict(env), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert process.stderr is not None
    output: list[str] = []
    found = threading.Event()
    base_url: list[str] = []

    def drain() -> None:
        # Keep reading so the server never blocks on a full pipe; remember the lines for errors.
        assert process.stderr is not None
        for line in process.stderr:
            output.append(line)
            match = listening.search(line)
            if match and not base_url:
                base_url.append(match.group(1))
            if base_url and (ready is None or ready in line):
                found.set()
        found.set()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        found.wait(30)
        if not base_url or process.poll() is not None:
            raise GunicornFailed(f"{name} did not start:\n" + "".join(output))
        wait_until_serving(base_url[0], process, output)
        yield base_url[0]
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        reader.join(5)
        process.stderr.close()


def wait_until_serving(base_url: str, process: subprocess.Popen[str], output: list[str]) -> None:
    """The master listens before its worker has imported the app: wait for a first answer."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise GunicornFailed("gunicorn exited:\n" + "".join(output))
        conn = http.client.HTTPConnection(urlsplit(base_url).netloc, timeout=5)
        try:
            conn.request("GET", "/")  # any answer, even a 401 or a 404, means it serves
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.05)
        finally:
            conn.close()
    raise GunicornFailed("gunicorn did not answer:\n" + "".join(output))
