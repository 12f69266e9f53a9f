"""Cold start: N concurrent first requests against a guard with no keys yet -> JWKS fetches.

    .venv/bin/python benchmarks/bench_coldstart.py [--requests 500] [--jwks-latency 0.2]

Three ways in: N threads calling ``verify``, N asyncio tasks calling ``verify_async``, and N
concurrent HTTP requests to uvicorn + Starlette behind the ASGI middleware. The dev issuer's
JWKS answers after ``--jwks-latency`` seconds (a real tenant is a network round trip away), so
the requests really do arrive while the first fetch is in flight. Expected: exactly 1 fetch each.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from _common import dump, machine
from bench_http import AUDIENCE, free_port, start, stop

from kinde_guard.testing import DevIssuer


def threads(issuer: DevIssuer, tokens: list[str]) -> int:
    guard = issuer.guard()
    barrier = threading.Barrier(len(tokens))

    def one(token: str) -> None:
        barrier.wait()
        guard.verify(token)

    with ThreadPoolExecutor(max_workers=len(tokens)) as pool:
        list(pool.map(one, tokens))
    return issuer.jwks_fetches


def tasks(issuer: DevIssuer, tokens: list[str]) -> int:
    guard = issuer.guard()

    async def main() -> None:
        await asyncio.gather(*(guard.verify_async(t) for t in tokens))

    asyncio.run(main())
    return issuer.jwks_fetches


def http(issuer: DevIssuer, tokens: list[str]) -> int:
    port = free_port()
    proc = start("starlette", "1", issuer.url, port)
    try:
        fetches_before = issuer.jwks_fetches

        async def main() -> list[int]:
            limits = httpx.Limits(max_connections=len(tokens))
            async with httpx.AsyncClient(limits=limits, timeout=60) as client:
                url = f"http://127.0.0.1:{port}/orders"
                answers = await asyncio.gather(
                    *(client.get(url, headers={"Authorization": "Bearer " + t}) for t in tokens)
                )
            return [a.status_code for a in answers]

        statuses = asyncio.run(main())
        if set(statuses) != {200}:
            raise RuntimeError(f"unexpected statuses: {sorted(set(statuses))}")
        return issuer.jwks_fetches - fetches_before
    finally:
        stop(proc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--jwks-latency", type=float, default=0.2, help="seconds the JWKS takes to answer")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    print(f"machine: {machine()}; {args.requests} concurrent first requests, JWKS latency {args.jwks_latency} s")
    print(f"{'way in':<40} {'JWKS fetches':>12} {'seconds':>8}")
    rows = []
    for name, run in (
        ("threads -> verify", threads),
        ("asyncio tasks -> verify_async", tasks),
        ("HTTP -> uvicorn + Starlette", http),
    ):
        with DevIssuer(audience=AUDIENCE).serve() as issuer:
            issuer.jwks_hang = args.jwks_latency
            tokens = [issuer.mint() for _ in range(args.requests)]
            started = time.perf_counter()
            fetches = run(issuer, tokens)
            took = time.perf_counter() - started
        print(f"{name:<40} {fetches:>12} {took:>8.2f}")
        rows.append({"way": name, "requests": args.requests, "jwks_fetches": fetches, "seconds": round(took, 2)})
    dump(args.json, {"machine": machine(), "cold_start": rows})
    return 0 if all(r["jwks_fetches"] == 1 for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
