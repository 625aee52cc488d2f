"""Row bodies parsed in blocks give the same rows; the download hash thread hashes
every byte in order."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator

import anyio

from couchctl.client._attachments import _HashThread
from couchctl.client._rows import RowStream, blocks


async def _chunks(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def _body(rows: int) -> bytes:
    lines = ",\n".join(
        json.dumps({"id": f"d{i}", "key": f"d{i}", "value": {}}) for i in range(rows)
    )
    return f'{{"total_rows":{rows},"offset":0,"rows":[\n{lines}\n]}}'.encode()


def _cut(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def test_blocks_join_chunks_to_at_least_the_size() -> None:
    parts = _cut(bytes(range(256)) * 40, 7)

    async def collect() -> list[bytes]:
        return [block async for block in blocks(_chunks(parts), 100)]

    got = anyio.run(collect)
    assert b"".join(got) == b"".join(parts)
    assert all(len(block) >= 100 for block in got[:-1])
    assert len(got) == -(-len(b"".join(parts)) // 105)  # 7-byte chunks: 105 bytes a block


def test_rows_read_in_blocks_are_the_rows_read_chunk_by_chunk() -> None:
    body = _body(500)

    async def rows(block: int) -> tuple[list[str], dict[str, object]]:
        stream = RowStream(_chunks(_cut(body, 13)), "rows", raw=True, block=block)
        found = [row async for row in stream]
        return found, stream.meta

    chunked, meta = anyio.run(rows, 0)
    blocked, blocked_meta = anyio.run(rows, 4096)
    assert len(chunked) == 500
    assert blocked == chunked
    assert blocked_meta == meta == {"total_rows": 500, "offset": 0}


def test_hash_thread_hashes_every_byte_in_order() -> None:
    hasher = _HashThread(hashlib.md5(usedforsecurity=False))
    data = [bytes([i % 251]) * (i * 97 % 5000) for i in range(300)]
    for part in data:
        hasher.update(part)
    hasher.close()
    hasher.close()  # a second close is harmless
    assert hasher.hash.hexdigest() == hashlib.md5(b"".join(data)).hexdigest()
