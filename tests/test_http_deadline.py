"""The outbound deadline covers the whole call: connect, status line, headers and body.

Three misbehaving JWKS servers on 127.0.0.1 (raw sockets): one trickles its status line and headers
a byte per 0.5 s, one sends headers then stalls, one accepts and never answers. Whatever they do,
the first caller and every concurrent caller get their answer within ``http_timeout`` + 0.5 s, the
failure is recorded, and the next attempt waits for the cooldown.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from kinde_guard import JWKSError, KindeGuard
from kinde_guard._http import FetchError, fetch_url
from kinde_guard.testing import DevIssuer, FrozenClock

TIMEOUT = 1.0
SLACK = 0.5
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n"


class StallingServer:
    """Accepts connections and misbehaves in one of three ways; counts connections."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.connections = 0
        self.stop = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)  # the request
                if self.mode == "trickle":
                    for byte in HEAD:
                        if self.stop.wait(0.5):
                            return
                        conn.sendall(bytes([byte]))
                elif self.mode == "headers-then-stall":
                    conn.sendall(HEAD)
                # "silent" sends nothing; every mode then holds the connection open
                self.stop.wait(60)
            except OSError:
                return  # the client cut the connection off: what it should do

    def close(self) -> None:
        self.stop.set()
        self.sock.close()
        self.thread.join(2)


MODES = ["trickle", "headers-then-stall", "silent"]


@pytest.fixture(params=MODES)
def server(request: pytest.FixtureRequest) -> Iterator[StallingServer]:
    srv = StallingServer(request.param)
    yield srv
    srv.close()


@pytest.fixture
def token(issuer: DevIssuer) -> str:
    return issuer.mint()


def stalled_guard(server: StallingServer, clock: FrozenClock, events: list[tuple[str, Any]]) -> KindeGuard:
    return KindeGuard(
        domain=server.url,
        audience="https://api.example.com",
        http_timeout=TIMEOUT,
        clock=clock,
        on_event=lambda name, data: events.append((name, dict(data))),
    )


def test_fetch_url_answers_within_its_timeout(server: StallingServer) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out"):
        fetch_url(server.url + "/.well-known/jwks", TIMEOUT, 10_000)
    assert time.monotonic() - started < TIMEOUT + SLACK


def test_first_and_concurrent_sync_callers_are_answered_at_the_deadline(
    server: StallingServer, clock: FrozenClock, token: str
) -> None:
    events: list[tuple[str, Any]] = []
    guard = stalled_guard(server, clock, events)

    def call() -> tuple[float, BaseException | None]:
        started = time.monotonic()
        try:
            guard.verify(token)
        except JWKSError as exc:
            return time.monotonic() - started, exc
        return time.monotonic() - started, None

    with ThreadPoolExecutor(max_workers=10) as pool:
        first = pool.submit(call)
        time.sleep(0.2)  # the others join the fetch in flight
        others = [pool.submit(call) for _ in range(9)]
        results = [first.result(), *(f.result() for f in others)]
    for elapsed, error in results:
        assert isinstance(error, JWKSError)
        assert elapsed < TIMEOUT + SLACK
    assert server.connections == 1
    state = guard.key_set_state()
    assert state.fetches == 1 and not state.fetching
    assert "timed out" in (state.last_error or "")
    assert state.seconds_until_retry > 0
    fetches = [data for name, data in events if name == "jwks_fetch"]
    assert len(fetches) == 1 and fetches[0]["ok"] is False and "timed out" in fetches[0]["error"]
    assert any(name == "jwks_unavailable" for name, _ in events)
    # Within the cooldown: no new attempt, an immediate 503.
    started = time.monotonic()
    with pytest.raises(JWKSError):
        guard.verify(token)
    assert time.monotonic() - started < 0.2
    assert server.connections == 1
    # After the cooldown: the next attempt, bounded the same way.
    clock.advance(31)
    elapsed, error = call()
    assert isinstance(error, JWKSError) and elapsed < TIMEOUT + SLACK
    assert server.connections == 2


def test_first_and_concurrent_async_callers_are_answered_at_the_deadline(
    server: StallingServer, clock: FrozenClock, token: str
) -> None:
    events: list[tuple[str, Any]] = []
    guard = stalled_guard(server, clock, events)

    async def call() -> tuple[float, BaseException | None]:
        started = time.monotonic()
        try:
            await guard.verify_async(token)
        except JWKSError as exc:
            return time.monotonic() - started, exc
        return time.monotonic() - started, None

    async def main() -> list[tuple[float, BaseException | None]]:
        ticks = 0

        async def ticker() -> None:  # the event loop stays free while the fetch is stalled
            nonlocal ticks
            while True:
                await asyncio.sleep(0.05)
                ticks += 1

        tick_task = asyncio.create_task(ticker())
        first = asyncio.create_task(call())
        await asyncio.sleep(0.2)
        results = await asyncio.gather(first, *(call() for _ in range(9)))
        tick_task.cancel()
        assert ticks >= TIMEOUT / 0.05 * 0.5
        return results

    for elapsed, error in asyncio.run(main()):
        assert isinstance(error, JWKSError)
        assert elapsed < TIMEOUT + SLACK
    assert server.connections == 1
    state = guard.key_set_state()
    assert "timed out" in (state.last_error or "") and state.fetches == 1


def test_a_stalled_fetch_leaves_no_thread_behind(clock: FrozenClock, token: str) -> None:
    server = StallingServer("trickle")
    try:
        before = {t.ident for t in threading.enumerate()}
        with pytest.raises(FetchError):
            fetch_url(server.url + "/jwks", 0.5, 10_000)
        # The worker was cut off at the deadline (its socket shut down), so it ends promptly.
        deadline = time.monotonic() + 2
        while any(t.name == "kinde-http" and t.ident not in before for t in threading.enumerate()):
            assert time.monotonic() < deadline, "the abandoned fetch thread is still running"
            time.sleep(0.02)
    finally:
        server.close()
