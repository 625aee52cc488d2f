"""`couchctl db diff` against the real server."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.conftest import CliRun, Server
from tests.integration._data import post_docs

JSON = {"Accept": "application/json"}


@pytest.fixture
def other(server: Server) -> Iterator[str]:
    name = server.new_db_name("other")
    assert httpx.put(f"{server.url}/{name}", headers=JSON).is_success
    yield name
    httpx.delete(f"{server.url}/{name}", headers=JSON)


def same(server: Server, db: str, other: str, ids: list[str]) -> None:
    docs = [{"_id": doc_id, "v": 1} for doc_id in ids]
    post_docs(server, db, docs)
    post_docs(server, other, docs)


def test_identical_databases_exit_0(cli: CliRun, server: Server, db: str, other: str) -> None:
    same(server, db, other, [f"doc-{i:04d}" for i in range(300)] + ["_design/a", "Zed", "é"])
    result = cli("db", "diff", db, other, "--jsonl")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "identical" in result.stderr
    assert "303 ids in both" in result.stderr


def test_differences_exit_1(cli: CliRun, server: Server, db: str, other: str) -> None:
    same(server, db, other, ["a", "c", "e"])
    post_docs(server, db, [{"_id": "b"}, {"_id": "z1"}])
    post_docs(server, other, [{"_id": "0"}, {"_id": "d"}, {"_id": "zz"}])
    rev_e = httpx.get(f"{server.url}/{db}/e", headers=JSON).json()["_rev"]
    changed = post_docs(server, db, [{"_id": "e", "_rev": rev_e, "v": 2}])[0]["rev"]
    result = cli("db", "diff", db, other, "--jsonl")
    assert result.exit_code == 1, result.stderr
    found = [(d["id"], d["difference"]) for d in result.jsonl()]
    assert found == [
        ("0", "only-in-other"),
        ("b", "only-in-db"),
        ("d", "only-in-other"),
        ("e", "different-rev"),
        ("z1", "only-in-db"),
        ("zz", "only-in-other"),
    ]
    e = next(d for d in result.jsonl() if d["id"] == "e")
    assert e["rev"] == changed
    assert e["other_rev"] == rev_e
    table = cli("db", "diff", db, other)
    assert table.exit_code == 1
    assert "only-in-db" in table.stdout
    assert "different:" in table.stderr


def test_deleted_documents_count_as_missing(
    cli: CliRun, server: Server, db: str, other: str
) -> None:
    same(server, db, other, ["a", "b"])
    rev = httpx.get(f"{server.url}/{db}/b", headers=JSON).json()["_rev"]
    httpx.delete(f"{server.url}/{db}/b", params={"rev": rev, **server.all_copies(db)}, headers=JSON)
    result = cli("db", "diff", db, other, "--jsonl")
    assert result.exit_code == 1
    assert result.jsonl() == [
        {"id": "b", "difference": "only-in-other", "rev": None, "other_rev": rev}
    ]


def test_other_url_uses_only_its_own_credentials(
    cli: CliRun, server: Server, db: str, other: str
) -> None:
    same(server, db, other, ["a"])
    # the same server, named differently: credentials come from --other-url
    parts = urlsplit(server.url)
    host = f"localhost:{parts.port}"
    with_creds = urlunsplit((parts.scheme, f"{parts.username}:{parts.password}@{host}", "", "", ""))
    result = cli("db", "diff", db, other, "--other-url", with_creds)
    assert result.exit_code == 0, result.stderr
    # without credentials in its URL, none are sent there (the connection's stay home)
    bare = urlunsplit((parts.scheme, host, "", "", ""))
    httpx.put(
        f"{server.url}/{other}/_security",
        json={"members": {"names": ["someone"], "roles": []}},
        headers=JSON,
    )
    result = cli("db", "diff", db, other, "--other-url", bare)
    assert result.exit_code == 6, result.stderr


def test_a_database_with_itself_is_refused(cli_offline: CliRun) -> None:
    offline = "http://127.0.0.1:9"
    result = cli_offline("db", "diff", "x", "x", url=offline)
    assert result.exit_code == 2
    assert "itself" in result.stderr
    result = cli_offline("db", "diff", "x", "x", "--other-url", "http://localhost:9/", url=offline)
    assert result.exit_code == 2
    result = cli_offline("db", "diff", "x", "y", "--other-url", "ftp://h", url=offline)
    assert result.exit_code == 2


def test_missing_database_exit_4(cli: CliRun, db: str) -> None:
    result = cli("db", "diff", db, "no-such-db-anywhere")
    assert result.exit_code == 4, result.stderr


def test_differences_across_many_pages(cli: CliRun, server: Server, db: str, other: str) -> None:
    ids = [f"k{i:05d}" for i in range(2500)]
    only_db = set(ids[999:1003]) | {ids[0], ids[-1]}
    only_other = set(ids[1998:2002]) | {ids[1]}
    post_docs(server, db, [{"_id": i} for i in ids if i not in only_other])
    post_docs(server, other, [{"_id": i} for i in ids if i not in only_db])
    result = cli("db", "diff", db, other, "--jsonl")
    assert result.exit_code == 1, result.stderr
    found = result.jsonl()
    assert [d["id"] for d in found] == sorted(only_db | only_other)
    assert {d["id"] for d in found if d["difference"] == "only-in-db"} == only_db
    assert f"{2500 - len(only_db) - len(only_other):,} ids in both" in result.stderr


def test_errors_name_the_other_server_never_its_password(
    cli: CliRun, server: Server, db: str
) -> None:
    from tests.standin import free_port

    port = free_port()
    result = cli("db", "diff", db, db, "--other-url", f"http://u:s3cret@127.0.0.1:{port}")
    assert result.exit_code == 3
    assert f"the other server at http://127.0.0.1:{port}" in result.stderr
    assert "s3cret" not in result.stderr
    parts = urlsplit(server.url)
    bare = urlunsplit((parts.scheme, f"localhost:{parts.port}", "", "", ""))
    result = cli("db", "diff", db, "no-such-db-there", "--other-url", bare)
    assert result.exit_code == 4
    assert f"no-such-db-there at {bare}" in result.stderr
