"""BulkMixin on the wire: exact method, path, query and body; recorded CouchDB 3.4.3 answers."""

from __future__ import annotations

import gc
import itertools
import json
import re
import weakref
from typing import Any

import anyio
import httpx
import pytest
from pytest_httpx import HTTPXMock

from couchctl.client import BadRequest, CouchClient, ProtocolError, ServerError
from couchctl.client._bulk import DELETED, SequentialIds
from couchctl.client._rows import RowParser
from tests.conftest import recorded_body
from tests.unit._wire import (
    answer,
    assert_exact_request,
    recorded_request,
    response_json,
    wire_target,
)

pytestmark = pytest.mark.anyio


async def test_bulk_docs_create(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "158-bulk-docs-create")
    docs = recorded_request("158-bulk-docs-create")["body_json"]["docs"]
    result = await couch.db_bulk_docs("corpus", docs)
    request = httpx_mock.get_request()
    assert request is not None
    assert_exact_request(request, "158-bulk-docs-create")
    assert "new_edits" not in json.loads(request.content)
    assert result == response_json("158-bulk-docs-create")


async def test_bulk_docs_per_document_conflict_is_a_result(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    answer(httpx_mock, "159-bulk-docs-one-conflict")
    docs = recorded_request("159-bulk-docs-one-conflict")["body_json"]["docs"]
    result = await couch.db_bulk_docs("corpus", docs)
    assert [r.get("error") for r in result] == [None, "conflict", None]


async def test_bulk_docs_new_edits_false(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "161-bulk-docs-new-edits-false")
    docs = recorded_request("161-bulk-docs-new-edits-false")["body_json"]["docs"]
    result = await couch.db_bulk_docs("corpus", docs, new_edits=False)
    request = httpx_mock.get_request()
    assert request is not None
    assert_exact_request(request, "161-bulk-docs-new-edits-false")
    assert json.loads(request.content)["new_edits"] is False
    assert result == []


async def test_bulk_docs_illegal_id_fails_the_whole_request(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    answer(httpx_mock, "162-bulk-docs-invalid-id")
    docs = recorded_request("162-bulk-docs-invalid-id")["body_json"]["docs"]
    with pytest.raises(BadRequest) as caught:
        await couch.db_bulk_docs("corpus", docs)
    assert caught.value.error == "illegal_docid"
    assert len(httpx_mock.get_requests()) == 1  # a 400 is never retried


async def test_bulk_docs_raw_sends_the_body_as_is(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    answer(httpx_mock, "168-bulk-docs-vdu-forbidden")
    body = b'{"docs":[{"_id":"ok-1","title":"fine"},{"_id":"bad-1"}]}'
    result = await couch.db_bulk_docs_raw("corpus_vdu", body)
    request = httpx_mock.get_request()
    assert request is not None
    assert request.method == "POST"
    assert wire_target(request) == "/corpus_vdu/_bulk_docs"
    assert request.content == body
    assert request.headers["Content-Type"] == "application/json"
    assert result[1] == {"id": "bad-1", "error": "forbidden", "reason": "title is required"}


async def test_bulk_docs_raw_all_ok_decodes_only_an_answer_with_failures(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    answer(httpx_mock, "158-bulk-docs-create")  # three successes
    assert await couch.db_bulk_docs_raw("corpus", b'{"docs":[]}', all_ok=3) == []
    answer(httpx_mock, "158-bulk-docs-create")
    decoded = await couch.db_bulk_docs_raw("corpus", b'{"docs":[]}', all_ok=4)  # one short
    assert [r["id"] for r in decoded] == ["bulk-1", "bulk-2", "bulk-3"]
    answer(httpx_mock, "168-bulk-docs-vdu-forbidden")  # a success and a failure
    decoded = await couch.db_bulk_docs_raw("corpus_vdu", b'{"docs":[]}', all_ok=2)
    assert decoded[1]["error"] == "forbidden"


async def test_a_read_answer_is_freed_without_waiting_for_the_garbage_collector(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    # httpx binds a response's stream to the response (a cycle); unbound once read, the
    # response and the request with its body (a whole _bulk_docs batch) are freed when
    # the last reference goes, not at the next cyclic collection.
    httpx_mock.add_response(status_code=201, json=[])
    gc.disable()
    try:
        response = await couch.request("POST", "/db/_bulk_docs", content=b'{"docs":[]}')
        assert response.is_closed
        freed = weakref.ref(response)
        del response
        assert freed() is None
    finally:
        gc.enable()


async def test_bulk_docs_raw_is_not_retried_by_default(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    httpx_mock.add_response(status_code=503, json={"error": "unavailable", "reason": "busy"})
    with pytest.raises(ServerError):
        await couch.db_bulk_docs_raw("db", b'{"docs":[]}')
    assert len(httpx_mock.get_requests()) == 1


async def test_bulk_docs_path_is_encoded(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    httpx_mock.add_response(status_code=201, json=[])
    await couch.db_bulk_docs("corpus/sub", [])
    request = httpx_mock.get_request()
    assert request is not None
    assert wire_target(request) == "/corpus%2Fsub/_bulk_docs"


async def test_bulk_get(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "170-bulk-get")
    docs = recorded_request("170-bulk-get")["body_json"]["docs"]
    result = await couch.db_bulk_get("corpus", docs)
    request = httpx_mock.get_request()
    assert request is not None
    assert_exact_request(request, "170-bulk-get")
    assert result == response_json("170-bulk-get")


async def test_bulk_get_revs(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "171-bulk-get-revs")
    docs = recorded_request("171-bulk-get-revs")["body_json"]["docs"]
    result = await couch.db_bulk_get("corpus", docs, revs=True)
    request = httpx_mock.get_request()
    assert request is not None
    assert_exact_request(request, "171-bulk-get-revs")
    assert result["results"][0]["docs"][0]["ok"]["_revisions"]["start"] == 2


async def test_bulk_get_latest_and_retry(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    httpx_mock.add_response(status_code=503, json={"error": "unavailable", "reason": "busy"})
    answer(httpx_mock, "172-bulk-get-conflicted")
    result = await couch.db_bulk_get("corpus", [{"id": "doc-c"}], latest=True)
    requests = httpx_mock.get_requests()
    assert len(requests) == 2  # a read: retried after the 503
    assert wire_target(requests[1]) == "/corpus/_bulk_get?latest=true"
    assert json.loads(requests[1].content) == {"docs": [{"id": "doc-c"}]}
    assert len(result["results"][0]["docs"]) == 2


async def test_bulk_new_ids_asks_at_most_1000_a_request(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    def uuids(request: httpx.Request) -> httpx.Response:
        count = int(request.url.params["count"])
        assert count <= 1000
        return httpx.Response(200, json={"uuids": [f"u{i}" for i in range(count)]})

    httpx_mock.add_callback(uuids, is_reusable=True)
    ids = await couch.bulk_new_ids(2500)
    assert len(ids) == 2500
    assert [wire_target(r) for r in httpx_mock.get_requests()] == [
        "/_uuids?count=1000",
        "/_uuids?count=1000",
        "/_uuids?count=500",
    ]


async def test_bulk_new_ids_recorded(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "008-uuids")
    ids = await couch.bulk_new_ids(3)
    assert ids == response_json("008-uuids")["uuids"]
    request = httpx_mock.get_request()
    assert request is not None
    assert wire_target(request) == recorded_request("008-uuids")["path"]


async def test_bulk_new_ids_none_needed_sends_nothing(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    assert await couch.bulk_new_ids(0) == []
    assert httpx_mock.get_requests() == []


UUIDS_CONFIG = "http://couch.test:5984/_node/_local/_config/uuids"
# What CouchDB 3.4.3 answers, seen on the real server: the section as configured
# (empty with the defaults), and 401 to a user who is not a server admin.
NOT_ADMIN = {"error": "unauthorized", "reason": "You are not a server admin."}


def assert_sequential_form(ids: list[str]) -> None:
    """CouchDB's `sequential` ids: 26 hex digits shared, then a counter growing by 1-4093."""
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids), ids
    assert len({i[:26] for i in ids}) == 1
    counters = [int(i[26:], 16) for i in ids]
    assert all(1 <= b - a <= 4093 for a, b in itertools.pairwise(counters))


@pytest.mark.parametrize("section", [{}, {"algorithm": "sequential", "max_count": "1000"}])
async def test_bulk_ids_are_made_here_when_the_server_makes_sequential_ids(
    httpx_mock: HTTPXMock, couch: CouchClient, section: dict[str, str]
) -> None:
    httpx_mock.add_response(url=UUIDS_CONFIG, json=section)
    first = await couch.bulk_ids(3)
    more = await couch.bulk_ids(1000)
    assert_sequential_form(first + more)
    assert [wire_target(r) for r in httpx_mock.get_requests()] == ["/_node/_local/_config/uuids"]


@pytest.mark.parametrize(
    ("status", "body"),
    [(401, NOT_ADMIN), (200, {"algorithm": "utc_random"}), (404, {"error": "not_found"})],
)
async def test_bulk_ids_come_from_uuids_otherwise(
    httpx_mock: HTTPXMock, couch: CouchClient, status: int, body: dict[str, str]
) -> None:
    httpx_mock.add_response(url=UUIDS_CONFIG, status_code=status, json=body)
    httpx_mock.add_response(url="http://couch.test:5984/_uuids?count=2", json={"uuids": ["a", "b"]})
    httpx_mock.add_response(url="http://couch.test:5984/_uuids?count=1", json={"uuids": ["c"]})
    assert await couch.bulk_ids(2) == ["a", "b"]
    assert await couch.bulk_ids(1) == ["c"]  # decided once
    assert [wire_target(r) for r in httpx_mock.get_requests()] == [
        "/_node/_local/_config/uuids",
        "/_uuids?count=2",
        "/_uuids?count=1",
    ]


async def test_bulk_ids_asked_at_once_read_the_configuration_once(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    httpx_mock.add_response(url=UUIDS_CONFIG, json={})
    got: list[list[str]] = []

    async def take() -> None:
        got.append(await couch.bulk_ids(10))

    async with anyio.create_task_group() as group:
        for _ in range(4):
            group.start_soon(take)
    assert len({i for ids in got for i in ids}) == 40
    assert len(httpx_mock.get_requests()) == 1


def test_sequential_ids_start_a_new_prefix_past_0xfff000() -> None:
    maker = SequentialIds()
    first = maker.take(1)[0]
    maker._seq = 0xFFEFFF  # the next id is the last of this prefix
    last, fresh = maker.take(2)
    assert last[:26] == first[:26] and int(last[26:], 16) >= 0xFFF000
    assert fresh[:26] != first[:26] and 1 <= int(fresh[26:], 16) <= 4093
    assert maker.take(0) == []


async def test_bulk_existing(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "221-all-docs-keys-post-include-docs")
    found = await couch.bulk_existing("corpus", ["doc-1", "doc-del", "nope"])
    request = httpx_mock.get_request()
    assert request is not None
    assert_exact_request(request, "221-all-docs-keys-post-include-docs")
    assert found["doc-1"]["_rev"].startswith("8-")
    assert found["doc-del"] is DELETED
    assert "nope" not in found


async def test_bulk_iter_range(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "215-all-docs-include-docs-limit")
    rows = [
        row async for page in couch.bulk_iter_range("corpus", "%41", "doc-\ufff0") for row in page
    ]
    request = httpx_mock.get_request()
    assert request is not None
    assert request.method == "GET"
    assert wire_target(request) == (
        "/corpus/_all_docs?include_docs=true&startkey=%22%2541%22"
        "&endkey=%22doc-%EF%BF%B0%22&inclusive_end=false"
    )
    assert [row["doc"]["_id"] for row in rows] == ["%41", "62787e4d0f8bfebf19a1c1730e01dbba"]


async def test_bulk_iter_range_open_with_attachments(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    answer(httpx_mock, "223-all-docs-include-docs-attachments")
    rows = [row async for page in couch.bulk_iter_range("corpus", attachments=True) for row in page]
    request = httpx_mock.get_request()
    assert request is not None
    assert wire_target(request) == "/corpus/_all_docs?include_docs=true&attachments=true"
    assert "data" in rows[0]["doc"]["_attachments"]["pixel.png"]


async def test_bulk_iter_ids(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "214-all-docs")
    ids = [row["id"] async for page in couch.bulk_iter_ids("corpus") for row in page]
    request = httpx_mock.get_request()
    assert request is not None
    assert wire_target(request) == "/corpus/_all_docs"
    assert ids == [row["id"] for row in response_json("214-all-docs")["rows"]]


def _pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def _read(pieces: list[bytes], *, raw: bool = False) -> list[Any]:
    """Rows of an `_all_docs` body fed in pieces, as the bulk reads do."""
    reader = RowParser("rows", raw=raw)
    rows: list[Any] = []
    for piece in pieces:
        rows += reader.feed(piece)
    return rows + reader.close()


@pytest.mark.parametrize("size", [1, 7, 64, 100_000])
def test_row_reader_any_chunking(size: int) -> None:
    data = recorded_body("221-all-docs-keys-post-include-docs")
    rows = _read(_pieces(data, size))
    assert rows == response_json("221-all-docs-keys-post-include-docs")["rows"]


@pytest.mark.parametrize("size", [1, 7, 64, 100_000])
@pytest.mark.parametrize("name", ["221-all-docs-keys-post-include-docs", "214-all-docs"])
def test_row_reader_raw_cuts_couchdb_lines(size: int, name: str) -> None:
    data = recorded_body(name)
    assert b"\r\n" in data  # CouchDB: one row a line
    rows = _read(_pieces(data, size), raw=True)
    assert all(isinstance(row, str) for row in rows)
    assert [json.loads(row) for row in rows] == response_json(name)["rows"]


@pytest.mark.parametrize("size", [3, 100_000])
def test_row_reader_raw_without_newlines(size: int) -> None:
    rows = [{"id": f"r{i}", "key": f"r{i}", "value": {"rev": "1-a"}} for i in range(20)]
    data = json.dumps({"total_rows": 20, "offset": 0, "rows": rows}, separators=(",", ":"))
    got = _read(_pieces(data.encode(), size), raw=True)
    assert got == [json.dumps(r, separators=(",", ":")) for r in rows]


def test_row_reader_raw_last_line_without_newline_and_leading_commas() -> None:
    rows = _read([b'{"total_rows":2,"rows":[\n{"id":"a"}\n,{"id":"b"}\n]}'], raw=True)
    assert rows == ['{"id":"a"}', '{"id":"b"}']


def test_row_reader_raw_refuses_a_broken_line() -> None:
    with pytest.raises(ProtocolError, match="unexpected line"):
        _read([b'{"rows":[\r\n{"id":"a"},\r\nnonsense\r\n]}\n'], raw=True)


def test_row_reader_without_newlines_and_multibyte_split() -> None:
    rows = [
        {"id": f"d\u00e9-{i}", "doc": {"_id": f"d\u00e9-{i}", "t": "\u20ac" * 50}}
        for i in range(50)
    ]
    data = json.dumps({"total_rows": 50, "offset": 0, "rows": rows}, ensure_ascii=False).encode()
    assert _read(_pieces(data, 5)) == rows


@pytest.mark.parametrize("raw", [False, True])
def test_row_reader_truncated_body_is_an_error(raw: bool) -> None:
    data = recorded_body("214-all-docs")
    with pytest.raises(ProtocolError):
        _read([data[: len(data) // 2]], raw=raw)


@pytest.mark.anyio
@pytest.mark.parametrize("raw", [False, True])
async def test_bulk_reads_raise_an_error_after_the_rows(
    httpx_mock: HTTPXMock, couch: CouchClient, raw: bool
) -> None:
    body = b'{"total_rows":1,"rows":[\r\n{"id":"a","key":"a","value":{"rev":"1-a"}}\r\n],\r\n"error":"timeout","reason":"x"}'
    httpx_mock.add_response(content=body, is_reusable=True)
    with pytest.raises(ProtocolError, match="timeout"):
        async for _ in couch.bulk_iter_range("db", raw=raw):
            pass
    with pytest.raises(ProtocolError, match="timeout"):
        await couch.bulk_fetch_range("db", raw=raw)
