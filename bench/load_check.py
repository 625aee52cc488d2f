"""How long `bulk load` takes, before its first batch, to check a JSON Lines file.

    python bench/load_check.py                   # 200,000 documents, 5 runs
    python bench/load_check.py --docs 1000000 --runs 3

No server: the check runs before anything is sent, so the server waits for it
(issue 8). The documents are bench/gen_docs.py's (~300 bytes), written once
without `_id` and once with one each, and timed (median and minimum of the runs,
wall seconds in this process) as

  parts    the check as `bulk load` runs it: on Linux a file of PARALLEL_FROM
           (16 MiB) or more is checked in parts, one forked process per core
  one      the same check in this process only (no parts)
  lines    the reference: the check as it was before it read the file in blocks
           (a decode and `check_document` per line)
  read     reading the checked file again into records, as the load does for
           its batches

and prints one row per file.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.gen_docs import write as write_docs
from couchctl.bulk import InputCheck, check_document, check_input, iter_records
from couchctl.bulk import check as bulk_check


def per_line(path: Path) -> InputCheck:
    """The check of a JSON Lines file as it was before blocks (its hot loop)."""
    check = InputCheck()
    decode = json.JSONDecoder().decode
    with path.open("rb") as stream:
        for number, raw in enumerate(stream, 1):
            text = raw.decode("utf-8")
            value = decode(text)
            check_document(value, number, text=text)
            check.documents += 1
            check.deletions += value.get("_deleted") is True
    return check


def one_process(path: Path) -> InputCheck:
    saved = bulk_check.PARALLEL_FROM
    bulk_check.PARALLEL_FROM = 1 << 62
    try:
        return check_input(path)
    finally:
        bulk_check.PARALLEL_FROM = saved


def read_records(path: Path) -> int:
    with path.open("rb") as stream:
        return sum(1 for _ in iter_records(stream, checked=True))


def timed(function: Callable[[Path], object], path: Path, runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function(path)
        times.append(time.perf_counter() - started)
    return statistics.median(times), min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(
        f"{args.docs} documents, {args.runs} runs each, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}; seconds, median (min)"
    )
    print(
        f"| {'file':12} | {'MB':>5} | {'parts':>13} | {'one':>13} | {'lines':>13} | {'read':>13} |"
    )
    print(f"|{'-' * 14}|{'-' * 7}|{'-' * 15}|{'-' * 15}|{'-' * 15}|{'-' * 15}|")
    with tempfile.TemporaryDirectory(prefix="couchctl-bench-") as tmp:
        for ids in (False, True):
            path = Path(tmp) / f"docs-{ids}.jsonl"
            with path.open("w", encoding="utf-8") as out:
                size = write_docs(out, args.docs, ids=ids)
            expected = InputCheck(documents=args.docs)
            assert check_input(path) == one_process(path) == per_line(path) == expected
            assert read_records(path) == args.docs
            cells = [
                "{:.3f} ({:.3f})".format(*timed(function, path, args.runs))
                for function in (check_input, one_process, per_line, read_records)
            ]
            name = "with _id" if ids else "without _id"
            print(
                f"| {name:12} | {size / 1e6:5.1f} | " + " | ".join(f"{c:>13}" for c in cells) + " |"
            )
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
