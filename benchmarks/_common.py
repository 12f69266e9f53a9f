"""Shared pieces of the benchmarks: a corpus of Kinde-shaped tokens and a side-by-side timer."""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from kinde_guard.testing import DevIssuer


def kinde_corpus(issuer: DevIssuer, n: int) -> list[str]:
    """``n`` distinct user access tokens of the size Kinde issues (~800-900 bytes)."""
    return [
        issuer.mint(
            scopes=["openid", "email", "offline", "read:orders", "write:orders"],
            permissions=["delete:orders"],
        )
        for i in range(n)
    ]


@dataclass
class Row:
    name: str
    run: Callable[[], int]  # runs once over its workload, returns the number of operations
    samples: list[float]


def side_by_side(rows: list[Row], rounds: int) -> None:
    """Run every row once per round, interleaved, so load changes hit all rows alike."""
    for _ in range(rounds):
        for row in rows:
            started = time.perf_counter()
            ops = row.run()
            row.samples.append((time.perf_counter() - started) / ops)


def median_us(row: Row) -> float:
    return statistics.median(row.samples) * 1e6


def print_table(title: str, rows: list[Row], base: Row, floor: Row | None = None) -> list[dict[str, object]]:
    base_us = median_us(base)
    floor_us = median_us(floor) if floor else None
    print(f"\n{title}")
    head = f"{'row':<52} {'median µs':>10} {'× raw verify':>13}"
    if floor_us:
        head += f" {'× floor':>9}"
    print(head)
    print("-" * len(head))
    out = []
    for row in rows:
        us = median_us(row)
        line = f"{row.name:<52} {us:>10.1f} {us / base_us:>13.2f}"
        if floor_us:
            line += f" {us / floor_us:>9.2f}"
        print(line)
        out.append({"row": row.name, "median_us": round(us, 2), "x_raw_verify": round(us / base_us, 3)})
    return out


def machine() -> str:
    return f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, {platform.system()}"


def dump(path: str | None, doc: object) -> None:
    if path:
        with open(path, "w") as fh:
            json.dump(doc, fh, indent=2)
