"""`couchctl db diff` against curl reading both `_all_docs`, on the CouchDB named by COUCH_URL.

    COUCH_URL=http://admin:$COUCHDB_PASSWORD@127.0.0.1:5984 python bench/diff.py [--docs 1000000]

Creates two databases with the same N small documents (ids doc-0000000...; the
same bodies give the same revisions), then times, under /usr/bin/time -v:

  couchctl   couchctl db diff A B --jsonl > /dev/null   (merge-join, exit 0)
  curl       curl A/_all_docs and curl B/_all_docs, both at once, to /dev/null

The runs alternate --repeat times (default 3); the median of each is printed
with ids/s (2N ids compared) and peak RSS. The databases are deleted afterwards.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._flows import curl_config, seed, server_from_env  # noqa: E402
from bench.bulk import Measure, couchctl, timed  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1_000_000, help="ids on each side")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    args = parser.parse_args()
    server = server_from_env()
    run_id = uuid.uuid4().hex[:8]
    a, b = f"bench-diff-a-{run_id}", f"bench-diff-b-{run_id}"
    env = {**os.environ, "NO_COLOR": "1"}
    results: dict[str, list[Measure]] = {"couchctl": [], "curl": []}
    with tempfile.TemporaryDirectory(prefix="couchctl-bench-") as tmp:
        curlrc = curl_config(server, Path(tmp))
        try:
            for db in (a, b):
                server.call("PUT", f"/{db}")
                seed(server, db, ({"_id": f"doc-{i:07d}", "n": i} for i in range(args.docs)))
            diff = f"{' '.join(couchctl())} db diff {a} {b} --jsonl > /dev/null"
            both = (
                f"curl -sf -K {curlrc} {server.base}/{a}/_all_docs -o /dev/null & "
                f"curl -sf -K {curlrc} {server.base}/{b}/_all_docs -o /dev/null & wait"
            )
            for _ in range(args.repeat):
                results["couchctl"].append(timed([diff], env, shell=True))
                results["curl"].append(timed([both], env, shell=True))
        finally:
            if not args.keep:
                for db in (a, b):
                    server.call("DELETE", f"/{db}")
    print(f"{args.docs:,} ids on each side, median of {args.repeat}")
    print(f"{'':10} {'seconds':>8} {'ids/s':>12} {'vs curl':>8} {'peak RSS':>10}")
    curl_s = statistics.median(m.seconds for m in results["curl"])
    for name, measures in results.items():
        seconds = statistics.median(m.seconds for m in measures)
        rss = max(m.rss_kb for m in measures)
        rate = 2 * args.docs / seconds
        print(
            f"{name:10} {seconds:8.2f} {rate:12,.0f} {curl_s / seconds:7.2f}x {rss / 1024:8.1f} MB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
