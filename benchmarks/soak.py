"""Load soak of both example apps: a mix of valid, invalid and kid-spraying traffic, bounded in time.

    .venv/bin/python benchmarks/soak.py [--seconds 60] [--apps fastapi,flask]

Each traffic class runs as its own ``wrk`` process, all at once against the same server, so every
response can be checked against the verdict its class must get (a Lua ``response`` hook counts
wrong verdicts and 5xx). The server's RSS is sampled every few seconds. Exit 1 on any wrong
verdict, any 5xx, or memory growth beyond ``--max-growth`` MiB after the warm-up.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import dump, machine
from bench_http import AUDIENCE, free_port, stop

from kinde_guard.testing import DevIssuer

ROOT = Path(__file__).resolve().parent.parent

LUA = """
local tokens = {}
for line in io.lines("%(file)s") do tokens[#tokens + 1] = line end
local i = 0
wrong, fivexx, seen = 0, 0, 0
request = function()
  i = i + 1
  local value = tokens[(i %% #tokens) + 1]
  if value == "-" then return wrk.format("GET", "/orders") end
  return wrk.format("GET", "/orders", {["Authorization"] = value})
end
response = function(status, headers, body)
  seen = seen + 1
  if status ~= %(expected)d then wrong = wrong + 1 end
  if status >= 500 then fivexx = fivexx + 1 end
end
local threads = {}
function setup(thread) table.insert(threads, thread) end
function done(summary, latency, requests)
  local w, f, s = 0, 0, 0
  for _, t in ipairs(threads) do w = w + t:get("wrong"); f = f + t:get("fivexx"); s = s + t:get("seen") end
  io.write(string.format("VERDICTS seen=%%d wrong=%%d fivexx=%%d\\n", s, w, f))
end
"""


def traffic(issuer: DevIssuer) -> dict[str, tuple[int, list[str]]]:
    """Traffic classes: (expected status, Authorization header values; "-" = none)."""
    read = ["openid", "read:orders"]
    return {
        "valid, distinct tokens": (200, ["Bearer " + issuer.mint(scopes=read) for _ in range(6000)]),
        "valid, repeated tokens": (200, ["Bearer " + issuer.mint(scopes=read) for _ in range(50)]),
        "M2M with the scope": (200, ["Bearer " + issuer.mint_m2m(scopes=["read:orders"]) for _ in range(50)]),
        "missing scope (403)": (403, ["Bearer " + issuer.mint(scopes=["openid"]) for _ in range(200)]),
        "expired": (401, ["Bearer " + issuer.mint(scopes=read, exp=int(time.time()) - 3600) for _ in range(200)]),
        "wrong audience": (
            401,
            ["Bearer " + issuer.mint(scopes=read, aud=["https://other.example"]) for _ in range(200)],
        ),
        "kid spraying": (
            401,
            ["Bearer " + issuer.mint(scopes=read, headers={"kid": secrets.token_hex(8)}) for _ in range(2000)],
        ),
        "garbage token": (401, ["Bearer not.a.jwt", "Bearer " + "A" * 300, "Bearer e30.e30.e30"]),
        "malformed header (400)": (400, ["Bearer a b", "Bearer", "Bearer a,b"]),
        "no token": (401, ["-", "Basic dXNlcjpwYXNz"]),
    }


def start_app(kind: str, issuer_url: str, port: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ, KINDE_DOMAIN=issuer_url, KINDE_AUDIENCE=AUDIENCE)
    bin_dir = Path(sys.executable).parent
    if kind == "fastapi":
        cmd = [str(bin_dir / "uvicorn"), "examples.fastapi_app.app:app", "--host", "127.0.0.1", "--port", str(port)]
        cmd += ["--log-level", "warning", "--no-access-log"]
    else:
        cmd = [str(bin_dir / "gunicorn"), "-w", "1", "-k", "gthread", "--threads", "8", "-b", f"127.0.0.1:{port}"]
        cmd += ["--log-level", "warning", "examples.flask_app.app:app"]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(400):
        try:
            import urllib.request

            with urllib.request.urlopen(f"http://127.0.0.1:{port}/public", timeout=1):
                return proc
        except OSError:
            time.sleep(0.05)
    stop(proc)
    raise RuntimeError(f"{kind} example did not start")


def rss_mib(pid: int) -> float:
    """RSS of ``pid`` and its children (gunicorn's workers), in MiB."""
    pids = [pid]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            pids.append(int(stat.parent.name))
    total = 0.0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


def soak(
    kind: str, issuer: DevIssuer, classes: dict[str, tuple[int, list[str]]], seconds: int, tmp: Path
) -> dict[str, object]:
    port = free_port()
    proc = start_app(kind, issuer.url, port)
    runs = []
    try:
        for n, (name, (expected, values)) in enumerate(classes.items()):
            data, script = tmp / f"{kind}-{n}.txt", tmp / f"{kind}-{n}.lua"
            data.write_text("\n".join(values) + "\n")
            script.write_text(LUA % {"file": data, "expected": expected})
            cmd = ["wrk", "-t1", "-c2", f"-d{seconds}s", "-s", str(script), f"http://127.0.0.1:{port}/orders"]
            runs.append((name, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)))
        samples = []
        started = time.monotonic()
        while any(p.poll() is None for _, p in runs):
            samples.append((round(time.monotonic() - started), rss_mib(proc.pid)))
            time.sleep(5)
        results = []
        for name, wrk in runs:
            out = wrk.stdout.read() if wrk.stdout else ""
            m = re.search(r"VERDICTS seen=(\d+) wrong=(\d+) fivexx=(\d+)", out)
            if m is None:
                raise RuntimeError(f"wrk gave no verdicts for {name}:\n{out}")
            seen, wrong, fivexx = (int(g) for g in m.groups())
            results.append({"class": name, "requests": seen, "wrong_verdicts": wrong, "5xx": fivexx})
    finally:
        stop(proc)
    warm = [rss for t, rss in samples if t >= min(15, seconds // 4)] or [samples[-1][1]]
    return {
        "app": kind,
        "seconds": seconds,
        "classes": results,
        "rss_mib": samples,
        "growth_after_warmup_mib": round(max(warm) - warm[0], 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--apps", default="fastapi,flask")
    parser.add_argument("--max-growth", type=float, default=20.0, help="MiB of RSS growth allowed after warm-up")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("soak: wrk is not installed (make soak installs it: apt-get install wrk)")
    tmp = Path(tempfile.mkdtemp(prefix="kinde-soak-"))
    reports = []
    ok = True
    try:
        with DevIssuer(audience=AUDIENCE).serve() as issuer:
            classes = traffic(issuer)
            print(f"machine: {machine()}; {len(classes)} traffic classes at once, {args.seconds} s per app")
            for kind in args.apps.split(","):
                report = soak(kind, issuer, classes, args.seconds, tmp)
                reports.append(report)
                total = sum(r["requests"] for r in report["classes"])  # type: ignore[index, misc]
                print(f"\n{kind}: {total} requests in {args.seconds} s ({total / args.seconds:.0f}/s)")
                print(f"  {'traffic class':<26} {'requests':>9} {'wrong':>6} {'5xx':>5}")
                for r in report["classes"]:  # type: ignore[attr-defined]
                    print(f"  {r['class']:<26} {r['requests']:>9} {r['wrong_verdicts']:>6} {r['5xx']:>5}")
                    ok &= r["wrong_verdicts"] == 0 and r["5xx"] == 0
                rss = report["rss_mib"]
                print(f"  RSS MiB over time: {', '.join(f'{t}s={m:.0f}' for t, m in rss)}")  # type: ignore[attr-defined]
                print(f"  growth after warm-up: {report['growth_after_warmup_mib']} MiB")
                ok &= report["growth_after_warmup_mib"] <= args.max_growth  # type: ignore[operator]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    dump(args.json, {"machine": machine(), "soak": reports})
    print("\nsoak:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
