"""`att download` and `att upload` against curl, in alternating pairs, on a real CouchDB.

    COUCH_URL=http://admin:$COUCHDB_PASSWORD@127.0.0.1:5984 python bench/transfer.py [--size-mib 256] [--pairs 5]

Makes a file of SIZE random bytes and a database `bench-transfer-<id>` (deleted at
the end), then runs PAIRS alternating pairs of each (who goes first alternates too):

  upload    couchctl att upload DB docN FILE      vs  curl -T FILE .../DB/docN/blob
  download  couchctl att download DB doc blob -o  vs  curl -o OUT .../DB/doc/blob

Each command runs under /usr/bin/time -v (wall seconds, CPU seconds user+system, peak
RSS). Printed: the median of each side and the median of the per-pair ratios curl
seconds / couchctl seconds (1.00x: as fast as curl; the target is 0.95x or more), the
median CPU seconds of each side (less moved by the machine's load than wall time), and
the load average before and after, since a shared machine moves every number. Each
pair is also printed on stderr as it ends. `--only upload|download` runs one half. Downloads are compared byte for
byte with the source once. Credentials reach curl via a private config file (-K),
never its command line, and are never printed.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._flows import curl_config, server_from_env  # noqa: E402
from bench.bulk import Measure, couchctl, timed  # noqa: E402


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def row(name: str, mine: list[Measure], theirs: list[Measure]) -> str:
    ratios = [c.seconds / m.seconds for m, c in zip(mine, theirs, strict=True)]
    return (
        f"| {name} | {statistics.median(m.seconds for m in mine):.2f} "
        f"| {statistics.median(c.seconds for c in theirs):.2f} "
        f"| {statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f}) "
        f"| {statistics.median(m.cpu for m in mine):.2f} "
        f"| {statistics.median(c.cpu for c in theirs):.2f} "
        f"| {max(m.rss_kb for m in mine) / 1024:.1f} MB | {max(c.rss_kb for c in theirs) / 1024:.1f} MB |"
    )


def note(name: str, pair: int, mine: Measure, theirs: Measure) -> None:
    print(
        f"{name} pair {pair + 1}: couchctl {mine.seconds:.2f} s ({mine.cpu:.2f} s CPU), "
        f"curl {theirs.seconds:.2f} s ({theirs.cpu:.2f} s CPU), "
        f"{theirs.seconds / mine.seconds:.2f}x; load {load()}",
        file=sys.stderr,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--only", choices=("upload", "download"))
    args = parser.parse_args()
    server = server_from_env()
    db = f"bench-transfer-{uuid.uuid4().hex[:10]}"
    env = {**os.environ, "COUCH_URL": server.url, "NO_COLOR": "1"}
    print(f"load average before: {load()}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="couchctl-bench-") as folder:
        work = Path(folder)
        curlrc = curl_config(server, work)
        source = work / "blob.bin"
        with source.open("wb") as out:
            for _ in range(args.size_mib):
                out.write(os.urandom(1 << 20))
        curl = ["curl", "-sS", "-f", "-K", str(curlrc)]
        server.call("PUT", f"/{db}")
        try:
            up_mine: list[Measure] = []
            up_curl: list[Measure] = []
            # Who goes first alternates from pair to pair.
            for pair in range(args.pairs if args.only != "download" else 1):
                for which in (0, 1) if pair % 2 == 0 else (1, 0):
                    if which == 0:
                        up_mine.append(
                            timed([*couchctl(), "att", "upload", db, f"mine{pair}", str(source),
                                   "--name", "blob", "--json"], env)
                        )  # fmt: skip
                    else:
                        up_curl.append(
                            timed([*curl, "-o", os.devnull, "-H",
                                   "Content-Type: application/octet-stream", "-T", str(source),
                                   f"{server.base}/{db}/curl{pair}/blob"], env)
                        )  # fmt: skip
                note("upload", pair, up_mine[-1], up_curl[-1])
            down_mine: list[Measure] = []
            down_curl: list[Measure] = []
            for pair in range(args.pairs if args.only != "upload" else 0):
                for which in (0, 1) if pair % 2 == 0 else (1, 0):
                    if which == 0:
                        target = work / f"out{pair}.bin"
                        down_mine.append(
                            timed([*couchctl(), "att", "download", db, "mine0", "blob", "-o",
                                   str(target), "--json"], env)
                        )  # fmt: skip
                        if pair == 0 and not filecmp.cmp(source, target, shallow=False):
                            raise SystemExit("couchctl downloaded different bytes")
                        target.unlink()
                    else:
                        down_curl.append(
                            timed([*curl, "-o", str(work / "curl.bin"),
                                   f"{server.base}/{db}/mine0/blob"], env)
                        )  # fmt: skip
                note("download", pair, down_mine[-1], down_curl[-1])
        finally:
            subprocess.run(
                ["curl", "-sS", "-K", str(curlrc), "-X", "DELETE", f"{server.base}/{db}"],
                capture_output=True,
                check=False,
            )
    print(f"{args.size_mib} MiB, {args.pairs} alternating pairs; load average after: {load()}")
    print(
        "| op | couchctl s | curl s | vs curl (median, range) | couchctl CPU s | curl CPU s "
        "| couchctl RSS | curl RSS |"
    )
    print("|---|---|---|---|---|---|---|---|")
    if args.only != "download":
        print(row("att upload", up_mine, up_curl))
    if args.only != "upload":
        print(row("att download", down_mine, down_curl))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
