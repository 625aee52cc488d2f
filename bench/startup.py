"""Start-up time of couchctl against a local server, beside `python -c pass` and curl.

    python bench/startup.py [--runs N]

Reports the median and minimum wall time, and the median CPU time, of:
  python -c pass                       the interpreter alone
  python -c 'import httpx, anyio'      the yardstick: the HTTP stack a request needs
  httpx GET URL/DB                     the same request with httpx alone, an AsyncClient
                                       under anyio.run (as the Typer commands send it)
  httpx.Client GET URL/DB              the same with httpx's sync Client, no event loop
                                       (as the fast path sends it): its floor
  couchctl --version                   no Typer, no client
  couchctl --help                      the command tree and rich help
  couchctl db info DB --json           one request on the fast path (no Typer)
  couchctl db exists DB --json         one request on the fast path too
  couchctl db exists DB                the same through the Typer app (human output)
  curl URL/DB                          the same request without Python

against COUCH_URL, or else the stand-in server (pouchdb-server) started here.
Uses hyperfine when it is installed, else its own timing loop, which runs the
commands in turn, round after round, so that all see the same load. Measure with a
non-editable install (`pip install .`): the editable finder alone costs ~25 ms.
Targets: --version < 50 ms, `db info DB --json` < 120 ms (median).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
# CPU time (user + system) of each run, by command line: unlike wall time, it does
# not grow when other processes compete for the CPUs (Python loop only).
CPU_MS: dict[str, list[float]] = {}
TARGETS_MS = {"couchctl --version": 50.0, "couchctl db info DB --json": 120.0}

# One GET with httpx alone, as couchctl sends it (AsyncClient under anyio.run, no CA
# bundle for http://). The URL, with its credentials, comes from the environment.
HTTPX_GET = """\
import os, anyio, httpx
url = os.environ["BENCH_DB_URL"]
async def main():
    async with httpx.AsyncClient(verify=not url.startswith("http:")) as client:
        response = await client.get(url, headers={"Accept": "application/json"})
        response.raise_for_status()
        print(response.text)
anyio.run(main)
"""
HTTPX_SYNC_GET = """\
import os, httpx
url = os.environ["BENCH_DB_URL"]
with httpx.Client(verify=not url.startswith("http:")) as client:
    response = client.get(url, headers={"Accept": "application/json"})
    response.raise_for_status()
    print(response.text)
"""


def couchctl() -> list[str]:
    exe = shutil.which("couchctl", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "couchctl"]


def split_credentials(url: str) -> tuple[str, str | None]:
    """The URL without userinfo, and `user:password` for curl (or None)."""
    parts = urlsplit(url)
    if parts.username is None:
        return url.rstrip("/"), None
    bare = urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    return bare.rstrip("/"), f"{parts.username}:{parts.password or ''}"


def http(method: str, url: str, userinfo: str | None) -> None:
    import base64

    request = urllib.request.Request(url, method=method, headers={"Accept": "application/json"})
    if userinfo:
        request.add_header("Authorization", "Basic " + base64.b64encode(userinfo.encode()).decode())
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


def run_once(command: list[str], env: dict[str, str]) -> float:
    """Wall milliseconds of one run (its CPU time goes to CPU_MS); exits on a failure."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, check=False)
    wall = (time.perf_counter() - started) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU_MS.setdefault(shlex.join(command), []).append(
        (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    )
    if result.returncode != 0:
        raise SystemExit(f"{command} failed ({result.returncode}): {result.stderr.decode()[-500:]}")
    return wall


def time_loop(commands: list[list[str]], runs: int, env: dict[str, str]) -> list[list[float]]:
    """Wall times of each command, run in turn round after round: on a machine whose
    load changes, every command sees the same load (the yardsticks included)."""
    for command in commands:
        subprocess.run(command, env=env, capture_output=True, check=False)  # warm the caches
    times: list[list[float]] = [[] for _ in commands]
    for _ in range(runs):
        for index, command in enumerate(commands):
            times[index].append(run_once(command, env))
    return times


def time_hyperfine(command: list[str], runs: int, env: dict[str, str]) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "h.json"
        subprocess.run(
            [
                "hyperfine",
                "-N",
                "--warmup",
                "2",
                "--runs",
                str(runs),
                "--export-json",
                str(out),
                shlex.join(command),
            ],
            env=env,
            capture_output=True,
            check=True,
        )
        data = json.loads(out.read_text())
    result = data["results"][0]
    # hyperfine reports the mean CPU time only
    CPU_MS[shlex.join(command)] = [(result["user"] + result["system"]) * 1000]
    return [t * 1000 for t in result["times"]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--no-hyperfine", action="store_true", help="always use the Python loop")
    args = parser.parse_args()

    env = dict(os.environ)
    env.pop("COUCHCTL_PROFILE", None)
    env["NO_COLOR"] = "1"
    standin = None
    if not env.get("COUCH_URL"):
        sys.path.insert(0, str(ROOT))
        from tests.standin import start

        print(
            "COUCH_URL is not set: starting the stand-in server (pouchdb-server)", file=sys.stderr
        )
        standin = start()
        env["COUCH_URL"] = standin.admin_url
    base, userinfo = split_credentials(env["COUCH_URL"])
    db = f"bench-{uuid.uuid4().hex[:8]}"
    use_hyperfine = shutil.which("hyperfine") is not None and not args.no_hyperfine
    curl = shutil.which("curl")
    try:
        http("PUT", f"{base}/{db}", userinfo)
        parts = urlsplit(env["COUCH_URL"].rstrip("/"))
        env["BENCH_DB_URL"] = urlunsplit(parts._replace(path=f"{parts.path}/{db}"))
        cases: list[tuple[str, list[str]]] = [
            ("python -c pass", [sys.executable, "-c", "pass"]),
            ("python -c 'import httpx, anyio'", [sys.executable, "-c", "import httpx, anyio"]),
            ("httpx GET URL/DB", [sys.executable, "-c", HTTPX_GET]),
            ("httpx.Client GET URL/DB", [sys.executable, "-c", HTTPX_SYNC_GET]),
            ("couchctl --version", [*couchctl(), "--version"]),
            ("couchctl --help", [*couchctl(), "--help"]),
            ("couchctl db info DB --json", [*couchctl(), "db", "info", db, "--json"]),
            ("couchctl db exists DB --json", [*couchctl(), "db", "exists", db, "--json"]),
            ("couchctl db exists DB", [*couchctl(), "db", "exists", db]),
        ]
        if curl:
            auth = ["-u", userinfo] if userinfo else []
            cases.append(
                (
                    "curl URL/DB",
                    [curl, "-sf", *auth, "-H", "Accept: application/json", f"{base}/{db}"],
                )
            )
        print(
            f"timer: {'hyperfine' if use_hyperfine else 'Python loop'}, {args.runs} runs each, "
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start"
        )
        print(f"{'command':32} {'median ms':>10} {'min ms':>8} {'cpu ms':>8}  target")
        failed = False
        if use_hyperfine:
            timings = [time_hyperfine(command, args.runs, env) for _, command in cases]
        else:
            timings = time_loop([command for _, command in cases], args.runs, env)
        for (name, command), times in zip(cases, timings, strict=True):
            median = statistics.median(times)
            target = TARGETS_MS.get(name)
            mark = ""
            if target is not None:
                ok = median < target
                failed |= not ok
                mark = f"< {target:.0f} {'ok' if ok else 'MISSED'}"
            cpu = CPU_MS.get(shlex.join(command))
            cpu_text = f"{statistics.median(cpu):8.1f}" if cpu else f"{'-':>8}"
            print(f"{name:32} {median:10.1f} {min(times):8.1f} {cpu_text}  {mark}")
        print(f"load average {os.getloadavg()[0]:.2f} at the end")
        return 1 if failed else 0
    finally:
        try:
            http("DELETE", f"{base}/{db}", userinfo)
        finally:
            if standin is not None:
                standin.stop()


if __name__ == "__main__":
    sys.exit(main())
