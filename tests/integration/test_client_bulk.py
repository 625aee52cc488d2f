"""BulkMixin against the real server."""

from __future__ import annotations

import pytest

from couchctl.client import BadRequest, CouchClient
from couchctl.client._bulk import DELETED

pytestmark = pytest.mark.anyio


async def test_bulk_docs_create_conflict_delete(couch: CouchClient, db: str) -> None:
    # Every copy has the first write (w = n on a cluster), so the second meets it anywhere.
    n = (await couch.db_info(db)).get("cluster", {}).get("n")
    created = await couch.db_bulk_docs(db, [{"_id": "a", "n": 1}, {"_id": "b", "n": 2}], w=n)
    assert [r["id"] for r in created] == ["a", "b"]
    assert all(r["ok"] and r["rev"].startswith("1-") for r in created)
    again = await couch.db_bulk_docs(
        db, [{"_id": "a", "n": 9}, {"_id": "b", "_rev": created[1]["rev"], "_deleted": True}]
    )
    assert again[0]["error"] == "conflict"
    assert again[1]["ok"] and again[1]["rev"].startswith("2-")
    existing = await couch.bulk_existing(db, ["a", "b", "nope"])
    assert existing["a"]["n"] == 1
    assert existing["b"] is DELETED
    assert "nope" not in existing


async def test_bulk_docs_new_edits_false_keeps_the_revision(couch: CouchClient, db: str) -> None:
    rev = "7-0123456789abcdef0123456789abcdef"
    result = await couch.db_bulk_docs(db, [{"_id": "r", "_rev": rev, "v": 1}], new_edits=False)
    assert result == []
    got = await couch.db_bulk_get(db, [{"id": "r"}])
    assert got["results"][0]["docs"][0]["ok"]["_rev"] == rev


async def test_bulk_docs_illegal_id_fails_the_request(couch: CouchClient, db: str) -> None:
    with pytest.raises(BadRequest):
        await couch.db_bulk_docs(db, [{"_id": "fine"}, {"_id": "_bad"}])
    assert await couch.bulk_existing(db, ["fine"]) == {}


async def test_bulk_docs_raw(couch: CouchClient, db: str) -> None:
    result = await couch.db_bulk_docs_raw(db, b'{"docs":[{"_id":"x", "k": "\xc3\xa9"}]}')
    assert result[0]["id"] == "x"
    assert (await couch.bulk_existing(db, ["x"]))["x"]["k"] == "\u00e9"


async def test_bulk_get_revs(couch: CouchClient, db: str) -> None:
    created = await couch.db_bulk_docs(db, [{"_id": "a", "n": 1}])
    answer = await couch.db_bulk_get(db, [{"id": "a", "rev": created[0]["rev"]}], revs=True)
    doc = answer["results"][0]["docs"][0]["ok"]
    assert doc["_revisions"]["start"] == 1
    assert doc["n"] == 1


async def test_bulk_new_ids_are_unique(couch: CouchClient) -> None:
    ids = await couch.bulk_new_ids(1500)
    assert len(ids) == len(set(ids)) == 1500


async def test_bulk_iter_range_and_ids(couch: CouchClient, db: str) -> None:
    await couch.db_bulk_docs(db, [{"_id": f"k{i}"} for i in range(6)])
    ids = [row["id"] async for page in couch.bulk_iter_ids(db) for row in page]
    assert ids == [f"k{i}" for i in range(6)]
    docs = [
        row["doc"]["_id"] async for page in couch.bulk_iter_range(db, "k1", "k4") for row in page
    ]
    assert docs == ["k1", "k2", "k3"]
    tail = [row["id"] async for page in couch.bulk_iter_range(db, "k4") for row in page]
    assert tail == ["k4", "k5"]


async def test_bulk_reads_through_the_sync_client_in_threads(couch: CouchClient, db: str) -> None:
    # Bodies of several blocks (BLOCK bytes each), read by the sync twin in worker
    # threads: whole ranges, streamed pages, and a stream left after its first page.
    import threading

    pad = "p" * 400
    for start in range(0, 3000, 1000):
        docs = [{"_id": f"r{i:05d}", "pad": pad} for i in range(start, start + 1000)]
        await couch.db_bulk_docs(db, docs)
    ids = [f"r{i:05d}" for i in range(3000)]
    rows = await couch.bulk_fetch_range(db, "r00100", "r02900")
    assert [row["doc"]["_id"] for row in rows] == ids[100:2900]
    assert couch._sync_http is not None  # sent by the sync twin
    streamed = [row["id"] async for page in couch.bulk_iter_range(db, raw=False) for row in page]
    assert streamed == ids
    pages = couch.bulk_iter_range(db, raw=True)
    assert await pages.__anext__()
    await pages.aclose()  # type: ignore[attr-defined]
    assert not any(t.name == "couchctl-rows" for t in threading.enumerate())
    assert [row["id"] async for page in couch.bulk_iter_ids(db) for row in page] == ids
