"""ViewMixin on the wire: views, design document info, Mango (_find, _explain, _index).

Exact method, path, query and body; answers are recorded CouchDB 3.4.3 exchanges.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from pytest_httpx import HTTPXMock

from couchctl.client import (
    JSON_NULL,
    BadRequest,
    CouchClient,
    InvalidArgument,
    NotFound,
    check_find,
)
from couchctl.client._views import FIND_PAGE_SIZE, ddoc_name
from tests.conftest import recorded, recorded_response
from tests.unit._wire import (
    answer,
    assert_same_request,
    only_request,
    response_json,
    sent_json,
    target_of,
)

pytestmark = pytest.mark.anyio


def answer_json(httpx_mock: HTTPXMock, name: str, body: Any) -> None:
    """A recorded exchange's status and headers with a body derived from its own."""
    kwargs = recorded_response(name)
    kwargs["content"] = (json.dumps(body) + "\n").encode()
    httpx_mock.add_response(**kwargs)


def path_of(request: httpx.Request) -> str:
    return target_of(request)[0]


def query_of(request: httpx.Request) -> dict[str, str]:
    """The decoded query string (each name once)."""
    items = parse_qsl(request.url.query.decode("ascii"), keep_blank_values=True)
    names = [name for name, _ in items]
    assert len(names) == len(set(names)), items
    return dict(items)


# -- view_exec: GET, only what was set ---------------------------------------------------


async def test_view_without_options_sends_no_query(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    answer(httpx_mock, "179-view-reduce")
    result = await couch.view_exec("corpus", "dd", "by_type")
    assert_same_request(only_request(httpx_mock), "179-view-reduce")
    assert result == response_json("179-view-reduce")


async def test_view_ddoc_accepts_design_prefix(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "179-view-reduce")
    await couch.view_exec("corpus", "_design/dd", "by_type")
    assert_same_request(only_request(httpx_mock), "179-view-reduce")


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("180-view-group", {"group": True}),
        ("181-view-group-level", {"group_level": 1}),
        (
            "182-view-reduce-false-include-docs",
            {"reduce": False, "include_docs": True, "limit": 2},
        ),
        ("183-view-key", {"key": ["note", 1], "reduce": False}),
        (
            "186-view-range",
            {"start_key": ["note"], "end_key": ["note", {}], "reduce": False},
        ),
        ("187-view-update-seq", {"update_seq": True, "reduce": False, "limit": 1}),
        ("188-view-js-reduce-group-level", {"group_level": 1}),
        ("189-view-map-only", {"limit": 3, "skip": 1}),
        ("190-view-map-only-descending", {"descending": True, "limit": 2}),
    ],
)
async def test_view_get_matches_recording(
    couch: CouchClient, httpx_mock: HTTPXMock, name: str, options: dict[str, Any]
) -> None:
    answer(httpx_mock, name)
    view = recorded(name)["request"]["path"].split("/_view/")[1].split("?")[0]
    result = await couch.view_exec("corpus", "dd", view, **options)
    assert_same_request(only_request(httpx_mock), name)
    assert result == response_json(name)


async def test_view_keys_are_json_encoded(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "189-view-map-only")
    await couch.view_exec(
        "corpus",
        "dd",
        "ids",
        key="a b",
        start_key="a+b&c",
        end_key={"x": [1, None]},
    )
    query = query_of(only_request(httpx_mock))
    assert query == {"key": '"a b"', "startkey": '"a+b&c"', "endkey": '{"x":[1,null]}'}


async def test_view_json_null_key(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "179-view-reduce")
    await couch.view_exec("corpus", "dd", "by_type", key=JSON_NULL, reduce=False)
    assert query_of(only_request(httpx_mock)) == {"key": "null", "reduce": "false"}


async def test_view_every_parameter_by_its_couchdb_name(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    answer(httpx_mock, "189-view-map-only")
    await couch.view_exec(
        "corpus",
        "dd",
        "ids",
        conflicts=True,
        descending=False,
        start_key="a",
        start_key_doc_id="doc a",
        end_key="z",
        end_key_doc_id="doc z",
        group=False,
        group_level=2,
        include_docs=True,
        attachments=True,
        att_encoding_info=True,
        inclusive_end=False,
        limit=10,
        reduce=False,
        skip=0,
        sorted=False,
        stable=True,
        stale="update_after",
        update="lazy",
        update_seq=True,
    )
    request = only_request(httpx_mock)
    assert request.method == "GET"
    assert path_of(request) == "/corpus/_design/dd/_view/ids"
    assert query_of(request) == {
        "conflicts": "true",
        "descending": "false",
        "startkey": '"a"',
        "startkey_docid": "doc a",
        "endkey": '"z"',
        "endkey_docid": "doc z",
        "group": "false",
        "group_level": "2",
        "include_docs": "true",
        "attachments": "true",
        "att_encoding_info": "true",
        "inclusive_end": "false",
        "limit": "10",
        "reduce": "false",
        "skip": "0",
        "sorted": "false",
        "stable": "true",
        "stale": "update_after",
        "update": "lazy",
        "update_seq": "true",
    }


@pytest.mark.parametrize(("update", "sent"), [(True, "true"), (False, "false"), ("lazy", "lazy")])
async def test_view_update_values(
    couch: CouchClient, httpx_mock: HTTPXMock, update: bool | str, sent: str
) -> None:
    answer(httpx_mock, "179-view-reduce")
    await couch.view_exec("corpus", "dd", "by_type", update=update)
    assert query_of(only_request(httpx_mock)) == {"update": sent}


async def test_view_none_options_are_not_sent(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "179-view-reduce")
    await couch.view_exec(
        "corpus", "dd", "by_type", reduce=None, skip=None, update=None, key=None, keys=None
    )
    request = only_request(httpx_mock)
    assert request.method == "GET"
    assert request.url.query == b""


async def test_view_names_are_percent_encoded(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "189-view-map-only")
    await couch.view_exec("my/db", "_design/a b+c", "v/1?#")
    assert path_of(only_request(httpx_mock)) == "/my%2Fdb/_design/a%20b%2Bc/_view/v%2F1%3F%23"


# -- view_exec: POST with keys --------------------------------------------------------------


async def test_view_keys_go_in_a_post_body(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    name = "184-view-keys-post"
    answer(httpx_mock, name)
    keys = recorded(name)["request"]["body_json"]["keys"]
    result = await couch.view_exec("corpus", "dd", "by_type", keys=keys, reduce=False)
    assert_same_request(only_request(httpx_mock), name)
    assert result == response_json(name)


async def test_view_keys_post_with_group(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    name = "185-view-keys-post-group"
    answer(httpx_mock, name)
    keys = recorded(name)["request"]["body_json"]["keys"]
    result = await couch.view_exec("corpus", "_design/dd", "by_type", keys=tuple(keys), group=True)
    assert_same_request(only_request(httpx_mock), name)
    assert [row["value"] for row in result["rows"]] == [3, 1]


async def test_view_post_is_retried_as_a_read(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=503, json={"error": "unavailable", "reason": "busy"})
    answer(httpx_mock, "184-view-keys-post")
    result = await couch.view_exec("corpus", "dd", "by_type", keys=[["note", 1]], reduce=False)
    requests = httpx_mock.get_requests()
    assert [r.method for r in requests] == ["POST", "POST"]
    assert sent_json(requests[1]) == {"keys": [["note", 1]]}
    assert result == response_json("184-view-keys-post")


# -- view_exec: partitions and errors -------------------------------------------------------


async def test_partition_view_path(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    name = "255-partition-view"
    answer(httpx_mock, name)
    result = await couch.view_exec("corpus_p", "pdd", "by_n", partition="p1")
    assert_same_request(only_request(httpx_mock), name)
    assert [row["id"] for row in result["rows"]] == ["p1:doc-a", "p1:doc-b"]


async def test_partition_name_is_encoded(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "255-partition-view")
    await couch.view_exec("corpus_p", "pdd", "by_n", partition="p 1/x")
    assert (
        path_of(only_request(httpx_mock)) == "/corpus_p/_partition/p%201%2Fx/_design/pdd/_view/by_n"
    )


async def test_partitioned_view_without_partition_is_bad_request(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    answer(httpx_mock, "256-partitioned-view-global-400")
    with pytest.raises(BadRequest) as caught:
        await couch.view_exec("corpus_p", "pdd", "by_n")
    assert caught.value.error == "query_parse_error"
    assert "partition" in caught.value.reason


@pytest.mark.parametrize(
    ("name", "ddoc", "view", "options", "error"),
    [
        (
            "191-view-include-docs-on-reduce-400",
            "dd",
            "by_type",
            {"include_docs": True},
            BadRequest,
        ),
        ("192-view-group-on-map-only-400", "dd", "ids", {"group": True}, BadRequest),
        ("195-view-missing-404", "dd", "nope", {}, NotFound),
        ("196-view-missing-ddoc-404", "nope", "v", {}, NotFound),
    ],
)
async def test_view_errors(
    couch: CouchClient,
    httpx_mock: HTTPXMock,
    name: str,
    ddoc: str,
    view: str,
    options: dict[str, Any],
    error: type[Exception],
) -> None:
    answer(httpx_mock, name)
    with pytest.raises(error) as caught:
        await couch.view_exec("corpus", ddoc, view, **options)
    assert_same_request(only_request(httpx_mock), name)
    assert caught.value.reason == response_json(name)["reason"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("ddoc", "view", "options"),
    [
        ("dd", "v", {"keys": "not-a-list"}),
        ("dd", "v", {"keys": {"a": 1}}),
        ("dd", "v", {"update": "sometimes"}),
        ("dd", "v", {"update": 1}),
        ("dd", "v", {"stale": "never"}),
        # CouchDB 3.x takes only ok and update_after: stale=false is 400 "Invalid value for `stale`".
        ("dd", "v", {"stale": "false"}),
        ("dd", "v", {"limit": -1}),
        ("dd", "v", {"skip": True}),
        ("dd", "v", {"group_level": "1"}),
        ("dd", "", {}),
        ("_design/", "v", {}),
        ("", "v", {}),
        ("dd", "v", {"partition": ""}),
        ("dd", "v", {"partition": "_p"}),
    ],
)
async def test_view_bad_arguments_send_nothing(
    couch: CouchClient, httpx_mock: HTTPXMock, ddoc: str, view: str, options: dict[str, Any]
) -> None:
    with pytest.raises(InvalidArgument):
        await couch.view_exec("corpus", ddoc, view, **options)
    assert httpx_mock.get_requests() == []


async def test_view_unknown_option_is_a_type_error(couch: CouchClient) -> None:
    with pytest.raises(TypeError, match="start_keys"):
        await couch.view_exec("corpus", "dd", "v", start_keys="a")  # type: ignore[call-arg]


def test_ddoc_name() -> None:
    assert ddoc_name("dd") == ddoc_name("_design/dd") == "dd"
    with pytest.raises(InvalidArgument):
        ddoc_name("_design/")


# -- iter_view ---------------------------------------------------------------------------------


async def test_iter_view_streams_rows_and_meta(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    name = "187-view-update-seq"
    answer(httpx_mock, name)
    meta: dict[str, Any] = {}
    rows = [
        row
        async for row in couch.iter_view(
            "corpus", "dd", "by_type", meta=meta, update_seq=True, reduce=False, limit=1
        )
    ]
    assert_same_request(only_request(httpx_mock), name)
    whole = response_json(name)
    assert rows == whole["rows"]
    assert meta == {key: value for key, value in whole.items() if key != "rows"}
    assert {"total_rows", "offset", "update_seq"} <= set(meta)


async def test_iter_view_with_keys_posts(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    name = "184-view-keys-post"
    answer(httpx_mock, name)
    keys = recorded(name)["request"]["body_json"]["keys"]
    rows = [
        row async for row in couch.iter_view("corpus", "dd", "by_type", keys=keys, reduce=False)
    ]
    assert_same_request(only_request(httpx_mock), name)
    assert rows == response_json(name)["rows"]


async def test_iter_view_partition(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "255-partition-view")
    rows = [row async for row in couch.iter_view("corpus_p", "pdd", "by_n", partition="p1")]
    assert_same_request(only_request(httpx_mock), "255-partition-view")
    assert rows == response_json("255-partition-view")["rows"]


# -- design documents -------------------------------------------------------------------------


@pytest.mark.parametrize("ddoc", ["dd", "_design/dd"])
async def test_des_info(couch: CouchClient, httpx_mock: HTTPXMock, ddoc: str) -> None:
    answer(httpx_mock, "194-ddoc-info")
    result = await couch.des_info("corpus", ddoc)
    assert_same_request(only_request(httpx_mock), "194-ddoc-info")
    assert result == response_json("194-ddoc-info")


async def test_design_docs_with_views(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "229-design-docs")
    result = await couch.design_docs_with_views("corpus")
    request = only_request(httpx_mock)
    assert request.method == "GET"
    assert path_of(request) == "/corpus/_design_docs"
    assert query_of(request) == {"include_docs": "true"}
    assert result == response_json("229-design-docs")


async def test_design_docs_fall_back_to_all_docs_range(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    # A server without _design_docs answers 404 "missing" for it (the database exists).
    answer(httpx_mock, "196-view-missing-ddoc-404")
    answer(httpx_mock, "215-all-docs-include-docs-limit")
    result = await couch.design_docs_with_views("corpus")
    first, second = httpx_mock.get_requests()
    assert path_of(first) == "/corpus/_design_docs"
    assert second.method == "GET"
    assert path_of(second) == "/corpus/_all_docs"
    assert query_of(second) == {
        "startkey": '"_design/"',
        "endkey": '"_design0"',
        "include_docs": "true",
    }
    assert result == response_json("215-all-docs-include-docs-limit")


async def test_design_docs_of_a_missing_database(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "039-db-get-missing-404")
    with pytest.raises(NotFound):
        await couch.design_docs_with_views("nope")
    assert path_of(only_request(httpx_mock)) == "/nope/_design_docs"


# -- db_find ------------------------------------------------------------------------------------


def find_options(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(selector, other options) of a recorded _find / _explain body."""
    body = dict(recorded(name)["request"]["body_json"])
    return body.pop("selector"), body


@pytest.mark.parametrize(
    "name",
    [
        "203-find",
        "204-find-next-page",
        "205-find-no-index-warning",
        "206-find-execution-stats",
        "207-find-use-index-unknown",
    ],
)
async def test_find_body_is_exactly_the_options(
    couch: CouchClient, httpx_mock: HTTPXMock, name: str
) -> None:
    answer(httpx_mock, name)
    selector, options = find_options(name)
    result = await couch.db_find("corpus", selector, **options)
    assert_same_request(only_request(httpx_mock), name)
    assert result == response_json(name)


async def test_find_returns_warning_and_stats(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "206-find-execution-stats")
    result = await couch.db_find("corpus", {"type": "task"}, fields=["_id"], execution_stats=True)
    assert result["execution_stats"]["results_returned"] == len(result["docs"])
    assert result["warning"].startswith("No matching index")
    assert isinstance(result["bookmark"], str)


async def test_find_only_selector_when_nothing_set(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    answer(httpx_mock, "257-partition-find")
    await couch.db_find("corpus", {"n": {"$gt": 0}}, limit=None, skip=None, update=None)
    request = only_request(httpx_mock)
    assert request.method == "POST"
    assert path_of(request) == "/corpus/_find"
    assert request.url.query == b""
    assert sent_json(request) == {"selector": {"n": {"$gt": 0}}}


async def test_find_every_option(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "203-find")
    await couch.db_find(
        "corpus",
        {"type": "note"},
        limit=5,
        skip=0,
        sort=({"n": "desc"},),
        fields=("_id", "n"),
        use_index=("idx", "type-n"),
        r=2,
        bookmark="bm",
        update=False,
        stable=True,
        stale="ok",
        execution_stats=True,
        conflicts=False,
        allow_fallback=False,
    )
    assert sent_json(only_request(httpx_mock)) == {
        "selector": {"type": "note"},
        "limit": 5,
        "skip": 0,
        "sort": [{"n": "desc"}],
        "fields": ["_id", "n"],
        "use_index": ["idx", "type-n"],
        "r": 2,
        "bookmark": "bm",
        "update": False,
        "stable": True,
        "stale": "ok",
        "execution_stats": True,
        "conflicts": False,
        "allow_fallback": False,
    }


async def test_find_is_retried_as_a_read(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=503, json={"error": "unavailable", "reason": "busy"})
    answer(httpx_mock, "203-find")
    selector, options = find_options("203-find")
    result = await couch.db_find("corpus", selector, **options)
    requests = httpx_mock.get_requests()
    assert len(requests) == 2
    assert (
        sent_json(requests[0])
        == sent_json(requests[1])
        == recorded("203-find")["request"]["body_json"]
    )
    assert result == response_json("203-find")


@pytest.mark.parametrize("name", ["208-find-bad-operator-400", "210-find-sort-no-index-400"])
async def test_find_errors(couch: CouchClient, httpx_mock: HTTPXMock, name: str) -> None:
    answer(httpx_mock, name)
    selector, options = find_options(name)
    with pytest.raises(BadRequest) as caught:
        await couch.db_find("corpus", selector, **options)
    assert_same_request(only_request(httpx_mock), name)
    assert caught.value.error == response_json(name)["error"]


@pytest.mark.parametrize(
    ("selector", "options"),
    [
        ([], {}),
        ("type", {}),
        (None, {}),
        ({}, {"fields": "_id"}),
        ({}, {"fields": ["_id", 1]}),
        ({}, {"sort": {"n": "asc"}}),
        ({}, {"sort": "n"}),
        ({}, {"use_index": ["a", 1]}),
        ({}, {"stale": "update_after"}),
        ({}, {"limit": -5}),
        ({}, {"r": "2"}),
        ({}, {"partition": ""}),
    ],
)
async def test_find_bad_arguments_send_nothing(
    couch: CouchClient, httpx_mock: HTTPXMock, selector: Any, options: dict[str, Any]
) -> None:
    with pytest.raises(InvalidArgument):
        await couch.db_find("corpus", selector, **options)
    with pytest.raises(InvalidArgument):
        await couch.explain("corpus", selector, **options)
    assert httpx_mock.get_requests() == []


async def test_partition_find(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    name = "257-partition-find"
    answer(httpx_mock, name)
    selector, options = find_options(name)
    result = await couch.db_find("corpus_p", selector, partition="p1", **options)
    assert_same_request(only_request(httpx_mock), name)
    assert result == response_json(name)


# -- iter_find: bookmarks ---------------------------------------------------------------------


async def test_iter_find_follows_bookmarks_until_a_short_page(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    answer(httpx_mock, "205-find-no-index-warning")  # 3 docs: a full page of 3
    answer(httpx_mock, "203-find")  # 2 docs: short, the last page
    meta: dict[str, Any] = {}
    docs = [
        doc
        async for doc in couch.iter_find(
            "corpus", {"title": {"$regex": "^first"}}, limit=3, skip=1, meta=meta
        )
    ]
    first, second = httpx_mock.get_requests()
    assert sent_json(first) == {"selector": {"title": {"$regex": "^first"}}, "limit": 3, "skip": 1}
    # The next page: the bookmark of the first, no skip (the bookmark holds the position).
    assert sent_json(second) == {
        "selector": {"title": {"$regex": "^first"}},
        "limit": 3,
        "bookmark": response_json("205-find-no-index-warning")["bookmark"],
    }
    assert (
        docs
        == response_json("205-find-no-index-warning")["docs"] + response_json("203-find")["docs"]
    )
    assert meta["bookmark"] == response_json("203-find")["bookmark"]


async def test_iter_find_recorded_pages(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    """203 -> 204 -> an empty page: three requests, each with the previous bookmark."""
    answer(httpx_mock, "203-find")
    answer(httpx_mock, "204-find-next-page")
    last = response_json("204-find-next-page")
    answer_json(httpx_mock, "204-find-next-page", {"docs": [], "bookmark": last["bookmark"] + "x"})
    selector, options = find_options("203-find")
    docs = [doc async for doc in couch.iter_find("corpus", selector, **options)]
    requests = httpx_mock.get_requests()
    assert len(requests) == 3
    assert_same_request(requests[0], "203-find")
    assert_same_request(requests[1], "204-find-next-page")
    assert sent_json(requests[2])["bookmark"] == last["bookmark"]
    assert docs == response_json("203-find")["docs"] + last["docs"]


async def test_iter_find_stops_when_the_bookmark_repeats(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    # 206 and 207 carry the same bookmark: a second page that does not move ends paging.
    answer(httpx_mock, "206-find-execution-stats")
    answer(httpx_mock, "207-find-use-index-unknown")
    docs = [doc async for doc in couch.iter_find("corpus", {"type": "task"}, limit=4)]
    assert len(httpx_mock.get_requests()) == 2
    assert len(docs) == 8


async def test_iter_find_without_bookmark_support_reads_one_page(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    page = dict(response_json("203-find"))
    del page["bookmark"]  # what a server without bookmarks (the stand-in) answers
    answer_json(httpx_mock, "203-find", page)
    meta: dict[str, Any] = {}
    docs = [doc async for doc in couch.iter_find("corpus", {"type": "note"}, limit=2, meta=meta)]
    assert len(httpx_mock.get_requests()) == 1
    assert docs == page["docs"]
    assert "bookmark" not in meta


async def test_iter_find_default_page_size(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "257-partition-find")
    docs = [doc async for doc in couch.iter_find("corpus_p", {"n": {"$gt": 0}}, partition="p1")]
    request = only_request(httpx_mock)
    assert path_of(request) == "/corpus_p/_partition/p1/_find"
    assert sent_json(request) == {"selector": {"n": {"$gt": 0}}, "limit": FIND_PAGE_SIZE}
    assert docs == response_json("257-partition-find")["docs"]


async def test_iter_find_single_page(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "205-find-no-index-warning")
    meta: dict[str, Any] = {}
    docs = [
        doc
        async for doc in couch.iter_find(
            "corpus", {"title": {"$regex": "^first"}}, follow_bookmarks=False, meta=meta
        )
    ]
    assert sent_json(only_request(httpx_mock)) == {"selector": {"title": {"$regex": "^first"}}}
    assert docs == response_json("205-find-no-index-warning")["docs"]
    assert meta["warning"] == response_json("205-find-no-index-warning")["warning"]


# -- explain ------------------------------------------------------------------------------------


async def test_explain(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    name = "211-explain"
    answer(httpx_mock, name)
    selector, options = find_options(name)
    result = await couch.explain("corpus", selector, **options)
    assert_same_request(only_request(httpx_mock), name)
    assert result["index"]["name"] == "type-n"


async def test_partition_explain(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    name = "258-partition-explain"
    answer(httpx_mock, name)
    selector, options = find_options(name)
    result = await couch.explain("corpus_p", selector, partition="p1", **options)
    assert_same_request(only_request(httpx_mock), name)
    assert result == response_json(name)


# -- indexes ------------------------------------------------------------------------------------


async def test_index_list(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "202-index-list")
    result = await couch.index_list("corpus")
    assert_same_request(only_request(httpx_mock), "202-index-list")
    assert result == response_json("202-index-list")


@pytest.mark.parametrize("name", ["199-index-create", "200-index-create-exists"])
@pytest.mark.parametrize("ddoc", ["idx-type-n", "_design/idx-type-n"])
async def test_index_create(
    couch: CouchClient, httpx_mock: HTTPXMock, name: str, ddoc: str
) -> None:
    answer(httpx_mock, name)
    result = await couch.index_create("corpus", ["type", "n"], ddoc=ddoc, name="type-n")
    assert_same_request(only_request(httpx_mock), name)
    assert result == response_json(name)


async def test_index_create_every_option(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "199-index-create")
    await couch.index_create(
        "corpus",
        ["type", {"n": "desc"}],
        name="type-n",
        ddoc="idx",
        partial_filter_selector={"type": {"$ne": "memo"}},
        partitioned=False,
    )
    request = only_request(httpx_mock)
    assert (request.method, path_of(request)) == ("POST", "/corpus/_index")
    assert sent_json(request) == {
        "index": {
            "fields": ["type", {"n": "desc"}],
            "partial_filter_selector": {"type": {"$ne": "memo"}},
        },
        "ddoc": "idx",
        "name": "type-n",
        "type": "json",
        "partitioned": False,
    }


async def test_index_create_minimal_and_index_object(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    answer(httpx_mock, "199-index-create")
    answer(httpx_mock, "199-index-create")
    await couch.index_create("corpus", ["n"])
    await couch.index_create("corpus", index={"fields": [{"n": "asc"}]}, type="text")
    first, second = httpx_mock.get_requests()
    assert sent_json(first) == {"index": {"fields": ["n"]}, "type": "json"}
    assert sent_json(second) == {"index": {"fields": [{"n": "asc"}]}, "type": "text"}


async def test_index_create_refused_by_the_server(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    answer(httpx_mock, "201-index-create-bad-400")
    with pytest.raises(BadRequest) as caught:
        await couch.index_create("corpus", index={}, name="broken")
    assert sent_json(only_request(httpx_mock)) == {"index": {}, "name": "broken", "type": "json"}
    assert caught.value.error == "missing_required_key"


@pytest.mark.parametrize(
    ("fields", "options"),
    [
        (None, {}),
        (["a"], {"index": {"fields": ["a"]}}),
        ([], {}),
        ("type", {}),
        ([""], {}),
        ([{"n": "down"}], {}),
        ([{"a": "asc", "b": "asc"}], {}),
        ([1], {}),
        (["a"], {"name": ""}),
        (["a"], {"ddoc": "_design/"}),
        (["a"], {"type": ""}),
        (["a"], {"partial_filter_selector": ["x"]}),
    ],
)
async def test_index_create_bad_arguments_send_nothing(
    couch: CouchClient, httpx_mock: HTTPXMock, fields: Any, options: dict[str, Any]
) -> None:
    with pytest.raises(InvalidArgument):
        await couch.index_create("corpus", fields, **options)
    assert httpx_mock.get_requests() == []


@pytest.mark.parametrize("ddoc", ["idx-type-n", "_design/idx-type-n"])
async def test_index_delete(couch: CouchClient, httpx_mock: HTTPXMock, ddoc: str) -> None:
    answer(httpx_mock, "212-index-delete")
    result = await couch.index_delete("corpus", ddoc, "type-n")
    assert_same_request(only_request(httpx_mock), "212-index-delete")
    assert result == {"ok": True}


async def test_index_delete_missing(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "213-index-delete-missing-404")
    with pytest.raises(NotFound):
        await couch.index_delete("corpus", "idx-type-n", "type-n")
    assert_same_request(only_request(httpx_mock), "213-index-delete-missing-404")


async def test_index_delete_encodes_names(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "212-index-delete")
    await couch.index_delete("corpus", "a/b", "n m", type="text")
    request = only_request(httpx_mock)
    assert (request.method, path_of(request)) == ("DELETE", "/corpus/_index/a%2Fb/text/n%20m")


@pytest.mark.parametrize(
    ("ddoc", "name", "index_type"), [("", "n", "json"), ("d", "", "json"), ("d", "n", "")]
)
async def test_index_delete_bad_arguments(
    couch: CouchClient, httpx_mock: HTTPXMock, ddoc: str, name: str, index_type: str
) -> None:
    with pytest.raises(InvalidArgument):
        await couch.index_delete("corpus", ddoc, name, type=index_type)
    assert httpx_mock.get_requests() == []


@pytest.mark.parametrize(
    ("selector", "options"),
    [
        ([], {}),
        ({}, {"fields": "a"}),
        ({}, {"fields": ["a", ""]}),
        ({}, {"sort": {"n": "asc"}}),
        ({}, {"use_index": [1]}),
        ({}, {"limit": -1}),
        ({}, {"stale": "update_after"}),
    ],
)
def test_check_find_refuses_what_db_find_refuses(selector: Any, options: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgument):
        check_find(selector, **options)


def test_check_find_accepts_a_good_query() -> None:
    check_find({"n": {"$gt": 1}}, fields=["_id"], sort=[{"n": "asc"}], use_index=["dd", "i"])
