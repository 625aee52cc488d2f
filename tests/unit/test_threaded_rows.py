"""Row bodies read by the sync client in worker threads: `request_rows` (ranges read
whole) and the streamed `_all_docs` pages of bulk dump (`pages_threaded`).

pytest-httpx mocks the sync transport too, so these go through the threaded path;
`test_long_reads` covers the async one (a transport of the caller's own)."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx
import pytest
from pytest_httpx import HTTPXMock

from couchctl.client import ConnectionFailed, CouchClient
from couchctl.client import _base as base
from couchctl.client._rows import BLOCK, RowParser

pytestmark = pytest.mark.anyio

BASE = "http://couch.test:5984"


def all_docs(count: int, pad: int = 300, *, first: int = 0) -> bytes:
    """An `_all_docs?include_docs=true` body as CouchDB streams it (one row a line),
    of documents `first` to `count - 1`."""
    rows = []
    for i in range(first, count):
        doc = {"_id": f"d{i:06d}", "_rev": "1-a", "pad": "x" * pad}
        rows.append({"id": doc["_id"], "key": doc["_id"], "value": {"rev": "1-a"}, "doc": doc})
    text = f'{{"total_rows":{count},"offset":0,"rows":[\r\n'
    text += ",\r\n".join(json.dumps(row, separators=(",", ":")) for row in rows) + "\r\n]}\n"
    return text.encode()


class Pieces(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body in pieces of `size` bytes (CouchDB's chunks), cut short after `cut` bytes."""

    def __init__(self, data: bytes, size: int = 1500, cut: int | None = None) -> None:
        self.data, self.size, self.cut = data, size, cut

    def _pieces(self) -> Iterator[bytes]:
        end = len(self.data) if self.cut is None else self.cut
        for start in range(0, end, self.size):
            yield self.data[start : min(start + self.size, end)]
        if self.cut is not None:
            raise httpx.RemoteProtocolError("peer closed connection without sending complete body")

    def __iter__(self) -> Iterator[bytes]:
        yield from self._pieces()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self._pieces():
            yield piece


@pytest.fixture
def feeds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the threads that fed the row parser, one a block."""
    seen: list[str] = []
    feed = RowParser.feed

    def recording(self: RowParser, chunk: bytes) -> list[Any]:
        seen.append(threading.current_thread().name)
        return feed(self, chunk)

    monkeypatch.setattr(RowParser, "feed", recording)
    return seen


async def test_a_range_is_read_and_parsed_in_a_worker_thread(
    httpx_mock: HTTPXMock, couch: CouchClient, feeds: list[str]
) -> None:
    body = all_docs(2000)
    httpx_mock.add_response(stream=Pieces(body))
    rows = await couch.bulk_fetch_range("db", "a", "z", raw=True)
    assert [json.loads(row)["id"] for row in rows] == [f"d{i:06d}" for i in range(2000)]
    # in blocks: one feed per BLOCK bytes, not one per piece of 1500
    assert len(feeds) == -(-len(body) // BLOCK)
    assert threading.main_thread().name not in feeds
    assert couch._sync_http is not None  # the sync twin sent it
    request = httpx_mock.get_requests()[0]
    assert request.url.params["startkey"] == '"a"'
    assert request.headers["Accept-Encoding"] == "identity"


async def test_a_range_cut_mid_body_is_sent_again_whole(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    body = all_docs(500)
    httpx_mock.add_response(stream=Pieces(body, cut=len(body) // 2))
    httpx_mock.add_response(stream=Pieces(body))
    rows = await couch.bulk_fetch_range("db", raw=True)
    assert len(rows) == 500  # the first attempt's rows are not kept
    assert len(httpx_mock.get_requests()) == 2


async def test_a_range_that_is_always_cut_fails_after_retries_plus_one_attempts(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    body = all_docs(100)
    httpx_mock.add_response(stream=Pieces(body, cut=len(body) // 2), is_reusable=True)
    with pytest.raises(ConnectionFailed):
        await couch.bulk_fetch_range("db")
    assert len(httpx_mock.get_requests()) == couch.retries + 1 == 3


async def test_streamed_pages_are_read_in_a_worker_thread(
    httpx_mock: HTTPXMock, couch: CouchClient, feeds: list[str]
) -> None:
    body = all_docs(3000)
    httpx_mock.add_response(stream=Pieces(body))
    ids = [
        json.loads(row)["id"]
        async for page in couch.bulk_iter_range("db", raw=True)
        for row in page
    ]
    assert ids == [f"d{i:06d}" for i in range(3000)]
    assert feeds and all(name == "couchctl-rows" for name in feeds)


async def test_a_stream_cut_mid_body_is_resumed_from_the_last_id(
    httpx_mock: HTTPXMock, couch: CouchClient, feeds: list[str]
) -> None:
    ids = [f"d{i:06d}" for i in range(3000)]
    starts: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        start = request.url.params.get("startkey")
        starts.append(start)
        first = 0 if start is None else ids.index(json.loads(start))
        body = all_docs(3000, first=first)
        cut = len(body) // 2 if len(starts) == 1 else None
        return httpx.Response(200, stream=Pieces(body, cut=cut))

    httpx_mock.add_callback(answer, is_reusable=True)
    got = [
        json.loads(row)["id"]
        async for page in couch.bulk_iter_range("db", raw=True)
        for row in page
    ]
    assert got == ids  # nothing lost or doubled
    assert len(starts) == 2 and starts[0] is None and starts[1] is not None
    assert feeds and all(name == "couchctl-rows" for name in feeds)
    assert not any(t.name == "couchctl-rows" for t in threading.enumerate())


async def test_a_stream_left_early_stops_its_thread(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    body = all_docs(20_000)  # more pages than the queue holds: the thread waits on it
    stream = Pieces(body)
    httpx_mock.add_response(stream=stream)
    pages = couch.bulk_iter_range("db", raw=True)
    first = await pages.__anext__()
    assert first
    await anyio.sleep(0.05)  # the queue fills
    await pages.aclose()  # type: ignore[attr-defined]
    assert not any(t.name == "couchctl-rows" for t in threading.enumerate())


def stalled_server(httpx_mock: HTTPXMock, monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """A server that sends the start of a body and then nothing: its read blocks until
    the Stopper is told to stop (what shutting the socket down does to a blocked read).
    Gives the list that each stop appends to."""
    release = threading.Event()
    stopped: list[bool] = []
    stop = base.Stopper.stop

    def recording_stop(self: base.Stopper) -> None:
        stopped.append(True)
        stop(self)
        release.set()

    monkeypatch.setattr(base.Stopper, "stop", recording_stop)
    body = all_docs(100)

    class Stalls(httpx.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            yield body[:1000]
            release.wait(5)
            raise httpx.ReadError("shut down")

    httpx_mock.add_response(stream=Stalls())
    return stopped


async def test_a_cancelled_read_stops_its_thread(
    httpx_mock: HTTPXMock, couch: CouchClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A server that stops sending: the read waits in its thread until the caller is
    # cancelled (Ctrl-C), which stops it.
    stopped = stalled_server(httpx_mock, monkeypatch)
    with anyio.move_on_after(0.3) as scope:
        await couch.bulk_fetch_range("db")
    assert scope.cancelled_caught
    assert stopped


async def test_a_cancelled_stream_stops_its_thread_at_once(
    httpx_mock: HTTPXMock, couch: CouchClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The reader waits for a page while its thread waits on a silent server: the
    # caller cancelled (Ctrl-C) is back at once, not after STOP_WAIT.
    stopped = stalled_server(httpx_mock, monkeypatch)
    started = anyio.current_time()
    with anyio.move_on_after(0.3) as scope:
        async for _ in couch.bulk_iter_range("db", raw=True):
            pass
    assert scope.cancelled_caught
    assert anyio.current_time() - started < 2.0
    assert stopped  # the thread was told to stop (and its read released)
    assert not any(t.name == "couchctl-rows" for t in threading.enumerate())
