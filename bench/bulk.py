"""`couchctl bulk load` and `bulk dump` against curl, on any CouchDB named by COUCH_URL.

    COUCH_URL=http://admin:$COUCHDB_PASSWORD@127.0.0.1:5984 python bench/bulk.py [--docs 200000]
    python bench/bulk.py --standin --docs 20000     # small run on pouchdb-server

Generates N documents of about 300 bytes without `_id` (bench/gen_docs.py) and
prints one table:

  load   couchctl bulk load DB docs.jsonl            (--batch-size, --concurrency)
         curl: the same documents pre-split into _bulk_docs bodies cut as couchctl
         cuts its batches, posted 4 at a time (xargs -P4 curl, --curl-parallel);
         splitting is not timed
  dump   couchctl bulk dump DB -o out.jsonl
         curl: GET DB/_all_docs?include_docs=true in one request, to a file
         (the two dumps alternate, --repeat times each; the median is kept)

Each command runs under /usr/bin/time -v: wall time and peak RSS. docs/s and the
ratio to the curl baseline (couchctl docs/s / curl docs/s) are printed for each.
The databases are deleted afterwards. Credentials reach curl via a private config
file, never its command line, and are never printed.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.gen_docs import write as write_docs  # noqa: E402

TIME = "/usr/bin/time"


def couchctl() -> list[str]:
    exe = shutil.which("couchctl", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "couchctl"]


def split_credentials(url: str) -> tuple[str, str | None]:
    """The URL without userinfo, and `user:password` (or None)."""
    parts = urlsplit(url)
    if parts.username is None:
        return url.rstrip("/"), None
    bare = urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    return bare.rstrip("/"), f"{parts.username}:{parts.password or ''}"


class Server:
    def __init__(self, url: str) -> None:
        self.url = url
        self.base, self.userinfo = split_credentials(url)

    def call(self, method: str, path: str) -> object:
        request = urllib.request.Request(
            self.base + path, method=method, headers={"Accept": "application/json"}
        )
        if self.userinfo:
            token = base64.b64encode(self.userinfo.encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read())

    def doc_count(self, db: str) -> int:
        info = self.call("GET", f"/{db}")
        assert isinstance(info, dict)
        return int(info["doc_count"])


@dataclass
class Measure:
    seconds: float
    rss_kb: int
    cpu: float = 0.0  # user + system seconds
    user: float = 0.0  # user seconds


def timed(command: list[str], env: dict[str, str], shell: bool = False) -> Measure:
    """Run under /usr/bin/time -v; wall seconds, peak RSS (of the largest process) and
    CPU seconds (user + system)."""
    full = [TIME, "-v", "sh", "-c", command[0]] if shell else [TIME, "-v", *command]
    result = subprocess.run(full, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(
            f"failed ({result.returncode}): {' '.join(command)[:200]}\n{result.stderr[-1500:]}"
        )
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", result.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)
    assert wall is not None and rss is not None, result.stderr[-800:]
    hours, minutes, seconds = wall.groups()
    total = int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)
    cpu = sum(
        float(found.group(1))
        for found in re.finditer(r"(?:User|System) time \(seconds\): ([\d.]+)", result.stderr)
    )
    user = re.search(r"User time \(seconds\): ([\d.]+)", result.stderr)
    return Measure(total, int(rss.group(1)), cpu, float(user.group(1)) if user else 0.0)


def split_bodies(source: Path, target: Path, batch: int) -> int:
    """`{"docs":[...]}` files from JSON Lines, cut as `bulk load` cuts its batches: at
    `batch` documents, or sooner once their text reaches MAX_BATCH_BYTES characters."""
    from couchctl.bulk.loader import MAX_BATCH_BYTES

    target.mkdir()
    count = 0
    lines: list[str] = []
    length = 0

    def flush() -> None:
        nonlocal count, length
        if lines:
            (target / f"{count:06d}.json").write_text('{"docs":[' + ",".join(lines) + "]}")
            count += 1
            lines.clear()
            length = 0

    with source.open(encoding="utf-8") as stream:
        for raw in stream:
            line = raw.rstrip("\n")
            lines.append(line)
            length += len(line)
            if len(lines) >= batch or length >= MAX_BATCH_BYTES:
                flush()
    flush()
    return count


def post_bodies(bodies: Path, curlrc: Path, url: str, parallel: int) -> str:
    """The shell command posting every `*.json` body in `bodies` to `url` (a
    `_bulk_docs`), `parallel` curl processes at a time."""
    return (
        f"ls {bodies}/*.json | xargs -P{parallel} -I{{}} curl -sf -K {curlrc} "
        f"-o /dev/null -H 'Content-Type: application/json' -H 'Accept: application/json' "
        f"--data-binary @{{}} {url}"
    )


def median_of(measures: list[Measure]) -> Measure:
    """The run of median wall time, with the highest peak RSS of all runs."""
    ordered = sorted(measures, key=lambda m: m.seconds)
    middle = ordered[(len(ordered) - 1) // 2]
    cpus = sorted(m.cpu for m in measures)
    users = sorted(m.user for m in measures)
    half = (len(measures) - 1) // 2
    return Measure(middle.seconds, max(m.rss_kb for m in measures), cpus[half], users[half])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=200_000, help="documents (default 200000)")
    parser.add_argument("--batch-size", type=int, default=None, help="couchctl's default if unset")
    parser.add_argument(
        "--concurrency", type=int, default=None, help="couchctl's --concurrency (its default)"
    )
    parser.add_argument(
        "--curl-parallel", type=int, default=4, help="curl posts at once (default 4: curl x4)"
    )
    parser.add_argument("--dump-concurrency", type=int, default=None)
    parser.add_argument(
        "--standin",
        action="store_true",
        help="start pouchdb-server (tests/standin.py) instead of using COUCH_URL",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="dump runs of each, median kept (default 3)"
    )
    parser.add_argument(
        "--load-repeat", type=int, default=1, help="load runs of each, median kept (default 1)"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=2.0,
        help="seconds to wait after emptying the databases, before each load pair (default 2)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    args = parser.parse_args()

    if not Path(TIME).exists():
        raise SystemExit(f"{TIME} is needed (GNU time) to measure peak RSS")
    if shutil.which("curl") is None:
        raise SystemExit("curl is needed for the baseline")
    standin = None
    url = os.environ.get("COUCH_URL")
    if args.standin:
        from tests.standin import start

        standin = start()
        url = standin.admin_url
    elif not url:
        raise SystemExit(
            "set COUCH_URL to the server to measure (or use --standin for a small run)"
        )
    assert url is not None

    from couchctl.cli.bulk import DEFAULT_DUMP_BATCH, DEFAULT_LOAD_BATCH, DEFAULT_LOAD_CONCURRENCY

    batch = args.batch_size or DEFAULT_LOAD_BATCH
    concurrency = args.concurrency or DEFAULT_LOAD_CONCURRENCY
    parallel = args.curl_parallel
    server = Server(url)
    env = {**os.environ, "COUCH_URL": url, "NO_COLOR": "1"}
    run_id = uuid.uuid4().hex[:8]
    dbs = {name: f"bench-{name}-{run_id}" for name in ("couchctl", "curl")}
    rows: list[tuple[str, str, Measure, int]] = []
    with tempfile.TemporaryDirectory(prefix="couchctl-bench-") as tmp:
        work = Path(tmp)
        source = work / "docs.jsonl"
        with source.open("w", encoding="utf-8") as stream:
            size = write_docs(stream, args.docs)
        bodies = split_bodies(source, work / "bodies", batch)
        curlrc = work / "curlrc"
        curlrc.touch(mode=0o600)
        if server.userinfo:
            escaped = server.userinfo.replace("\\", "\\\\").replace('"', '\\"')
            curlrc.write_text(f'user = "{escaped}"\n')
        try:
            for db in dbs.values():
                server.call("PUT", f"/{db}")

            load = [
                *couchctl(),
                "bulk",
                "load",
                dbs["couchctl"],
                str(source),
                "--concurrency",
                str(concurrency),
                "--batch-size",
                str(batch),
            ]
            post = post_bodies(
                work / "bodies", curlrc, f"{server.base}/{dbs['curl']}/_bulk_docs", parallel
            )
            # Loads alternate too with --load-repeat N: each pair into emptied databases.
            loads: list[Measure] = []
            posts: list[Measure] = []
            # Who goes first alternates too: the first load after the databases were
            # emptied runs while the server still deletes the old files.
            for round_ in range(args.load_repeat):
                if round_:
                    for db in dbs.values():
                        server.call("DELETE", f"/{db}")
                        server.call("PUT", f"/{db}")
                time.sleep(args.settle)
                for which in (0, 1) if round_ % 2 == 0 else (1, 0):
                    if which == 0:
                        loads.append(timed(load, env))
                        assert server.doc_count(dbs["couchctl"]) == args.docs
                    else:
                        posts.append(timed([post], env, shell=True))
                        assert server.doc_count(dbs["curl"]) == args.docs
                print(
                    f"load pair ({'couchctl' if round_ % 2 == 0 else 'curl'} first): couchctl "
                    f"{loads[-1].seconds:.2f} s ({loads[-1].user:.2f} s user), "
                    f"curl {posts[-1].seconds:.2f} s ({posts[-1].user:.2f} s user), "
                    f"ratio {posts[-1].seconds / loads[-1].seconds:.2f}x, "
                    f"load average {os.getloadavg()[0]:.2f}",
                    file=sys.stderr,
                )
            if len(loads) > 1:
                ratios = sorted(p.seconds / c.seconds for c, p in zip(loads, posts, strict=True))
                print(
                    f"load: median of the pairs' ratios {statistics.median(ratios):.2f}x "
                    f"({', '.join(f'{r:.2f}' for r in ratios)})",
                    file=sys.stderr,
                )
            rows.append(("load", "couchctl bulk load", median_of(loads), args.docs))
            rows.append(
                ("load", f"curl {bodies} bodies, xargs -P{parallel}", median_of(posts), args.docs)
            )

            out = work / "dump.jsonl"
            dump = [*couchctl(), "bulk", "dump", dbs["couchctl"], "-o", str(out), "--force"]
            if args.dump_concurrency:
                dump += ["--concurrency", str(args.dump_concurrency)]
            fetch = [
                "curl",
                "-sf",
                "-K",
                str(curlrc),
                "-H",
                "Accept: application/json",
                "-o",
                str(work / "all_docs.json"),
                f"{server.base}/{dbs['couchctl']}/_all_docs?include_docs=true",
            ]
            # Alternate the two, --repeat times each, and keep the median: the first
            # read after a load pays for the server settling, whoever comes first.
            ours: list[Measure] = []
            theirs: list[Measure] = []
            for round_ in range(args.repeat):
                for which in (0, 1) if round_ % 2 == 0 else (1, 0):
                    if which == 0:
                        ours.append(timed(dump, env))
                        with out.open(encoding="utf-8") as stream:
                            assert sum(1 for _ in stream) == args.docs
                    else:
                        theirs.append(timed(fetch, env))
                print(
                    f"dump pair ({'couchctl' if round_ % 2 == 0 else 'curl'} first): couchctl {ours[-1].seconds:.2f} s ({ours[-1].user:.2f} s user, "
                    f"{ours[-1].cpu:.2f} s CPU), curl {theirs[-1].seconds:.2f} s "
                    f"({theirs[-1].user:.2f} s user, {theirs[-1].cpu:.2f} s CPU), "
                    f"load average {os.getloadavg()[0]:.2f}",
                    file=sys.stderr,
                )
            rows.append(("dump", "couchctl bulk dump", median_of(ours), args.docs))
            rows.append(("dump", "curl _all_docs?include_docs=true", median_of(theirs), args.docs))
        finally:
            if not args.keep:
                for db in dbs.values():
                    with contextlib.suppress(urllib.error.URLError):
                        server.call("DELETE", f"/{db}")
            if standin is not None:
                standin.stop()

    kind = "the pouchdb-server stand-in (not CouchDB)" if standin else server.base
    print(
        f"server: {kind}; {args.docs} docs, {size / args.docs:.0f} bytes each on average; "
        f"load batch {batch}, concurrency {concurrency}; dump batch {DEFAULT_DUMP_BATCH}; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"| {'op':4} | {'command':38} | {'seconds':>7} | {'docs/s':>8} | {'vs curl':>7} | "
        f"{'peak RSS':>9} | {'user s':>6} | {'CPU s':>6} |"
    )
    print(f"|{'-' * 6}|{'-' * 40}|{'-' * 9}|{'-' * 10}|{'-' * 9}|{'-' * 11}|{'-' * 8}|{'-' * 8}|")
    baseline = {op: m for op, name, m, _ in rows if name.startswith("curl")}
    for op, name, measure, count in rows:
        rate = count / measure.seconds if measure.seconds else float("inf")
        base_rate = count / baseline[op].seconds if baseline[op].seconds else float("inf")
        ratio = rate / base_rate
        print(
            f"| {op:4} | {name:38} | {measure.seconds:7.2f} | {rate:8,.0f} | {ratio:6.2f}x | "
            f"{measure.rss_kb / 1024:6.1f} MB | {measure.user:6.2f} | {measure.cpu:6.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
