"""The workflow engines' local parts: the archive format, the part file, edit merging."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest
from pytest_httpx import HTTPXMock

from couchctl.client import CouchClient, InvalidArgument
from couchctl.workflows import backup
from couchctl.workflows._archive import (
    ArchiveError,
    ArchiveWriter,
    PartFile,
    check_archive,
)
from couchctl.workflows.diff import same_server
from couchctl.workflows.edit import changed_keys, editor_command, merge_edit
from tests.unit._wire import BASE


def write_archive(path: Path, docs: list[dict[str, object]]) -> dict[str, object]:
    part = PartFile(str(path))
    writer = ArchiveWriter(part)
    writer.header({"db": "src", "since": None, "update_seq": "1-a"})
    writer.security({"members": {"names": ["a"]}})
    for doc in docs:
        writer.doc(doc)
    trailer = writer.trailer(last_seq="9-z", doc_count=len(docs))
    part.commit()
    return trailer


def test_archive_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    trailer = write_archive(path, [{"_id": "a", "_rev": "1-x"}, {"_id": "b", "_deleted": True}])
    assert trailer["docs"] == 2
    assert trailer["deleted"] == 1
    info = check_archive(str(path))
    assert info.header["db"] == "src"
    assert info.security == {"members": {"names": ["a"]}}
    assert info.trailer["last_seq"] == "9-z"
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert not (tmp_path / "a.jsonl.part").exists()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda lines: lines[:-1], "no trailer"),
        (lambda lines: [*lines, lines[2]], "after the trailer"),
        (lambda lines: [lines[0], lines[1], *lines[3:]], "checksum"),
        (lambda lines: [lines[0], lines[1], b'{"doc":{"_id":"zz"}}\n', *lines[3:]], "checksum"),
        (lambda lines: [*lines[:2], b"{not json\n", *lines[3:]], "not JSON"),
        (lambda lines: [lines[1], *lines[2:]], "not a couchctl backup"),
        (lambda lines: [], "empty"),
    ],
)
def test_damaged_archives_are_refused(tmp_path: Path, damage: object, message: str) -> None:
    path = tmp_path / "a.jsonl"
    write_archive(path, [{"_id": "a"}, {"_id": "b"}])
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(damage(lines)))  # type: ignore[operator]
    with pytest.raises(ArchiveError, match=message):
        check_archive(str(path))


def test_counts_are_checked_even_with_a_matching_checksum(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write_archive(path, [{"_id": "a"}])
    lines = path.read_bytes().splitlines(keepends=True)
    trailer = json.loads(lines[-1])
    trailer["trailer"]["docs"] = 5
    path.write_bytes(b"".join([*lines[:-1], json.dumps(trailer).encode() + b"\n"]))
    with pytest.raises(ArchiveError, match="counts"):
        check_archive(str(path))


def test_a_newer_version_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write_archive(path, [])
    path.write_bytes(path.read_bytes().replace(b'"version":1', b'"version":2', 1))
    with pytest.raises(InvalidArgument, match="version 2"):
        check_archive(str(path))


def test_part_file_never_reuses_or_follows(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    (tmp_path / "out.jsonl.part").write_text("left over")
    with pytest.raises(InvalidArgument, match="not created by this run"):
        PartFile(str(target))
    assert (tmp_path / "out.jsonl.part").read_text() == "left over"
    os.unlink(tmp_path / "out.jsonl.part")
    victim = tmp_path / "victim"
    victim.write_text("keep")
    os.symlink(victim, tmp_path / "out.jsonl.part")
    with pytest.raises(InvalidArgument):
        PartFile(str(target))
    assert victim.read_text() == "keep"


def test_part_file_discard_removes_only_its_part(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text("old")
    part = PartFile(str(target), force=True)
    part.write(b"new")
    part.discard()
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]
    with pytest.raises(InvalidArgument, match="--force"):
        PartFile(str(target))


def test_merge_edit_keeps_both_sides() -> None:
    base = {"_id": "d", "_rev": "1-a", "a": 1, "b": 1, "c": 1}
    mine = {"_id": "d", "_rev": "1-a", "a": 2, "b": 1}  # changed a, removed c
    theirs = {"_id": "d", "_rev": "2-b", "a": 3, "b": 9, "c": 1}  # changed a and b
    merged, both = merge_edit(base, mine, theirs)
    assert merged == {"_id": "d", "_rev": "2-b", "a": 2, "b": 9}
    assert both == ["a"]
    assert changed_keys(base, theirs) == ["a", "b"]


def test_editor_command() -> None:
    assert editor_command({"VISUAL": "code --wait", "EDITOR": "nano"}) == ["code", "--wait"]
    assert editor_command({"EDITOR": "'my editor' -x"}) == ["my editor", "-x"]
    assert editor_command({"VISUAL": " "}) == ["vi"]


def test_same_server() -> None:
    assert same_server("http://127.0.0.1:5984", "http://admin:pw@localhost:5984/")
    assert same_server("https://h", "https://h:443")
    assert not same_server("http://h:5984", "http://h:5985")
    assert not same_server("http://h:5984/a", "http://h:5984/b")


@pytest.mark.anyio
async def test_backup_cuts_a_listing_page_into_batches(
    httpx_mock: HTTPXMock, couch: CouchClient, tmp_path: Path
) -> None:
    """One `_all_docs` chunk holds thousands of rows: each `_bulk_get` still asks for
    at most BATCH_SIZE documents, so memory does not grow with the listing's chunks."""
    total = backup.BATCH_SIZE * 2 + 7
    rows = [{"id": f"d{i:05d}", "key": f"d{i:05d}", "value": {"rev": "1-a"}} for i in range(total)]
    info = {"db_name": "db", "update_seq": "9-x", "doc_count": total, "cluster": {"q": 2, "n": 1}}
    httpx_mock.add_response(url=f"{BASE}/db", json=info, is_reusable=True)
    httpx_mock.add_response(url=f"{BASE}/db/_security", json={})
    httpx_mock.add_response(
        url=f"{BASE}/db/_all_docs",
        content=json.dumps({"total_rows": total, "offset": 0, "rows": rows}).encode(),
    )

    def answer(request: httpx.Request) -> httpx.Response:
        asked = json.loads(request.content)["docs"]
        results = [
            {"id": d["id"], "docs": [{"ok": {"_id": d["id"], "_rev": d["rev"]}}]} for d in asked
        ]
        return httpx.Response(200, json={"results": results})

    httpx_mock.add_callback(
        answer, url=f"{BASE}/db/_bulk_get?revs=true&latest=true&attachments=true", is_reusable=True
    )
    result = await backup.backup_db(couch, "db", str(tmp_path / "db.jsonl"))
    sizes = [
        len(json.loads(r.content)["docs"])
        for r in httpx_mock.get_requests()
        if r.url.path.endswith("/_bulk_get")
    ]
    assert sorted(sizes, reverse=True) == [backup.BATCH_SIZE, backup.BATCH_SIZE, 7]
    assert result.docs == total
    assert check_archive(str(tmp_path / "db.jsonl")).trailer["docs"] == total
