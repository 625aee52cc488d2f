"""Generate N documents of about 300 bytes as JSON Lines (deterministic for a seed).

    python bench/gen_docs.py 200000 > docs.jsonl
    python bench/gen_docs.py 200000 --ids -o docs.jsonl     # with an _id each

Without --ids the documents have no `_id` (the server, or couchctl's /_uuids
call, gives them one), which is the common case for a bulk import.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

WORDS = [
    "couch",
    "relax",
    "replicate",
    "shard",
    "view",
    "index",
    "revision",
    "attachment",
    "cluster",
    "node",
    "document",
    "database",
    "compact",
    "bulk",
    "changes",
    "feed",
    "mango",
    "query",
    "design",
    "partition",
]


def documents(count: int, *, seed: int = 42, ids: bool = False) -> Iterator[dict[str, Any]]:
    """`count` documents of about 300 bytes of compact JSON each."""
    rng = random.Random(seed)
    for n in range(count):
        doc: dict[str, Any] = {}
        if ids:
            doc["_id"] = f"doc-{n:09d}"
        doc.update(
            {
                "type": "bench",
                "n": n,
                "name": f"user {rng.randrange(10**6):06d}",
                "email": f"user{n}@example.org",
                "score": round(rng.random() * 1000, 3),
                "active": rng.random() < 0.5,
                "tags": rng.sample(WORDS, 3),
                "created": f"2026-{1 + n % 12:02d}-{1 + n % 28:02d}T12:{n % 60:02d}:00Z",
                "text": " ".join(rng.choice(WORDS) for _ in range(16)),
            }
        )
        yield doc


def write(stream: IO[str], count: int, *, seed: int = 42, ids: bool = False) -> int:
    """Write the documents as JSON Lines; return the bytes written."""
    size = 0
    for doc in documents(count, seed=seed, ids=ids):
        line = json.dumps(doc, separators=(",", ":")) + "\n"
        stream.write(line)
        size += len(line)
    return size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int)
    parser.add_argument("-o", "--output", type=Path, help="file (default: stdout)")
    parser.add_argument("--ids", action="store_true", help="give every document an _id")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    if args.output is None:
        write(sys.stdout, args.count, seed=args.seed, ids=args.ids)
    else:
        with args.output.open("w", encoding="utf-8") as stream:
            write(stream, args.count, seed=args.seed, ids=args.ids)


if __name__ == "__main__":
    main()
