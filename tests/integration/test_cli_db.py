"""`couchctl db ...` against the real server: stdout, stderr and exit code."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import CliRun, Server
from tests.integration._data import UNREACHABLE, one_error_line, refused

HEADERS = {"Accept": "application/json"}


def url_of(server: Server, db: str, rest: str = "") -> str:
    return f"{server.url}/{quote(db, safe='')}{rest}"


def exists(server: Server, db: str) -> bool:
    return httpx.head(url_of(server, db), headers=HEADERS).status_code == 200


def seed(server: Server, db: str, docs: list[dict[str, Any]]) -> list[Any]:
    response = httpx.post(
        url_of(server, db, "/_bulk_docs"),
        json={"docs": docs},
        params=server.all_copies(db),
        headers=HEADERS,
    )
    assert response.status_code == 201, response.text
    result: list[Any] = response.json()
    return result


@pytest.fixture
def new_name(server: Server) -> Iterator[str]:
    name = server.new_db_name("s1")
    yield name
    httpx.delete(url_of(server, name), headers=HEADERS)


@pytest.fixture
def docs_db(server: Server, db: str) -> str:
    seed(server, db, [{"_id": f"doc-{i}", "n": i} for i in range(1, 6)])
    return db


# -- create --------------------------------------------------------------------------------------


def test_create(cli: CliRun, server: Server, new_name: str) -> None:
    result = cli("db", "create", new_name)
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        f"created database {new_name}\n",
        "",
    )
    assert exists(server, new_name)


def test_create_json(cli: CliRun, server: Server, new_name: str) -> None:
    result = cli("db", "create", new_name, "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json() == {"ok": True}


def test_create_duplicate_exits_5(cli: CliRun, db: str) -> None:
    result = cli("db", "create", db)
    assert result.exit_code == 5
    assert result.stdout == ""
    line = one_error_line(result.stderr)
    assert f"PUT /{db}" in line
    assert "412" in line


@pytest.mark.parametrize("name", ["Bad Name", "9lives", "UPPER", "_private"])
def test_create_invalid_name_exits_2_before_any_request(
    cli: CliRun, server: Server, name: str
) -> None:
    # Against an unreachable server: any request would make it exit 3.
    offline = cli("db", "create", name, url=UNREACHABLE)
    assert offline.exit_code == 2
    assert offline.stdout == ""
    line = one_error_line(offline.stderr)
    assert "invalid database name" in line
    assert "must start with a lowercase letter" in line
    assert "a-z, 0-9 and _ $ ( ) + - /" in line
    # Against the real server (the stand-in would create any name): nothing created.
    assert cli("db", "create", name).exit_code == 2
    assert name not in httpx.get(f"{server.url}/_all_dbs", headers=HEADERS).json()


@pytest.mark.couchdb_only
def test_create_q_n(cli: CliRun, server: Server, new_name: str) -> None:
    result = cli("db", "create", new_name, "--q", "1", "--n", "1")
    assert result.exit_code == 0, result.stderr
    info = httpx.get(url_of(server, new_name), headers=HEADERS).json()
    assert info["cluster"]["q"] == 1
    assert info["cluster"]["n"] == 1


@pytest.mark.couchdb_only
def test_create_partitioned_and_partition_info(cli: CliRun, server: Server, new_name: str) -> None:
    assert cli("db", "create", new_name, "--partitioned").exit_code == 0
    info = httpx.get(url_of(server, new_name), headers=HEADERS).json()
    assert info["props"]["partitioned"] is True
    seed(server, new_name, [{"_id": "p1:a"}, {"_id": "p1:b"}])
    human = cli("db", "partition-info", new_name, "p1")
    assert human.exit_code == 0, human.stderr
    assert "documents" in human.stdout
    as_json = cli("db", "partition-info", new_name, "p1", "--json").json()
    assert as_json["doc_count"] == 2


def test_create_with_a_zero_q_is_a_usage_error(cli: CliRun, new_name: str) -> None:
    result = cli("db", "create", new_name, "--q", "0", url=UNREACHABLE)
    assert result.exit_code == 2
    one_error_line(result.stderr)


# -- delete --------------------------------------------------------------------------------------


def test_delete_with_yes(cli: CliRun, server: Server, db: str) -> None:
    result = cli("db", "delete", db, "--yes")
    assert (result.exit_code, result.stdout, result.stderr) == (0, f"deleted database {db}\n", "")
    assert not exists(server, db)


def test_delete_json(cli: CliRun, server: Server, db: str) -> None:
    result = cli("db", "delete", db, "-y", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json() == {"ok": True}


def test_delete_without_yes_off_a_terminal_exits_2(cli: CliRun, server: Server, db: str) -> None:
    result = cli("db", "delete", db)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"couchctl: error: refusing to delete database {db} without confirmation\n"
        "hint: pass --yes to confirm\n"
    )
    assert exists(server, db)


def test_delete_asks_on_a_terminal(
    cli: CliRun, server: Server, db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from couchctl.cli import _run

    monkeypatch.setattr(_run, "interactive", lambda out: True)
    declined = cli("db", "delete", db, input="n\n")
    assert declined.exit_code == 1
    assert f"Delete database {db} and all its documents? [y/N]" in declined.stderr
    assert f"not deleted: database {db} is unchanged" in declined.stderr
    assert exists(server, db)
    accepted = cli("db", "delete", db, input="y\n")
    assert accepted.exit_code == 0, accepted.stderr
    assert accepted.stdout == f"deleted database {db}\n"
    assert not exists(server, db)


@pytest.mark.couchdb_only
def test_delete_missing_exits_4(cli: CliRun) -> None:
    result = cli("db", "delete", "s1-missing-db", "--yes")
    assert result.exit_code == 4
    assert "404" in one_error_line(result.stderr)


# -- exists, info, list ------------------------------------------------------------------------------


def test_exists(cli: CliRun, db: str) -> None:
    yes = cli("db", "exists", db)
    assert (yes.exit_code, yes.stdout, yes.stderr) == (0, f"database {db} exists\n", "")
    no = cli("db", "exists", "s1-missing-db")
    assert (no.exit_code, no.stdout, no.stderr) == (
        4,
        "",
        "database s1-missing-db does not exist\n",
    )


def test_exists_json(cli: CliRun, db: str) -> None:
    yes = cli("db", "exists", db, "--json")
    assert yes.exit_code == 0
    assert yes.json() == {"db": db, "exists": True}
    no = cli("db", "exists", "s1-missing-db", "--json")
    assert no.exit_code == 4
    assert no.json() == {"db": "s1-missing-db", "exists": False}


def test_info_human(cli: CliRun, docs_db: str) -> None:
    result = cli("db", "info", docs_db)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    fields = {
        line.strip().rsplit(None, 1)[0].strip(): line.split()[-1]
        for line in result.stdout.splitlines()[1:]
    }
    assert fields["name"] == docs_db
    assert fields["documents"] == "5"


def test_info_json(cli: CliRun, server: Server, docs_db: str) -> None:
    result = cli("db", "info", docs_db, "--json")
    assert result.exit_code == 0, result.stderr
    info = result.json()
    assert info["db_name"] == docs_db
    assert info["doc_count"] == 5


@pytest.mark.couchdb_only
def test_info_sizes(cli: CliRun, docs_db: str) -> None:
    result = cli("db", "info", docs_db)
    for field in ("deleted documents", "size (active)", "size (file)", "shards (q)"):
        assert field in result.stdout


def test_info_missing_exits_4(cli: CliRun) -> None:
    result = cli("db", "info", "s1-missing-db")
    assert result.exit_code == 4
    assert result.stdout == ""
    line = one_error_line(result.stderr)
    assert line.startswith("couchctl: error: GET /s1-missing-db: ")
    assert "404" in line


def test_list(cli: CliRun, server: Server, docs_db: str) -> None:
    human = cli("db", "list")
    assert human.exit_code == 0, human.stderr
    header = human.stdout.splitlines()[0].split()
    assert header == ["name", "docs", "deleted", "active", "file"]
    mine = [line.split() for line in human.stdout.splitlines() if line.split()[:1] == [docs_db]]
    assert mine and mine[0][1] == "5"

    entries = cli("db", "list", "--json").json()
    names = httpx.get(f"{server.url}/_all_dbs", headers=HEADERS).json()
    assert [entry["key"] for entry in entries] == names
    mine_json = next(entry for entry in entries if entry["key"] == docs_db)
    assert mine_json["info"]["doc_count"] == 5

    # Compare what is stable: on a cluster, two calls may be answered by different
    # shard copies, whose opaque sequences and sizes differ while meaning the same.
    lines = cli("db", "list", "--jsonl").jsonl()
    assert [line["key"] for line in lines] == [entry["key"] for entry in entries]
    counts = {entry["key"]: entry["info"]["doc_count"] for entry in entries}
    assert next(line for line in lines if line["key"] == docs_db)["info"]["doc_count"] == 5
    assert {line["key"]: line["info"]["doc_count"] for line in lines}[docs_db] == counts[docs_db]


@pytest.mark.couchdb_only
def test_list_shows_sizes(cli: CliRun, docs_db: str) -> None:
    entry = next(e for e in cli("db", "list", "--json").json() if e["key"] == docs_db)
    assert "sizes" in entry["info"]
    assert entry["info"]["doc_del_count"] == 0
    line = next(
        line.split()
        for line in cli("db", "list").stdout.splitlines()
        if line.split()[:1] == [docs_db]
    )
    assert line[2] == "0"  # deleted
    assert len(line) > 3  # sizes


# -- all-docs, design-docs -------------------------------------------------------------------------


def ids_of(result: Any) -> list[str]:
    return [row.get("id") or row["key"] for row in result["rows"]]


def test_all_docs_human(cli: CliRun, docs_db: str) -> None:
    result = cli("db", "all-docs", docs_db)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["id", "rev"]
    assert [line.split()[0] for line in lines[1:]] == [f"doc-{i}" for i in range(1, 6)]
    assert result.stderr == "5 of 5 rows\n"


def test_all_docs_json_is_the_servers_answer(cli: CliRun, server: Server, docs_db: str) -> None:
    result = cli("db", "all-docs", docs_db, "--json")
    assert result.exit_code == 0, result.stderr
    expected = httpx.get(url_of(server, docs_db, "/_all_docs"), headers=HEADERS).json()
    assert result.json() == expected


def test_all_docs_jsonl_streams_rows(cli: CliRun, docs_db: str) -> None:
    result = cli("db", "all-docs", docs_db, "--jsonl", "--include-docs")
    assert result.exit_code == 0, result.stderr
    rows = result.jsonl()
    assert len(rows) == len(result.stdout.splitlines()) == 5
    assert [row["doc"]["n"] for row in rows] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--key", '"doc-2"'], ["doc-2"]),
        (["--keys", '["doc-4", "doc-1"]'], ["doc-4", "doc-1"]),
        (["--start-key", '"doc-2"', "--end-key", '"doc-4"'], ["doc-2", "doc-3", "doc-4"]),
        (
            ["--start-key", '"doc-2"', "--end-key", '"doc-4"', "--no-inclusive-end"],
            ["doc-2", "doc-3"],
        ),
        (["--limit", "2", "--skip", "1"], ["doc-2", "doc-3"]),
        (["--descending", "--limit", "2"], ["doc-5", "doc-4"]),
        (["--inclusive-end", "--end-key", '"doc-1"'], ["doc-1"]),
    ],
)
def test_all_docs_flags(cli: CliRun, docs_db: str, flags: list[str], expected: list[str]) -> None:
    result = cli("db", "all-docs", docs_db, *flags, "--json")
    assert result.exit_code == 0, result.stderr
    assert ids_of(result.json()) == expected


def test_all_docs_keys_from_a_file_and_stdin(cli: CliRun, docs_db: str, tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.json"
    keys_file.write_text('["doc-3", "nope"]', encoding="utf-8")
    from_file = cli("db", "all-docs", docs_db, "--keys", f"@{keys_file}")
    assert from_file.exit_code == 0, from_file.stderr
    lines = from_file.stdout.splitlines()
    assert lines[0].split() == ["id", "rev", "status"]
    assert lines[1].split()[0] == "doc-3"
    assert lines[2].split() == ["nope", "not_found"]
    from_stdin = cli("db", "all-docs", docs_db, "--keys", "-", "--json", input='["doc-5"]')
    assert ids_of(from_stdin.json()) == ["doc-5"]


def test_all_docs_include_docs_conflicts_update_seq(cli: CliRun, docs_db: str) -> None:
    result = cli(
        "db", "all-docs", docs_db, "--key", '"doc-1"', "--include-docs", "--conflicts",
        "--update-seq", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    answer = result.json()
    assert answer["rows"][0]["doc"]["n"] == 1
    assert "update_seq" in answer


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--key", "doc-1"], "--key is not valid JSON"),
        (["--keys", '"doc-1"'], "--keys must be a JSON array"),
        (["--key", '"a"', "--keys", '["a"]'], "--key and --keys cannot be used together"),
        (["--start-key", "{"], "--start-key is not valid JSON"),
        (["--keys", "@/nonexistent/keys.json"], "file not found"),
        (["--limit", "-1"], ""),
    ],
)
def test_all_docs_bad_input_exits_2_before_any_request(
    cli: CliRun, flags: list[str], message: str
) -> None:
    refused(cli("db", "all-docs", "anydb", *flags, url=UNREACHABLE), message)


def test_all_docs_missing_database_exits_4(cli: CliRun) -> None:
    result = cli("db", "all-docs", "s1-missing-db")
    assert result.exit_code == 4
    assert result.stdout == ""
    assert "404" in one_error_line(result.stderr)


@pytest.mark.couchdb_only
def test_design_docs(cli: CliRun, server: Server, db: str) -> None:
    seed(server, db, [{"_id": "_design/a"}, {"_id": "_design/b"}, {"_id": "plain"}])
    human = cli("db", "design-docs", db)
    assert human.exit_code == 0, human.stderr
    assert [line.split()[0] for line in human.stdout.splitlines()[1:]] == ["_design/a", "_design/b"]
    keyed = cli("db", "design-docs", db, "--keys", '["_design/b"]', "--include-docs", "--json")
    assert keyed.json()["rows"][0]["doc"]["_id"] == "_design/b"
    streamed = cli("db", "design-docs", db, "--jsonl", "--descending", "--limit", "1").jsonl()
    assert [row["id"] for row in streamed] == ["_design/b"]


# -- maintenance ---------------------------------------------------------------------------------


def test_compact(cli: CliRun, db: str) -> None:
    human = cli("db", "compact", db)
    assert (human.exit_code, human.stdout, human.stderr) == (
        0,
        f"compaction of {db} started\n",
        "",
    )
    assert cli("db", "compact", db, "--json").json() == {"ok": True}


@pytest.mark.couchdb_only
def test_compact_design_doc(cli: CliRun, server: Server, db: str) -> None:
    seed(server, db, [{"_id": "_design/dd", "views": {"v": {"map": "function(d){emit(1,1)}"}}}])
    result = cli("db", "compact", db, "--ddoc", "dd")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"compaction of the views of dd in {db} started\n"


def test_compact_missing_database_exits_4(cli: CliRun) -> None:
    result = cli("db", "compact", "s1-missing-db")
    assert result.exit_code == 4
    one_error_line(result.stderr)


def test_view_cleanup(cli: CliRun, db: str) -> None:
    result = cli("db", "view-cleanup", db)
    assert (result.exit_code, result.stdout) == (0, f"view cleanup of {db} started\n")
    assert cli("db", "view-cleanup", db, "--json").json() == {"ok": True}


SECURITY = {
    "admins": {"names": [], "roles": ["s1_admins"]},
    "members": {"names": [], "roles": ["s1_members"]},
}


def test_security_set_and_get(cli: CliRun, db: str) -> None:
    result = cli("db", "security", db, "--set", json.dumps(SECURITY))
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        f"updated the security object of {db}\n",
        "",
    )
    shown = cli("db", "security", db)
    assert shown.exit_code == 0
    assert json.loads(shown.stdout) == SECURITY
    assert cli("db", "security", db, "--json").json() == SECURITY


def test_security_set_from_file_and_stdin(cli: CliRun, db: str, tmp_path: Path) -> None:
    path = tmp_path / "security.json"
    path.write_text(json.dumps(SECURITY), encoding="utf-8")
    for source in (str(path), f"@{path}"):
        result = cli("db", "security", db, "--set", source, "--json")
        assert result.exit_code == 0, result.stderr
        assert result.json() == {"ok": True}
    members = {"admins": {"names": [], "roles": []}, "members": {"names": ["bob"], "roles": []}}
    from_stdin = cli("db", "security", db, "--set", "-", input=json.dumps(members))
    assert from_stdin.exit_code == 0, from_stdin.stderr
    assert cli("db", "security", db, "--json").json() == members


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("[1]", "--set must be a JSON object, got an array"),
        ("{not json", "--set is not valid JSON"),
        ("@/nonexistent/security.json", "file not found: /nonexistent/security.json"),
        ("/nonexistent/security.json", "file not found: /nonexistent/security.json"),
    ],
)
def test_security_bad_input_exits_2(cli: CliRun, value: str, message: str) -> None:
    refused(cli("db", "security", "anydb", "--set", value, url=UNREACHABLE), message)


@pytest.mark.couchdb_only
def test_revs_limit(cli: CliRun, db: str) -> None:
    assert cli("db", "revs-limit", db).stdout == "1000\n"
    result = cli("db", "revs-limit", db, "--set", "20")
    assert (result.exit_code, result.stdout) == (0, f"revs limit of {db} set to 20\n")
    assert cli("db", "revs-limit", db, "--json").json() == 20


def test_revs_limit_zero_is_a_usage_error(cli: CliRun) -> None:
    result = cli("db", "revs-limit", "anydb", "--set", "0", url=UNREACHABLE)
    assert result.exit_code == 2
    one_error_line(result.stderr)


def test_purge_without_yes_off_a_terminal_exits_2(cli: CliRun, server: Server, db: str) -> None:
    written = seed(server, db, [{"_id": "keep"}])
    result = cli("db", "purge", db, "keep", written[0]["rev"])
    assert result.exit_code == 2
    assert "pass --yes" in result.stderr
    assert httpx.get(url_of(server, db, "/keep"), headers=HEADERS).status_code == 200


@pytest.mark.couchdb_only
def test_purge(cli: CliRun, server: Server, db: str) -> None:
    written = seed(server, db, [{"_id": "gone"}])
    result = cli("db", "purge", db, "gone", written[0]["rev"], "--yes")
    assert (result.exit_code, result.stdout) == (0, "purged 1 revision of 'gone'\n")
    assert httpx.get(url_of(server, db, "/gone"), headers=HEADERS).status_code == 404


# -- changes -------------------------------------------------------------------------------------


def test_changes_human(cli: CliRun, docs_db: str) -> None:
    result = cli("db", "changes", docs_db)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["seq", "id", "revs", "deleted"]
    assert sorted(line.split()[1] for line in lines[1:]) == [f"doc-{i}" for i in range(1, 6)]
    assert result.stderr.startswith("last_seq: ")


def test_changes_json_and_jsonl(cli: CliRun, server: Server, docs_db: str) -> None:
    as_json = cli("db", "changes", docs_db, "--json")
    assert as_json.exit_code == 0, as_json.stderr
    answer = as_json.json()
    assert len(answer["results"]) == 5
    assert as_json.stderr == ""
    lines = cli("db", "changes", docs_db, "--jsonl", "--include-docs")
    # A cluster merges its shards' feeds in no set order: compare the documents, not the order.
    assert sorted(change["doc"]["n"] for change in lines.jsonl()) == sorted(
        change["doc"]["n"] for change in
        httpx.get(url_of(server, docs_db, "/_changes?include_docs=true"), headers=HEADERS).json()["results"]
    ) == [1, 2, 3, 4, 5]  # fmt: skip


def test_changes_since_limit_doc_ids(cli: CliRun, server: Server, docs_db: str) -> None:
    first = cli("db", "changes", docs_db, "--limit", "2", "--json").json()
    assert len(first["results"]) == 2
    rest = cli("db", "changes", docs_db, "--since", str(first["last_seq"]), "--json").json()
    assert len(rest["results"]) == 3
    only = cli("db", "changes", docs_db, "--doc-ids", '["doc-4"]', "--jsonl").jsonl()
    assert [change["id"] for change in only] == ["doc-4"]
    newest = cli("db", "changes", docs_db, "--descending", "--limit", "1", "--json").json()
    assert len(newest["results"]) == 1
    if not server.couchdb:  # one sequence; CouchDB merges its shards' feeds in no set order
        assert newest["results"][0]["id"] == "doc-5"


def test_changes_longpoll_with_changes(cli: CliRun, docs_db: str) -> None:
    result = cli("db", "changes", docs_db, "--feed", "longpoll", "--since", "0", "--json")
    assert result.exit_code == 0, result.stderr
    assert len(result.json()["results"]) == 5


@pytest.mark.couchdb_only
def test_changes_selector(cli: CliRun, server: Server, db: str) -> None:
    seed(server, db, [{"_id": "a", "type": "memo"}, {"_id": "b", "type": "note"}])
    result = cli("db", "changes", db, "--selector", '{"type": "memo"}', "--json")
    assert result.exit_code == 0, result.stderr
    assert [change["id"] for change in result.json()["results"]] == ["a"]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--follow", "--json"], "--follow streams JSON Lines"),
        (["--follow", "--feed", "longpoll"], "--follow and --feed cannot be used together"),
        (["--doc-ids", '["a"]', "--selector", "{}"], "cannot be used together"),
        (["--doc-ids", '"a"'], "doc_ids must be a JSON array"),
        (["--doc-ids", "[1]"], "doc_ids must hold document ids"),
        (["--view", "dd/v", "--filter", "_design"], "view goes with filter=_view"),
        (["--style", "all_docs", "--feed", "continuous"], ""),
        (["--selector", "[]"], "--selector must be a JSON object"),
        (["--doc-ids", '["a"]', "--filter", "_design"], "drop filter '_design'"),
        (["--feed", "continuous"], ""),
    ],
)
def test_changes_bad_input_exits_2_before_any_request(
    cli: CliRun, flags: list[str], message: str
) -> None:
    refused(cli("db", "changes", "anydb", *flags, url=UNREACHABLE), message)


def test_changes_missing_database_exits_4(cli: CliRun) -> None:
    result = cli("db", "changes", "s1-missing-db")
    assert result.exit_code == 4
    one_error_line(result.stderr)


@pytest.mark.couchdb_only
def test_changes_follow_ends_after_timeout(cli: CliRun, docs_db: str) -> None:
    result = cli("db", "changes", docs_db, "--follow", "--longpoll-timeout", "300ms")
    assert result.exit_code == 0, result.stderr
    # A clustered feed orders changes per shard: compare as sets.
    assert sorted(change["id"] for change in result.jsonl()) == [f"doc-{i}" for i in range(1, 6)]
    assert result.stderr.startswith("last_seq: ")


def _read_line(stream: Any, timeout: float) -> bytes:
    """One line from a pipe, or b"" after `timeout` seconds."""
    box: list[bytes] = []
    reader = threading.Thread(target=lambda: box.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return box[0] if box else b""


def test_changes_follow_streams_until_interrupted(server: Server, docs_db: str) -> None:
    env = {**os.environ, "NO_COLOR": "1", "COUCH_URL": server.url}
    process = subprocess.Popen(
        [sys.executable, "-m", "couchctl", "db", "changes", docs_db, "--follow", "--since", "0",
         "--heartbeat", "500ms"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )  # fmt: skip
    try:
        seen = [json.loads(_read_line(process.stdout, 30)) for _ in range(5)]
        assert sorted(change["id"] for change in seen) == [f"doc-{i}" for i in range(1, 6)]
        seed(server, docs_db, [{"_id": "live"}])
        live = json.loads(_read_line(process.stdout, 30))
        assert live["id"] == "live"
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == 130
    assert stdout == b""  # nothing more after the live change
    # Ctrl-C is how following ends: no error, the sequence to resume from.
    assert stderr.decode() == f"interrupted; resume with --since {live['seq']}\n"


# -- help ------------------------------------------------------------------------------------------


def test_every_db_command_has_help_with_an_example(cli_offline: CliRun) -> None:
    commands = [
        "create", "delete", "info", "exists", "list", "all-docs", "design-docs", "compact",
        "view-cleanup", "security", "revs-limit", "purge", "changes", "partition-info",
    ]  # fmt: skip
    for command in commands:
        result = cli_offline("db", command, "--help")
        assert result.exit_code == 0, command
        examples = [line for line in result.stdout.splitlines() if "Example: couchctl " in line]
        assert len(examples) == 1, command
        assert f"db {command}" in examples[0]


def test_all_docs_view_style_flags(cli: CliRun, docs_db: str) -> None:
    result = cli(
        "db", "all-docs", docs_db, "--stable", "--update", "true", "--no-sorted",
        "--include-docs", "--attachments", "--att-encoding-info", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert sorted(ids_of(result.json())) == [f"doc-{i}" for i in range(1, 6)]


# -- flags on the wire (mocked transport: exactly what reaches CouchDB) -------------------------


def test_all_docs_flags_on_the_wire(cli_offline: CliRun, httpx_mock: Any) -> None:
    httpx_mock.add_response(json={"total_rows": 0, "offset": 0, "rows": []})
    result = cli_offline(
        "db", "all-docs", "corpus/sub", "--start-key", '["a", 1]', "--end-key", "null",
        "--start-key-doc-id", "a b", "--end-key-doc-id", "z", "--no-inclusive-end",
        "--descending", "--limit", "3", "--skip", "0", "--update-seq", "--conflicts",
        "--include-docs", "--attachments", "--att-encoding-info", "--group", "--group-level",
        "2", "--no-reduce", "--no-sort", "--stable", "--stale", "update_after", "--update",
        "lazy", "--json",
        url="http://couch.test",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    request = httpx_mock.get_request()
    assert request.method == "GET"
    assert request.url.raw_path.split(b"?")[0] == b"/corpus%2Fsub/_all_docs"
    assert sorted(request.url.params.multi_items()) == sorted(
        [
            ("startkey", '["a",1]'), ("endkey", "null"), ("startkey_docid", "a b"),
            ("endkey_docid", "z"), ("inclusive_end", "false"), ("descending", "true"),
            ("limit", "3"), ("skip", "0"), ("update_seq", "true"), ("conflicts", "true"),
            ("include_docs", "true"), ("attachments", "true"), ("att_encoding_info", "true"),
            ("group", "true"), ("group_level", "2"), ("reduce", "false"), ("sorted", "false"),
            ("stable", "true"), ("stale", "update_after"), ("update", "lazy"),
        ]
    )  # fmt: skip


def test_all_docs_sends_no_defaults(cli_offline: CliRun, httpx_mock: Any) -> None:
    httpx_mock.add_response(json={"total_rows": 0, "offset": 0, "rows": []})
    result = cli_offline("db", "all-docs", "corpus", "--json", url="http://couch.test")
    assert result.exit_code == 0
    assert httpx_mock.get_request().url.raw_path == b"/corpus/_all_docs"


def test_all_docs_table_asks_for_one_row_past_the_cap(cli_offline: CliRun, httpx_mock: Any) -> None:
    httpx_mock.add_response(json={"total_rows": 0, "offset": 0, "rows": []})
    result = cli_offline("db", "all-docs", "corpus", url="http://couch.test")
    assert result.exit_code == 0
    assert result.stderr == "no documents\n"
    assert httpx_mock.get_request().url.raw_path == b"/corpus/_all_docs?limit=101"


def test_all_docs_keys_are_posted(cli_offline: CliRun, httpx_mock: Any) -> None:
    httpx_mock.add_response(json={"total_rows": 0, "offset": None, "rows": []})
    result = cli_offline(
        "db", "all-docs", "corpus", "--keys", '["a", "b"]', "--include-docs", "--jsonl",
        url="http://couch.test",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    request = httpx_mock.get_request()
    assert request.method == "POST"
    assert request.url.raw_path == b"/corpus/_all_docs?include_docs=true"
    assert json.loads(request.content) == {"keys": ["a", "b"]}


def test_design_docs_flags_on_the_wire(cli_offline: CliRun, httpx_mock: Any) -> None:
    httpx_mock.add_response(json={"total_rows": 0, "offset": 0, "rows": []})
    result = cli_offline(
        "db", "design-docs", "corpus", "--key", '"_design/a"', "--inclusive-end", "--limit",
        "1", "--json",
        url="http://couch.test",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    request = httpx_mock.get_request()
    assert request.url.raw_path.split(b"?")[0] == b"/corpus/_design_docs"
    assert sorted(request.url.params.multi_items()) == [
        ("inclusive_end", "true"),
        ("key", '"_design/a"'),
        ("limit", "1"),
    ]


def test_changes_flags_on_the_wire(cli_offline: CliRun, httpx_mock: Any) -> None:
    httpx_mock.add_response(json={"results": [], "last_seq": "0", "pending": 0})
    result = cli_offline(
        "db", "changes", "corpus", "--since", "now", "--feed", "longpoll", "--longpoll-timeout", "1s",
        "--heartbeat", "500ms", "--limit", "5", "--include-docs", "--conflicts", "--attachments",
        "--att-encoding-info", "--style", "all_docs", "--seq-interval", "10", "--selector",
        '{"type": "memo"}', "--json",
        url="http://couch.test",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    request = httpx_mock.get_request()
    assert request.method == "POST"
    assert request.url.raw_path.split(b"?")[0] == b"/corpus/_changes"
    assert sorted(request.url.params.multi_items()) == sorted(
        [
            ("feed", "longpoll"), ("since", "now"), ("timeout", "1000"), ("heartbeat", "500"),
            ("limit", "5"), ("include_docs", "true"), ("conflicts", "true"),
            ("attachments", "true"), ("att_encoding_info", "true"), ("style", "all_docs"),
            ("seq_interval", "10"), ("filter", "_selector"),
        ]
    )  # fmt: skip
    assert json.loads(request.content) == {"selector": {"type": "memo"}}


def test_changes_follow_default_heartbeat(cli_offline: CliRun, httpx_mock: Any) -> None:
    last = '{"last_seq":"9-x","pending":0}\n'
    httpx_mock.add_response(text='{"seq":"9-x","id":"a","changes":[{"rev":"1-a"}]}\n' + last)
    result = cli_offline(
        "db", "changes", "corpus", "--follow", "--filter", "_view", "--view", "dd/v",
        url="http://couch.test",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.jsonl() == [{"seq": "9-x", "id": "a", "changes": [{"rev": "1-a"}]}]
    assert result.stderr == "last_seq: 9-x\n"
    request = httpx_mock.get_request()
    assert sorted(request.url.params.multi_items()) == [
        ("feed", "continuous"),
        ("filter", "_view"),
        ("heartbeat", "10000"),
        ("view", "dd/v"),
    ]


def test_create_flags_on_the_wire(cli_offline: CliRun, httpx_mock: Any) -> None:
    httpx_mock.add_response(method="PUT", status_code=201, json={"ok": True})
    httpx_mock.add_response(
        method="GET",
        json={"db_name": "corpus_q", "cluster": {"q": 4, "n": 1}, "props": {"partitioned": True}},
    )
    result = cli_offline(
        "db", "create", "corpus_q", "--q", "4", "--n", "1", "--partitioned",
        url="http://couch.test",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""  # everything asked was applied
    request = httpx_mock.get_requests()[0]
    assert request.method == "PUT"
    assert request.url.raw_path == b"/corpus_q?q=4&n=1&partitioned=true"


def test_create_says_what_was_not_applied(cli_offline: CliRun, httpx_mock: Any) -> None:
    httpx_mock.add_response(method="PUT", status_code=201, json={"ok": True})
    httpx_mock.add_response(
        method="GET", json={"db_name": "p", "cluster": {"q": 2, "n": 1}, "props": {}}
    )
    result = cli_offline(
        "db", "create", "p", "--q", "2", "--n", "3", "--partitioned", url="http://couch.test"
    )
    assert result.exit_code == 0, result.stderr
    assert "has n=1, not the n=3 asked (a single node keeps one copy)" in result.stderr
    assert "not partitioned" in result.stderr
    assert "q=" not in result.stderr


def test_list_uses_dbs_info_in_chunks(cli_offline: CliRun, httpx_mock: Any) -> None:
    from couchctl.client._server import DBS_INFO_CHUNK

    names = [f"db{i:03d}" for i in range(DBS_INFO_CHUNK + 1)]
    httpx_mock.add_response(url="http://couch.test/_all_dbs", json=names)
    for chunk in (names[:-1], names[-1:]):
        httpx_mock.add_response(
            url="http://couch.test/_dbs_info",
            method="POST",
            match_json={"keys": chunk},
            json=[{"key": n, "info": {"doc_count": 1, "doc_del_count": 0}} for n in chunk],
        )
    result = cli_offline("db", "list", "--jsonl", url="http://couch.test")
    assert result.exit_code == 0, result.stderr
    assert [entry["key"] for entry in result.jsonl()] == names


def test_list_falls_back_to_db_info(cli_offline: CliRun, httpx_mock: Any) -> None:
    httpx_mock.add_response(url="http://couch.test/_all_dbs", json=["a", "b"], is_reusable=True)
    httpx_mock.add_response(
        url="http://couch.test/_dbs_info",
        method="POST",
        status_code=404,
        json={"error": "not_found"},
        is_reusable=True,
    )
    httpx_mock.add_response(
        url="http://couch.test/a", json={"db_name": "a", "doc_count": 3}, is_reusable=True
    )
    httpx_mock.add_response(
        url="http://couch.test/b", status_code=404, json={"error": "not_found"}, is_reusable=True
    )
    result = cli_offline("db", "list", url="http://couch.test")
    assert result.exit_code == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    assert rows == [["name", "docs", "deleted", "active", "file"], ["a", "3"]]
    as_json = cli_offline("db", "list", "--json", url="http://couch.test")
    assert as_json.json() == [
        {"key": "a", "info": {"db_name": "a", "doc_count": 3}},
        {"key": "b", "error": "not_found"},
    ]
