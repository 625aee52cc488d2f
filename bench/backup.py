"""`db backup` / `db restore` against `bulk dump` / `bulk load` and couchbackup /
couchrestore on the same data, on the CouchDB named by COUCH_URL.

    COUCH_URL=http://admin:$COUCHDB_PASSWORD@127.0.0.1:5984 python bench/backup.py \
        [--docs 100000] [--pairs 3] [--couchbackup DIR]

Seeds N documents of about 300 bytes (bench/gen_docs.py, with ids), then, in each of
--pairs rounds, times under /usr/bin/time -v (wall seconds, docs/s, peak RSS):

  backup        couchctl db backup SRC -o archive.jsonl   (revision history, _security)
  couchbackup   couchbackup --db SRC --output cb.txt      (if installed)
  dump          couchctl bulk dump SRC -o dump.jsonl        (bodies with _rev)
  restore       couchctl db restore NEW archive.jsonl       (new_edits=false with history)
  couchrestore  couchrestore --db NEW < cb.txt              (if installed; NEW created empty)
  load          couchctl bulk load NEW dump.jsonl --no-new-edits

The order within a round alternates from one round to the next, so that a change of
the machine's load falls on both sides; the table gives each command's median and the
median of the per-round ratios to `db backup` / `db restore`. Every restored database
is checked to hold N documents, and deleted afterwards with the source.

couchbackup is not a dependency of couchctl: install it anywhere (for example `npm
install --prefix /tmp/cb @cloudant/couchbackup`) and pass `--couchbackup
/tmp/cb/node_modules/.bin`, or put it on PATH. It reads the server from COUCH_URL,
so no credential is on a command line.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import shutil
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._flows import seed, server_from_env  # noqa: E402
from bench.bulk import Measure, couchctl, timed  # noqa: E402
from bench.gen_docs import documents  # noqa: E402


def couchbackup_tools(where: str | None) -> tuple[str, str] | None:
    """Paths of couchbackup and couchrestore, from DIR or PATH; None when absent."""
    found = [shutil.which(name, path=where) for name in ("couchbackup", "couchrestore")]
    if found[0] and found[1]:
        return found[0], found[1]
    if where:
        raise SystemExit(f"couchbackup and couchrestore are not both in {where}")
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--pairs", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--couchbackup", metavar="DIR", help="folder holding couchbackup")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    args = parser.parse_args()
    server = server_from_env()
    tools = couchbackup_tools(args.couchbackup)
    run_id = uuid.uuid4().hex[:8]
    source = f"bench-backup-src-{run_id}"
    env = {**os.environ, "NO_COLOR": "1"}
    exe = couchctl()
    created: list[str] = [source]
    times: dict[str, list[Measure]] = {}
    sizes: dict[str, int] = {}

    def target(kind: str, round_: int, make: bool = False) -> str:
        name = f"bench-backup-{kind}-{round_}-{run_id}"
        created.append(name)
        if make:
            server.call("PUT", f"/{name}")
        return name

    with tempfile.TemporaryDirectory(prefix="couchctl-bench-") as tmp:
        work = Path(tmp)
        archive, dump, cb_file = work / "archive.jsonl", work / "dump.jsonl", work / "cb.txt"
        try:
            server.call("PUT", f"/{source}")
            seed(server, source, documents(args.docs, ids=True))
            for round_ in range(args.pairs):
                reads = [
                    ("backup", [*exe, "db", "backup", source, "-o", str(archive), "--force"]),
                    ("dump", [*exe, "bulk", "dump", source, "-o", str(dump), "--force"]),
                ]
                if tools:
                    log = work / f"cb-{round_}.log"
                    reads.append(
                        (
                            "couchbackup",
                            [tools[0], "--db", source, "-o", str(cb_file), "-l", str(log)],
                        )
                    )
                restored = target("restored", round_)
                loaded = target("loaded", round_, make=True)
                writes = [
                    ("restore", [*exe, "db", "restore", restored, str(archive)], False),
                    ("load", [*exe, "bulk", "load", loaded, str(dump), "--no-new-edits"], False),
                ]
                if tools:
                    into = target("couchrestored", round_, make=True)
                    line = f"{shlex.quote(tools[1])} --db {shlex.quote(into)} < {shlex.quote(str(cb_file))}"
                    writes.append(("couchrestore", [line], True))
                if round_ % 2:
                    reads.reverse()
                    writes.reverse()
                for name, command in reads:
                    times.setdefault(name, []).append(timed(command, env))
                for name, command, shell in writes:
                    times.setdefault(name, []).append(timed(command, env, shell=shell))
                for db in created[-len(writes) :]:
                    count = server.doc_count(db)
                    if count != args.docs:
                        raise SystemExit(f"{db} holds {count} documents, not {args.docs}")
                    if not args.keep:
                        server.call("DELETE", f"/{db}")
            sizes = {"backup": archive.stat().st_size, "dump": dump.stat().st_size}
            if tools:
                sizes["couchbackup"] = cb_file.stat().st_size
        finally:
            if not args.keep:
                for db in created:
                    with contextlib.suppress(OSError):
                        server.call("DELETE", f"/{db}")
    report(args.docs, args.pairs, times, sizes)
    return 0


def report(docs: int, pairs: int, times: dict[str, list[Measure]], sizes: dict[str, int]) -> None:
    print(f"{docs:,} documents, {pairs} rounds (median of each; ratio: the median per round)")
    print("| command | seconds (median) | runs | docs/s | vs couchctl | peak RSS | file |")
    print("|---|---|---|---|---|---|---|")
    base = {"backup": "backup", "dump": "backup", "couchbackup": "backup"}
    for name, runs in times.items():
        seconds = [m.seconds for m in runs]
        median = statistics.median(seconds)
        ours = times[base.get(name, "restore")]
        ratio = statistics.median(o.seconds / m.seconds for o, m in zip(ours, runs, strict=True))
        size = f"{sizes[name] / 2**20:.1f} MB" if name in sizes else ""
        print(
            f"| {name} | {median:.2f} | {' / '.join(f'{s:.1f}' for s in seconds)} "
            f"| {docs / median:,.0f} | {ratio:.2f}x | {max(m.rss_kb for m in runs) / 1024:.1f} MB "
            f"| {size} |"
        )
    print(
        "(vs couchctl: couchctl's seconds / this command's seconds; above 1 is faster than couchctl)"
    )


if __name__ == "__main__":
    raise SystemExit(main())
