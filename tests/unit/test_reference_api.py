"""The reference API's 21 operations, called with its own parameter names.

Each operation of the reference client API is called here with every argument by
the reference's keyword name, and the request is checked on the wire (method,
path, query, body) against CouchDB 3.4.3's recorded exchange, whose answer is
played back. A second set of checks pins each operation's parameters: the
reference's names, in the reference's order, so a positional call means the same.
"""

from __future__ import annotations

import inspect
import json

import httpx
import pytest
from pytest_httpx import HTTPXMock

from couchctl.client import AttachmentInfo, CouchClient
from tests.conftest import recorded, recorded_body
from tests.unit._wire import (
    answer,
    assert_same_request,
    only_request,
    recorded_request,
    recorded_target,
    request_bytes,
    request_json,
    response_json,
    sent_json,
    target_of,
)

pytestmark = pytest.mark.anyio

REV_DOC_1 = "1-ddd301f354099b606179e134259e5ee6"

# The reference's operations and their parameters, in its order.
REFERENCE: dict[str, list[str]] = {
    "attachment_delete": ["db", "doc_id", "attachment_id", "rev"],
    "attachment_exists": ["db", "doc_id", "attachment_id", "rev"],
    "attachment_get": ["db", "doc_id", "attachment_id", "rev"],
    "attachment_upload": ["db", "doc_id", "attachment_id", "content_type", "data", "rev"],
    "db_all_docs": [
        "db", "conflicts", "descending", "end_key", "end_key_doc_id", "group", "group_level",
        "include_docs", "attachments", "att_encoding_info", "inclusive_end", "key", "keys",
        "limit", "reduce", "skip", "sort", "stable", "stale", "start_key", "start_key_doc_id",
        "update", "update_seq",
    ],
    "db_bulk_docs": ["db", "docs", "new_edits"],
    "db_bulk_get": ["db", "revs", "id"],
    "db_create": ["db", "q", "n", "partitioned"],
    "db_create_doc": ["db", "doc", "batch"],
    "db_delete": ["db"],
    "db_design_docs": [
        "db", "conflicts", "descending", "end_key", "end_key_doc_id", "include_docs",
        "inclusive_end", "key", "keys", "limit", "skip", "start_key", "start_key_doc_id",
        "update_seq",
    ],
    "db_exists": ["db"],
    "db_find": [
        "db", "selector", "limit", "skip", "sort", "fields", "use_index", "r", "bookmark",
        "update", "stable", "stale", "execution_stats",
    ],
    "db_info": ["db"],
    "des_info": ["db", "des_id"],
    "doc_copy": ["db", "doc_id", "destination", "rev", "batch"],
    "doc_create_or_update": [
        "db", "doc_id", "doc", "rev", "batch", "new_edits", "attachments",
    ],
    "doc_delete": ["db", "doc_id", "rev", "batch"],
    "doc_exists": ["db", "doc_id"],
    "doc_get": [
        "db", "doc_id", "attachments", "att_encoding_info", "attributes_since", "conflicts",
        "deleted_conflicts", "latest", "local_seq", "meta", "open_revs", "rev", "revs",
        "revs_info",
    ],
    "view_exec": [
        "db", "des_id", "view_name", "conflicts", "descending", "end_key", "end_key_doc_id",
        "group", "group_level", "include_docs", "attachments", "att_encoding_info",
        "inclusive_end", "key", "keys", "limit", "reduce", "skip", "sort", "stable", "stale",
        "start_key", "start_key_doc_id", "update", "update_seq",
    ],
}  # fmt: skip


def test_the_reference_has_21_operations() -> None:
    assert len(REFERENCE) == 21


@pytest.mark.parametrize("operation", sorted(REFERENCE))
def test_parameters_by_the_reference_names_and_order(operation: str) -> None:
    """The reference's parameters lead the signature, by position or keyword; the
    client's extras come after them and are keyword-only."""
    parameters = list(inspect.signature(getattr(CouchClient, operation)).parameters.values())
    assert parameters[0].name == "self"
    wanted = REFERENCE[operation]
    leading = parameters[1 : 1 + len(wanted)]
    assert [p.name for p in leading] == wanted
    assert all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in leading)
    extras = parameters[1 + len(wanted) :]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in extras), extras


# -- attachments ----------------------------------------------------------------------------


async def test_attachment_upload(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    name = "133-att-put-text"
    answer(httpx_mock, name)
    result = await couch.attachment_upload(
        db="corpus",
        doc_id="doc-1",
        attachment_id="note.txt",
        content_type="text/plain",
        data=request_bytes(name),
        rev="3-e303696a573c99baf06b659a0711ce9a",
    )
    assert result == response_json(name)
    request = only_request(httpx_mock)
    assert_same_request_bytes(request, name)
    assert request.headers["Content-Type"] == "text/plain"


async def test_attachment_upload_by_position(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    name = "138-att-put-new-doc"
    answer(httpx_mock, name)
    data = request_bytes(name)
    await couch.attachment_upload("corpus", "doc-att-new", "hello.txt", "text/plain", data)
    request = only_request(httpx_mock)
    assert_same_request_bytes(request, name)
    assert request.headers["Content-Type"] == "text/plain"


def assert_same_request_bytes(request: httpx.Request, name: str) -> None:
    """Method, path and query as recorded, and the recorded body byte for byte."""
    assert request.method == recorded_request(name)["method"]
    assert target_of(request) == recorded_target(name)
    assert request.content == request_bytes(name)


async def test_attachment_get(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    name = "143-att-get-text-accept-gzip"  # every header kept: gzip, its digest
    response = recorded(name)["response"]
    httpx_mock.add_response(
        status_code=response["status"],
        headers=dict(response["headers"]),
        content=recorded_body(name),
    )
    async with couch.attachment_get(
        db="corpus", doc_id="doc-1", attachment_id="note.txt", rev=None
    ) as download:
        body = b"".join([chunk async for chunk in download])
    assert body == recorded_body("142-att-get-text")
    request = only_request(httpx_mock)
    assert_same_request(request, name)
    assert request.headers["Accept-Encoding"] == "gzip"


async def test_attachment_exists(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    name = "146-att-head-text"
    answer(httpx_mock, name)
    info = await couch.attachment_exists(db="corpus", doc_id="doc-1", attachment_id="note.txt")
    assert isinstance(info, AttachmentInfo)
    assert info.etag == recorded(name)["response"]["headers"]["ETag"]
    assert_same_request(only_request(httpx_mock), name)


async def test_attachment_delete(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    name = "155-att-delete"
    answer(httpx_mock, name)
    result = await couch.attachment_delete(
        db="corpus",
        doc_id="doc-1",
        attachment_id="tmp.txt",
        rev="7-bfe372189658777b694a9e4d13862264",
    )
    assert result == response_json(name)
    assert_same_request(only_request(httpx_mock), name)


# -- databases ------------------------------------------------------------------------------


async def test_db_create(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "027-db-create-q4-n1")
    assert await couch.db_create(db="corpus_q", q=4, n=1) == response_json("027-db-create-q4-n1")
    assert_same_request(only_request(httpx_mock), "027-db-create-q4-n1")


async def test_db_create_partitioned_by_position(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "031-db-create-partitioned")
    await couch.db_create("corpus_p", None, None, True)
    assert_same_request(only_request(httpx_mock), "031-db-create-partitioned")


async def test_db_delete(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "030-db-delete")
    assert await couch.db_delete(db="corpus_q") == response_json("030-db-delete")
    assert_same_request(only_request(httpx_mock), "030-db-delete")


async def test_db_exists(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "035-db-head")
    assert await couch.db_exists(db="corpus") is True
    assert_same_request(only_request(httpx_mock), "035-db-head")


async def test_db_info(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "037-db-info")
    assert await couch.db_info(db="corpus") == response_json("037-db-info")
    assert_same_request(only_request(httpx_mock), "037-db-info")


async def test_db_all_docs(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    name = "218-all-docs-startkey-endkey"
    answer(httpx_mock, name)
    result = await couch.db_all_docs(db="corpus", start_key="doc-", end_key="doc-\ufff0")
    assert result == response_json(name)
    assert_same_request(only_request(httpx_mock), name)


async def test_db_all_docs_keys_post(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    name = "220-all-docs-keys-post"
    answer(httpx_mock, name)
    await couch.db_all_docs(db="corpus", keys=request_json(name)["keys"])
    assert_same_request(only_request(httpx_mock), name)


async def test_db_all_docs_sort_is_sorted(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "214-all-docs")
    await couch.db_all_docs(db="corpus", sort=False, update_seq=True, limit=1)
    request = only_request(httpx_mock)
    assert request.method == "GET"
    assert target_of(request) == (
        "/corpus/_all_docs",
        ["limit=1", "sorted=false", "update_seq=true"],
    )


async def test_db_all_docs_by_position(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    name = "215-all-docs-include-docs-limit"
    answer(httpx_mock, name)
    # db, conflicts, descending, end_key, end_key_doc_id, group, group_level, include_docs,
    # attachments, att_encoding_info, inclusive_end, key, keys, limit
    await couch.db_all_docs(
        "corpus", None, None, None, None, None, None, True, None, None, None, None, None, 2
    )
    assert_same_request(only_request(httpx_mock), name)


async def test_db_design_docs(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    name = "230-design-docs-post"
    answer(httpx_mock, name)
    result = await couch.db_design_docs(db="corpus", keys=request_json(name)["keys"])
    assert result == response_json(name)
    assert_same_request(only_request(httpx_mock), name)


async def test_db_design_docs_options(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "229-design-docs")
    await couch.db_design_docs(
        db="corpus",
        conflicts=True,
        descending=True,
        end_key="_design/a",
        end_key_doc_id="_design/a",
        include_docs=True,
        inclusive_end=False,
        limit=5,
        skip=1,
        start_key="_design/z",
        start_key_doc_id="_design/z",
        update_seq=True,
    )
    request = only_request(httpx_mock)
    assert request.method == "GET"
    assert target_of(request) == (
        "/corpus/_design_docs",
        sorted(
            [
                "conflicts=true",
                "descending=true",
                "endkey=%22_design%2Fa%22",
                "endkey_docid=_design%2Fa",
                "include_docs=true",
                "inclusive_end=false",
                "limit=5",
                "skip=1",
                "startkey=%22_design%2Fz%22",
                "startkey_docid=_design%2Fz",
                "update_seq=true",
            ]
        ),
    )


# -- documents -------------------------------------------------------------------------------


async def test_db_create_doc(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    name = "059-doc-post-batch-ok"
    answer(httpx_mock, name)
    result = await couch.db_create_doc(db="corpus", doc=request_json(name), batch="ok")
    assert result == response_json(name)
    assert_same_request(only_request(httpx_mock), name)


async def test_doc_create_or_update(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    name = "062-doc-put-update"
    answer(httpx_mock, name)
    result = await couch.doc_create_or_update(
        db="corpus",
        doc_id="doc-1",
        doc=request_json(name),
        rev=None,
        batch=None,
        new_edits=None,
        attachments=None,
    )
    assert result == response_json(name)
    assert_same_request(only_request(httpx_mock), name)


async def test_doc_create_or_update_rev_new_edits(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    answer(httpx_mock, "061-doc-put-create")
    await couch.doc_create_or_update(
        db="corpus", doc_id="doc-1", doc={"n": 1}, rev=REV_DOC_1, batch="ok", new_edits=False
    )
    request = only_request(httpx_mock)
    assert request.method == "PUT"
    assert target_of(request) == (
        "/corpus/doc-1",
        ["batch=ok", "new_edits=false", f"rev={REV_DOC_1}"],
    )
    assert sent_json(request) == {"n": 1}


async def test_doc_get(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    name = "117-doc-get-atts-since"
    answer(httpx_mock, name)
    result = await couch.doc_get(
        db="corpus",
        doc_id="doc-mp",
        attachments=True,
        attributes_since=["1-e802149f471172779709a934d67146bb"],
    )
    assert result == response_json(name)
    assert_same_request(only_request(httpx_mock), name)


async def test_doc_get_every_flag(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "071-doc-get")
    await couch.doc_get(
        db="corpus",
        doc_id="doc-1",
        att_encoding_info=True,
        conflicts=True,
        deleted_conflicts=True,
        latest=True,
        local_seq=True,
        meta=True,
        open_revs=None,
        rev=REV_DOC_1,
        revs=True,
        revs_info=True,
    )
    request = only_request(httpx_mock)
    assert request.method == "GET"
    assert target_of(request) == (
        "/corpus/doc-1",
        sorted(
            [
                "att_encoding_info=true",
                "conflicts=true",
                "deleted_conflicts=true",
                "latest=true",
                "local_seq=true",
                "meta=true",
                f"rev={REV_DOC_1}",
                "revs=true",
                "revs_info=true",
            ]
        ),
    )


async def test_doc_exists(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "079-doc-head")
    rev = await couch.doc_exists(db="corpus", doc_id="doc-1")
    assert rev == recorded("079-doc-head")["response"]["headers"]["ETag"].strip('"')
    assert_same_request(only_request(httpx_mock), "079-doc-head")


async def test_doc_delete(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    name = "092-doc-delete"
    answer(httpx_mock, name)
    result = await couch.doc_delete(
        db="corpus", doc_id="doc-del", rev="1-1ae455f1b9333dc7016fbcd15db980b3", batch=None
    )
    assert result == response_json(name)
    assert_same_request(only_request(httpx_mock), name)


async def test_doc_copy(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    name = "104-doc-copy-source-rev"
    answer(httpx_mock, name)
    result = await couch.doc_copy(
        db="corpus", doc_id="doc-1", destination="doc-copy-old", rev=REV_DOC_1, batch=None
    )
    assert result == response_json(name)
    request = only_request(httpx_mock)
    assert_same_request(request, name)
    assert request.headers["Destination"] == "doc-copy-old"


async def test_doc_copy_batch_by_position(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "101-doc-copy")
    await couch.doc_copy("corpus", "doc-1", "doc-copy", None, "ok")
    request = only_request(httpx_mock)
    assert request.method == "COPY"
    assert target_of(request) == ("/corpus/doc-1", ["batch=ok"])
    assert request.headers["Destination"] == "doc-copy"


# -- bulk -------------------------------------------------------------------------------------


async def test_db_bulk_docs(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    name = "161-bulk-docs-new-edits-false"
    answer(httpx_mock, name)
    sent = request_json(name)
    result = await couch.db_bulk_docs(db="corpus", docs=sent["docs"], new_edits=False)
    assert result == response_json(name)
    assert_same_request(only_request(httpx_mock), name)


async def test_db_bulk_get(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    name = "171-bulk-get-revs"
    answer(httpx_mock, name)
    result = await couch.db_bulk_get(db="corpus", revs=True, id=["bulk-1", "nope"])
    assert result == response_json(name)
    request = only_request(httpx_mock)
    assert request.method == "POST"
    assert target_of(request) == ("/corpus/_bulk_get", ["revs=true"])
    assert sent_json(request) == {"docs": [{"id": "bulk-1"}, {"id": "nope"}]}


async def test_db_bulk_get_one_id_by_position(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "170-bulk-get")
    await couch.db_bulk_get("corpus", None, "bulk-1")
    request = only_request(httpx_mock)
    assert target_of(request) == ("/corpus/_bulk_get", [])
    assert sent_json(request) == {"docs": [{"id": "bulk-1"}]}


# -- views and Mango --------------------------------------------------------------------------


async def test_des_info(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "194-ddoc-info")
    assert await couch.des_info(db="corpus", des_id="dd") == response_json("194-ddoc-info")
    assert_same_request(only_request(httpx_mock), "194-ddoc-info")


async def test_view_exec(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    name = "186-view-range"
    answer(httpx_mock, name)
    result = await couch.view_exec(
        db="corpus",
        des_id="dd",
        view_name="by_type",
        start_key=["note"],
        end_key=["note", {}],
        reduce=False,
    )
    assert result == response_json(name)
    assert_same_request(only_request(httpx_mock), name)


async def test_view_exec_keys_post(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    name = "184-view-keys-post"
    answer(httpx_mock, name)
    await couch.view_exec(
        db="corpus",
        des_id="_design/dd",
        view_name="by_type",
        keys=request_json(name)["keys"],
        reduce=False,
    )
    assert_same_request(only_request(httpx_mock), name)


async def test_view_exec_sort_is_sorted(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "189-view-map-only")
    await couch.view_exec(db="corpus", des_id="dd", view_name="ids", sort=False, stable=True)
    request = only_request(httpx_mock)
    assert request.method == "GET"
    assert target_of(request) == ("/corpus/_design/dd/_view/ids", ["sorted=false", "stable=true"])


async def test_db_find(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    name = "203-find"
    answer(httpx_mock, name)
    sent = request_json(name)
    result = await couch.db_find(
        db="corpus",
        selector=sent["selector"],
        limit=sent["limit"],
        sort=sent["sort"],
        fields=sent["fields"],
    )
    assert result == response_json(name)
    assert_same_request(only_request(httpx_mock), name)


async def test_db_find_every_option(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "206-find-execution-stats")
    await couch.db_find(
        db="corpus",
        selector={"type": "task"},
        limit=3,
        skip=1,
        sort=[{"n": "asc"}],
        fields=["_id"],
        use_index=["dd", "by-n"],
        r=1,
        bookmark="b",
        update=False,
        stable=True,
        stale="ok",
        execution_stats=True,
    )
    request = only_request(httpx_mock)
    assert request.method == "POST"
    assert target_of(request) == ("/corpus/_find", [])
    assert json.loads(request.content) == {
        "selector": {"type": "task"},
        "limit": 3,
        "skip": 1,
        "sort": [{"n": "asc"}],
        "fields": ["_id"],
        "use_index": ["dd", "by-n"],
        "r": 1,
        "bookmark": "b",
        "update": False,
        "stable": True,
        "stale": "ok",
        "execution_stats": True,
    }
