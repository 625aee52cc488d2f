"""Server and database operations of the client against the real server.

Tests of behaviour the pouchdb-server stand-in lacks (`/_up`, `/_dbs_info`,
`/_all_dbs` ranges, `_revs_limit`, `_purge`, `_design_docs`, sizes, partitions,
server-side name checks, 404 on deleting a missing database, the final line of a
continuous feed) are marked `couchdb_only`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest

from couchctl.client import (
    BadRequest,
    CouchClient,
    InvalidArgument,
    NotFound,
    PreconditionFailed,
    db_path,
)
from tests.conftest import Server

pytestmark = pytest.mark.anyio


@pytest.fixture
def new_name(server: Server) -> Iterator[str]:
    """A database name that does not exist yet; deleted afterwards if a test created it."""
    name = server.new_db_name("s1")
    yield name
    httpx.delete(f"{server.url}/{name.replace('/', '%2F')}")


async def seed(couch: CouchClient, db: str, docs: list[dict[str, Any]]) -> list[Any]:
    """Write documents through _bulk_docs (the test's own setup, not the operation under test),
    to every copy on a cluster (`w` = n), so that what the test reads next is on every copy."""
    n = (await couch.db_info(db)).get("cluster", {}).get("n")
    result: list[Any] = await couch.request_json(
        "POST",
        f"{db_path(db)}/_bulk_docs",
        json={"docs": docs},
        params=[("w", str(n))] if n else None,
    )
    assert all("error" not in item for item in result), result
    return result


DOCS = [{"_id": f"doc-{i}", "n": i} for i in range(1, 6)]


# -- server ------------------------------------------------------------------------------------


async def test_server_info(couch: CouchClient, server: Server) -> None:
    info = await couch.server_info()
    assert isinstance(info["version"], str)
    assert (info.get("couchdb") == "Welcome") is server.couchdb


@pytest.mark.couchdb_only
async def test_server_up(couch: CouchClient) -> None:
    assert (await couch.server_up())["status"] == "ok"


async def test_all_dbs_lists_the_database(couch: CouchClient, db: str) -> None:
    names = await couch.all_dbs()
    assert db in names
    assert names == sorted(names)


@pytest.mark.couchdb_only
async def test_all_dbs_range_and_paging(couch: CouchClient, server: Server) -> None:
    prefix = server.new_db_name("s1r")
    names = [f"{prefix}-{i}" for i in range(3)]
    for name in names:
        await couch.db_create(name)
    try:
        assert await couch.all_dbs(start_key=prefix, end_key=prefix + "\ufff0") == names
        assert await couch.all_dbs(start_key=prefix, limit=2, skip=1) == names[1:3]
        assert await couch.all_dbs(
            descending=True, start_key=prefix + "\ufff0", end_key=prefix
        ) == list(reversed(names))
    finally:
        for name in names:
            await couch.db_delete(name)


@pytest.mark.couchdb_only
async def test_dbs_info(couch: CouchClient, db: str) -> None:
    entries = await couch.dbs_info([db, "s1-missing-db"])
    assert entries[0]["key"] == db
    assert entries[0]["info"]["doc_count"] == 0
    assert "sizes" in entries[0]["info"]
    assert entries[1] == {"key": "s1-missing-db", "error": "not_found"}
    assert len(await couch.dbs_info(limit=1)) == 1


async def test_uuids(couch: CouchClient) -> None:
    result = await couch.uuids(3)
    assert len(set(result["uuids"])) == 3
    assert len((await couch.uuids())["uuids"]) == 1


async def test_active_tasks(couch: CouchClient) -> None:
    assert isinstance(await couch.active_tasks(), list)


async def test_membership(couch: CouchClient) -> None:
    result = await couch.membership()
    assert result["all_nodes"]
    assert set(result["cluster_nodes"]) <= set(result["all_nodes"]) | set(result["cluster_nodes"])


async def test_session_info(couch: CouchClient) -> None:
    session = await couch.session_info()
    assert session["userCtx"]["name"] == "admin"
    assert "_admin" in session["userCtx"]["roles"]


# -- the database itself -------------------------------------------------------------------------


async def test_create_exists_info_delete(couch: CouchClient, new_name: str) -> None:
    assert await couch.db_exists(new_name) is False
    assert await couch.db_create(new_name) == {"ok": True}
    assert await couch.db_exists(new_name) is True
    info = await couch.db_info(new_name)
    assert info["db_name"] == new_name
    assert info["doc_count"] == 0
    assert await couch.db_delete(new_name) == {"ok": True}
    assert await couch.db_exists(new_name) is False


async def test_create_twice_is_precondition_failed(couch: CouchClient, db: str) -> None:
    with pytest.raises(PreconditionFailed) as caught:
        await couch.db_create(db)
    assert caught.value.status == 412


async def test_create_refuses_an_illegal_name(couch: CouchClient) -> None:
    with pytest.raises(InvalidArgument):
        await couch.db_create("Bad Name")
    assert "Bad Name" not in await couch.all_dbs()


@pytest.mark.couchdb_only
async def test_server_refuses_an_illegal_name(couch: CouchClient) -> None:
    with pytest.raises(BadRequest) as caught:
        await couch.request("PUT", db_path("Bad Name"))
    assert caught.value.error == "illegal_database_name"


async def test_info_of_a_missing_database(couch: CouchClient) -> None:
    with pytest.raises(NotFound):
        await couch.db_info("s1-missing-db")


@pytest.mark.couchdb_only
async def test_delete_of_a_missing_database(couch: CouchClient) -> None:
    with pytest.raises(NotFound):
        await couch.db_delete("s1-missing-db")


@pytest.mark.couchdb_only
async def test_create_with_q_n_and_sizes(couch: CouchClient, new_name: str) -> None:
    await couch.db_create(new_name, q=1, n=1)
    info = await couch.db_info(new_name)
    assert info["cluster"]["q"] == 1
    assert info["cluster"]["n"] == 1
    assert set(info["sizes"]) >= {"file", "active", "external"}
    assert info["doc_del_count"] == 0


@pytest.mark.couchdb_only
async def test_name_with_slash(couch: CouchClient, new_name: str) -> None:
    name = new_name + "/sub"
    try:
        await couch.db_create(name)
        assert (await couch.db_info(name))["db_name"] == name
        assert name in await couch.all_dbs()
    finally:
        await couch.db_delete(name)


@pytest.mark.couchdb_only
async def test_partitioned_database(couch: CouchClient, new_name: str) -> None:
    await couch.db_create(new_name, partitioned=True)
    assert (await couch.db_info(new_name))["props"]["partitioned"] is True
    await seed(couch, new_name, [{"_id": "p1:a"}, {"_id": "p1:b"}, {"_id": "p2:c"}])
    info = await couch.partition_info(new_name, "p1")
    assert info["partition"] == "p1"
    assert info["doc_count"] == 2
    rows = (await couch.partition_all_docs(new_name, "p1"))["rows"]
    assert [row["id"] for row in rows] == ["p1:a", "p1:b"]
    keyed = await couch.partition_all_docs(new_name, "p1", keys=["p1:b"])
    assert [row["id"] for row in keyed["rows"]] == ["p1:b"]


# -- _all_docs, _design_docs, _local_docs ------------------------------------------------------


async def test_all_docs(couch: CouchClient, db: str) -> None:
    await seed(couch, db, DOCS)
    result = await couch.db_all_docs(db)
    assert result["total_rows"] == 5
    assert [row["id"] for row in result["rows"]] == [d["_id"] for d in DOCS]

    async def ids(**options: Any) -> list[str]:
        return [
            row.get("id") or row["key"] for row in (await couch.db_all_docs(db, **options))["rows"]
        ]

    assert await ids(key="doc-2") == ["doc-2"]
    assert await ids(keys=["doc-3", "doc-1"]) == ["doc-3", "doc-1"]
    assert await ids(start_key="doc-2", end_key="doc-4") == ["doc-2", "doc-3", "doc-4"]
    assert await ids(start_key="doc-2", end_key="doc-4", inclusive_end=False) == ["doc-2", "doc-3"]
    assert await ids(limit=2, skip=1) == ["doc-2", "doc-3"]
    assert await ids(descending=True, limit=2) == ["doc-5", "doc-4"]
    with_docs = await couch.db_all_docs(db, include_docs=True, key="doc-3")
    assert with_docs["rows"][0]["doc"]["n"] == 3


async def test_all_docs_missing_key(couch: CouchClient, db: str) -> None:
    await seed(couch, db, DOCS[:1])
    rows = (await couch.db_all_docs(db, keys=["doc-1", "nope"]))["rows"]
    assert rows[1]["key"] == "nope"
    assert rows[1]["error"] == "not_found"


async def test_iter_all_docs(couch: CouchClient, db: str) -> None:
    await seed(couch, db, DOCS)
    meta: dict[str, Any] = {}
    rows = [row async for row in couch.iter_all_docs(db, include_docs=True, meta=meta)]
    assert [row["doc"]["n"] for row in rows] == [1, 2, 3, 4, 5]
    assert meta["total_rows"] == 5
    keyed = [row async for row in couch.iter_all_docs(db, keys=["doc-5"])]
    assert [row["id"] for row in keyed] == ["doc-5"]


async def test_all_docs_of_a_missing_database(couch: CouchClient) -> None:
    with pytest.raises(NotFound):
        await couch.db_all_docs("s1-missing-db")


@pytest.mark.couchdb_only
async def test_design_docs(couch: CouchClient, db: str) -> None:
    await seed(couch, db, [{"_id": "_design/a", "views": {}}, {"_id": "_design/b"}, {"_id": "x"}])
    result = await couch.db_design_docs(db)
    assert [row["id"] for row in result["rows"]] == ["_design/a", "_design/b"]
    keyed = await couch.db_design_docs(db, keys=["_design/b"], include_docs=True)
    assert keyed["rows"][0]["doc"]["_id"] == "_design/b"
    ranged = await couch.db_design_docs(db, start_key="_design/b")
    assert [row["id"] for row in ranged["rows"]] == ["_design/b"]
    streamed = [row async for row in couch.iter_design_docs(db, limit=1)]
    assert [row["id"] for row in streamed] == ["_design/a"]


@pytest.mark.couchdb_only
async def test_local_docs(couch: CouchClient, db: str) -> None:
    await couch.request_json("PUT", f"{db_path(db)}/_local/l1", json={"checkpoint": 1})
    result = await couch.local_docs(db, include_docs=True)
    assert [row["id"] for row in result["rows"]] == ["_local/l1"]
    assert result["rows"][0]["doc"]["checkpoint"] == 1


# -- _changes ------------------------------------------------------------------------------------


async def test_changes(couch: CouchClient, server: Server, db: str) -> None:
    await seed(couch, db, DOCS[:3])
    result = await couch.changes(db)
    assert sorted(change["id"] for change in result["results"]) == ["doc-1", "doc-2", "doc-3"]
    assert "last_seq" in result
    limited = await couch.changes(db, limit=1)
    assert len(limited["results"]) == 1
    with_docs = await couch.changes(db, include_docs=True, doc_ids=["doc-2"])
    assert [change["doc"]["n"] for change in with_docs["results"]] == [2]
    later = await couch.changes(db, since=limited["last_seq"])
    assert len(later["results"]) == 2
    newest = await couch.changes(db, descending=True, limit=1)
    assert len(newest["results"]) == 1
    if not server.couchdb:  # one sequence; CouchDB merges its shards' feeds in no set order
        assert newest["results"][0]["id"] == "doc-3"


async def test_changes_longpoll_with_changes_answers_at_once(couch: CouchClient, db: str) -> None:
    await seed(couch, db, DOCS[:1])
    with anyio.fail_after(20):
        result = await couch.changes(db, feed="longpoll", since=0)
    assert [change["id"] for change in result["results"]] == ["doc-1"]


@pytest.mark.couchdb_only
async def test_changes_longpoll_timeout(couch: CouchClient, db: str) -> None:
    with anyio.fail_after(20):
        result = await couch.changes(db, feed="longpoll", since="now", timeout=300)
    assert result["results"] == []


@pytest.mark.couchdb_only
async def test_changes_selector(couch: CouchClient, db: str) -> None:
    await seed(couch, db, [{"_id": "a", "type": "memo"}, {"_id": "b", "type": "note"}])
    result = await couch.changes(db, selector={"type": "memo"})
    assert [change["id"] for change in result["results"]] == ["a"]


async def test_iter_changes(couch: CouchClient, db: str) -> None:
    await seed(couch, db, DOCS[:2])
    meta: dict[str, Any] = {}
    changes = [change async for change in couch.iter_changes(db, meta=meta)]
    assert sorted(change["id"] for change in changes) == ["doc-1", "doc-2"]
    assert meta["last_seq"] is not None


async def test_changes_continuous_delivers_live_changes(couch: CouchClient, db: str) -> None:
    await seed(couch, db, DOCS[:1])
    received: list[Any] = []
    meta: dict[str, Any] = {}
    with anyio.fail_after(20):
        feed = couch.changes_continuous(db, since=0, heartbeat=200, meta=meta)
        async with contextlib.aclosing(feed):
            async for change in feed:
                received.append(change)
                if len(received) == 1:
                    await seed(couch, db, [DOCS[1]])
                else:
                    break
    assert [change["id"] for change in received] == ["doc-1", "doc-2"]
    assert meta["last_seq"] == received[-1]["seq"]


@pytest.mark.couchdb_only
async def test_changes_continuous_ends_with_last_seq(couch: CouchClient, db: str) -> None:
    await seed(couch, db, DOCS[:2])
    meta: dict[str, Any] = {}
    with anyio.fail_after(20):
        changes = [c async for c in couch.changes_continuous(db, timeout=300, meta=meta)]
    assert sorted(change["id"] for change in changes) == ["doc-1", "doc-2"]
    # The final line: an opaque sequence whose number is the count of updates.
    assert str(meta["last_seq"]).split("-")[0] == "2"
    assert meta["pending"] == 0


# -- maintenance ---------------------------------------------------------------------------------


async def test_compact_and_view_cleanup(couch: CouchClient, db: str) -> None:
    assert (await couch.db_compact(db))["ok"] is True
    assert (await couch.view_cleanup(db))["ok"] is True


@pytest.mark.couchdb_only
async def test_compact_design_doc(couch: CouchClient, db: str) -> None:
    await seed(
        couch,
        db,
        [{"_id": "_design/dd", "views": {"v": {"map": "function(d){emit(d._id,null)}"}}}],
    )
    assert (await couch.db_compact(db, "dd"))["ok"] is True


async def test_security_round_trip(couch: CouchClient, db: str) -> None:
    security = {
        "admins": {"names": [], "roles": ["s1_admins"]},
        "members": {"names": [], "roles": []},
    }
    assert (await couch.security_put(db, security))["ok"] is True
    assert await couch.security_get(db) == security


@pytest.mark.couchdb_only
async def test_security_default_is_admin_only(couch: CouchClient, db: str) -> None:
    assert await couch.security_get(db) == {
        "members": {"roles": ["_admin"]},
        "admins": {"roles": ["_admin"]},
    }


@pytest.mark.couchdb_only
async def test_revs_limit(couch: CouchClient, db: str) -> None:
    assert await couch.revs_limit_get(db) == 1000
    assert await couch.revs_limit_put(db, 50) == {"ok": True}
    assert await couch.revs_limit_get(db) == 50


@pytest.mark.couchdb_only
async def test_purge(couch: CouchClient, db: str) -> None:
    written = await seed(couch, db, [{"_id": "gone"}])
    rev = written[0]["rev"]
    result = await couch.purge(db, {"gone": [rev]})
    assert result["purged"] == {"gone": [rev]}
    with pytest.raises(NotFound):
        await couch.request_json("GET", f"{db_path(db)}/gone")
