"""DatabaseMixin on the wire: exact method, path, query and body; recorded CouchDB 3.4.3 answers."""

from __future__ import annotations

import inspect
import json
from typing import Any

import pytest
from pytest_httpx import HTTPXMock

from couchctl.client import (
    JSON_NULL,
    BadRequest,
    ClientError,
    CouchClient,
    InvalidArgument,
    NotFound,
    PreconditionFailed,
    ProtocolError,
    ServerError,
    Unauthorized,
    check_changes,
)
from couchctl.client._databases import AllDocsOptions, ChangesOptions, DesignDocsOptions
from tests.conftest import recorded, recorded_body
from tests.unit._wire import (
    answer,
    assert_same_request,
    no_request,
    only_request,
    response_json,
    split_target,
    target_of,
)

pytestmark = pytest.mark.anyio


# -- create / delete / exists / info -------------------------------------------------------


async def test_db_create(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "024-db-create")
    assert await couch.db_create("corpus") == {"ok": True}
    request = only_request(httpx_mock)
    assert_same_request(request, "024-db-create")
    # No q/n/partitioned unless asked: the cluster's defaults apply.
    assert request.url.query == b""


async def test_db_create_exists_is_precondition_failed(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    answer(httpx_mock, "025-db-create-exists-412")
    with pytest.raises(PreconditionFailed) as caught:
        await couch.db_create("corpus")
    assert caught.value.status == 412
    assert caught.value.error == "file_exists"
    only_request(httpx_mock)  # a PUT is not retried


async def test_db_create_q_n(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "027-db-create-q4-n1")
    await couch.db_create("corpus_q", q=4, n=1)
    assert_same_request(only_request(httpx_mock), "027-db-create-q4-n1")


async def test_db_create_partitioned(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "031-db-create-partitioned")
    await couch.db_create("corpus_p", partitioned=True)
    assert_same_request(only_request(httpx_mock), "031-db-create-partitioned")


async def test_db_create_bad_q_is_bad_request(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "028-db-create-bad-q-400")
    with pytest.raises(BadRequest) as caught:
        await couch.db_create("corpus_q2", q=0)
    assert_same_request(only_request(httpx_mock), "028-db-create-bad-q-400")
    assert "positive integer" in caught.value.reason


async def test_db_create_name_with_slash_is_encoded(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    answer(httpx_mock, "033-db-create-with-slash")
    await couch.db_create("corpus/sub")
    assert_same_request(only_request(httpx_mock), "033-db-create-with-slash")


@pytest.mark.parametrize("name", ["Bad Name", "1abc", "_private", "a b", "Upper", ""])
async def test_db_create_refuses_illegal_names_before_any_request(
    httpx_mock: HTTPXMock, couch: CouchClient, name: str
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        await couch.db_create(name)
    assert "must start with a lowercase letter" in str(caught.value)
    no_request(httpx_mock)


async def test_illegal_name_answer_is_bad_request(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    # CouchDB's own check, as seen by an operation that does not validate first.
    answer(httpx_mock, "026-db-create-illegal-name-400")
    with pytest.raises(BadRequest) as caught:
        await couch.db_info("Bad Name")
    assert caught.value.error == "illegal_database_name"
    assert only_request(httpx_mock).url.raw_path == b"/Bad%20Name"


async def test_db_delete(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "030-db-delete")
    assert await couch.db_delete("corpus_q") == {"ok": True}
    assert_same_request(only_request(httpx_mock), "030-db-delete")


async def test_db_delete_missing_is_not_found(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "040-db-delete-missing-404")
    with pytest.raises(NotFound) as caught:
        await couch.db_delete("missing")
    assert_same_request(only_request(httpx_mock), "040-db-delete-missing-404")
    assert caught.value.reason == "Database does not exist."


async def test_db_exists_true(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "035-db-head")
    assert await couch.db_exists("corpus") is True
    assert_same_request(only_request(httpx_mock), "035-db-head")


async def test_db_exists_false(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "036-db-head-missing-404")
    assert await couch.db_exists("missing") is False
    assert_same_request(only_request(httpx_mock), "036-db-head-missing-404")


async def test_db_exists_raises_other_errors(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    httpx_mock.add_response(method="HEAD", status_code=401)
    with pytest.raises(Unauthorized):
        await couch.db_exists("corpus_secure")


async def test_db_info(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "037-db-info")
    info = await couch.db_info("corpus")
    assert_same_request(only_request(httpx_mock), "037-db-info")
    assert info == response_json("037-db-info")
    assert info["sizes"]["file"] == 16700


async def test_db_info_name_with_slash(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "034-db-info-with-slash")
    info = await couch.db_info("corpus/sub")
    assert_same_request(only_request(httpx_mock), "034-db-info-with-slash")
    assert only_request(httpx_mock).url.raw_path == b"/corpus%2Fsub"
    assert info["db_name"] == "corpus/sub"


async def test_db_info_missing(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "039-db-get-missing-404")
    with pytest.raises(NotFound):
        await couch.db_info("missing")


@pytest.mark.parametrize(
    ("name", "raw"),
    [("a+b", b"/a%2Bb"), ("a$b(c)", b"/a%24b%28c%29"), ("x/y/z", b"/x%2Fy%2Fz")],
)
async def test_db_names_are_fully_encoded(
    httpx_mock: HTTPXMock, couch: CouchClient, name: str, raw: bytes
) -> None:
    answer(httpx_mock, "037-db-info")
    await couch.db_info(name)
    assert only_request(httpx_mock).url.raw_path == raw


# -- _all_docs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("214-all-docs", {}),
        ("215-all-docs-include-docs-limit", {"include_docs": True, "limit": 2}),
        ("216-all-docs-limit-skip", {"limit": 2, "skip": 1}),
        ("217-all-docs-descending", {"descending": True, "limit": 3}),
        ("218-all-docs-startkey-endkey", {"start_key": "doc-", "end_key": "doc-\ufff0"}),
        ("219-all-docs-key", {"key": "doc-1"}),
        ("220-all-docs-keys-post", {"keys": ["doc-1", "doc-del", "nope"]}),
        (
            "221-all-docs-keys-post-include-docs",
            {"keys": ["doc-1", "doc-del", "nope"], "include_docs": True},
        ),
        (
            "223-all-docs-include-docs-attachments",
            {"include_docs": True, "attachments": True, "key": "doc-mp"},
        ),
        ("224-all-docs-update-seq", {"update_seq": True, "limit": 1}),
        (
            "225-all-docs-conflicts",
            {"include_docs": True, "conflicts": True, "key": "doc-c"},
        ),
    ],
)
async def test_db_all_docs_recorded(
    httpx_mock: HTTPXMock, couch: CouchClient, name: str, kwargs: dict[str, Any]
) -> None:
    answer(httpx_mock, name)
    result = await couch.db_all_docs("corpus", **kwargs)
    assert_same_request(only_request(httpx_mock), name)
    assert result == response_json(name)


async def test_db_all_docs_sends_nothing_unset(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "214-all-docs")
    await couch.db_all_docs("corpus")
    # Unlike async-couch, no skip=0, update=true, inclusive_end=true, ...
    assert only_request(httpx_mock).url.raw_path == b"/corpus/_all_docs"


async def test_db_all_docs_every_other_parameter(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "214-all-docs")
    await couch.db_all_docs(
        "corpus",
        start_key_doc_id="a",
        end_key_doc_id="b c",
        inclusive_end=False,
        group=True,
        group_level=2,
        reduce=False,
        sort=False,
        stable=True,
        stale="ok",
        update="lazy",
        att_encoding_info=True,
        start_key=["x", 1],
        end_key={"k": None},
    )
    assert target_of(only_request(httpx_mock)) == split_target(
        "/corpus/_all_docs?startkey_docid=a&endkey_docid=b+c&inclusive_end=false"
        "&group=true&group_level=2&reduce=false&sorted=false&stable=true&stale=ok"
        "&update=lazy&att_encoding_info=true&startkey=%5B%22x%22%2C1%5D"
        "&endkey=%7B%22k%22%3Anull%7D"
    )


async def test_db_all_docs_update_false(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "214-all-docs")
    await couch.db_all_docs("corpus", update=False)
    assert only_request(httpx_mock).url.raw_path == b"/corpus/_all_docs?update=false"


async def test_db_all_docs_keys_post_is_retried(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    httpx_mock.add_response(status_code=502)
    answer(httpx_mock, "220-all-docs-keys-post")
    result = await couch.db_all_docs("corpus", keys=["doc-1", "doc-del", "nope"])
    assert result["rows"][2] == {"key": "nope", "error": "not_found"}
    assert [r.method for r in httpx_mock.get_requests()] == ["POST", "POST"]


async def test_db_all_docs_bad_startkey(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "226-all-docs-bad-startkey-400")
    with pytest.raises(BadRequest) as caught:
        await couch.db_all_docs("corpus", start_key="doc-1")
    assert caught.value.reason == "invalid UTF-8 JSON"


async def test_iter_all_docs_streams_rows_and_meta(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    answer(httpx_mock, "214-all-docs")
    meta: dict[str, Any] = {}
    rows = [row async for row in couch.iter_all_docs("corpus", meta=meta)]
    assert rows == response_json("214-all-docs")["rows"]
    assert meta == {"total_rows": 22, "offset": 0}
    assert only_request(httpx_mock).url.raw_path == b"/corpus/_all_docs"


async def test_iter_all_docs_keys_posts(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "221-all-docs-keys-post-include-docs")
    rows = [
        row
        async for row in couch.iter_all_docs(
            "corpus", keys=["doc-1", "doc-del", "nope"], include_docs=True
        )
    ]
    assert_same_request(only_request(httpx_mock), "221-all-docs-keys-post-include-docs")
    assert rows[1]["doc"] is None
    assert rows[2]["error"] == "not_found"


def _option_names(function: Any) -> set[str]:
    """The parameters after `db` (by position or keyword)."""
    return set(inspect.signature(function).parameters) - {"self", "db"}


def test_option_types_match_the_explicit_signatures() -> None:
    assert _option_names(CouchClient.db_all_docs) == set(AllDocsOptions.__annotations__)
    assert _option_names(CouchClient.db_design_docs) == set(DesignDocsOptions.__annotations__)
    assert _option_names(CouchClient.changes) - {"feed"} == set(ChangesOptions.__annotations__)


def test_db_all_docs_covers_the_reference() -> None:
    reference = {
        "conflicts", "descending", "end_key", "end_key_doc_id", "group", "group_level",
        "include_docs", "attachments", "att_encoding_info", "inclusive_end", "key", "keys",
        "limit", "reduce", "skip", "sort", "stable", "stale", "start_key", "start_key_doc_id",
        "update", "update_seq",
    }  # fmt: skip
    assert _option_names(CouchClient.db_all_docs) == reference
    for name in reference:
        assert inspect.signature(CouchClient.db_all_docs).parameters[name].default is None


# -- _design_docs, _local_docs ---------------------------------------------------------------


async def test_db_design_docs(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "229-design-docs")
    result = await couch.db_design_docs("corpus")
    assert_same_request(only_request(httpx_mock), "229-design-docs")
    assert result["rows"][0]["id"] == "_design/dd"


async def test_db_design_docs_keys_post(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "230-design-docs-post")
    result = await couch.db_design_docs("corpus", keys=["_design/dd", "_design/nope"])
    assert_same_request(only_request(httpx_mock), "230-design-docs-post")
    assert result["rows"][1]["error"] == "not_found"


async def test_db_design_docs_parameters(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "229-design-docs")
    await couch.db_design_docs(
        "corpus",
        conflicts=True,
        descending=True,
        end_key="_design/a",
        end_key_doc_id="_design/a",
        include_docs=True,
        inclusive_end=False,
        limit=5,
        skip=0,
        start_key="_design/z",
        start_key_doc_id="_design/z",
        update_seq=True,
    )
    assert target_of(only_request(httpx_mock)) == split_target(
        "/corpus/_design_docs?conflicts=true&descending=true&endkey=%22_design%2Fa%22"
        "&endkey_docid=_design%2Fa&include_docs=true&inclusive_end=false&limit=5&skip=0"
        "&startkey=%22_design%2Fz%22&startkey_docid=_design%2Fz&update_seq=true"
    )


async def test_iter_design_docs(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "229-design-docs")
    meta: dict[str, Any] = {}
    rows = [row async for row in couch.iter_design_docs("corpus", meta=meta)]
    assert [row["id"] for row in rows] == ["_design/dd"]
    assert meta["total_rows"] == 1


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [("231-local-docs", {}), ("232-local-docs-include-docs", {"include_docs": True})],
)
async def test_local_docs(
    httpx_mock: HTTPXMock, couch: CouchClient, name: str, kwargs: dict[str, Any]
) -> None:
    answer(httpx_mock, name)
    result = await couch.local_docs("corpus", **kwargs)
    assert_same_request(only_request(httpx_mock), name)
    assert result["total_rows"] is None


# -- _changes -------------------------------------------------------------------------------

SINCE_52 = recorded("240-changes-continuous")["request"]["path"].split("since=")[1]


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("233-changes", {}),
        ("234-changes-since-now", {"since": "now"}),
        ("236-changes-limit", {"limit": 2}),
        ("237-changes-include-docs", {"include_docs": True, "limit": 2}),
        ("238-changes-descending", {"descending": True, "limit": 2}),
        ("243-changes-filter-selector", {"selector": {"type": "memo"}}),
        ("244-changes-filter-doc-ids-post", {"doc_ids": ["doc-1", "bulk-1", "nope"]}),
        (
            "246-changes-style-all-docs",
            {"doc_ids": ["doc-c"], "style": "all_docs", "filter": "_doc_ids"},
        ),
        ("247-changes-filter-design", {"filter": "_design"}),
    ],
)
async def test_changes_recorded(
    httpx_mock: HTTPXMock, couch: CouchClient, name: str, kwargs: dict[str, Any]
) -> None:
    answer(httpx_mock, name)
    result = await couch.changes("corpus", **kwargs)
    assert_same_request(only_request(httpx_mock), name)
    assert result == response_json(name)


async def test_changes_since_sequence(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "235-changes-since-seq")
    since = response_json("234-changes-since-now")["last_seq"]
    result = await couch.changes("corpus", since=since)
    assert_same_request(only_request(httpx_mock), "235-changes-since-seq")
    assert [r["id"] for r in result["results"]] == ["chg-2", "chg-1"]


async def test_changes_longpoll_lifts_the_read_timeout(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    answer(httpx_mock, "239-changes-longpoll-timeout")
    result = await couch.changes("corpus", feed="longpoll", since="now", timeout=1000)
    request = only_request(httpx_mock)
    assert_same_request(request, "239-changes-longpoll-timeout")
    assert request.extensions["timeout"]["read"] is None
    assert request.extensions["timeout"]["connect"] == couch.http.timeout.connect
    assert result["results"] == []


async def test_changes_normal_keeps_the_read_timeout(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    answer(httpx_mock, "233-changes")
    await couch.changes("corpus")
    assert only_request(httpx_mock).extensions["timeout"]["read"] == 30.0


async def test_changes_every_other_parameter(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "233-changes")
    await couch.changes(
        "corpus",
        feed="normal",
        since=0,
        filter="app/by_type",
        filter_params={"type": "memo"},
        heartbeat=5000,
        conflicts=True,
        attachments=False,
        att_encoding_info=True,
        seq_interval=10,
    )
    request = only_request(httpx_mock)
    assert request.method == "GET"
    assert target_of(request) == split_target(
        "/corpus/_changes?feed=normal&since=0&filter=app%2Fby_type&heartbeat=5000"
        "&conflicts=true&attachments=false&att_encoding_info=true&seq_interval=10&type=memo"
    )


async def test_changes_view_filter(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "233-changes")
    await couch.changes("corpus", filter="_view", view="dd/by_type")
    assert target_of(only_request(httpx_mock)) == split_target(
        "/corpus/_changes?filter=_view&view=dd%2Fby_type"
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"doc_ids": ["a"], "selector": {"a": 1}},
        {"doc_ids": ["a"], "filter": "_design"},
        {"selector": {"a": 1}, "filter": "_doc_ids"},
        {"feed": "continuous"},
        {"filter_params": {"since": "0"}},
        {"doc_ids": "a"},
        {"doc_ids": [1]},
        {"selector": ["a"]},
        {"view": "dd/v", "filter": "_design"},
        {"style": "every"},
        {"limit": -1},
    ],
)
async def test_changes_refuses_contradictions_before_any_request(
    httpx_mock: HTTPXMock, couch: CouchClient, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(InvalidArgument):
        await couch.changes("corpus", **kwargs)
    no_request(httpx_mock)


async def test_changes_view_alone_sets_the_view_filter(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    answer(httpx_mock, "233-changes")
    await couch.changes("corpus", view="dd/by_type")
    assert target_of(only_request(httpx_mock)) == split_target(
        "/corpus/_changes?filter=_view&view=dd%2Fby_type"
    )


@pytest.mark.parametrize(
    ("feed", "kwargs"),
    [
        ("continuous", {"doc_ids": ["a"], "selector": {"a": 1}}),
        ("eventsource", {}),
        (None, {"doc_ids": ["a"], "filter": "_design"}),
        (None, {"heartbeat": -5}),
    ],
)
def test_check_changes_refuses_what_the_feeds_refuse(
    feed: str | None, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(InvalidArgument):
        check_changes(feed, **kwargs)


def test_check_changes_accepts_a_consistent_feed() -> None:
    check_changes("continuous", doc_ids=["a"], filter="_doc_ids", heartbeat=1000)
    check_changes(None, view="dd/v", style="all_docs")


async def test_changes_bad_since(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "249-changes-bad-since-400")
    with pytest.raises(BadRequest) as caught:
        await couch.changes("corpus", since="garbage")
    assert_same_request(only_request(httpx_mock), "249-changes-bad-since-400")
    assert "Malformed sequence" in caught.value.reason


async def test_iter_changes_streams_results(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "235-changes-since-seq")
    meta: dict[str, Any] = {}
    since = response_json("234-changes-since-now")["last_seq"]
    rows = [row async for row in couch.iter_changes("corpus", since=since, meta=meta)]
    assert rows == response_json("235-changes-since-seq")["results"]
    assert meta["last_seq"] == response_json("235-changes-since-seq")["last_seq"]
    assert meta["pending"] == 0


async def test_iter_changes_doc_ids_posts(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "244-changes-filter-doc-ids-post")
    rows = [row async for row in couch.iter_changes("corpus", doc_ids=["doc-1", "bulk-1", "nope"])]
    assert_same_request(only_request(httpx_mock), "244-changes-filter-doc-ids-post")
    assert [r["id"] for r in rows] == ["doc-1", "bulk-1"]


async def test_changes_continuous_until_last_seq(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "240-changes-continuous")
    meta: dict[str, Any] = {}
    changes = [
        change
        async for change in couch.changes_continuous(
            "corpus", timeout=1000, since=SINCE_52, meta=meta
        )
    ]
    request = only_request(httpx_mock)
    assert_same_request(request, "240-changes-continuous")
    assert request.extensions["timeout"]["read"] is None
    assert request.headers["Accept-Encoding"] == "identity"
    assert [c["id"] for c in changes] == ["chg-2", "chg-1"]
    last_line = recorded_body("240-changes-continuous").decode().strip().splitlines()[-1]
    assert meta == json.loads(last_line)


async def test_changes_continuous_since_now_skips_blank_lines(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    answer(httpx_mock, "241-changes-continuous-since-now")
    meta: dict[str, Any] = {}
    changes = [
        c async for c in couch.changes_continuous("corpus", since="now", timeout=1000, meta=meta)
    ]
    assert_same_request(only_request(httpx_mock), "241-changes-continuous-since-now")
    assert changes == []
    assert meta["last_seq"].startswith("54-")


async def test_changes_continuous_heartbeats_and_resume_point(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    # The recorded feed was cut off: changes, then heartbeats, no final line.
    answer(httpx_mock, "242-changes-continuous-heartbeat")
    meta: dict[str, Any] = {}
    changes = [
        c
        async for c in couch.changes_continuous("corpus", heartbeat=500, since=SINCE_52, meta=meta)
    ]
    assert_same_request(only_request(httpx_mock), "242-changes-continuous-heartbeat")
    assert [c["id"] for c in changes] == ["chg-2", "chg-1"]
    assert meta == {"last_seq": changes[-1]["seq"]}


async def test_changes_continuous_selector_posts(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    httpx_mock.add_response(text='{"seq":"1-x","id":"a","changes":[{"rev":"1-a"}]}\n')
    changes = [c async for c in couch.changes_continuous("corpus", selector={"type": "memo"})]
    request = only_request(httpx_mock)
    assert request.method == "POST"
    assert target_of(request) == split_target("/corpus/_changes?feed=continuous&filter=_selector")
    assert json.loads(request.content) == {"selector": {"type": "memo"}}
    assert changes == [{"seq": "1-x", "id": "a", "changes": [{"rev": "1-a"}]}]


async def test_changes_continuous_bad_line(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    httpx_mock.add_response(text="<html>proxy error</html>\n")
    with pytest.raises(ProtocolError):
        async for _ in couch.changes_continuous("corpus"):
            pass


# -- maintenance -------------------------------------------------------------------------------


async def test_db_compact(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "049-db-compact")
    assert await couch.db_compact("corpus") == {"ok": True}
    request = only_request(httpx_mock)
    assert_same_request(request, "049-db-compact")
    # Without this header CouchDB answers 415 (recorded 050).
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Content-Length"] == "0"


@pytest.mark.parametrize("ddoc", ["dd", "_design/dd"])
async def test_db_compact_design_doc(httpx_mock: HTTPXMock, couch: CouchClient, ddoc: str) -> None:
    answer(httpx_mock, "198-ddoc-compact")
    await couch.db_compact("corpus", ddoc)
    assert_same_request(only_request(httpx_mock), "198-ddoc-compact")


async def test_db_compact_unauthorized(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "278-user-compact-401")
    with pytest.raises(Unauthorized) as caught:
        await couch.db_compact("corpus")
    assert caught.value.reason == "You are not a server or db admin."
    only_request(httpx_mock)


async def test_bad_content_type_is_client_error(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "050-db-compact-no-content-type-415")
    with pytest.raises(ClientError) as caught:
        await couch.db_compact("corpus")
    assert caught.value.status == 415
    assert caught.value.error == "bad_content_type"


async def test_view_cleanup(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "051-db-view-cleanup")
    assert await couch.view_cleanup("corpus") == {"ok": True}
    request = only_request(httpx_mock)
    assert_same_request(request, "051-db-view-cleanup")
    assert request.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("name", ["046-security-get-default", "048-security-get"])
async def test_security_get(httpx_mock: HTTPXMock, couch: CouchClient, name: str) -> None:
    answer(httpx_mock, name)
    assert await couch.security_get("corpus") == response_json(name)
    assert_same_request(only_request(httpx_mock), name)


async def test_security_put(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "047-security-put")
    security = recorded("047-security-put")["request"]["body_json"]
    assert await couch.security_put("corpus", security) == {"ok": True}
    assert_same_request(only_request(httpx_mock), "047-security-put")


async def test_revs_limit_get(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "052-revs-limit-get")
    assert await couch.revs_limit_get("corpus") == 1000
    assert_same_request(only_request(httpx_mock), "052-revs-limit-get")


async def test_revs_limit_put(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "053-revs-limit-put")
    assert await couch.revs_limit_put("corpus", 500) == {"ok": True}
    request = only_request(httpx_mock)
    assert_same_request(request, "053-revs-limit-put")
    assert request.content == b"500"


@pytest.mark.parametrize("value", [0, -1, True, "lots"])
async def test_revs_limit_put_refuses_non_positive_integers(
    httpx_mock: HTTPXMock, couch: CouchClient, value: Any
) -> None:
    with pytest.raises(InvalidArgument):
        await couch.revs_limit_put("corpus", value)
    no_request(httpx_mock)


async def test_server_error_carries_reason(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "054-revs-limit-put-bad")
    with pytest.raises(ServerError) as caught:
        await couch.revs_limit_put("corpus", 10)
    assert caught.value.status == 500
    assert caught.value.reason == "function_clause"
    only_request(httpx_mock)  # a 500 is not retried


async def test_purge(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "132-db-purge")
    revs = recorded("132-db-purge")["request"]["body_json"]
    result = await couch.purge("corpus", revs)
    assert_same_request(only_request(httpx_mock), "132-db-purge")
    assert result["purged"]["doc-purge"] == ["1-2dce629c48915aef4b3df56e954ab142"]


async def test_purge_is_not_retried(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    httpx_mock.add_response(status_code=503)
    with pytest.raises(ServerError):
        await couch.purge("corpus", {"a": ["1-a"]})
    only_request(httpx_mock)


async def test_purge_nothing_is_refused(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    with pytest.raises(InvalidArgument):
        await couch.purge("corpus", {})
    no_request(httpx_mock)


# -- partitions --------------------------------------------------------------------------------


async def test_partition_info(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "252-partition-info")
    info = await couch.partition_info("corpus_p", "p1")
    assert_same_request(only_request(httpx_mock), "252-partition-info")
    assert info["doc_count"] == 2


async def test_partition_all_docs(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "253-partition-all-docs")
    result = await couch.partition_all_docs("corpus_p", "p1")
    assert_same_request(only_request(httpx_mock), "253-partition-all-docs")
    assert [r["id"] for r in result["rows"]] == ["p1:doc-a", "p1:doc-b"]


async def test_partition_all_docs_keys_in_the_query(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    answer(httpx_mock, "253-partition-all-docs")
    await couch.partition_all_docs("corpus_p", "p 1", keys=["p 1:a"], include_docs=True)
    request = only_request(httpx_mock)
    assert request.method == "GET"
    assert target_of(request) == split_target(
        "/corpus_p/_partition/p%201/_all_docs?include_docs=true&keys=%5B%22p+1%3Aa%22%5D"
    )


async def test_db_all_docs_literal_null_key(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    from couchctl.client import JSON_NULL

    answer(httpx_mock, "214-all-docs")
    await couch.db_all_docs("corpus", key=JSON_NULL, start_key=JSON_NULL)
    assert target_of(only_request(httpx_mock)) == split_target(
        "/corpus/_all_docs?key=null&startkey=null"
    )


# -- one query builder for every view-style endpoint ------------------------------------------


async def test_row_endpoints_build_the_same_query(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    # `_all_docs`, `_design_docs`, `_local_docs`, views and the partition variants all
    # read CouchDB's view parameters: the same options give the same query everywhere.
    options: dict[str, Any] = {
        "start_key": "a b+c",
        "end_key": JSON_NULL,
        "start_key_doc_id": "x/y",
        "end_key_doc_id": "z",
        "inclusive_end": False,
        "descending": True,
        "limit": 2,
        "skip": 1,
        "include_docs": True,
        "conflicts": True,
        "update_seq": True,
    }
    calls = [
        couch.db_all_docs("corpus", **options),
        couch.db_design_docs("corpus", **options),
        couch.local_docs("corpus", **options),
        couch.partition_all_docs("corpus_p", "p1", **options),
        couch.view_exec("corpus", "dd", "by_type", **options),
        couch.view_exec("corpus_p", "pdd", "by_n", partition="p1", **options),
    ]
    queries = []
    for call in calls:
        httpx_mock.add_response(json={"rows": []})
        await call
        queries.append(target_of(httpx_mock.get_requests()[-1])[1])
    assert queries[0] == sorted(
        [
            "startkey=%22a+b%2Bc%22",
            "endkey=null",
            "startkey_docid=x%2Fy",
            "endkey_docid=z",
            "inclusive_end=false",
            "descending=true",
            "limit=2",
            "skip=1",
            "include_docs=true",
            "conflicts=true",
            "update_seq=true",
        ]
    )
    assert all(query == queries[0] for query in queries)


@pytest.mark.parametrize(
    "options",
    [
        # CouchDB 3.x: 400 "Invalid value for `stale`" (only ok and update_after).
        {"stale": "false"},
        {"limit": -1},
        {"update": "sometimes"},
    ],
)
async def test_all_docs_refuses_what_couchdb_refuses_before_sending(
    httpx_mock: HTTPXMock, couch: CouchClient, options: dict[str, Any]
) -> None:
    with pytest.raises(InvalidArgument):
        await couch.db_all_docs("corpus", **options)
    no_request(httpx_mock)
