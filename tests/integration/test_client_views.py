"""ViewMixin against the real server: views, design documents, Mango.

`seed()` and the expectations derived from DOCS are shared with the CLI tests.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import pytest

from couchctl.client import BadRequest, CouchClient, NotFound
from tests.conftest import Server

pytestmark = pytest.mark.anyio

DOCS: list[dict[str, Any]] = [
    {"_id": "n1", "type": "note", "n": 1, "title": "first"},
    {"_id": "n2", "type": "note", "n": 2, "title": "second"},
    {"_id": "n3", "type": "note", "n": 2, "title": "third"},
    {"_id": "t1", "type": "task", "n": 3, "title": "fourth"},
    {"_id": "t2", "type": "task", "n": 4, "title": "fifth"},
    {"_id": "a b+c", "type": "memo", "n": 5, "title": "spaced"},
]
DDOC: dict[str, Any] = {
    "_id": "_design/dd",
    "language": "javascript",
    "views": {
        "by_type": {
            "map": "function (doc) { if (doc.type) { emit([doc.type, doc.n], 1); } }",
            "reduce": "_count",
        },
        "sum_n": {
            "map": "function (doc) { if (doc.type) { emit(doc.type, doc.n); } }",
            "reduce": "_sum",
        },
        "ids": {"map": "function (doc) { emit(doc._id, null); }"},
    },
}
HEADERS = {"Accept": "application/json"}


def seed(server: Server, db: str, docs: list[dict[str, Any]] | None = None) -> None:
    """DOCS (or `docs`) and the design document `dd` in `db`."""
    response = httpx.post(
        f"{server.url}/{db}/_bulk_docs",
        json={"docs": [*(DOCS if docs is None else docs), DDOC]},
        params=server.all_copies(db),
        headers=HEADERS,
    )
    assert response.status_code == 201, response.text


def make_index(server: Server, db: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(f"{server.url}/{db}/_index", json=body, headers=HEADERS)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    # `_index` takes no `w`: bring the index's design document to every copy.
    server.read_repaired(db, result["id"])
    return result


def type_counts() -> Counter[str]:
    return Counter(doc["type"] for doc in DOCS)


def sorted_ids() -> list[str]:
    """Document ids in view-key order of the `ids` view (ASCII ids: plain sort)."""
    return sorted(doc["_id"] for doc in DOCS)


@pytest.fixture
def seeded(server: Server, db: str) -> str:
    seed(server, db)
    return db


@pytest.fixture
def partitioned_db(server: Server) -> Any:
    name = server.new_db_name("tp")
    response = httpx.put(f"{server.url}/{name}?partitioned=true", headers=HEADERS)
    assert response.status_code in (201, 202), response.text
    docs = [
        {"_id": "p1:a", "type": "note", "n": 1},
        {"_id": "p1:b", "type": "task", "n": 2},
        {"_id": "p2:c", "type": "note", "n": 3},
        {
            "_id": "_design/pdd",
            "views": {"by_n": {"map": "function (doc) { emit(doc.n, doc.type); }"}},
        },
    ]
    response = httpx.post(
        f"{server.url}/{name}/_bulk_docs",
        json={"docs": docs},
        params=server.all_copies(name),
        headers=HEADERS,
    )
    assert response.status_code == 201, response.text
    try:
        yield name
    finally:
        httpx.delete(f"{server.url}/{name}", headers=HEADERS)


# -- views --------------------------------------------------------------------------------------


async def test_view_reduce_and_group_level(couch: CouchClient, seeded: str) -> None:
    whole = await couch.view_exec(seeded, "dd", "by_type")
    assert whole["rows"] == [{"key": None, "value": len(DOCS)}]
    grouped = await couch.view_exec(seeded, "_design/dd", "by_type", group_level=1)
    assert {tuple(row["key"]): row["value"] for row in grouped["rows"]} == {
        (kind,): count for kind, count in type_counts().items()
    }


async def test_view_sum_reduce_grouped(couch: CouchClient, seeded: str) -> None:
    result = await couch.view_exec(seeded, "dd", "sum_n", group=True)
    expected: Counter[str] = Counter()
    for doc in DOCS:
        expected[doc["type"]] += doc["n"]
    assert {row["key"]: row["value"] for row in result["rows"]} == dict(expected)


async def test_view_map_rows_with_docs(couch: CouchClient, seeded: str) -> None:
    result = await couch.view_exec(
        seeded, "dd", "by_type", reduce=False, include_docs=True, limit=2
    )
    assert result["total_rows"] == len(DOCS)
    assert len(result["rows"]) == 2
    for row in result["rows"]:
        assert row["doc"]["_id"] == row["id"]
        assert row["key"] == [row["doc"]["type"], row["doc"]["n"]]


async def test_view_key_with_space_and_plus(couch: CouchClient, seeded: str) -> None:
    result = await couch.view_exec(seeded, "dd", "ids", key="a b+c")
    assert [row["id"] for row in result["rows"]] == ["a b+c"]


async def test_view_keys_post(couch: CouchClient, seeded: str) -> None:
    result = await couch.view_exec(
        seeded, "dd", "by_type", keys=[["note", 2], ["task", 4], ["none", 0]], reduce=False
    )
    assert sorted(row["id"] for row in result["rows"]) == ["n2", "n3", "t2"]


async def test_view_range_and_ordering(couch: CouchClient, seeded: str) -> None:
    notes = await couch.view_exec(
        seeded, "dd", "by_type", start_key=["note"], end_key=["note", {}], reduce=False
    )
    assert sorted(row["id"] for row in notes["rows"]) == sorted(
        doc["_id"] for doc in DOCS if doc["type"] == "note"
    )
    ids = sorted_ids()
    down = await couch.view_exec(seeded, "dd", "ids", descending=True, limit=2, skip=1)
    assert [row["id"] for row in down["rows"]] == list(reversed(ids))[1:3]
    exclusive = await couch.view_exec(
        seeded, "dd", "ids", start_key=ids[0], end_key=ids[2], inclusive_end=False
    )
    assert [row["id"] for row in exclusive["rows"]] == ids[:2]


async def test_view_update_and_stale_options(couch: CouchClient, seeded: str) -> None:
    fresh = await couch.view_exec(seeded, "dd", "ids", update_seq=True)
    assert "update_seq" in fresh
    assert [row["id"] for row in fresh["rows"]] == sorted_ids()
    # A view read without updating answers from each shard copy's index as it is. On a
    # cluster those may be other copies than the ones the fresh read brought up to
    # date, so CouchDB promises a subset in key order there, and everything on a
    # single copy (n = 1, and the stand-in).
    n = (await couch.db_info(seeded)).get("cluster", {}).get("n", 1)
    for options in ({"update": "lazy"}, {"update": False, "stable": True}, {"stale": "ok"}):
        result = await couch.view_exec(seeded, "dd", "ids", **options)  # type: ignore[arg-type]
        ids = [row["id"] for row in result["rows"]]
        if n == 1:
            assert ids == sorted_ids()
        else:
            assert ids == [i for i in sorted_ids() if i in set(ids)]


@pytest.mark.couchdb_only
async def test_view_unsorted(couch: CouchClient, seeded: str) -> None:
    result = await couch.view_exec(seeded, "dd", "ids", sorted=False)
    assert sorted(row["id"] for row in result["rows"]) == sorted_ids()


async def test_iter_view(couch: CouchClient, seeded: str) -> None:
    meta: dict[str, Any] = {}
    rows = [row async for row in couch.iter_view(seeded, "dd", "ids", meta=meta)]
    assert [row["id"] for row in rows] == sorted_ids()
    assert meta["total_rows"] == len(DOCS)
    assert meta["offset"] == 0
    keyed = [
        row
        async for row in couch.iter_view(seeded, "dd", "by_type", keys=[["task", 3]], reduce=False)
    ]
    assert [row["id"] for row in keyed] == ["t1"]


async def test_view_errors(couch: CouchClient, seeded: str) -> None:
    with pytest.raises(NotFound):
        await couch.view_exec(seeded, "dd", "nope")
    with pytest.raises(NotFound):
        await couch.view_exec(seeded, "nope", "v")
    with pytest.raises(BadRequest) as caught:
        await couch.view_exec(seeded, "dd", "by_type", include_docs=True)
    assert caught.value.error == "query_parse_error"


@pytest.mark.couchdb_only
async def test_view_group_on_map_view_is_refused(couch: CouchClient, seeded: str) -> None:
    with pytest.raises(BadRequest):
        await couch.view_exec(seeded, "dd", "ids", group=True)


@pytest.mark.couchdb_only
async def test_partition_view(couch: CouchClient, partitioned_db: str) -> None:
    result = await couch.view_exec(partitioned_db, "pdd", "by_n", partition="p1")
    assert [row["id"] for row in result["rows"]] == ["p1:a", "p1:b"]
    with pytest.raises(BadRequest):
        await couch.view_exec(partitioned_db, "pdd", "by_n")


# -- design documents -----------------------------------------------------------------------


@pytest.mark.couchdb_only
async def test_des_info(couch: CouchClient, seeded: str) -> None:
    info = await couch.des_info(seeded, "_design/dd")
    assert info["name"] == "dd"
    assert isinstance(info["view_index"]["signature"], str)
    with pytest.raises(NotFound):
        await couch.des_info(seeded, "nope")


async def test_design_docs_with_views(couch: CouchClient, server: Server, seeded: str) -> None:
    make_index(server, seeded, {"index": {"fields": ["n"]}, "ddoc": "idx", "name": "by-n"})
    result = await couch.design_docs_with_views(seeded)
    by_id = {row["id"]: row["doc"] for row in result["rows"]}
    assert set(by_id) == {"_design/dd", "_design/idx"}
    assert set(by_id["_design/dd"]["views"]) == set(DDOC["views"])


async def test_design_docs_of_an_empty_and_a_missing_database(
    couch: CouchClient, server: Server, db: str
) -> None:
    assert (await couch.design_docs_with_views(db))["rows"] == []
    with pytest.raises(NotFound):
        await couch.design_docs_with_views(server.new_db_name("missing"))


# -- Mango --------------------------------------------------------------------------------------


async def test_find_fields_and_sort(couch: CouchClient, server: Server, seeded: str) -> None:
    make_index(server, seeded, {"index": {"fields": ["n"]}, "name": "by-n"})
    result = await couch.db_find(
        seeded, {"n": {"$gt": 1}}, fields=["_id", "n"], sort=[{"n": "asc"}]
    )
    assert [doc["n"] for doc in result["docs"]] == sorted(doc["n"] for doc in DOCS if doc["n"] > 1)
    assert all(set(doc) == {"_id", "n"} for doc in result["docs"])


async def test_find_limit_skip(couch: CouchClient, seeded: str) -> None:
    notes = sorted(doc["_id"] for doc in DOCS if doc["type"] == "note")
    result = await couch.db_find(seeded, {"type": "note"}, limit=1, skip=1)
    assert [doc["_id"] for doc in result["docs"]] == notes[1:2]


@pytest.mark.couchdb_only  # the stand-in returns wrong rows for $gt with skip
async def test_find_range_sort_limit_skip(couch: CouchClient, server: Server, seeded: str) -> None:
    make_index(server, seeded, {"index": {"fields": ["n"]}, "name": "by-n"})
    result = await couch.db_find(
        seeded, {"n": {"$gt": 1}}, fields=["_id", "n"], sort=[{"n": "asc"}], limit=2, skip=1
    )
    expected = sorted(doc["n"] for doc in DOCS if doc["n"] > 1)
    assert [doc["n"] for doc in result["docs"]] == expected[1:3]


async def test_find_warning_without_index(couch: CouchClient, seeded: str) -> None:
    result = await couch.db_find(seeded, {"title": "first"}, r=1, update=True, conflicts=False)
    assert [doc["_id"] for doc in result["docs"]] == ["n1"]
    assert "index" in result["warning"].lower()


async def test_find_bad_operator(couch: CouchClient, seeded: str) -> None:
    with pytest.raises(BadRequest):
        await couch.db_find(seeded, {"n": {"$bogus": 1}})


async def test_iter_find_on_one_page(couch: CouchClient, seeded: str) -> None:
    docs = [doc async for doc in couch.iter_find(seeded, {"type": "note"}, limit=50)]
    assert sorted(doc["_id"] for doc in docs) == sorted(
        doc["_id"] for doc in DOCS if doc["type"] == "note"
    )


@pytest.mark.couchdb_only
async def test_iter_find_follows_bookmarks(couch: CouchClient, seeded: str) -> None:
    meta: dict[str, Any] = {}
    docs = [doc async for doc in couch.iter_find(seeded, {"n": {"$gt": 0}}, limit=2, meta=meta)]
    assert sorted(doc["_id"] for doc in docs) == sorted(doc["_id"] for doc in DOCS)
    assert isinstance(meta["bookmark"], str)


@pytest.mark.couchdb_only
async def test_find_bookmark_and_execution_stats(couch: CouchClient, seeded: str) -> None:
    first = await couch.db_find(seeded, {"type": "note"}, limit=2, execution_stats=True)
    assert first["execution_stats"]["results_returned"] == 2
    second = await couch.db_find(seeded, {"type": "note"}, limit=2, bookmark=first["bookmark"])
    seen = {doc["_id"] for doc in first["docs"]} | {doc["_id"] for doc in second["docs"]}
    assert seen == {doc["_id"] for doc in DOCS if doc["type"] == "note"}


@pytest.mark.couchdb_only
async def test_find_use_index_unknown_warns(couch: CouchClient, seeded: str) -> None:
    result = await couch.db_find(seeded, {"type": "task"}, use_index="nope")
    assert "nope" in result["warning"]


async def test_explain(couch: CouchClient, seeded: str) -> None:
    result = await couch.explain(seeded, {"type": "note"}, limit=3)
    assert result["dbname"] == seeded
    assert result["index"]["name"] == "_all_docs"


@pytest.mark.couchdb_only
async def test_explain_shape(couch: CouchClient, seeded: str) -> None:
    result = await couch.explain(seeded, {"type": "note"}, limit=3, fields=["_id"])
    assert result["limit"] == 3
    assert result["fields"] == ["_id"]
    assert "mrargs" in result


@pytest.mark.couchdb_only
async def test_partition_find_and_explain(couch: CouchClient, partitioned_db: str) -> None:
    found = await couch.db_find(partitioned_db, {"n": {"$gt": 0}}, partition="p1")
    assert sorted(doc["_id"] for doc in found["docs"]) == ["p1:a", "p1:b"]
    explained = await couch.explain(partitioned_db, {"n": {"$gt": 0}}, partition="p1")
    assert explained["opts"]["partition"] == "p1"


async def test_index_create_list_exists(couch: CouchClient, server: Server, seeded: str) -> None:
    created = await couch.index_create(
        seeded, ["type", "n"], ddoc="_design/idx-type-n", name="type-n"
    )
    assert created == {"id": "_design/idx-type-n", "name": "type-n", "result": "created"}
    server.read_repaired(seeded, created["id"])  # `_index` takes no `w`: on every copy
    again = await couch.index_create(seeded, ["type", "n"], ddoc="idx-type-n", name="type-n")
    assert again["result"] == "exists"
    listed = await couch.index_list(seeded)
    ours = [index for index in listed["indexes"] if index["name"] == "type-n"]
    assert ours[0]["ddoc"] == "_design/idx-type-n"
    assert ours[0]["def"]["fields"] == [{"type": "asc"}, {"n": "asc"}]
    found = await couch.db_find(
        seeded,
        {"type": "note", "n": {"$gt": 0}},
        sort=[{"type": "desc"}, {"n": "desc"}],
        use_index=["idx-type-n", "type-n"],
    )
    assert [doc["n"] for doc in found["docs"]] == sorted(
        (doc["n"] for doc in DOCS if doc["type"] == "note"), reverse=True
    )


@pytest.mark.couchdb_only
async def test_index_partial_filter_and_delete(
    couch: CouchClient, server: Server, seeded: str
) -> None:
    await couch.index_create(
        seeded,
        [{"n": "asc"}],
        ddoc="idx-p",
        name="notes-by-n",
        partial_filter_selector={"type": "note"},
    )
    server.read_repaired(seeded, "_design/idx-p")  # `_index` takes no `w`: on every copy
    listed = await couch.index_list(seeded)
    ours = next(index for index in listed["indexes"] if index["name"] == "notes-by-n")
    # CouchDB stores the selector normalised.
    assert ours["def"]["partial_filter_selector"] in ({"type": "note"}, {"type": {"$eq": "note"}})
    assert await couch.index_delete(seeded, "_design/idx-p", "notes-by-n") == {"ok": True}
    with pytest.raises(NotFound):
        await couch.index_delete(seeded, "idx-p", "notes-by-n")
