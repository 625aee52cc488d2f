"""A streamed `_all_docs` read (bulk dump's default) resumes after a failure in the
middle of the body, from the last id received, without giving a row twice."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from couchctl.bulk import DumpOptions, dump
from couchctl.client import ConnectionFailed, CouchClient

pytestmark = pytest.mark.anyio

IDS = [f"d{i}" for i in range(6)]


# Rows larger than the block the reader parses at once (client/_rows.py BLOCK), so
# that each row is handed on as soon as it is in: where a cut falls is then exact.
PAD = "x" * (300 * 1024)


def row(doc_id: str) -> str:
    doc = {"_id": doc_id, "_rev": "1-a", "pad": PAD}
    return json.dumps({"id": doc_id, "key": doc_id, "value": {"rev": "1-a"}, "doc": doc})


def body(ids: list[str]) -> tuple[bytes, list[int]]:
    """CouchDB's one-row-a-line body, and the offset where each row ends."""
    head = '{"total_rows":6,"offset":0,"rows":[\r\n'
    text, ends = head, []
    for index, doc_id in enumerate(ids):
        text += ("," if index else "") + row(doc_id) + "\r\n"
        ends.append(len(text.encode()))
    return (text + "]}\n").encode(), ends


def server(cuts: list[int | None], ids: list[str] = IDS) -> tuple[httpx.MockTransport, list[Any]]:
    """Answers each request with the rows from its startkey; the n-th answer is cut
    after `cuts[n]` rows (None: whole)."""
    starts: list[Any] = []

    def handle(request: httpx.Request) -> httpx.Response:
        start = request.url.params.get("startkey")
        starts.append(None if start is None else json.loads(start))
        rest = [i for i in ids if start is None or i >= json.loads(start)]
        data, ends = body(rest)
        cut = cuts[len(starts) - 1] if len(starts) <= len(cuts) else None

        async def pieces() -> AsyncIterator[bytes]:
            edges = [0, *ends, len(data)]
            for index in range(len(edges) - 1):
                if cut is not None and index == cut:
                    yield data[edges[index] : edges[index] + 10]  # part of the next row
                    raise httpx.ReadError("connection reset by peer")
                yield data[edges[index] : edges[index + 1]]

        return httpx.Response(200, content=pieces())

    return httpx.MockTransport(handle), starts


async def read_all(transport: httpx.MockTransport, told: list[str] | None = None) -> list[str]:
    notify: Callable[[str], None] | None = told.append if told is not None else None
    async with CouchClient(
        "http://127.0.0.1:5984", transport=transport, retries=2, backoff=0.001, notify=notify
    ) as couch:
        got: list[str] = []
        async for page in couch.bulk_iter_range("db", raw=True):
            got += [json.loads(r)["id"] for r in page]
        return got


async def test_a_cut_body_resumes_from_the_last_id() -> None:
    transport, starts = server([2])
    told: list[str] = []
    assert await read_all(transport, told) == IDS
    assert starts == [None, "d1"]
    assert len(told) == 1 and "resuming after d1" in told[0]


async def test_a_row_gone_in_between_is_not_skipped_for_it() -> None:
    """The last id received was deleted before the resume: the next row is kept."""
    transport, starts = server([2, None])
    transport_ids = [i for i in IDS if i != "d1"]
    second, _ = server([None], transport_ids)
    calls = [transport, second]

    def handle(request: httpx.Request) -> httpx.Response:
        return calls[0].handle_request(request) if not starts else calls[1].handle_request(request)

    got = await read_all(httpx.MockTransport(handle))
    assert got == ["d0", "d1", "d2", "d3", "d4", "d5"]


async def test_cuts_without_progress_give_up_after_the_retries() -> None:
    transport, starts = server([2, 0, 0, 0])
    with pytest.raises(ConnectionFailed):
        await read_all(transport)
    assert starts == [None, "d1", "d1"]  # retries=2: two resumes in a row, no new row


async def test_progress_resets_the_count() -> None:
    transport, starts = server([1, 2, 2, 2, None])  # each resume gives one new row
    assert await read_all(transport) == IDS
    assert starts == [None, "d0", "d1", "d2", "d3"]


async def test_a_cut_before_any_row_starts_again() -> None:
    transport, starts = server([0, None])
    told: list[str] = []
    assert await read_all(transport, told) == IDS
    assert starts == [None, None]
    assert "resuming from the start" in told[0]


async def test_the_last_failure_is_the_clients_error() -> None:
    transport, starts = server([0, 0, 0])
    with pytest.raises(ConnectionFailed, match="connection reset"):
        await read_all(transport)
    assert starts == [None, None, None]


async def test_the_dump_engine_writes_each_document_once() -> None:
    transport, _ = server([3, 1])
    lines: list[str] = []
    async with CouchClient(
        "http://127.0.0.1:5984", transport=transport, retries=2, backoff=0.001
    ) as couch:
        summary = await dump(couch, "db", DumpOptions(), lambda text, n: lines.append(text))
    docs = [json.loads(line)["_id"] for line in "".join(lines).splitlines()]
    assert docs == IDS
    assert summary.documents == 6
