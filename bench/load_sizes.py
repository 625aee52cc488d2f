"""`couchctl bulk load` of large documents against curl: time and peak RSS by size.

    COUCH_URL=http://admin:$COUCHDB_PASSWORD@127.0.0.1:5984 python bench/load_sizes.py
    COUCH_URL=... python bench/load_sizes.py --sizes 20000,200000 --mib 60 --pairs 3

For each document size (bytes of text; default 20 KB, 200 KB, 2 MB and 7 MB, below
CouchDB's default max_document_size of 8,000,000) it writes JSON Lines of about
`--mib` MiB of such documents without `_id`, then loads them into emptied databases
in alternating pairs:

  couchctl  couchctl bulk load DB FILE (its defaults: batches of 1000 documents cut at
            4 MiB of text, the next read while those in flight hold less than 4 MiB)
  curl      the same documents in `{"docs":[...]}` bodies cut the same way, posted by
            `xargs -P4 curl` (the bodies are written before the clock starts)

and prints, for each size, the median seconds of each, their ratio (curl's seconds
over couchctl's: above 1.00x couchctl is faster) and the highest peak RSS of each
(/usr/bin/time -v). The point is couchctl's memory: its batches in flight are bounded
by their text, so a load of large documents stays within a few times the largest
batch. The databases are deleted at the end. Credentials reach curl through a
private config file, never its command line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.error
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._flows import curl_config, server_from_env  # noqa: E402
from bench.bulk import (  # noqa: E402
    Measure,
    Server,
    couchctl,
    post_bodies,
    split_bodies,
    timed,
)

BATCH = 1000  # couchctl's --batch-size default


def write_docs(path: Path, size: int, total: int) -> int:
    """JSON Lines of documents of about `size` characters, `total` characters in all."""
    count = max(1, total // size)
    filler = "couchdb " * (size // 8 + 1)
    with path.open("w", encoding="utf-8") as stream:
        for n in range(count):
            body = json.dumps({"type": "bench", "n": n, "text": ""})
            room = max(0, size - len(body))
            stream.write(json.dumps({"type": "bench", "n": n, "text": filler[:room]}) + "\n")
    return count


def empty(server: Server, dbs: list[str]) -> None:
    for db in dbs:
        with contextlib.suppress(urllib.error.HTTPError):
            server.call("DELETE", f"/{db}")
        server.call("PUT", f"/{db}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="20000,200000,2000000,7000000", help="document sizes in bytes"
    )
    parser.add_argument("--mib", type=int, default=120, help="MiB of documents a size")
    parser.add_argument("--pairs", type=int, default=2, help="alternating pairs a size")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds after emptying")
    args = parser.parse_args()
    server = server_from_env()
    env = {**os.environ, "NO_COLOR": "1"}
    run_id = uuid.uuid4().hex[:8]
    mine, theirs = f"bench-sizes-couchctl-{run_id}", f"bench-sizes-curl-{run_id}"
    table: list[str] = []
    with tempfile.TemporaryDirectory(prefix="couchctl-bench-") as tmp:
        work = Path(tmp)
        curlrc = curl_config(server, work)
        try:
            for size in (int(s) for s in args.sizes.split(",")):
                source = work / f"docs-{size}.jsonl"
                docs = write_docs(source, size, args.mib << 20)
                bodies = split_bodies(source, work / f"bodies-{size}", BATCH)
                load = [*couchctl(), "bulk", "load", mine, str(source), "--json"]
                post = post_bodies(
                    work / f"bodies-{size}", curlrc, f"{server.base}/{theirs}/_bulk_docs", 4
                )
                ours: list[Measure] = []
                curls: list[Measure] = []
                for pair in range(args.pairs):
                    empty(server, [mine, theirs])
                    (source.parent / (source.name + ".couchctl-journal")).unlink(missing_ok=True)
                    time.sleep(args.settle)
                    for which in (0, 1) if pair % 2 == 0 else (1, 0):
                        if which == 0:
                            ours.append(timed(load, env))
                            assert server.doc_count(mine) == docs
                        else:
                            curls.append(timed([post], env, shell=True))
                            assert server.doc_count(theirs) == docs
                    print(
                        f"{size} bytes, pair {pair + 1}: couchctl {ours[-1].seconds:.2f} s "
                        f"{ours[-1].rss_kb / 1024:.1f} MB, curl {curls[-1].seconds:.2f} s",
                        file=sys.stderr,
                    )
                mine_s = statistics.median(m.seconds for m in ours)
                curl_s = statistics.median(m.seconds for m in curls)
                table.append(
                    f"| {size:>9,} | {docs:>6,} | {bodies:>6} | {mine_s:>10.2f} | {curl_s:>7.2f} | "
                    f"{curl_s / mine_s:>6.2f}x | {max(m.rss_kb for m in ours) / 1024:>9.1f} MB | "
                    f"{max(m.rss_kb for m in curls) / 1024:>7.1f} MB |"
                )
        finally:
            for db in (mine, theirs):
                with contextlib.suppress(urllib.error.URLError):
                    server.call("DELETE", f"/{db}")
    print(
        f"server: {server.base}; about {args.mib} MiB a size; {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(
        "| doc bytes |   docs | bodies | couchctl s |  curl s |  ratio | couchctl RSS | curl RSS |"
    )
    print(f"|{'-' * 11}|{'-' * 8}|{'-' * 8}|{'-' * 12}|{'-' * 9}|{'-' * 8}|{'-' * 14}|{'-' * 10}|")
    print("\n".join(table))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
