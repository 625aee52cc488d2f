"""Row bodies an engine reads whole are read in blocks (BlockReads), on a connection
that ends with the body (`Connection: close`), over plain HTTP only."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from couchctl.client import CouchClient
from tests.unit._sockets import FakeSocket, Network

pytestmark = pytest.mark.anyio

ROWS = {
    "total_rows": 3,
    "offset": 0,
    "rows": [{"id": f"d{i}", "key": f"d{i}", "value": {"rev": "1-a"}} for i in range(3)],
}


@pytest.fixture
def sock() -> Any:
    sock = FakeSocket()
    yield sock
    sock.close()


def transport(sock: FakeSocket, seen: list[httpx.Request]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = json.dumps(ROWS).encode()

        async def pieces() -> AsyncIterator[bytes]:  # chunked: no length known
            for start in range(0, len(body), 40):
                yield body[start : start + 40]

        return httpx.Response(200, content=pieces(), extensions={"network_stream": Network(sock)})

    return httpx.MockTransport(handle)


async def test_a_range_is_read_in_blocks_on_its_own_connection(sock: FakeSocket) -> None:
    seen: list[httpx.Request] = []
    async with CouchClient("http://127.0.0.1:5984", transport=transport(sock, seen)) as couch:
        couch._long_read_rate = 10_000_000.0  # the last body's rate: a whole block at once
        rows = await couch.bulk_fetch_range("db", "a", "z")
        assert [row["id"] for row in rows] == ["d0", "d1", "d2"]
        pages = [page async for page in couch.bulk_iter_ids("db")]
    assert sum(len(page) for page in pages) == 3
    assert [r.headers.get("Connection") for r in seen] == ["close", "close"]
    assert sock.lows == [65536, 65536]


async def test_not_over_tls(sock: FakeSocket) -> None:
    seen: list[httpx.Request] = []
    async with CouchClient("https://127.0.0.1:6984", transport=transport(sock, seen)) as couch:
        couch._long_read_rate = 10_000_000.0
        await couch.bulk_fetch_range("db", "a", "z")
    assert seen[0].headers.get("Connection") != "close"
    assert sock.lows == []


async def test_finite_row_streams_are_read_in_blocks(sock: FakeSocket) -> None:
    """`iter_rows` (--jsonl of all-docs, views, find; a normal changes feed)."""
    seen: list[httpx.Request] = []
    async with CouchClient("http://127.0.0.1:5984", transport=transport(sock, seen)) as couch:
        couch._long_read_rate = 10_000_000.0
        rows = [row async for row in couch.iter_rows("GET", "/db/_all_docs")]
    assert len(rows) == 3
    assert seen[0].headers.get("Connection") == "close"
    assert sock.lows == [65536]


async def test_a_continuous_feed_is_not_blocked(sock: FakeSocket) -> None:
    """A feed that does not end: each change is handed on as it comes."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        lines = b'{"seq":"1-a","id":"d0","changes":[]}\n{"last_seq":"1-a","pending":0}\n'
        return httpx.Response(200, content=lines, extensions={"network_stream": Network(sock)})

    async with CouchClient("http://127.0.0.1:5984", transport=httpx.MockTransport(handle)) as couch:
        couch._long_read_rate = 10_000_000.0
        changes = [change async for change in couch.changes_continuous("db")]
    assert [change["id"] for change in changes] == ["d0"]
    assert seen[0].headers.get("Connection") != "close"
    assert sock.lows == []
