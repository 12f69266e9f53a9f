"""Memory: RSS while one guard verifies N distinct valid tokens with the default cache size.

    .venv/bin/python benchmarks/bench_memory.py [--tokens 1000000] [--workers 2]

Tokens are minted in worker processes (signing is the slow part) and streamed to the guard, so the
only thing that could grow is the guard itself. The verified-token cache is bounded by
``token_cache_size`` (default 4096): RSS must level off once the cache is full, whatever N is.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from cryptography.hazmat.primitives import serialization

sys.path.insert(0, str(Path(__file__).parent))
from _common import dump, machine

from kinde_guard.testing import DevIssuer

BATCH = 2000
_worker_issuer: DevIssuer | None = None


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _init(pem: bytes, issuer_url: str) -> None:
    global _worker_issuer
    key = serialization.load_pem_private_key(pem, password=None)
    _worker_issuer = DevIssuer(issuer=issuer_url, key=key)  # type: ignore[arg-type]


def _mint_batch(start: int) -> list[str]:
    assert _worker_issuer is not None
    return [_worker_issuer.mint(scopes=["openid", "read:orders"], jti=f"t{start + i}") for i in range(BATCH)]


def tokens(issuer: DevIssuer, n: int, workers: int) -> Iterator[str]:
    pem = issuer.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with multiprocessing.get_context("spawn").Pool(workers, _init, (pem, issuer.issuer)) as pool:
        for batch in pool.imap(_mint_batch, range(0, n, BATCH)):
            yield from batch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    issuer = DevIssuer()
    guard = issuer.guard()
    guard.verify(issuer.mint())
    start_rss = rss_mib()
    checkpoints = sorted(
        {n for n in (1_000, 4_096, 10_000, 50_000, 100_000, 250_000, 500_000, args.tokens) if n <= args.tokens}
    )
    print(f"machine: {machine()}; token_cache_size={guard.config.token_cache_size}; RSS before: {start_rss:.1f} MiB")
    print(f"{'tokens verified':>16} {'RSS MiB':>9} {'growth MiB':>11} {'seconds':>8}")
    rows = []
    started = time.perf_counter()
    for count, token in enumerate(tokens(issuer, args.tokens, args.workers), start=1):
        guard.verify(token, scopes=["read:orders"])
        if count == checkpoints[0]:
            checkpoints.pop(0)
            rss = rss_mib()
            print(
                f"{count:>16,} {rss:>9.1f} {rss - start_rss:>11.1f} {time.perf_counter() - started:>8.0f}", flush=True
            )
            rows.append({"tokens": count, "rss_mib": round(rss, 1), "growth_mib": round(rss - start_rss, 1)})
            if not checkpoints:
                break
    dump(args.json, {"machine": machine(), "memory": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
