"""`couchctl db backup` and `db restore` against the real server."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import CliRun, Server

JSON = {"Accept": "application/json"}
BINARY = bytes(range(256)) * 4


def get(server: Server, path: str, **params: str) -> Any:
    response = httpx.get(f"{server.url}{path}", params=params, headers=JSON, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def post_docs(server: Server, db: str, docs: list[dict[str, Any]], **body: Any) -> Any:
    response = httpx.post(
        f"{server.url}/{db}/_bulk_docs",
        json={"docs": docs, **body},
        params=server.all_copies(db),
        headers=JSON,
    )
    assert response.status_code == 201, response.text
    return response.json()


def put_att(server: Server, db: str, doc_id: str, name: str, data: bytes) -> str:
    rev = get(server, f"/{db}/{quote(doc_id, safe='')}")["_rev"]
    response = httpx.put(
        f"{server.url}/{db}/{quote(doc_id, safe='')}/{name}",
        params={"rev": rev, **server.all_copies(db)},
        content=data,
        headers={**JSON, "Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 201, response.text
    new_rev: str = response.json()["rev"]
    return new_rev


def att_bytes(server: Server, db: str, doc_id: str, name: str) -> bytes:
    response = httpx.get(f"{server.url}/{db}/{doc_id}/{name}")
    assert response.status_code == 200, response.text
    return response.content


def rows(server: Server, db: str) -> list[tuple[str, str]]:
    return [(r["id"], r["value"]["rev"]) for r in get(server, f"/{db}/_all_docs")["rows"]]


def delete_doc(server: Server, db: str, doc_id: str) -> None:
    rev = get(server, f"/{db}/{doc_id}")["_rev"]
    response = httpx.delete(
        f"{server.url}/{db}/{doc_id}", params={"rev": rev, **server.all_copies(db)}, headers=JSON
    )
    assert response.status_code in (200, 202), response.text


def set_security(server: Server, db: str, security: dict[str, Any]) -> None:
    response = httpx.put(f"{server.url}/{db}/_security", json=security, headers=JSON)
    assert response.status_code == 200, response.text


@pytest.fixture
def target(server: Server) -> Iterator[str]:
    """A database name that does not exist yet (deleted afterwards if created)."""
    name = server.new_db_name("restored")
    yield name
    httpx.delete(f"{server.url}/{name}", headers=JSON)


def exists(server: Server, db: str) -> bool:
    return httpx.head(f"{server.url}/{db}").status_code == 200


SECURITY = {"admins": {"names": [], "roles": []}, "members": {"names": ["alice"], "roles": []}}


def seed(server: Server, db: str) -> None:
    post_docs(
        server,
        db,
        [
            {"_id": "a", "n": 1},
            {"_id": "b", "n": 2},
            {"_id": "c", "n": 3},
            {"_id": "_design/app", "views": {"by_n": {"map": "function(d){emit(d.n)}"}}},
        ],
    )
    put_att(server, db, "a", "blob.bin", BINARY)
    set_security(server, db, SECURITY)


@pytest.mark.couchdb_only
def test_full_then_increment_restore_gives_the_same_database(
    cli: CliRun, server: Server, db: str, target: str, tmp_path: Path
) -> None:
    seed(server, db)
    full = tmp_path / "full.jsonl"
    result = cli("db", "backup", db, "-o", str(full))
    assert result.exit_code == 0, result.stderr
    assert "4 documents" in result.stdout
    assert not (tmp_path / "full.jsonl.part").exists()

    # changes, a deletion and a new document with an attachment
    rev_b = get(server, f"/{db}/b")["_rev"]
    post_docs(server, db, [{"_id": "b", "_rev": rev_b, "n": 20}, {"_id": "d", "n": 4}])
    delete_doc(server, db, "c")
    put_att(server, db, "d", "other.bin", BINARY[::-1])
    increment = tmp_path / "inc.jsonl"
    result = cli("db", "backup", db, "-o", str(increment), "--since", str(full), "--json")
    assert result.exit_code == 0, result.stderr
    summary = result.json()
    assert summary["since"] is not None
    assert summary["deleted"] == 1
    assert summary["docs"] == 3  # b, c (deleted), d

    result = cli("db", "restore", target, str(full), str(increment))
    assert result.exit_code == 0, result.stderr
    assert rows(server, target) == rows(server, db)
    assert att_bytes(server, target, "a", "blob.bin") == BINARY
    assert att_bytes(server, target, "d", "other.bin") == BINARY[::-1]
    assert get(server, f"/{target}/_security") == SECURITY
    assert get(server, f"/{target}/b")["n"] == 20
    gone = httpx.get(f"{server.url}/{target}/c", headers=JSON)
    assert gone.status_code == 404
    assert gone.json()["reason"] == "deleted"
    # the same history: the tombstone's revision is the source's
    assert (
        get(server, f"/{target}/c", rev=get(server, f"/{db}/c", open_revs="all")[0]["ok"]["_rev"])[
            "_deleted"
        ]
        is True
    )
    info = get(server, f"/{target}")
    assert info["cluster"]["q"] == get(server, f"/{db}")["cluster"]["q"]


def test_restore_round_trip_without_attachments(
    cli: CliRun, server: Server, db: str, target: str, tmp_path: Path
) -> None:
    post_docs(server, db, [{"_id": f"doc-{i:03d}", "i": i} for i in range(250)])
    set_security(server, db, SECURITY)
    archive = tmp_path / "db.jsonl"
    assert cli("db", "backup", db, "-o", str(archive)).exit_code == 0
    result = cli("db", "restore", target, str(archive), "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["written"] == 250
    assert rows(server, target) == rows(server, db)
    assert get(server, f"/{target}/_security") == SECURITY


@pytest.mark.couchdb_only
def test_conflicts_are_kept_with_the_flag(
    cli: CliRun, server: Server, db: str, target: str, tmp_path: Path
) -> None:
    post_docs(
        server,
        db,
        [
            {"_id": "x", "_rev": "1-aaa", "side": "one"},
            {"_id": "x", "_rev": "1-bbb", "side": "two"},
        ],
        new_edits=False,
    )
    archive = tmp_path / "c.jsonl"
    assert cli("db", "backup", db, "-o", str(archive), "--conflicts").exit_code == 0
    assert cli("db", "restore", target, str(archive)).exit_code == 0
    source = get(server, f"/{db}/x", conflicts="true")
    copy = get(server, f"/{target}/x", conflicts="true")
    assert copy["_rev"] == source["_rev"]
    assert copy["_conflicts"] == source["_conflicts"]


def test_truncated_archive_is_refused_before_anything_is_written(
    cli: CliRun, server: Server, db: str, target: str, tmp_path: Path
) -> None:
    post_docs(server, db, [{"_id": f"d{i}"} for i in range(20)])
    archive = tmp_path / "db.jsonl"
    assert cli("db", "backup", db, "-o", str(archive)).exit_code == 0
    lines = archive.read_bytes().splitlines(keepends=True)
    truncated = tmp_path / "truncated.jsonl"
    truncated.write_bytes(b"".join(lines[:-3]))
    result = cli("db", "restore", target, str(truncated))
    assert result.exit_code == 1
    assert "truncated" in result.stderr
    assert not exists(server, target)

    corrupted = tmp_path / "corrupted.jsonl"
    corrupted.write_bytes(archive.read_bytes().replace(b'"d1"', b'"e1"'))
    result = cli("db", "restore", target, str(corrupted))
    assert result.exit_code == 1
    assert "corrupted" in result.stderr
    assert not exists(server, target)


def test_newer_format_and_broken_chain_exit_2(
    cli: CliRun, server: Server, db: str, target: str, tmp_path: Path
) -> None:
    post_docs(server, db, [{"_id": "a"}])
    full = tmp_path / "full.jsonl"
    assert cli("db", "backup", db, "-o", str(full)).exit_code == 0
    newer = tmp_path / "newer.jsonl"
    newer.write_bytes(full.read_bytes().replace(b'"version":1', b'"version":99', 1))
    result = cli("db", "restore", target, str(newer))
    assert result.exit_code == 2
    assert "version 99" in result.stderr

    post_docs(server, db, [{"_id": "b"}])
    first = tmp_path / "inc1.jsonl"
    assert cli("db", "backup", db, "-o", str(first), "--since", str(full)).exit_code == 0
    post_docs(server, db, [{"_id": "c"}])
    second = tmp_path / "inc2.jsonl"
    assert cli("db", "backup", db, "-o", str(second), "--since", str(first)).exit_code == 0
    result = cli("db", "restore", target, str(full), str(second))
    assert result.exit_code == 2
    assert "does not follow" in result.stderr
    result = cli("db", "restore", target, str(first))
    assert result.exit_code == 2
    assert not exists(server, target)
    # in order, all three apply
    assert cli("db", "restore", target, str(full), str(first), str(second)).exit_code == 0
    assert [doc_id for doc_id, _ in rows(server, target)] == ["a", "b", "c"]


def test_existing_archive_needs_force(cli: CliRun, server: Server, db: str, tmp_path: Path) -> None:
    archive = tmp_path / "db.jsonl"
    archive.write_text("precious\n")
    result = cli("db", "backup", db, "-o", str(archive))
    assert result.exit_code == 2
    assert archive.read_text() == "precious\n"
    result = cli("db", "backup", db, "-o", str(archive), "--force")
    assert result.exit_code == 0, result.stderr
    assert archive.read_text().startswith('{"format":"couchctl-backup"')
    assert list(tmp_path.iterdir()) == [archive]


def test_non_empty_target_needs_into_existing(
    cli: CliRun, server: Server, db: str, target: str, tmp_path: Path
) -> None:
    post_docs(server, db, [{"_id": "a", "n": 1}])
    archive = tmp_path / "db.jsonl"
    assert cli("db", "backup", db, "-o", str(archive)).exit_code == 0
    assert cli("db", "create", target).exit_code == 0
    post_docs(server, target, [{"_id": "mine"}])
    result = cli("db", "restore", target, str(archive))
    assert result.exit_code == 2
    assert "not empty" in result.stderr
    assert [i for i, _ in rows(server, target)] == ["mine"]
    result = cli("db", "restore", target, str(archive), "--into-existing")
    assert result.exit_code == 2  # no terminal, no --yes
    assert [i for i, _ in rows(server, target)] == ["mine"]
    result = cli("db", "restore", target, str(archive), "--into-existing", "--yes")
    assert result.exit_code == 0, result.stderr
    assert [i for i, _ in rows(server, target)] == ["a", "mine"]


def test_resume_sends_only_what_is_missing(
    cli: CliRun, server: Server, db: str, target: str, tmp_path: Path
) -> None:
    post_docs(server, db, [{"_id": f"d{i:02d}"} for i in range(30)])
    archive = tmp_path / "db.jsonl"
    assert cli("db", "backup", db, "-o", str(archive)).exit_code == 0
    # an interrupted restore: the first ten documents made it
    partial = [
        json.loads(line)["doc"]
        for line in archive.read_text().splitlines()
        if line.startswith('{"doc"')
    ][:10]
    assert cli("db", "create", target).exit_code == 0
    post_docs(server, target, partial, new_edits=False)
    result = cli("db", "restore", target, str(archive), "--resume", "--json")
    assert result.exit_code == 0, result.stderr
    summary = result.json()
    assert summary["already_there"] == 10
    assert summary["written"] == 20
    assert rows(server, target) == rows(server, db)


def test_all_dbs_writes_one_archive_per_database(
    cli: CliRun, server: Server, tmp_path: Path
) -> None:
    if server.couchdb:
        pytest.skip("backs up every database of the server: run on the stand-in only")
    names = [server.new_db_name("all"), server.new_db_name("all")]
    try:
        for name in names:
            assert httpx.put(f"{server.url}/{quote(name, safe='')}", headers=JSON).is_success
            post_docs(server, quote(name, safe=""), [{"_id": "one"}])
        out = tmp_path / "backups"
        result = cli("db", "backup", "--all-dbs", "-o", str(out), "--json")
        assert result.exit_code == 0, result.stderr
        written = {entry["db"]: entry for entry in result.json()}
        for name in names:
            assert written[name]["docs"] == 1
            assert (out / (quote(name, safe="") + ".jsonl")).exists()
        post_docs(server, quote(names[0], safe=""), [{"_id": "two"}])
        later = tmp_path / "later"
        result = cli("db", "backup", "--all-dbs", "-o", str(later), "--since", str(out), "--json")
        assert result.exit_code == 0, result.stderr
        again = {entry["db"]: entry for entry in result.json()}
        assert again[names[0]]["docs"] == 1  # only the new document
        assert again[names[1]]["docs"] == 0
        # an existing directory's archives are not replaced without --force
        result = cli("db", "backup", "--all-dbs", "-o", str(out))
        assert result.exit_code == 2
    finally:
        for name in names:
            httpx.delete(f"{server.url}/{quote(name, safe='')}", headers=JSON)


def test_usage_errors_send_nothing(cli_offline: CliRun, tmp_path: Path) -> None:
    # no server is configured: a request would fail with exit 3, not 2
    offline = "http://127.0.0.1:9"
    assert cli_offline("db", "backup", "x", url=offline).exit_code == 2
    assert cli_offline("db", "backup", "x", "--all-dbs", "-o", "d", url=offline).exit_code == 2
    assert cli_offline("db", "backup", "-o", "f", url=offline).exit_code == 2
    missing = cli_offline("db", "restore", "x", str(tmp_path / "nope.jsonl"), url=offline)
    assert missing.exit_code == 2
    assert "not found" in missing.stderr
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("not json\n")
    assert cli_offline("db", "restore", "x", str(garbage), url=offline).exit_code == 1


def test_archive_attachments_are_base64_inline(
    cli: CliRun, server: Server, db: str, tmp_path: Path
) -> None:
    post_docs(server, db, [{"_id": "a"}])
    put_att(server, db, "a", "t.txt", b"hello attachment\n")
    archive = tmp_path / "db.jsonl"
    assert cli("db", "backup", db, "-o", str(archive)).exit_code == 0
    records = [json.loads(line) for line in archive.read_text().splitlines()]
    assert records[0]["format"] == "couchctl-backup"
    assert records[0]["db"] == db
    assert "security" in records[1]
    doc = records[2]["doc"]
    assert base64.b64decode(doc["_attachments"]["t.txt"]["data"]) == b"hello attachment\n"
    assert doc["_revisions"]["start"] == 2
    assert records[-1]["trailer"]["docs"] == 1


def test_archive_names_keep_slashes_out_of_paths() -> None:
    from couchctl.workflows.backup import archive_name, user_databases

    assert archive_name("a/b") == "a%2Fb.jsonl"
    assert archive_name("..") == "...jsonl"
    assert user_databases(["_users", "_replicator", "a", "b/c"]) == ["a", "b/c"]


def test_rejected_documents_exit_1(
    cli: CliRun, server: Server, db: str, target: str, tmp_path: Path
) -> None:
    post_docs(server, db, [{"_id": "good"}, {"_id": "bad", "bad": True}])
    archive = tmp_path / "db.jsonl"
    assert cli("db", "backup", db, "-o", str(archive)).exit_code == 0
    assert cli("db", "create", target).exit_code == 0
    guard = "function(doc){ if (doc.bad) { throw({forbidden: 'no bad documents'}); } }"
    post_docs(server, target, [{"_id": "_design/guard", "validate_doc_update": guard}])
    result = cli("db", "restore", target, str(archive), "--into-existing", "--yes", "--json")
    assert result.exit_code == 1
    assert "rejected bad" in result.stderr
    assert result.json()["rejected"] == 1
    assert [doc_id for doc_id, _ in rows(server, target)] == ["_design/guard", "good"]
