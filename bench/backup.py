"""`db backup` / `db restore` against `bulk dump` / `bulk load` on the same data, on the
CouchDB named by COUCH_URL.

    COUCH_URL=http://admin:$COUCHDB_PASSWORD@127.0.0.1:5984 python bench/backup.py [--docs 100000]

Seeds N documents of about 300 bytes (bench/gen_docs.py, with ids), then times
each command under /usr/bin/time -v (wall seconds, docs/s, peak RSS):

  backup    couchctl db backup SRC -o archive.jsonl   (revision history, _security)
  dump      couchctl bulk dump SRC -o dump.jsonl        (bodies with _rev)
  restore   couchctl db restore NEW1 archive.jsonl      (new_edits=false with history)
  load      couchctl bulk load NEW2 dump.jsonl --no-new-edits

couchbackup (the usual CouchDB backup tool) is not installed here, so it is not
part of the comparison. The databases are deleted afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._flows import seed, server_from_env  # noqa: E402
from bench.bulk import couchctl, timed  # noqa: E402
from bench.gen_docs import documents  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    args = parser.parse_args()
    server = server_from_env()
    run_id = uuid.uuid4().hex[:8]
    source = f"bench-backup-src-{run_id}"
    restored = f"bench-backup-restored-{run_id}"
    loaded = f"bench-backup-loaded-{run_id}"
    env = {**os.environ, "NO_COLOR": "1"}
    exe = couchctl()
    rows = []
    with tempfile.TemporaryDirectory(prefix="couchctl-bench-") as tmp:
        archive, dump = Path(tmp) / "archive.jsonl", Path(tmp) / "dump.jsonl"
        try:
            server.call("PUT", f"/{source}")
            seed(server, source, documents(args.docs, ids=True))
            steps = [
                ("backup", [*exe, "db", "backup", source, "-o", str(archive)]),
                ("dump", [*exe, "bulk", "dump", source, "-o", str(dump)]),
                ("restore", [*exe, "db", "restore", restored, str(archive)]),
                ("load", [*exe, "bulk", "load", loaded, str(dump), "--no-new-edits"]),
            ]
            server.call("PUT", f"/{loaded}")
            for name, command in steps:
                rows.append((name, timed(command, env)))
            for db in (restored, loaded):
                count = server.doc_count(db)
                if count != args.docs:
                    raise SystemExit(f"{db} holds {count} documents, not {args.docs}")
            sizes = {"backup": archive.stat().st_size, "dump": dump.stat().st_size}
        finally:
            if not args.keep:
                for db in (source, restored, loaded):
                    with contextlib.suppress(OSError):
                        server.call("DELETE", f"/{db}")
    print(f"{args.docs:,} documents")
    print(f"{'':8} {'seconds':>8} {'docs/s':>10} {'peak RSS':>10} {'file':>10}")
    for name, measure in rows:
        size = f"{sizes[name] / 2**20:.1f} MB" if name in sizes else ""
        print(
            f"{name:8} {measure.seconds:8.2f} {args.docs / measure.seconds:10,.0f} "
            f"{measure.rss_kb / 1024:8.1f} MB {size:>10}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
