"""Eight `couchctl bulk load` processes at once, each into its own database.

    COUCH_URL=http://admin:$COUCHDB_PASSWORD@127.0.0.1:5984 python bench/load.py
    python bench/load.py --processes 8 --docs 2000 --json     # the test suite's size

Writes one JSON Lines file of N small documents (every other one without `_id`,
so the loads also take ids from /_uuids), creates P databases named
`load-<id>-<i>`, starts P `couchctl bulk load` processes together and waits for
them with `os.wait4`, which gives each process's own peak RSS. Then it checks on
the server that every database holds exactly the N documents, each once (by the
`seq` field every document carries), and deletes the databases (`--keep` keeps
them). Prints a table, or one JSON object with `--json`; exits 1 when a load
failed, a document is missing or doubled, or a peak RSS reached `--max-rss-mb`.
Credentials are never printed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from base64 import b64encode
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit


def couchctl() -> list[str]:
    exe = shutil.which("couchctl", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "couchctl"]


class Server:
    """Plain urllib requests to the server (credentials from the URL, never shown)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url.rstrip("/"))
        self.headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            self.headers["Authorization"] = "Basic " + b64encode(pair.encode()).decode()
        self.base = urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]))

    def call(self, method: str, path: str) -> Any:
        request = urllib.request.Request(self.base + path, method=method, headers=self.headers)
        with urllib.request.urlopen(request, timeout=300) as response:
            return json.loads(response.read())


def write_docs(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        for i in range(count):
            doc: dict[str, Any] = {"seq": i, "type": "load", "value": i * 7 % 1000}
            if i % 2:
                doc = {"_id": f"doc-{i:07d}", **doc}
            out.write(json.dumps(doc, separators=(",", ":")) + "\n")


def check(server: Server, db: str, count: int) -> dict[str, int]:
    """Documents in `db` by their `seq`: how many are missing and how many are doubled."""
    seqs: Counter[int] = Counter()
    start = ""
    while True:
        page = server.call(
            "GET",
            f"/{db}/_all_docs?include_docs=true&limit=10001"
            + (f"&startkey={json.dumps(start)}" if start else ""),
        )
        rows = page["rows"]
        for row in rows[:10000]:
            seqs[row["doc"].get("seq")] += 1
        if len(rows) <= 10000:
            break
        start = rows[10000]["id"]
    missing = sum(1 for i in range(count) if i not in seqs)
    doubled = sum(n - 1 for n in seqs.values() if n > 1)
    return {"found": sum(seqs.values()), "missing": missing, "doubled": doubled}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("COUCH_URL"))
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--docs", type=int, default=50_000, help="documents per process")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=2, help="batches in flight per process")
    parser.add_argument("--max-rss-mb", type=float, default=64.0)
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    args = parser.parse_args(argv)
    if not args.url:
        parser.error("set COUCH_URL or pass --url (a server you may create databases on)")
    server = Server(args.url)
    run_id = uuid.uuid4().hex[:8]
    dbs = [f"load-{run_id}-{i}" for i in range(args.processes)]
    work = Path(tempfile.mkdtemp(prefix="couchctl-load-"))
    source = work / "docs.jsonl"
    write_docs(source, args.docs)
    env = {**os.environ, "COUCH_URL": args.url, "NO_COLOR": "1"}
    results: list[dict[str, Any]] = []
    try:
        for db in dbs:
            server.call("PUT", f"/{db}")
        started = time.monotonic()
        children = {}
        for i, db in enumerate(dbs):
            command = [
                *couchctl(), "bulk", "load", db, str(source),
                "--batch-size", str(args.batch_size), "--concurrency", str(args.concurrency),
                "--journal", str(work / f"journal-{i}"),
            ]  # fmt: skip
            err = (work / f"stderr-{i}").open("wb")
            process = subprocess.Popen(
                command, env=env, stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL
            )
            err.close()
            children[process.pid] = (i, db, process)
        while children:
            pid, status, usage = os.wait4(-1, 0)
            if pid not in children:
                continue
            i, db, process = children.pop(pid)
            process.returncode = os.waitstatus_to_exitcode(status)
            stderr = (work / f"stderr-{i}").read_text(errors="replace").strip()
            results.append(
                {
                    "db": db,
                    "exit": process.returncode,
                    "seconds": round(time.monotonic() - started, 2),
                    "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # KiB on Linux
                    "stderr_tail": stderr.splitlines()[-1:] if process.returncode else [],
                }
            )
        wall = time.monotonic() - started
        for result in results:
            result.update(check(server, result["db"], args.docs))
    finally:
        if not args.keep:
            for db in dbs:
                with contextlib.suppress(urllib.error.HTTPError):
                    server.call("DELETE", f"/{db}")
        shutil.rmtree(work, ignore_errors=True)
    results.sort(key=lambda r: r["db"])
    ok = all(
        r["exit"] == 0
        and r["missing"] == 0
        and r["doubled"] == 0
        and r["found"] == args.docs
        and r["peak_rss_mb"] < args.max_rss_mb
        for r in results
    )
    summary = {
        "processes": args.processes,
        "docs_per_process": args.docs,
        "batch_size": args.batch_size,
        "concurrency": args.concurrency,
        "wall_seconds": round(wall, 2),
        "docs_per_second": round(args.processes * args.docs / wall, 1),
        "max_peak_rss_mb": max(r["peak_rss_mb"] for r in results),
        "ok": ok,
        "loads": results,
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{'database':<22} {'exit':>4} {'seconds':>8} {'peak RSS':>9} {'found':>7} "
              f"{'missing':>7} {'doubled':>7}")  # fmt: skip
        for r in results:
            print(f"{r['db']:<22} {r['exit']:>4} {r['seconds']:>8.2f} {r['peak_rss_mb']:>6.1f} MB "
                  f"{r['found']:>7} {r['missing']:>7} {r['doubled']:>7}")  # fmt: skip
        print(
            f"{args.processes} x {args.docs:,} documents in {wall:.1f} s "
            f"({summary['docs_per_second']:,.0f} docs/s in all); "
            f"highest peak RSS {summary['max_peak_rss_mb']} MB: {'ok' if ok else 'FAILED'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
