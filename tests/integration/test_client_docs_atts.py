"""DocumentMixin and AttachmentMixin against the real server."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest

from couchctl.client import Conflict, CouchClient, IntegrityError, NotFound
from tests.conftest import Server

pytestmark = pytest.mark.anyio

ODD_IDS = ["a/b c+d", "ünï ☃", "%41", "q?x#y", "_local/loc al", "_design/dd"]


async def fetch(couch: CouchClient, db: str, doc_id: str, name: str, **kwargs: Any) -> bytes:
    async with couch.attachment_get(db, doc_id, name, **kwargs) as download:
        return b"".join([chunk async for chunk in download])


@pytest.mark.parametrize("doc_id", ODD_IDS)
async def test_document_round_trip_with_odd_ids(couch: CouchClient, db: str, doc_id: str) -> None:
    created = await couch.doc_create_or_update(db, doc_id, {"n": 1})
    assert created["ok"] is True
    assert created["id"] == doc_id
    rev = await couch.doc_exists(db, doc_id)
    assert rev == created["rev"]
    doc = await couch.doc_get(db, doc_id)
    assert (doc["_id"], doc["_rev"], doc["n"]) == (doc_id, rev, 1)
    updated = await couch.doc_create_or_update(db, doc_id, {**doc, "n": 2})
    assert (await couch.doc_get(db, doc_id))["n"] == 2
    await couch.doc_delete(db, doc_id, updated["rev"])
    assert await couch.doc_exists(db, doc_id) is None
    with pytest.raises(NotFound):
        await couch.doc_get(db, doc_id)


async def test_update_with_rev_parameter_and_stale_rev(
    couch: CouchClient, db: str, server: Server
) -> None:
    w = int(server.all_copies(db).get("w", 0)) or None  # setup writes on every copy
    first = await couch.doc_create_or_update(db, "d", {"v": 1}, w=w)
    second = await couch.doc_create_or_update(db, "d", {"v": 2}, rev=first["rev"], w=w)
    assert second["rev"].startswith("2-")
    with pytest.raises(Conflict):
        await couch.doc_create_or_update(db, "d", {"v": 3}, rev=first["rev"])
    with pytest.raises(Conflict):
        await couch.doc_create_or_update(db, "d", {"v": 3})


async def test_get_flags(couch: CouchClient, db: str) -> None:
    first = await couch.doc_create_or_update(db, "d", {"v": 1})
    second = await couch.doc_create_or_update(db, "d", {"v": 2, "_rev": first["rev"]})
    assert (await couch.doc_get(db, "d", rev=first["rev"]))["v"] == 1
    revisions = (await couch.doc_get(db, "d", revs=True))["_revisions"]
    assert revisions["start"] == 2
    assert len(revisions["ids"]) == 2
    info = (await couch.doc_get(db, "d", revs_info=True))["_revs_info"]
    assert [entry["rev"] for entry in info] == [second["rev"], first["rev"]]
    open_revs = await couch.doc_get(db, "d", open_revs="all")
    assert open_revs == [{"ok": await couch.doc_get(db, "d")}]
    listed = await couch.doc_get(db, "d", open_revs=[second["rev"]])
    assert listed[0]["ok"]["_rev"] == second["rev"]


async def test_conflicts_from_new_edits_false(couch: CouchClient, db: str) -> None:
    base = await couch.doc_create_or_update(db, "c", {"side": "base"})
    await couch.doc_create_or_update(db, "c", {"side": "a", "_rev": base["rev"]})
    start, digest = base["rev"].split("-")
    await couch.doc_create_or_update(
        db,
        "c",
        {
            "side": "b",
            "_rev": "2-" + "f" * 32,
            "_revisions": {"start": 2, "ids": ["f" * 32, digest]},
        },
        new_edits=False,
    )
    assert start == "1"
    doc = await couch.doc_get(db, "c", conflicts=True)
    assert len(doc["_conflicts"]) == 1
    leaves = await couch.doc_get(db, "c", open_revs="all")
    assert sorted(leaf["ok"]["side"] for leaf in leaves) == ["a", "b"]


async def test_db_create_doc(couch: CouchClient, db: str) -> None:
    made = await couch.db_create_doc(db, {"type": "note"})
    assert made["ok"] is True
    assert (await couch.doc_get(db, made["id"]))["type"] == "note"
    named = await couch.db_create_doc(db, {"_id": "named", "type": "memo"}, batch=True)
    assert (named["ok"], named["id"]) == (True, "named")


async def test_copy(couch: CouchClient, db: str, server: Server) -> None:
    w = int(server.all_copies(db).get("w", 0)) or None
    await couch.doc_create_or_update(db, "src", {"v": 1}, w=w)
    await couch.doc_copy(db, "src", "dst")
    server.read_repaired(db, "dst")  # on every copy before the copy that must conflict
    copied = await couch.doc_get(db, "dst")
    assert copied["v"] == 1
    with pytest.raises(Conflict):
        await couch.doc_copy(db, "src", "dst")
    await couch.doc_copy(db, "src", "dst", destination_rev=copied["_rev"])
    assert (await couch.doc_get(db, "dst"))["_rev"].startswith("2-")


@pytest.mark.couchdb_only
async def test_copy_answer_has_id_and_rev(couch: CouchClient, db: str) -> None:
    await couch.doc_create_or_update(db, "src", {"v": 1})
    result = await couch.doc_copy(db, "src", "ünï/copy")
    assert result["id"] == "ünï/copy"
    assert result["rev"].startswith("1-")


# -- attachments ---------------------------------------------------------------------------


# The stand-in computes wrong digests for bytes >= 0x80 (and may then serve another
# attachment's bytes): the digest check catches it, so binary data is CouchDB-only.
ROUND_TRIP_DATA = [
    pytest.param(bytes(range(128)) * 40 + b"\r\n--boundary-ish\r\n", id="low-bytes"),
    pytest.param(bytes(range(256)) * 40, id="binary", marks=pytest.mark.couchdb_only),
]


@pytest.mark.parametrize("data", ROUND_TRIP_DATA)
async def test_attachment_round_trip(
    couch: CouchClient, db: str, tmp_path: Path, data: bytes
) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    created = await couch.doc_create_or_update(db, "a/b c+d", {"n": 1})
    sent: list[int] = []
    uploaded = await couch.attachment_upload(
        db, "a/b c+d", "dir/my file.bin", "application/octet-stream", path,
        rev=created["rev"], progress=sent.append,
    )  # fmt: skip
    assert sum(sent) == len(data)
    info = await couch.attachment_exists(db, "a/b c+d", "dir/my file.bin")
    assert info is not None
    md5 = "md5-" + base64.b64encode(hashlib.md5(data).digest()).decode()
    assert (info.length, info.content_type, info.digest) == (
        len(data),
        "application/octet-stream",
        md5,
    )
    assert await fetch(couch, db, "a/b c+d", "dir/my file.bin") == data
    stub = (await couch.doc_get(db, "a/b c+d"))["_attachments"]["dir/my file.bin"]
    assert stub["digest"] == md5
    deleted = await couch.attachment_delete(db, "a/b c+d", "dir/my file.bin", uploaded["rev"])
    assert deleted["ok"] is True
    assert await couch.attachment_exists(db, "a/b c+d", "dir/my file.bin") is None


async def test_attachment_upload_creates_the_document(couch: CouchClient, db: str) -> None:
    result = await couch.attachment_upload(db, "new-doc", "hello.txt", "text/plain", b"hello\n")
    assert result["ok"] is True
    assert await fetch(couch, db, "new-doc", "hello.txt") == b"hello\n"


async def test_text_attachment_digest_is_checked(couch: CouchClient, db: str) -> None:
    text = b"".join(b"line %d of a compressible text\n" % i for i in range(2000))
    await couch.attachment_upload(db, "t", "notes.txt", "text/plain", text)
    async with couch.attachment_get(db, "t", "notes.txt") as download:
        got = b"".join([chunk async for chunk in download])
    assert got == text
    assert download.digest is not None
    assert download.decoded == len(text)


@pytest.mark.couchdb_only
async def test_text_attachment_comes_gzip_encoded(couch: CouchClient, db: str) -> None:
    text = b"".join(b"line %d of a compressible text\n" % i for i in range(2000))
    await couch.attachment_upload(db, "t", "notes.txt", "text/plain", text)
    async with couch.attachment_get(db, "t", "notes.txt") as download:
        got = b"".join([chunk async for chunk in download])
    assert got == text
    assert download.encoding == "gzip"
    assert download.received < len(text)


async def test_missing_attachment(couch: CouchClient, db: str) -> None:
    await couch.doc_create_or_update(db, "d", {})
    assert await couch.attachment_exists(db, "d", "nope.txt") is None
    with pytest.raises(NotFound):
        await fetch(couch, db, "d", "nope.txt")
    with pytest.raises(NotFound):
        await fetch(couch, db, "no-such-doc", "nope.txt")


async def test_stale_rev_upload_is_a_conflict(couch: CouchClient, db: str, server: Server) -> None:
    # Both setup writes reach every copy: on a cluster, a copy still holding the
    # first revision would otherwise take the upload on it.
    w = int(server.all_copies(db).get("w", 0)) or None
    first = await couch.doc_create_or_update(db, "d", {}, w=w)
    await couch.doc_create_or_update(db, "d", {"_rev": first["rev"], "x": 1}, w=w)
    with pytest.raises(Conflict):
        await couch.attachment_upload(db, "d", "a.txt", "text/plain", b"x", rev=first["rev"])


def test_integrity_error_is_a_couch_error() -> None:
    from couchctl.client import CouchError

    assert issubclass(IntegrityError, CouchError)


# -- multipart (CouchDB only: the stand-in crashes on CouchDB-style multipart) -----------------


@pytest.mark.couchdb_only
async def test_multipart_put_and_get(couch: CouchClient, db: str, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"first line\nsecond line\n")
    pixel = tmp_path / "pixel.bin"
    pixel.write_bytes(bytes(range(256)) + b"\r\n--x\r\n")
    result = await couch.doc_create_or_update(db, "mp", {"n": 1}, attachments=[notes, pixel])
    assert result["ok"] is True
    doc = await couch.doc_get(db, "mp", attachments=True, multipart=True)
    assert base64.b64decode(doc["_attachments"]["notes.txt"]["data"]) == notes.read_bytes()
    assert base64.b64decode(doc["_attachments"]["pixel.bin"]["data"]) == pixel.read_bytes()
    as_json = await couch.doc_get(db, "mp", attachments=True)
    for name, stub in as_json["_attachments"].items():
        assert doc["_attachments"][name]["data"] == stub["data"]
    assert await fetch(couch, db, "mp", "notes.txt") == notes.read_bytes()


@pytest.mark.couchdb_only
async def test_open_revs_multipart_matches_json(couch: CouchClient, db: str) -> None:
    await couch.doc_create_or_update(db, "o", {"n": 1})
    await couch.attachment_upload(
        db, "o", "a.txt", "text/plain", b"text\n", rev=await couch.doc_exists(db, "o")
    )
    mixed = await couch.doc_get(db, "o", open_revs="all", multipart=True)
    plain = await couch.doc_get(db, "o", open_revs="all")
    assert [r["ok"]["_rev"] for r in mixed] == [r["ok"]["_rev"] for r in plain]
    assert base64.b64decode(mixed[0]["ok"]["_attachments"]["a.txt"]["data"]) == b"text\n"
