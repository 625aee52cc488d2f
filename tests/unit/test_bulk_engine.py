"""The bulk load/dump engine: input reading, batching, ids, journal, resume, retries, dump order."""

from __future__ import annotations

import io
import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from pytest_httpx import HTTPXMock

from couchctl import bulk as bulkio
from couchctl.bulk import InputError, Journal, LoadOptions, Record
from couchctl.bulk import documents as bulk_documents
from couchctl.bulk import input as bulk_input
from couchctl.bulk import loader as bulk_load
from couchctl.client import CouchClient, InvalidArgument, ProtocolError
from tests.conftest import recorded

BASE = "http://couch.test:5984"


def records(text: str | bytes, **kwargs: Any) -> list[Record]:
    data = text.encode() if isinstance(text, str) else text
    return list(bulkio.iter_records(io.BytesIO(data), **kwargs))


# -- reading and checking input ----------------------------------------------------------


def test_json_lines_numbered_blank_lines_skipped() -> None:
    got = records('{"_id":"a","n":1}\n\n  {"n": 2}  \r\n{"_id":"c"}')
    assert [(r.ordinal, r.line, r.doc_id) for r in got] == [(0, 1, "a"), (1, 3, None), (2, 4, "c")]
    assert got[1].text == '{"n": 2}'  # the input text is kept as is (stripped)


def test_json_lines_bad_line_names_its_number() -> None:
    with pytest.raises(InputError) as caught:
        records('{"a":1}\n{"b":2}\n{"c":\n')
    assert caught.value.line == 3
    assert str(caught.value).startswith("line 3: not valid JSON")


def test_json_lines_non_object_names_its_number() -> None:
    with pytest.raises(InputError, match=r"line 2: a document must be a JSON object, not an array"):
        records('{"a":1}\n[1,2]\n')


def test_not_utf8_is_refused_with_a_line() -> None:
    with pytest.raises(InputError, match="not UTF-8"):
        records(b'{"a":1}\n{"b":"\xff"}\n')


def test_bom_is_skipped() -> None:
    assert [r.doc_id for r in records(b'\xef\xbb\xbf{"_id":"a"}\n')] == ["a"]


def test_a_long_line_is_read_in_linear_time() -> None:
    # Quadratic reading (the pending text re-split for every 64 KiB read) took
    # about 20 s for this line; linear reading takes a fraction of a second.
    import time

    size = 32 << 20
    data = b'{"_id":"big","data":"' + b"x" * size + b'"}\n{"_id":"next"}\n'
    started = time.perf_counter()
    got = list(bulkio.iter_records(io.BufferedReader(io.BytesIO(data), buffer_size=1 << 16)))
    elapsed = time.perf_counter() - started
    assert [(r.line, r.doc_id) for r in got] == [(1, "big"), (2, "next")]
    assert len(got[0].text) == size + 23
    assert elapsed < 3.0, f"{elapsed:.1f} s for a 32 MiB line"


def test_lines_split_across_many_small_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk_input, "_READ_SIZE", 3)
    got = records('{"_id":"a","n":1}\n\n{"_id":"\u00e9t\u00e9"}\r\n' + '{"x":"' + "é" * 50 + '"}')
    assert [(r.line, r.doc_id) for r in got] == [(1, "a"), (3, "été"), (4, None)]
    assert got[2].text == '{"x":"' + "é" * 50 + '"}'


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (DEEP + "\n", 1),
        ('{"a":1}\n' + '{"a":' + DEEP + "}\n", 2),
        ('[{"a":1},\n' + DEEP + "]", 2),
        ('[{"a":1},\n' + "[" * 100_000, 2),
    ],
)
def test_deeply_nested_json_is_bad_input_with_its_line(
    text: str, line: int, tmp_path: Path
) -> None:
    with pytest.raises(InputError, match=f"^line {line}: not valid JSON: nested too deeply"):
        records(text)
    path = tmp_path / "in.jsonl"
    path.write_text(text)
    with pytest.raises(InputError, match=f"^line {line}: not valid JSON: nested too deeply"):
        bulkio.check_input(path)


def test_empty_input_has_no_records() -> None:
    assert records("") == []
    assert records("  \n\n") == []


@pytest.mark.parametrize("read_size", [1, 3, 64, 1 << 16])
def test_json_array_streamed_with_line_numbers(
    monkeypatch: pytest.MonkeyPatch, read_size: int
) -> None:
    monkeypatch.setattr(bulk_input, "_READ_SIZE", read_size)
    text = '[\n  {"_id": "a", "s": "x,]}"},\n  {\n    "n": 2\n  },{"_id":"\u00e9\u20ac"}\n]\n'
    got = records(text)
    assert [(r.line, r.doc_id) for r in got] == [(2, "a"), (3, None), (5, "\u00e9\u20ac")]
    assert json.loads(got[0].text) == {"_id": "a", "s": "x,]}"}
    assert json.loads(got[1].text) == {"n": 2}


def test_json_array_large_element_across_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk_input, "_READ_SIZE", 16)
    big = {"_id": "big", "data": "y" * 5000}
    got = records(json.dumps([{"_id": "a"}, big, {"_id": "z"}]))
    assert [r.doc_id for r in got] == ["a", "big", "z"]
    assert json.loads(got[1].text) == big


def test_json_array_lines_after_large_elements(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past a large element the buffer lets go of it: the line numbers still count from
    the start of the input, for the elements and for an error."""
    monkeypatch.setattr(bulk_input, "_READ_SIZE", 16)
    big = json.dumps({"data": "y" * 100})
    text = f'[\n{big},\n\n{{"_id":"a"}},\n{big}, {{"n":\n1}},\n{{"_id":"z"}}]'
    got = records(text)
    assert [r.line for r in got] == [2, 4, 5, 5, 7]
    assert [r.doc_id for r in got] == [None, "a", None, None, "z"]
    with pytest.raises(InputError) as caught:
        records(text.replace('{"_id":"z"}', '{"_id":}'))
    assert caught.value.line == 7


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ('[{"a":1},\n{"b":},\n{"c":3}]', 2, "not valid JSON"),
        ('[{"a":1},\n\n42]', 3, "not a number"),
        ('[{"a":1} {"b":2}]', 1, "expected ',' or ']'"),
        ('[{"a":1}] trailing', 1, "unexpected text after"),
        ('[{"a":1},\n{"b":', 2, "not valid JSON"),
        ('[{"a":1},', 1, "ends too early"),
    ],
)
def test_json_array_errors(text: str, line: int, message: str) -> None:
    with pytest.raises(InputError) as caught:
        records(text)
    assert caught.value.line == line
    assert message.replace("not a number", "a number") in str(caught.value)


def test_json_array_bad_element_found_without_reading_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bulk_input, "_READ_SIZE", 64)

    class Endless(io.RawIOBase):
        """A bad element, then an endless valid stream: the error must come first."""

        def __init__(self) -> None:
            self.sent = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            chunk = b'[{"a":1},{"b":},' if self.sent == 0 else b'{"c":3},' * 8
            self.sent += 1
            assert self.sent < 50, "read on past the bad element"
            buffer[: len(chunk)] = chunk
            return len(chunk)

    with pytest.raises(InputError, match="line 1"):
        list(bulkio.iter_records(io.BufferedReader(Endless(), 64)))


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"_id": "_bad"}, "illegal _id '_bad'"),
        ({"_id": ""}, "_id must be a non-empty string"),
        ({"_id": 5}, "_id must be a non-empty string"),
        ({"_id": "a", "_foo": 1}, "bad special document member '_foo'"),
        ({"_id": "a", "_rev": 1}, "_rev must be a string"),
        # CouchDB 3.x (couch_doc:validate_docid, transfer_fields): 400 for the whole batch.
        ({"_id": "_design/"}, "illegal _id '_design/'"),
        ({"_id": "_local/"}, "illegal _id '_local/'"),
        ({"_id": "a", "_deleted": "yes"}, "_deleted must be true or false"),
        ({"_id": "a", "_attachments": []}, "_attachments must be a JSON object"),
        ({"_id": "a", "_revisions": {}}, "_revisions must be"),
        ({"_id": "a", "_revisions": {"start": "1", "ids": []}}, "_revisions must be"),
        ({"_id": "a", "_replication_foo": 1}, "bad special document member '_replication_foo'"),
    ],
)
def test_documents_bulk_docs_would_refuse_whole(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        records(json.dumps(doc))


def test_design_local_and_special_members_are_fine() -> None:
    text = "\n".join(
        json.dumps(d)
        for d in [
            {"_id": "_design/x", "views": {}},
            {"_id": "_local/y"},
            {
                "_id": "z",
                "_rev": "1-a",
                "_deleted": True,
                "_attachments": {},
                "_revisions": {"start": 1, "ids": ["a"]},
            },
        ]
    )
    assert [r.doc_id for r in records(text)] == ["_design/x", "_local/y", "z"]


def test_replicator_documents_are_fine() -> None:
    # What CouchDB 3.x's replicator keeps in a `_replicator` document, and accepts back
    # (couch_doc:transfer_fields): a dump of `_replicator` loads again.
    # The recorded document, with the members a one-shot replication's completion adds.
    doc = {
        **recorded("267-replicator-doc-get")["response"]["body_json"],
        "_replication_state": "completed",
        "_replication_state_time": "2026-11-27T15:08:23Z",
        "_replication_state_reason": None,
        "_replication_id": "c0ebe9256695ff083347cbf95f93e280",
        "_replication_stats": {"docs_written": 3},
    }
    assert [r.doc_id for r in records(json.dumps(doc))] == ["corpus-rep"]


@pytest.mark.parametrize(
    "text", ['{"a":1}\n{"_id":"b","_deleted":true}', '[{"a":1},{"_id":"b","_deleted":true}]']
)
def test_deletions_refused_unless_allowed(text: str) -> None:
    with pytest.raises(InputError, match=r"line [12]: deletes a document"):
        records(text, deletions=False)
    assert len(records(text)) == 2


def test_no_new_edits_needs_id_and_rev() -> None:
    assert records('{"_id":"a","_rev":"1-x"}', new_edits=False)[0].doc_id == "a"
    with pytest.raises(InputError, match="line 2: with --no-new-edits"):
        records('{"_id":"a","_rev":"1-x"}\n{"_id":"b"}', new_edits=False)


def test_checked_input_is_not_decoded_again_unless_needed() -> None:
    text = '{"n":1}\n{"_id":"a","n":2}\n{"x":{"_id":"nested"}}\n{"\\u005fid":"esc"}'
    got = records(text, checked=True)
    assert [r.has_id for r in got] == [False, True, False, True]
    assert got[1].known_id is None  # not parsed yet
    assert got[1].doc_id == "a"  # parsed when asked for
    assert got[3].doc_id == "esc"


@pytest.mark.parametrize(
    ("text", "maybe"),
    [
        ('{"n":1}', False),
        ('{"_id":"a","_rev":"1-x","n":{"_id":"b"}}', True),
        ('{"id":"a_b","n":1}', False),
        ('{"_id":"a","_foo":1}', True),
        ('{"_foo":"_id"}', True),
        ('{"\\u005ffoo":1}', True),
    ],
)
def test_special_member_shortcut(text: str, maybe: bool) -> None:
    assert bulk_documents._may_have_special_members(text) is maybe


def test_check_input_counts_a_file(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"a":1}\n{"_id":"b","_rev":"1-x","_deleted":true}\n\n{"c":3}\n')
    assert bulkio.check_input(path) == bulkio.InputCheck(documents=3, deletions=1)
    path.write_text('[{"a":1},\n{"_id":"b","_deleted":true}]')
    assert bulkio.check_input(path) == bulkio.InputCheck(documents=2, deletions=1)
    path.write_text('{"a":1}\n{"b":2\n')
    with pytest.raises(InputError, match="line 2"):
        bulkio.check_input(path)


# -- request bodies ------------------------------------------------------------------------


def test_batch_body_keeps_the_input_text_and_inserts_assigned_ids() -> None:
    batch = records('{"_id":"a", "n": 1.50}\n{}\n{ "x" : [1, 2] }')
    batch[1].assign("id-1")
    batch[2].assign('id-\u00e9"')
    body = bulkio.batch_body(batch)
    assert (
        body
        == (
            '{"docs":[{"_id":"a", "n": 1.50},{"_id":"id-1"},{"_id":"id-\u00e9\\"","x" : [1, 2] }]}'
        ).encode()
    )
    assert json.loads(body)["docs"][2] == {"_id": 'id-\u00e9"', "x": [1, 2]}


def test_batch_body_new_edits_false() -> None:
    body = bulkio.batch_body(records('{"_id":"a","_rev":"3-x"}'), new_edits=False)
    assert json.loads(body) == {"new_edits": False, "docs": [{"_id": "a", "_rev": "3-x"}]}


def test_batches_cut_by_count_and_by_size() -> None:
    text = "\n".join(json.dumps({"s": "x" * n}) for n in (1, 1, 1, 1, 30, 1, 1))
    cuts = list(bulk_load._batches(iter(records(text)), 3, 40))
    assert [len(b) for b, _ in cuts] == [3, 2, 2]  # the 5th reaches 40 characters with the 4th
    assert [n for _, n in cuts] == [sum(len(r.text) for r in b) for b, _ in cuts]


# -- the journal -------------------------------------------------------------------------------


def test_journal_round_trip_and_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "j"
    journal = Journal(path)
    journal.open({"db": "d", "batch_size": 2})
    batch = records('{"_id":"a"}\n{"n":1}')
    anyio.run(journal.batch_started, 0, batch, {1: "u1"})
    anyio.run(journal.batch_done, 0, 2, 0)
    anyio.run(journal.batch_started, 1, batch, {1: "u2"})
    journal.close()
    with path.open("a") as stream:
        stream.write('{"done": 1, "writ')  # killed in the middle of a record
    state = Journal.read(path)
    assert state.header["db"] == "d"
    assert state.done == {0: (2, 0)}
    assert state.started == {1: {1: "u2"}}  # done batches keep no ids in memory
    lines = [json.loads(line) for line in path.read_text().splitlines()[:-1]]
    assert lines[1] == {"batch": 0, "first": 0, "count": 2, "lines": [1, 2], "ids": {"1": "u1"}}


def test_journal_refuses_other_files(tmp_path: Path) -> None:
    path = tmp_path / "j"
    path.write_text('{"hello": 1}\n')
    with pytest.raises(bulkio.JournalError, match="not a couchctl load journal"):
        Journal.read(path)


# -- load against a mocked server -------------------------------------------------------------


@pytest.fixture
async def couch() -> AsyncIterator[CouchClient]:
    async with CouchClient(BASE, retries=2, backoff=0.001) as client:
        yield client


class Rejects:
    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def __call__(self, record: Record, error: str, reason: str, result: dict[str, Any]) -> None:
        self.entries.append(
            {
                "line": record.line,
                "id": record.doc_id,
                "error": error,
                "reason": reason,
                "doc": record.doc(),
            }
        )


def posted_docs(request: httpx.Request) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = json.loads(request.content)["docs"]
    return docs


def ok_for_each(request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        201, json=[{"ok": True, "id": d["_id"], "rev": "1-abc"} for d in posted_docs(request)]
    )


@pytest.mark.anyio
async def test_load_assigns_ids_from_uuids_before_sending(
    httpx_mock: HTTPXMock, couch: CouchClient, tmp_path: Path
) -> None:
    # A server whose ids are not CouchDB's default form: its /_uuids makes them.
    httpx_mock.add_response(
        url=f"{BASE}/_node/_local/_config/uuids", json={"algorithm": "utc_random"}
    )
    httpx_mock.add_response(url=f"{BASE}/_uuids?count=2", json={"uuids": ["u1", "u2"]})
    httpx_mock.add_callback(ok_for_each, url=f"{BASE}/db/_bulk_docs")
    journal = Journal(tmp_path / "j")
    journal.open({"db": "db"})
    batch = records('{"_id":"a"}\n{"n":1}\n{"n":2}')
    summary = await bulkio.load(
        couch,
        "db",
        iter(batch),
        LoadOptions(batch_size=10),
        journal=journal,
        reject=Rejects(),
    )
    assert (summary.written, summary.rejected, summary.batches) == (3, 0, 1)
    post = httpx_mock.get_requests()[2]
    assert post.method == "POST"
    assert post.content == b'{"docs":[{"_id":"a"},{"_id":"u1","n":1},{"_id":"u2","n":2}]}'
    # Sent in pieces, with its length announced: not chunked.
    assert post.headers["Content-Length"] == str(len(post.content))
    assert "Transfer-Encoding" not in post.headers
    records_ = [json.loads(line) for line in (tmp_path / "j").read_text().splitlines()]
    assert records_[1] == {
        "batch": 0,
        "first": 0,
        "count": 3,
        "lines": [1, 3],
        "ids": {"1": "u1", "2": "u2"},
    }  # written before the POST
    assert records_[2] == {"done": 0, "written": 3, "rejected": 0}
    assert Journal.read(tmp_path / "j").done == {0: (3, 0)}


@pytest.mark.anyio
async def test_batches_take_their_ids_in_input_order(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    # /_uuids answers its first requests last: were the batches in flight to ask for
    # their ids at once, the first batch would get the last ids.
    httpx_mock.add_response(
        url=f"{BASE}/_node/_local/_config/uuids", json={"algorithm": "utc_random"}
    )
    asked = 0
    made = 0

    async def late_first(request: httpx.Request) -> httpx.Response:
        nonlocal asked, made
        asked += 1
        await anyio.sleep(0.04 / asked)
        count = int(request.url.params["count"])
        made += count
        return httpx.Response(200, json={"uuids": [f"u{n:04}" for n in range(made - count, made)]})

    httpx_mock.add_callback(
        late_first, url=re.compile(rf"{BASE}/_uuids\?count=\d+"), is_reusable=True
    )
    httpx_mock.add_callback(ok_for_each, url=f"{BASE}/db/_bulk_docs", is_reusable=True)
    text = "\n".join(json.dumps({"n": i}) for i in range(12))
    summary = await bulkio.load(
        couch, "db", iter(records(text)), LoadOptions(batch_size=2, concurrency=6), reject=Rejects()
    )
    assert (summary.written, summary.batches) == (12, 6)
    posts = [r for r in httpx_mock.get_requests() if r.url.path.endswith("_bulk_docs")]
    posted = [d for r in posts for d in posted_docs(r)]
    by_input = [d["_id"] for d in sorted(posted, key=lambda d: d["n"])]
    assert by_input == [f"u{n:04}" for n in range(12)]


@pytest.mark.anyio
async def test_load_makes_sequential_ids_when_the_server_does(
    httpx_mock: HTTPXMock, couch: CouchClient, tmp_path: Path
) -> None:
    httpx_mock.add_response(url=f"{BASE}/_node/_local/_config/uuids", json={})  # the defaults
    httpx_mock.add_callback(ok_for_each, url=f"{BASE}/db/_bulk_docs", is_reusable=True)
    journal = Journal(tmp_path / "j")
    journal.open({"db": "db"})
    batch = records('{"_id":"a"}\n{"n":1}\n{"n":2}\n{"n":3}')
    summary = await bulkio.load(
        couch, "db", iter(batch), LoadOptions(batch_size=2), journal=journal, reject=Rejects()
    )
    assert (summary.written, summary.batches) == (4, 2)
    paths = [r.url.path for r in httpx_mock.get_requests()]
    assert paths == ["/_node/_local/_config/uuids", "/db/_bulk_docs", "/db/_bulk_docs"]
    posted = [d for r in httpx_mock.get_requests()[1:] for d in posted_docs(r)]
    made = sorted((d for d in posted if "n" in d), key=lambda d: d["n"])
    ids = [d["_id"] for d in made]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids) and ids == sorted(ids)
    assert len({i[:26] for i in ids}) == 1  # one prefix, a counter after it
    journaled = {
        i
        for line in (tmp_path / "j").read_text().splitlines()[1:]
        for i in json.loads(line).get("ids", {}).values()
    }
    assert journaled == set(ids)  # each id written down before its batch was sent


@pytest.mark.anyio
async def test_load_batches_and_rejects(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    def conflict_on_b(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            201,
            json=[
                {"id": d["_id"], "error": "conflict", "reason": "Document update conflict."}
                if d["_id"] == "b"
                else {"ok": True, "id": d["_id"], "rev": "1-x"}
                for d in posted_docs(request)
            ],
        )

    httpx_mock.add_callback(conflict_on_b, url=f"{BASE}/db/_bulk_docs", is_reusable=True)
    rejects = Rejects()
    text = "\n".join(json.dumps({"_id": k}) for k in "abcde")
    summary = await bulkio.load(
        couch,
        "db",
        iter(records(text)),
        LoadOptions(batch_size=2, concurrency=2),
        reject=rejects,
    )
    assert (summary.written, summary.rejected, summary.batches) == (4, 1, 3)
    sizes = sorted(len(posted_docs(r)) for r in httpx_mock.get_requests())
    assert sizes == [1, 2, 2]
    assert rejects.entries == [
        {
            "line": 2,
            "id": "b",
            "error": "conflict",
            "reason": "Document update conflict.",
            "doc": {"_id": "b"},
        }
    ]


@pytest.mark.parametrize(("budget", "most"), [(250, 3), (10, 1), (10_000, 8)])
@pytest.mark.anyio
async def test_load_keeps_the_text_in_flight_within_its_budget(
    httpx_mock: HTTPXMock, couch: CouchClient, budget: int, most: int
) -> None:
    in_flight = 0
    seen: list[int] = []
    reached = anyio.Event()

    async def slow_ok(request: httpx.Request) -> httpx.Response:
        # The first answers wait (2 s at most) until `most` requests are in flight, so
        # that a slow machine reaches it too; with no budget, 8 would be.
        nonlocal in_flight
        in_flight += 1
        seen.append(in_flight)
        if in_flight >= most:
            reached.set()
        with anyio.move_on_after(2):
            await reached.wait()
        await anyio.sleep(0.01)
        in_flight -= 1
        return ok_for_each(request)

    httpx_mock.add_callback(slow_ok, url=f"{BASE}/db/_bulk_docs", is_reusable=True)
    # 16 documents of 100 characters, one a batch: a budget of 250 lets three go at once
    # (the next is read while less than 250 are in flight), one of 10 only one (a batch
    # larger than the budget still goes, alone).
    text = "\n".join(json.dumps({"_id": f"d{i:02}", "s": "x" * 77}) for i in range(16))
    assert {len(line) for line in text.splitlines()} == {100}
    summary = await bulkio.load(
        couch,
        "db",
        iter(records(text)),
        LoadOptions(batch_size=1, concurrency=8, in_flight_bytes=budget),
        reject=Rejects(),
    )
    assert (summary.written, summary.batches) == (16, 16)
    assert max(seen) == most


@pytest.mark.anyio
async def test_load_retry_checks_what_the_server_already_has(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    # The first attempt is applied but its answer lost (502): the retry must not
    # send "a" again (that would be a conflict), only "b" which is missing.
    httpx_mock.add_response(
        url=f"{BASE}/db/_bulk_docs",
        method="POST",
        status_code=502,
        json={"error": "bad_gateway", "reason": "x"},
    )
    httpx_mock.add_response(
        url=f"{BASE}/db/_all_docs?include_docs=true",
        method="POST",
        json={
            "total_rows": 1,
            "offset": None,
            "rows": [
                {
                    "id": "a",
                    "key": "a",
                    "value": {"rev": "1-x"},
                    "doc": {"_id": "a", "_rev": "1-x", "n": 1},
                },
                {"key": "b", "error": "not_found"},
            ],
        },
    )
    httpx_mock.add_callback(ok_for_each, url=f"{BASE}/db/_bulk_docs", method="POST")
    summary = await bulkio.load(
        couch,
        "db",
        iter(records('{"_id":"a","n":1}\n{"_id":"b","n":2}')),
        LoadOptions(),
        reject=Rejects(),
    )
    assert (summary.written, summary.rejected) == (2, 0)
    requests = httpx_mock.get_requests()
    assert json.loads(requests[1].content) == {"keys": ["a", "b"]}
    assert posted_docs(requests[2]) == [{"_id": "b", "n": 2}]


@pytest.mark.anyio
async def test_load_gives_up_after_retries(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    from couchctl.client import ServerError

    httpx_mock.add_response(
        url=f"{BASE}/db/_bulk_docs",
        status_code=503,
        is_reusable=True,
        json={"error": "unavailable", "reason": "x"},
    )
    httpx_mock.add_response(
        url=f"{BASE}/db/_all_docs?include_docs=true",
        is_reusable=True,
        json={"rows": [{"key": "a", "error": "not_found"}]},
    )
    with pytest.raises(ServerError):
        await bulkio.load(
            couch,
            "db",
            iter(records('{"_id":"a"}')),
            LoadOptions(),
            reject=Rejects(),
        )
    posts = [r for r in httpx_mock.get_requests() if r.url.path.endswith("_bulk_docs")]
    assert len(posts) == couch.retries + 1 == 3  # one retry layer: the client's


@pytest.mark.anyio
async def test_load_batch_refused_whole_is_split_to_the_culprit(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    def refuse_x(request: httpx.Request) -> httpx.Response:
        if any(d.get("x") for d in posted_docs(request)):
            return httpx.Response(400, json={"error": "bad_request", "reason": "x is not allowed"})
        return ok_for_each(request)

    httpx_mock.add_callback(refuse_x, url=f"{BASE}/db/_bulk_docs", is_reusable=True)
    rejects = Rejects()
    text = '{"_id":"a"}\n{"_id":"b"}\n{"_id":"c","x":1}\n{"_id":"d"}'
    summary = await bulkio.load(couch, "db", iter(records(text)), LoadOptions(), reject=rejects)
    assert (summary.written, summary.rejected) == (3, 1)
    assert [(e["line"], e["id"], e["error"], e["reason"]) for e in rejects.entries] == [
        (3, "c", "bad_request", "x is not allowed")
    ]


@pytest.mark.anyio
async def test_resume_skips_done_batches_and_reuses_journal_ids(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    # Batch 0 done; batch 1 started with ids u3, u4: u3 reached the server, u4 did not.
    state = bulkio.JournalState({"db": "db"}, done={0: (2, 0)}, started={1: {2: "u3", 3: "u4"}})
    httpx_mock.add_response(
        url=f"{BASE}/db/_all_docs?include_docs=true",
        method="POST",
        json={
            "rows": [
                {
                    "id": "u3",
                    "key": "u3",
                    "value": {"rev": "1-x"},
                    "doc": {"_id": "u3", "_rev": "1-x", "n": 3},
                },
                {"key": "u4", "error": "not_found"},
            ]
        },
    )
    httpx_mock.add_callback(ok_for_each, url=f"{BASE}/db/_bulk_docs", method="POST")
    text = '{"n":1}\n{"n":2}\n{"n":3}\n{"n":4}'
    summary = await bulkio.load(
        couch,
        "db",
        iter(records(text)),
        LoadOptions(batch_size=2),
        state=state,
        reject=Rejects(),
    )
    assert (summary.written, summary.skipped, summary.rejected) == (2, 2, 0)
    requests = httpx_mock.get_requests()
    assert [r.url.path for r in requests] == ["/db/_all_docs", "/db/_bulk_docs"]  # no /_uuids
    assert json.loads(requests[0].content) == {"keys": ["u3", "u4"]}
    assert posted_docs(requests[1]) == [{"_id": "u4", "n": 4}]


@pytest.mark.anyio
async def test_resume_with_changed_input_is_refused(couch: CouchClient) -> None:
    state = bulkio.JournalState({"db": "db"}, started={0: {5: "u5"}})
    with pytest.raises(bulkio.JournalError, match="line 1"):
        await bulkio.load(
            couch,
            "db",
            iter(records('{"n":1}')),
            LoadOptions(),
            state=state,
            reject=Rejects(),
        )


@pytest.mark.anyio
async def test_new_edits_false_body_and_empty_answer(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    httpx_mock.add_response(url=f"{BASE}/db/_bulk_docs", status_code=201, json=[])
    summary = await bulkio.load(
        couch,
        "db",
        iter(records('{"_id":"a","_rev":"4-x"}', new_edits=False)),
        LoadOptions(new_edits=False),
        reject=Rejects(),
    )
    assert summary.written == 1
    request = httpx_mock.get_request()
    assert request is not None
    assert request.content == b'{"new_edits":false,"docs":[{"_id":"a","_rev":"4-x"}]}'


# -- dump against a mocked server -----------------------------------------------------------


def all_docs(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"total_rows": len(rows), "offset": 0, "rows": rows}


def serve_all_docs(docs: list[dict[str, Any]], *, one_line: bool = False) -> Any:
    """_all_docs by key range as CouchDB streams it (one row a line), or on one line
    (as pouchdb-server does)."""
    ids = sorted(d["_id"] for d in docs)
    by_id = {d["_id"]: d for d in docs}

    def answer(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        chosen = ids
        if "startkey" in params:
            chosen = [i for i in chosen if i >= json.loads(params["startkey"])]
        if "endkey" in params:
            assert params["inclusive_end"] == "false"
            chosen = [i for i in chosen if i < json.loads(params["endkey"])]
        rows = []
        for i in chosen:
            row: dict[str, Any] = {"id": i, "key": i, "value": {"rev": by_id[i]["_rev"]}}
            if params.get("include_docs") == "true":
                row["doc"] = by_id[i]
            rows.append(row)
        if one_line:
            text = json.dumps({"total_rows": len(ids), "offset": 0, "rows": rows})
        else:
            text = f'{{"total_rows":{len(ids)},"offset":0,"rows":[\r\n'
            sep = (",", ":")
            text += ",\r\n".join(json.dumps(r, separators=sep) for r in rows) + "\r\n]}\n"
        return httpx.Response(200, text=text, headers={"Content-Type": "application/json"})

    return answer


def collect(out: list[dict[str, Any]]) -> Any:
    def emit(text: str, count: int) -> None:
        out.extend(json.loads(line) for line in text.splitlines())

    return emit


DOCS: list[dict[str, Any]] = [
    {"_id": f"d{i:02d}", "_rev": f"{i % 3 + 1}-abc", "n": i} for i in range(7)
] + [
    {"_id": "_design/v", "_rev": "1-x", "views": {}},
    {"_id": "att", "_rev": "2-y", "_attachments": {"a.txt": {"stub": True, "length": 3}}},
]


@pytest.mark.anyio
@pytest.mark.parametrize("one_line", [False, True])
@pytest.mark.parametrize("concurrency", [1, 3])
async def test_dump_in_key_order(
    httpx_mock: HTTPXMock, couch: CouchClient, concurrency: int, one_line: bool
) -> None:
    httpx_mock.add_callback(serve_all_docs(DOCS, one_line=one_line), is_reusable=True)
    chunks: list[list[dict[str, Any]]] = []

    def emit(text: str, count: int) -> None:
        assert text.endswith("\n")
        docs = [json.loads(line) for line in text.splitlines()]
        assert len(docs) == count
        chunks.append(docs)

    summary = await bulkio.dump(
        couch, "db", bulkio.DumpOptions(batch_size=2, concurrency=concurrency), emit
    )
    got = [d["_id"] for chunk in chunks for d in chunk]
    assert got == ["att"] + [f"d{i:02d}" for i in range(7)]  # _design/ left out
    assert summary.documents == 8
    assert summary.design == 1
    assert summary.stripped_attachments == 1
    assert "_attachments" not in chunks[0][0]
    targets = [r.url for r in httpx_mock.get_requests()]
    if concurrency > 1:
        assert "include_docs" not in targets[0].params  # the cheap ids pass
        ranges = [(u.params.get("startkey"), u.params.get("endkey")) for u in targets[1:]]
        assert sorted(ranges, key=str) == sorted(
            [
                (None, '"d00"'),
                ('"d00"', '"d02"'),
                ('"d02"', '"d04"'),
                ('"d04"', '"d06"'),
                ('"d06"', None),
            ],
            key=str,
        )
        assert all(u.params["include_docs"] == "true" for u in targets[1:])
    else:
        assert [str(u) for u in targets] == [f"{BASE}/db/_all_docs?include_docs=true"]


@pytest.mark.anyio
async def test_dump_hands_on_large_documents_one_by_one(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    """Documents are handed on once they hold EMIT_CHARS of text, not only by the
    thousand; a large one alone, as it is, then its newline."""
    from couchctl.bulk import dumper

    big = "x" * dumper.EMIT_CHARS
    docs = [{"_id": f"b{i}", "_rev": "1-a", "s": big} for i in range(3)] + [
        {"_id": f"s{i}", "_rev": "1-a"} for i in range(3)
    ]
    httpx_mock.add_callback(serve_all_docs(docs), is_reusable=True)
    calls: list[tuple[int, int]] = []
    text: list[str] = []

    def emit(part: str, count: int) -> None:
        calls.append((len(part), count))
        text.append(part)

    summary = await bulkio.dump(couch, "db", bulkio.DumpOptions(batch_size=1000), emit)
    assert summary.documents == 6
    assert [json.loads(line) for line in "".join(text).splitlines()] == docs
    large = len(json.dumps(docs[0], separators=(",", ":")))
    # each large document, then its newline; the small ones together at the end
    assert [c for c in calls[:6]] == [(large, 1), (1, 0)] * 3
    assert [count for _, count in calls[6:]] == [3]


@pytest.mark.anyio
async def test_dump_design_and_attachments(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    httpx_mock.add_callback(serve_all_docs(DOCS), is_reusable=True)
    out: list[dict[str, Any]] = []
    summary = await bulkio.dump(
        couch,
        "db",
        bulkio.DumpOptions(batch_size=4, concurrency=2, include_design=True, attachments=True),
        collect(out),
    )
    assert out == sorted(DOCS, key=lambda d: d["_id"])  # every member, as the server sent it
    assert summary.stripped_attachments == 0
    assert all(r.url.params.get("attachments") == "true" for r in httpx_mock.get_requests()[1:])


@pytest.mark.anyio
async def test_dump_retries_a_failed_range(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    serve = serve_all_docs(DOCS)
    failed: list[str] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("startkey") == '"d02"' and not failed:
            failed.append("once")
            raise httpx.RemoteProtocolError("peer closed connection", request=request)
        return serve(request)  # type: ignore[no-any-return]

    httpx_mock.add_callback(flaky, is_reusable=True)
    out: list[dict[str, Any]] = []
    options = bulkio.DumpOptions(batch_size=2, concurrency=2, include_design=True)
    await bulkio.dump(couch, "db", options, collect(out))
    assert [d["_id"] for d in out] == sorted(d["_id"] for d in DOCS)
    assert failed == ["once"]


@pytest.mark.anyio
async def test_dump_ranges_follow_couchdbs_raw_id_order(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    # CouchDB's `_all_docs` orders ids by raw code points (UTF-8 bytes), not by UCA:
    # `%41` < `6278...` < `_design/dd` < `a/b c+d` (214-all-docs, from a q=2 database).
    # Python's str order is the same, and the engine never sorts: ranges are cut at
    # the ids the server sent, in its order.
    ids = [row["id"] for row in recorded("214-all-docs")["response"]["body_json"]["rows"]]
    assert ids == sorted(ids)
    ids += ["Zeta", "\u00e9t\u00e9", "\U0001f600"]  # upper case, Latin-1, outside the BMP
    docs = [{"_id": i, "_rev": "1-a"} for i in ids]
    httpx_mock.add_callback(serve_all_docs(docs), is_reusable=True)
    out: list[dict[str, Any]] = []
    options = bulkio.DumpOptions(batch_size=3, concurrency=3, include_design=True)
    await bulkio.dump(couch, "db", options, collect(out))
    assert [d["_id"] for d in out] == sorted(ids)
    assert sorted(ids).index("Zeta") < sorted(ids).index("_design/dd")  # not case-folded


@pytest.mark.anyio
@pytest.mark.parametrize("concurrency", [1, 2])
async def test_dump_stops_at_an_error_row(
    httpx_mock: HTTPXMock, couch: CouchClient, concurrency: int
) -> None:
    # CouchDB's error row (221-all-docs-keys-post-include-docs: {"key":"nope","error":...})
    # in the middle of a dump is a document the dump would lose: it stops instead.
    rows = recorded("221-all-docs-keys-post-include-docs")["response"]["body_json"]["rows"]
    error_row = next(row for row in rows if "error" in row)
    good = {"id": "a", "key": "a", "value": {"rev": "1-a"}, "doc": {"_id": "a", "_rev": "1-a"}}
    text = '{"total_rows":2,"offset":0,"rows":[\r\n' + ",\r\n".join(
        json.dumps(row, separators=(",", ":")) for row in (good, error_row)
    )
    text += "\r\n]}\n"
    httpx_mock.add_response(text=text, is_reusable=True)
    out: list[dict[str, Any]] = []
    options = bulkio.DumpOptions(concurrency=concurrency)
    with pytest.raises(ProtocolError, match="not_found"):
        await bulkio.dump(couch, "db", options, collect(out))


# -- one retry layer: the client's ------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("concurrency", [1, 2])
async def test_dump_range_that_always_fails_is_tried_retries_plus_one_times(
    httpx_mock: HTTPXMock, couch: CouchClient, concurrency: int
) -> None:
    from couchctl.client import ServerError

    serve = serve_all_docs(DOCS)

    def unavailable_with_docs(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("include_docs") == "true":
            return httpx.Response(503, json={"error": "unavailable", "reason": "x"})
        return serve(request)  # type: ignore[no-any-return]

    httpx_mock.add_callback(unavailable_with_docs, is_reusable=True)
    options = bulkio.DumpOptions(batch_size=100, concurrency=concurrency, include_design=True)
    with pytest.raises(ServerError):
        await bulkio.dump(couch, "db", options, collect([]))
    fetches = [r for r in httpx_mock.get_requests() if r.url.params.get("include_docs")]
    assert len(fetches) == couch.retries + 1 == 3


@pytest.mark.anyio
async def test_load_honours_retry_after(
    httpx_mock: HTTPXMock, couch: CouchClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(anyio, "sleep", sleep)
    httpx_mock.add_response(
        url=f"{BASE}/db/_bulk_docs",
        status_code=429,
        headers={"Retry-After": "3"},
        json={"error": "too_many_requests", "reason": "x"},
    )
    httpx_mock.add_response(url=f"{BASE}/db/_all_docs?include_docs=true", json={"rows": []})
    httpx_mock.add_callback(ok_for_each, url=f"{BASE}/db/_bulk_docs")
    summary = await bulkio.load(
        couch, "db", iter(records('{"_id":"a"}')), LoadOptions(), reject=Rejects()
    )
    assert (summary.written, summary.rejected) == (1, 0)
    assert slept == [3.0]


@pytest.mark.anyio
async def test_load_and_dump_ride_out_a_refused_connection(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    # A server restart: the engines' requests are retried when the connection is
    # refused (a single command's request fails fast instead, see test_base).
    httpx_mock.add_exception(
        httpx.ConnectError("[Errno 111] Connection refused"), url=f"{BASE}/db/_bulk_docs"
    )
    httpx_mock.add_response(url=f"{BASE}/db/_all_docs?include_docs=true", json={"rows": []})
    httpx_mock.add_callback(ok_for_each, url=f"{BASE}/db/_bulk_docs")
    summary = await bulkio.load(
        couch, "db", iter(records('{"_id":"a"}')), LoadOptions(), reject=Rejects()
    )
    assert summary.written == 1

    serve = serve_all_docs(DOCS)
    refused: list[str] = []

    def once_refused(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("include_docs") == "true" and not refused:
            refused.append("once")
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        return serve(request)  # type: ignore[no-any-return]

    httpx_mock.add_callback(once_refused, url=re.compile(r".*/db/_all_docs\?.*"), is_reusable=True)
    httpx_mock.add_callback(once_refused, url=f"{BASE}/db/_all_docs", is_reusable=True)
    out: list[dict[str, Any]] = []
    options = bulkio.DumpOptions(batch_size=4, concurrency=2, include_design=True)
    await bulkio.dump(couch, "db", options, collect(out))
    assert [d["_id"] for d in out] == sorted(d["_id"] for d in DOCS)
    assert refused == ["once"]


def test_the_command_module_names_the_engines_journal_suffix() -> None:
    # cli/bulk.py keeps its own copy so that `--help` does not import the engines.
    from couchctl.cli import bulk as command

    assert command.JOURNAL_SUFFIX == bulkio.JOURNAL_SUFFIX


def test_bulk_package_modules_stay_small() -> None:
    from pathlib import Path

    import couchctl.bulk
    import couchctl.cli.bulk

    for module in Path(couchctl.bulk.__file__).parent.glob("*.py"):
        assert len(module.read_text().splitlines()) < 400, module.name
    assert len(Path(couchctl.cli.bulk.__file__).read_text().splitlines()) < 500


# -- one load from start to end (couchctl.bulk.job) -------------------------------------------


def test_plan_load_refuses_a_journal_in_the_way_and_one_of_another_load(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"_id":"a"}\n{"_deleted":true,"_id":"b","_rev":"1-x"}\n')
    job = bulkio.plan_load("db", path, batch_size=5, concurrency=2)
    assert (job.documents, job.deletions, job.state) == (2, 1, None)
    assert job.journal_path == tmp_path / ("in.jsonl" + bulkio.JOURNAL_SUFFIX)
    assert job.header["batch_size"] == 5 and job.header["input"] == str(path.resolve())

    job.journal_path.write_text(json.dumps({"couchctl_journal": 1, **job.header}) + "\n")
    with pytest.raises(bulkio.JournalError, match="left a journal") as caught:
        bulkio.plan_load("db", path, batch_size=5, concurrency=2)
    assert caught.value.hint is not None and "--resume" in caught.value.hint
    resumed = bulkio.plan_load("db", path, batch_size=9, concurrency=2, resume=True)
    assert resumed.state is not None and resumed.options.batch_size == 5  # the journal's
    assert resumed.notes == ["resuming with the journal's batch size, 5"]
    with pytest.raises(bulkio.JournalError, match="belongs to another load"):
        bulkio.plan_load("other", path, batch_size=5, concurrency=2, resume=True)
    restarted = bulkio.plan_load("db", path, batch_size=5, concurrency=2, restart=True)
    assert restarted.state is None


def test_reject_log_keeps_every_reject_in_its_file_and_shows_the_first(tmp_path: Path) -> None:
    path = tmp_path / "rejects.jsonl"
    log = bulkio.RejectLog.to(path, append=False, force=False, keep=2)
    for record in records('{"_id":"a"}\n{"_id":"b"}\n{"_id":"c"}'):
        log(record, "conflict", "Document update conflict.", {})
    log.close()
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(e["line"], e["id"], e["doc"]) for e in entries] == [
        (1, "a", {"_id": "a"}),
        (2, "b", {"_id": "b"}),
        (3, "c", {"_id": "c"}),
    ]
    assert log.shown == [
        "line 1: a: conflict: Document update conflict.",
        "line 2: b: conflict: Document update conflict.",
    ]
    assert log.more == 1


def test_journal_is_never_written_through_a_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    path = tmp_path / "j"
    path.symlink_to(victim)
    journal = Journal(path)
    journal.open({"db": "d"})  # a new journal replaces the link itself
    journal.close()
    assert victim.read_text() == "precious"
    assert not path.is_symlink() and Journal.read(path).header["db"] == "d"
    path.unlink()
    path.symlink_to(victim)
    with pytest.raises(InvalidArgument, match="symbolic link"):
        Journal(path).open(None)
    assert victim.read_text() == "precious"


class _CutStream(httpx.AsyncByteStream, httpx.SyncByteStream):
    """A body that breaks off half way (a connection reset in the middle of it), for
    the async client and for the sync one (ranges are read in worker threads)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.data[: len(self.data) // 2]
        raise httpx.ReadError("connection reset by peer")

    def __iter__(self) -> Iterator[bytes]:
        yield self.data[: len(self.data) // 2]
        raise httpx.ReadError("connection reset by peer")


@pytest.mark.anyio
async def test_dump_range_cut_mid_body_is_fetched_again_by_the_client(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    serve = serve_all_docs(DOCS)
    cut: list[str] = []

    def cut_once(request: httpx.Request) -> httpx.Response:
        response: httpx.Response = serve(request)
        if request.url.params.get("include_docs") == "true" and not cut:
            cut.append(str(request.url.params.get("startkey")))
            return httpx.Response(200, stream=_CutStream(response.content))
        return response

    httpx_mock.add_callback(cut_once, is_reusable=True)
    out: list[dict[str, Any]] = []
    options = bulkio.DumpOptions(batch_size=3, concurrency=2, include_design=True)
    await bulkio.dump(couch, "db", options, collect(out))
    assert [d["_id"] for d in out] == sorted(d["_id"] for d in DOCS)  # nothing lost or doubled
    assert len(cut) == 1


@pytest.mark.anyio
@pytest.mark.parametrize("concurrency", [1, 2])
async def test_dump_cuts_documents_out_of_rows_whatever_their_ids_hold(
    httpx_mock: HTTPXMock, couch: CouchClient, concurrency: int
) -> None:
    # Ids that hold what the cut looks for, escaped as JSON has them: the document
    # is still the row's `doc`, text for text, and only real design documents go.
    docs: list[dict[str, Any]] = [
        {"_id": 'a},"doc":{"x', "_rev": "1-a", "v": '},"doc":{'},
        {"_id": 'b"\\', "_rev": "1-b", "nested": {"doc": {"id": "_design/no"}}},
        {"_id": "c_design/", "_rev": "1-c", "\u00e9": "\u20ac"},
        {"_id": "_design/x", "_rev": "1-d", "views": {}},
    ]
    httpx_mock.add_callback(serve_all_docs(docs), is_reusable=True)
    out: list[dict[str, Any]] = []
    options = bulkio.DumpOptions(batch_size=2, concurrency=concurrency)
    summary = await bulkio.dump(couch, "db", options, collect(out))
    assert out == sorted(docs[:3], key=lambda d: d["_id"])
    assert (summary.documents, summary.design) == (3, 1)
