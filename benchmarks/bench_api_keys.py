"""API keys: a cache hit beside an access-token cache hit, and a first-seen key's added latency.

    .venv/bin/python benchmarks/bench_api_keys.py [--rounds 7] [--first-seen 200]

Both hits go through ``guard.authenticate("Bearer ...")`` with no requirements, on one guard with
``api_keys`` on. The first-seen rows verify new keys against the dev issuer over loopback HTTP
(after the M2M token is held), beside a cached key's answer.
"""

from __future__ import annotations

import argparse
import statistics
import time
import timeit

from kinde_guard.testing import DevIssuer


def per_call(fn: object, number: int, rounds: int) -> float:
    times = timeit.repeat(fn, number=number, repeat=rounds)  # type: ignore[arg-type]
    return min(times) / number


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--number", type=int, default=100_000)
    parser.add_argument("--first-seen", type=int, default=200)
    args = parser.parse_args()
    with DevIssuer().serve() as issuer:
        guard = issuer.guard(api_keys=True, api_key_verify_burst=10_000)
        token, key = "Bearer " + issuer.mint(), "Bearer " + issuer.create_api_key()
        guard.authenticate(token)
        guard.authenticate(key)
        auth = guard.authenticate
        rows = {}
        for _ in range(2):  # interleaved, twice; the best of each
            for name, header in (("access-token cache hit", token), ("API-key cache hit", key)):
                t = per_call(lambda h=header: auth(h), args.number, args.rounds)
                rows[name] = min(rows.get(name, t), t)
        fresh = [issuer.create_api_key() for _ in range(args.first_seen)]
        first = []
        for value in fresh:
            started = time.perf_counter()
            auth("Bearer " + value)
            first.append(time.perf_counter() - started)
    for name, t in rows.items():
        print(f"{name:<28} {t * 1e9:8.0f} ns")
    ratio = rows["API-key cache hit"] / rows["access-token cache hit"]
    print(f"{'API-key hit / token hit':<28} {ratio:8.2f}")
    print(
        f"{'first-seen key (loopback)':<28} median {statistics.median(first) * 1e3:.2f} ms, "
        f"p95 {sorted(first)[int(len(first) * 0.95)] * 1e3:.2f} ms over {len(first)} keys"
    )


if __name__ == "__main__":
    main()
