"""How long `bulk load` takes to read and check one very long JSON Lines line.

    python bench/jsonl_line.py                 # lines of 16, 64 and 300 MiB
    python bench/jsonl_line.py --sizes 16 48   # other sizes, in MiB

No server: this times the input side of `bulk load` only, the part that used to
be quadratic in the length of a line. For each size it writes one document
(`{"_id": "big", "data": "xxx..."}`, one line) to a temporary file and times

  check   the whole-file check a file input gets before anything is sent
  stream  reading it as stdin is read: 64 KiB reads, lines cut as they arrive,
          each line decoded and checked

and prints one row per size with the seconds of each and the MiB/s of the stream.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from couchctl.bulk import check_input, iter_records

MIB = 1 << 20


def write_line(path: Path, size: int) -> None:
    head, tail = b'{"_id":"big","data":"', b'"}\n'
    with path.open("wb") as out:
        out.write(head)
        block = b"x" * MIB
        left = size - len(head) - len(tail)
        while left > 0:
            out.write(block[: min(left, MIB)])
            left -= MIB
        out.write(tail)


def measure(path: Path) -> tuple[float, float]:
    started = time.perf_counter()
    check = check_input(path)
    checked = time.perf_counter() - started
    assert check.documents == 1
    data = path.read_bytes()
    started = time.perf_counter()
    records = list(iter_records(io.BufferedReader(io.BytesIO(data), buffer_size=1 << 16)))
    streamed = time.perf_counter() - started
    assert len(records) == 1 and records[0].doc_id == "big"
    return checked, streamed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 64, 300], help="MiB")
    args = parser.parse_args()
    print(f"{'line':>8}  {'check':>8}  {'stream':>8}  {'MiB/s':>7}")
    with tempfile.TemporaryDirectory() as scratch:
        for size in args.sizes:
            path = Path(scratch) / f"line-{size}.jsonl"
            write_line(path, size * MIB)
            checked, streamed = measure(path)
            path.unlink()
            print(f"{size:>5} MiB  {checked:>7.2f}s  {streamed:>7.2f}s  {size / streamed:>7.0f}")


if __name__ == "__main__":
    main()
