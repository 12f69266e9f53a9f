"""Over HTTP on 127.0.0.1: an unguarded route beside the same route behind kinde_guard.

    .venv/bin/python benchmarks/bench_http.py [--seconds 8] [--rounds 2] [--connections 16]

Starlette under uvicorn, Flask and Django under gunicorn (one sync worker process each, so the guard's cost is
not hidden by spare cores), loaded by ``wrk`` (Debian's package; installed by ``make bench`` when
missing) with distinct tokens (every request a new token: the verified-token cache never hits)
and repeated tokens (50 tokens in turn). Beside them, two floors with distinct tokens: the same
route behind a middleware doing only the raw ``cryptography`` RSA verify, and the raw verify plus
decoding the token once (header for the kid, payload) — what any validator pays per new token in
that server. Cells alternate round by round; the table gives the median requests/s and latency
percentiles, the ratio to the unguarded route and the ratio to the verify + decode floor.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import dump, kinde_corpus, machine

from kinde_guard.testing import DevIssuer

HERE = Path(__file__).parent
ROOT = HERE.parent
AUDIENCE = "https://api.example.com"

LUA = """
local tokens = {}
for line in io.lines("%s") do tokens[#tokens + 1] = line end
local i = 0
request = function()
  i = i + 1
  if #tokens == 0 then return wrk.format("GET", "/orders") end
  return wrk.format("GET", "/orders", {["Authorization"] = "Bearer " .. tokens[(i %% #tokens) + 1]})
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# cell -> the app's BENCH_GUARDED mode (see apps.py)
MODES = {
    "unguarded": "0",
    "floor-verify": "floor-verify",
    "floor-decode": "floor-decode",
    "distinct": "1",
    "repeated": "1",
}


def start(kind: str, mode: str, issuer_url: str, port: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ, BENCH_GUARDED=mode, KINDE_DOMAIN=issuer_url, KINDE_AUDIENCE=AUDIENCE)
    bin_dir = Path(sys.executable).parent
    if kind == "starlette":
        cmd = [str(bin_dir / "uvicorn"), "--factory", "apps:starlette_app", "--app-dir", str(HERE)]
        cmd += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"]
    else:
        cmd = [str(bin_dir / "gunicorn"), "--chdir", str(HERE), "-w", "1", "-k", "sync", "--threads", "1"]
        cmd += ["-b", f"127.0.0.1:{port}", "--log-level", "warning", f"apps:{kind}_app()"]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"{kind} server failed: {proc.stderr.read().decode() if proc.stderr else ''}"
                ) from None
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{kind} server did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stderr:
        proc.stderr.close()


def warm(port: int, token: str | None) -> None:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/orders")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200, response.status


def parse_duration(text: str) -> float:
    value, unit = float(re.match(r"[\d.]+", text).group()), re.sub(r"[\d.]", "", text)  # type: ignore[union-attr]
    return value * {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(port: int, script: Path, seconds: int, connections: int) -> dict[str, float]:
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}/orders",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    try:
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
        p50 = parse_duration(re.search(r"^\s*50%[ \t]+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
        p99 = parse_duration(re.search(r"^\s*99%[ \t]+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    except (AttributeError, KeyError, ValueError):
        raise RuntimeError(f"could not read wrk's report:\n{out}") from None
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    if non2xx:
        raise RuntimeError(f"{non2xx.group(1)} requests were refused: the benchmark's tokens are wrong\n{out}")
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "socket_errors": 1.0 if errors else 0.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=8, help="length of one wrk run (default 8)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per cell, alternating (default 2)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--distinct", type=int, default=0, help="distinct tokens to mint (default: enough for the run)")
    parser.add_argument(
        "--servers", default="starlette,flask,django", help="which servers (default starlette,flask,django)"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("bench_http: wrk is not installed (make bench installs it: apt-get install wrk)")

    issuer = DevIssuer(audience=AUDIENCE).serve()
    tmp = Path(tempfile.mkdtemp(prefix="kinde-bench-"))
    try:
        # Enough that no run wraps around: a repeated "distinct" token could be a cache hit.
        n_distinct = args.distinct or max(2000, args.seconds * 6000)
        started = time.perf_counter()
        distinct = kinde_corpus(issuer, n_distinct)
        print(f"machine: {machine()}; minted {n_distinct} tokens in {time.perf_counter() - started:.0f} s")
        files = {"distinct": tmp / "distinct.txt", "repeated": tmp / "repeated.txt"}
        files["distinct"].write_text("\n".join(distinct) + "\n")
        files["repeated"].write_text("\n".join(distinct[:50]) + "\n")
        scripts = {}
        for name, path in files.items():
            scripts[name] = tmp / f"{name}.lua"
            scripts[name].write_text(LUA % path)

        results: dict[str, dict[str, list[dict[str, float]]]] = {}
        for kind in args.servers.split(","):
            cells: dict[str, list[dict[str, float]]] = {cell: [] for cell in MODES}
            for _ in range(args.rounds):
                for cell in cells:
                    port = free_port()
                    proc = start(kind, MODES[cell], issuer.url, port)
                    try:
                        warm(port, distinct[-1])
                        # Every cell gets the same requests, tokens included: only the work done
                        # on the token differs, not the bytes the server parses.
                        script = scripts["repeated" if cell == "repeated" else "distinct"]
                        cells[cell].append(run_wrk(port, script, args.seconds, args.connections))
                    finally:
                        stop(proc)
            results[kind] = cells
    finally:
        issuer.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    report = print_report(results, args)
    wrapped = [
        f"{kind} {cell}: {run['rps'] * args.seconds:.0f} requests > {n_distinct} tokens"
        for kind, cells in results.items()
        for cell in ("distinct",)
        for run in cells[cell]
        if run["rps"] * args.seconds > n_distinct
    ]
    if wrapped:
        print("\nnote: the distinct-token corpus wrapped around (some requests may be cache hits):")
        print("\n".join("  " + line for line in wrapped) + f"\n  pass --distinct {2 * n_distinct} for a clean run")
    dump(args.json, {"machine": machine(), "http": report})
    return 0


def print_report(
    results: dict[str, dict[str, list[dict[str, float]]]], args: argparse.Namespace
) -> list[dict[str, object]]:
    print(f"\nHTTP on 127.0.0.1, wrk -t1 -c{args.connections}, {args.seconds} s x {args.rounds} rounds, medians")
    head = f"{'server':<22} {'route':<34} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'x unguarded':>12} {'x floor':>8}"
    print(head)
    print("-" * len(head))
    label = {"starlette": "uvicorn + Starlette", "flask": "gunicorn + Flask", "django": "gunicorn + Django"}
    names = {
        "unguarded": "unguarded",
        "floor-verify": "floor: raw RSA verify only",
        "floor-decode": "floor: raw verify + decode once",
        "distinct": "guarded, distinct tokens",
        "repeated": "guarded, repeated tokens",
    }
    out = []
    for kind, cells in results.items():
        base = statistics.median(r["rps"] for r in cells["unguarded"])
        floor = statistics.median(r["rps"] for r in cells["floor-decode"])
        for cell, runs in cells.items():
            rps = statistics.median(r["rps"] for r in runs)
            p50 = statistics.median(r["p50_ms"] for r in runs)
            p99 = statistics.median(r["p99_ms"] for r in runs)
            print(
                f"{label[kind]:<22} {names[cell]:<34} {rps:>9.0f} {p50:>8.2f} {p99:>8.2f}"
                f" {rps / base:>12.2f} {rps / floor:>8.2f}"
            )
            out.append(
                {
                    "server": label[kind],
                    "route": names[cell],
                    "rps": round(rps),
                    "p50_ms": p50,
                    "p99_ms": p99,
                    "x_unguarded": round(rps / base, 3),
                    "x_floor": round(rps / floor, 3),
                }
            )
    return out


if __name__ == "__main__":
    raise SystemExit(main())
