"""DocumentMixin on the wire: exact method, path, query, headers and body; recorded answers."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpx import HTTPXMock

from couchctl.client import (
    BadRequest,
    Conflict,
    CouchClient,
    InvalidArgument,
    NotFound,
    ServerError,
    _multipart,
)
from couchctl.client._multipart import RelatedAttachment
from tests.conftest import recorded, recorded_body
from tests.unit._wire import (
    answer,
    only_request,
    recorded_target,
    request_bytes,
    request_json,
    response_json,
    target_of,
)

pytestmark = pytest.mark.anyio


# -- doc_get ---------------------------------------------------------------------------------


async def test_doc_get_plain(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "071-doc-get")
    assert await couch.doc_get("corpus", "doc-1") == response_json("071-doc-get")
    request = only_request(httpx_mock)
    assert request.method == "GET"
    assert request.url.raw_path == b"/corpus/doc-1"
    assert request.headers["Accept"] == "application/json"


REV1 = "1-ddd301f354099b606179e134259e5ee6"


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"rev": REV1}, "073-doc-get-rev"),
        ({"revs": True}, "075-doc-get-revs"),
        ({"revs_info": True}, "076-doc-get-revs-info"),
        ({"local_seq": True}, "077-doc-get-local-seq"),
        ({"latest": True, "rev": REV1}, "078-doc-get-latest"),
        ({"conflicts": True}, "083-doc-get-conflicts"),
        ({"meta": True}, "084-doc-get-meta"),
        ({"open_revs": "all"}, "085-doc-get-open-revs-all-json"),
        (
            {
                "open_revs": [
                    "2-17d9aea07dc54ecb17c1d3205eba34de",
                    "3-00000000000000000000000000000000",
                ]
            },
            "087-doc-get-open-revs-list",
        ),
        (
            {"open_revs": ["1-74ca321e0e5d4f43546ce9330b715c7a"], "latest": True},
            "088-doc-get-open-revs-latest",
        ),
        ({"deleted_conflicts": True}, "091-doc-get-deleted-conflicts"),
        ({"att_encoding_info": True}, "113-doc-get-att-encoding-info"),
        ({"attachments": True}, "114-doc-get-attachments-json"),
        (
            {"attachments": True, "attributes_since": ["1-e802149f471172779709a934d67146bb"]},
            "117-doc-get-atts-since",
        ),
    ],
)
async def test_doc_get_each_flag_is_its_own_parameter(
    couch: CouchClient, httpx_mock: HTTPXMock, kwargs: dict[str, Any], name: str
) -> None:
    answer(httpx_mock, name)
    doc_id = recorded(name)["request"]["path"].split("?")[0].rsplit("/", 1)[1]
    assert await couch.doc_get("corpus", doc_id, **kwargs) == response_json(name)
    request = only_request(httpx_mock)
    assert target_of(request) == recorded_target(name)
    assert request.headers["Accept"] == "application/json"


async def test_doc_get_false_flags_are_sent_as_false(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    answer(httpx_mock, "071-doc-get")
    await couch.doc_get("corpus", "doc-1", conflicts=False)
    assert target_of(only_request(httpx_mock)) == ("/corpus/doc-1", ["conflicts=false"])


async def test_doc_get_open_revs_multipart_is_parsed(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    answer(httpx_mock, "086-doc-get-open-revs-all-multipart")
    revisions = await couch.doc_get("corpus", "doc-c", open_revs="all", multipart=True)
    assert revisions == response_json("085-doc-get-open-revs-all-json")
    request = only_request(httpx_mock)
    assert request.headers["Accept"] == "multipart/mixed"
    assert target_of(request) == recorded_target("086-doc-get-open-revs-all-multipart")


@pytest.mark.parametrize(
    ("name", "doc_id", "as_json"),
    [
        ("115-doc-get-attachments-multipart", "doc-mp", "114-doc-get-attachments-json"),
        ("116-doc-get-attachments-multipart-text", "doc-mpt", None),
    ],
)
async def test_doc_get_attachments_multipart_is_parsed(
    couch: CouchClient, httpx_mock: HTTPXMock, name: str, doc_id: str, as_json: str | None
) -> None:
    answer(httpx_mock, name)
    doc = await couch.doc_get("corpus", doc_id, attachments=True, multipart=True)
    request = only_request(httpx_mock)
    assert request.headers["Accept"] == "multipart/related"
    assert target_of(request) == recorded_target(name)
    for stub in doc["_attachments"].values():
        assert "follows" not in stub
        assert isinstance(stub["data"], str)
    if as_json:
        expected = response_json(as_json)["_attachments"]
        assert {k: v["data"] for k, v in doc["_attachments"].items()} == {
            k: v["data"] for k, v in expected.items()
        }
    else:
        assert base64.b64decode(doc["_attachments"]["a.ndjson"]["data"]) == b'{"a":1}\n{"b":2}\n'


async def test_doc_get_multipart_request_answered_with_json(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    # a document without attachments comes back as JSON even when multipart is accepted
    answer(httpx_mock, "071-doc-get")
    assert await couch.doc_get(
        "corpus", "doc-1", attachments=True, multipart=True
    ) == response_json("071-doc-get")


async def test_doc_get_missing_raises_not_found(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "081-doc-get-missing-404")
    with pytest.raises(NotFound) as caught:
        await couch.doc_get("corpus", "nope")
    assert caught.value.reason == "missing"


async def test_doc_get_bad_open_revs_refused_before_any_request(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    with pytest.raises(InvalidArgument):
        await couch.doc_get("corpus", "doc-c", open_revs="notjson")
    assert httpx_mock.get_requests() == []


async def test_doc_get_server_400_is_bad_request(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "089-doc-get-open-revs-bad-json-400")
    with pytest.raises(BadRequest):
        await couch.doc_get("corpus", "doc-c", open_revs=["x"])


# -- ids on the wire -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc_id", "path"),
    [
        ("a/b c+d", "/corpus/a%2Fb%20c%2Bd"),
        ("ünï", "/corpus/%C3%BCn%C3%AF"),
        ("%41", "/corpus/%2541"),
        ("q?x#y", "/corpus/q%3Fx%23y"),
        ("_design/x", "/corpus/_design/x"),
        ("_design/a/b", "/corpus/_design/a%2Fb"),
        ("_local/l1", "/corpus/_local/l1"),
        ("_local/a b", "/corpus/_local/a%20b"),
    ],
)
async def test_doc_ids_are_percent_encoded(
    couch: CouchClient, httpx_mock: HTTPXMock, doc_id: str, path: str
) -> None:
    httpx_mock.add_response(json={"_id": doc_id, "_rev": "1-a"})
    await couch.doc_get("corpus", doc_id)
    assert only_request(httpx_mock).url.raw_path.decode() == path


@pytest.mark.parametrize(
    "name",
    ["119-doc-get-id-slash-space-plus", "123-doc-get-id-unicode", "126-doc-get-id-percent"],
)
async def test_recorded_odd_ids(couch: CouchClient, httpx_mock: HTTPXMock, name: str) -> None:
    answer(httpx_mock, name)
    doc = response_json(name)
    assert await couch.doc_get("corpus", doc["_id"]) == doc
    assert only_request(httpx_mock).url.raw_path.decode() == recorded(name)["request"]["path"]


async def test_local_doc_get_128(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "128-doc-get-local")
    assert (await couch.doc_get("corpus", "_local/l1"))["_rev"] == "0-1"
    assert only_request(httpx_mock).url.raw_path == b"/corpus/_local/l1"


# -- doc_exists ------------------------------------------------------------------------------


async def test_doc_exists_reads_the_rev_from_the_etag(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    answer(httpx_mock, "079-doc-head")
    assert await couch.doc_exists("corpus", "doc-1") == "3-e303696a573c99baf06b659a0711ce9a"
    request = only_request(httpx_mock)
    assert (request.method, request.url.raw_path) == ("HEAD", b"/corpus/doc-1")


@pytest.mark.parametrize("name", ["080-doc-head-missing-404", "094-doc-head-deleted-404"])
async def test_doc_exists_none_when_missing(
    couch: CouchClient, httpx_mock: HTTPXMock, name: str
) -> None:
    answer(httpx_mock, name)
    assert await couch.doc_exists("corpus", "nope") is None


async def test_doc_exists_local_doc_etag_is_not_a_rev(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    # CouchDB's ETag of a _local document is not its revision (127, 128): read the doc
    httpx_mock.add_response(
        method="HEAD",
        headers={"ETag": recorded("128-doc-get-local")["response"]["headers"]["ETag"]},
    )
    answer(httpx_mock, "128-doc-get-local", method="GET")
    assert await couch.doc_exists("corpus", "_local/l1") == "0-1"
    assert [r.method for r in httpx_mock.get_requests()] == ["HEAD", "GET"]


async def test_doc_exists_weak_etag_falls_back_to_the_document(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(method="HEAD", headers={"ETag": 'W/"bf-cpK+64myjKkJ"'})
    httpx_mock.add_response(method="GET", json={"_id": "d", "_rev": "2-abc"})
    assert await couch.doc_exists("corpus", "d") == "2-abc"


# -- doc_create_or_update ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "doc_id"),
    [
        ("061-doc-put-create", "doc-1"),
        ("062-doc-put-update", "doc-1"),
        ("070-doc-put-id-mismatch", "doc-idm"),
        ("118-doc-put-id-slash-space-plus", "a/b c+d"),
        ("122-doc-put-id-unicode", "ünï"),
        ("124-doc-put-id-percent", "%41"),
        ("127-doc-put-local", "_local/l1"),
        ("129-doc-put-local-update", "_local/l1"),
    ],
)
async def test_doc_put_wire(
    couch: CouchClient, httpx_mock: HTTPXMock, name: str, doc_id: str
) -> None:
    answer(httpx_mock, name)
    assert await couch.doc_create_or_update("corpus", doc_id, request_json(name)) == response_json(
        name
    )
    request = only_request(httpx_mock)
    assert request.method == "PUT"
    assert request.url.raw_path.decode() == recorded(name)["request"]["path"]
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == request_json(name)


async def test_doc_put_rev_batch_new_edits_are_query_parameters(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    answer(httpx_mock, "106-doc-put-new-edits-false")
    await couch.doc_create_or_update(
        "corpus", "doc-ne", request_json("106-doc-put-new-edits-false"), new_edits=False
    )
    assert target_of(only_request(httpx_mock)) == recorded_target("106-doc-put-new-edits-false")

    httpx_mock.reset()
    httpx_mock.add_response(status_code=202, json={"ok": True, "id": "d"})
    await couch.doc_create_or_update("corpus", "d", {"a": 1}, rev="1-a", batch=True)
    assert target_of(only_request(httpx_mock)) == ("/corpus/d", ["batch=ok", "rev=1-a"])


async def test_doc_put_stale_rev_is_a_conflict(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "063-doc-put-stale-rev-409")
    with pytest.raises(Conflict):
        await couch.doc_create_or_update(
            "corpus", "doc-1", request_json("063-doc-put-stale-rev-409")
        )


@pytest.mark.parametrize("doc", [[1, 2, 3], "text", None, 3])
async def test_doc_put_refuses_a_non_object(
    couch: CouchClient, httpx_mock: HTTPXMock, doc: Any
) -> None:
    with pytest.raises(InvalidArgument):
        await couch.doc_create_or_update("corpus", "doc-array", doc)
    assert httpx_mock.get_requests() == []


@pytest.fixture
def fixed_boundary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_multipart, "new_boundary", lambda: "corpus-boundary-7d3f")


async def test_doc_put_multipart_from_files_is_byte_exact_108(
    couch: CouchClient, httpx_mock: HTTPXMock, tmp_path: Path, fixed_boundary: None
) -> None:
    name = "108-doc-put-multipart-related"
    sent = _multipart.parse_multipart(request_bytes(name), "corpus-boundary-7d3f")
    (tmp_path / "notes.txt").write_bytes(sent[1].body)
    (tmp_path / "pixel.png").write_bytes(sent[2].body)
    answer(httpx_mock, name)
    doc = {"_id": "doc-mp", "type": "note", "title": "multipart upload", "n": 11}
    result = await couch.doc_create_or_update(
        "corpus", "doc-mp", doc, attachments=[tmp_path / "notes.txt", str(tmp_path / "pixel.png")]
    )
    assert result == response_json(name)
    request = only_request(httpx_mock)
    headers = recorded(name)["request"]["headers"]
    assert request.url.raw_path == b"/corpus/doc-mp"
    assert request.headers["Content-Type"] == headers["Content-Type"]
    assert request.headers["Content-Length"] == headers["Content-Length"]
    assert "Transfer-Encoding" not in request.headers
    assert request.content == request_bytes(name)


async def test_doc_put_multipart_text_109(
    couch: CouchClient, httpx_mock: HTTPXMock, fixed_boundary: None
) -> None:
    name = "109-doc-put-multipart-related-text"
    sent = _multipart.parse_multipart(request_bytes(name), "corpus-boundary-7d3f")

    def source(data: bytes) -> Any:
        async def stream() -> AsyncIterator[bytes]:
            yield data

        return stream

    answer(httpx_mock, name)
    doc = {"_id": "doc-mpt", "type": "note", "title": "multipart, text only", "n": 12}
    await couch.doc_create_or_update(
        "corpus",
        "doc-mpt",
        doc,
        attachments=[
            RelatedAttachment("a.ndjson", "application/x-ndjson", 16, source(sent[1].body)),
            RelatedAttachment("b.yaml", "application/yaml", 15, source(sent[2].body)),
        ],
    )
    assert only_request(httpx_mock).content == request_bytes(name)


async def test_doc_put_attachment_file_missing(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    with pytest.raises(FileNotFoundError):
        await couch.doc_create_or_update("corpus", "d", {}, attachments=["/no/such/file.bin"])
    assert httpx_mock.get_requests() == []


# -- db_create_doc -----------------------------------------------------------------------------


async def test_db_create_doc_058(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    name = "058-doc-post-auto-id"
    answer(httpx_mock, name)
    assert await couch.db_create_doc("corpus", request_json(name)) == response_json(name)
    request = only_request(httpx_mock)
    assert (request.method, request.url.raw_path) == ("POST", b"/corpus")
    assert json.loads(request.content) == request_json(name)


async def test_db_create_doc_batch_059(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    name = "059-doc-post-batch-ok"
    answer(httpx_mock, name)
    assert await couch.db_create_doc("corpus", request_json(name), batch=True) == {
        "ok": True,
        "id": "batch-1",
    }
    assert target_of(only_request(httpx_mock)) == recorded_target(name)


async def test_db_create_doc_is_never_retried(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=503, json={"error": "unavailable", "reason": "busy"})
    with pytest.raises(ServerError):
        await couch.db_create_doc("corpus", {"a": 1})
    assert len(httpx_mock.get_requests()) == 1


# -- doc_delete --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "doc_id", "rev"),
    [
        ("092-doc-delete", "doc-del", "1-1ae455f1b9333dc7016fbcd15db980b3"),
        ("090-doc-delete-conflict-branch", "doc-dc", "2-59b81561622190b17e331940074ebabf"),
        ("130-doc-delete-local", "_local/l2", "0-1"),
    ],
)
async def test_doc_delete_wire(
    couch: CouchClient, httpx_mock: HTTPXMock, name: str, doc_id: str, rev: str
) -> None:
    answer(httpx_mock, name)
    assert await couch.doc_delete("corpus", doc_id, rev) == response_json(name)
    request = only_request(httpx_mock)
    assert request.method == "DELETE"
    assert target_of(request) == recorded_target(name)


async def test_doc_delete_errors(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "097-doc-delete-wrong-rev-409")
    with pytest.raises(Conflict):
        await couch.doc_delete("corpus", "doc-1", "1-00000000000000000000000000000000")
    httpx_mock.reset()
    answer(httpx_mock, "099-doc-delete-missing-doc")
    with pytest.raises(NotFound):
        await couch.doc_delete("corpus", "nope", "1-00000000000000000000000000000000")


async def test_doc_delete_needs_a_rev(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    with pytest.raises(InvalidArgument):
        await couch.doc_delete("corpus", "doc-1", "")
    assert httpx_mock.get_requests() == []


# -- doc_copy ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("101-doc-copy", {"destination": "doc-copy"}),
        ("103-doc-copy-overwrite", {"destination": "doc-copy", "destination_rev": REV1}),
        ("104-doc-copy-source-rev", {"destination": "doc-copy-old", "rev": REV1}),
    ],
)
async def test_doc_copy_wire(
    couch: CouchClient, httpx_mock: HTTPXMock, name: str, kwargs: dict[str, Any]
) -> None:
    answer(httpx_mock, name)
    assert await couch.doc_copy("corpus", "doc-1", **kwargs) == response_json(name)
    request = only_request(httpx_mock)
    assert request.method == "COPY"
    assert target_of(request) == recorded_target(name)
    assert request.headers["Destination"] == recorded(name)["request"]["headers"]["Destination"]


async def test_doc_copy_onto_existing_is_a_conflict(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    answer(httpx_mock, "102-doc-copy-exists-409")
    with pytest.raises(Conflict):
        await couch.doc_copy("corpus", "doc-1", "doc-copy")


async def test_doc_copy_destination_is_sent_literally(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    # CouchDB does not percent-decode the Destination header: the id goes as UTF-8 bytes
    httpx_mock.add_response(status_code=201, json={"ok": True, "id": "ünï/x y", "rev": "1-a"})
    await couch.doc_copy("corpus", "a/b", "ünï/x y", batch=True)
    request = only_request(httpx_mock)
    raw = dict((name.lower(), value) for name, value in request.headers.raw)
    assert raw[b"destination"] == "ünï/x y".encode()
    assert target_of(request) == ("/corpus/a%2Fb", ["batch=ok"])


@pytest.mark.parametrize("destination", ["", "a?b", "http://elsewhere/db/doc"])
async def test_doc_copy_refuses_bad_destinations(
    couch: CouchClient, httpx_mock: HTTPXMock, destination: str
) -> None:
    with pytest.raises(InvalidArgument):
        await couch.doc_copy("corpus", "doc-1", destination)
    assert httpx_mock.get_requests() == []


def test_recorded_bodies_available() -> None:
    assert recorded_body("071-doc-get")


@pytest.mark.parametrize("doc_id", ["_design/", "_local/"])
async def test_bare_prefix_id_refused_before_any_request(
    couch: CouchClient, httpx_mock: HTTPXMock, doc_id: str
) -> None:
    # Sent as `_design%2F`, CouchDB would answer 301 with an empty body
    # (177-ddoc-get-encoded-slash); the id itself is illegal in CouchDB.
    with pytest.raises(InvalidArgument, match="the name after the prefix is empty"):
        await couch.doc_get("corpus", doc_id)
    assert httpx_mock.get_requests() == []
