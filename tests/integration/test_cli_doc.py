"""`couchctl doc ...` against the real server: stdout, stderr and exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import CliRun, Server


def put_raw(server: Server, db: str, doc_id: str, doc: dict[str, Any]) -> str:
    from urllib.parse import quote

    response = httpx.put(
        f"{server.url}/{db}/{quote(doc_id, safe='')}",
        json=doc,
        params=server.all_copies(db),  # on every copy of a cluster
        headers={"Accept": "application/json"},
    )
    assert response.status_code in (201, 202), response.text
    rev: str = response.json()["rev"]
    return rev


def get_raw(server: Server, db: str, doc_id: str) -> httpx.Response:
    from urllib.parse import quote

    return httpx.get(
        f"{server.url}/{db}/{quote(doc_id, safe='')}", headers={"Accept": "application/json"}
    )


# -- get ---------------------------------------------------------------------------------------


def test_get_prints_the_document(cli: CliRun, server: Server, db: str) -> None:
    rev = put_raw(server, db, "a/b c+d", {"title": "hello", "n": 1})
    result = cli("doc", "get", db, "a/b c+d")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"_id": "a/b c+d", "_rev": rev, "title": "hello", "n": 1}
    assert result.stdout.startswith("{\n  ")  # indented for people
    assert result.stderr == ""


def test_get_json_is_one_compact_value(cli: CliRun, server: Server, db: str) -> None:
    put_raw(server, db, "d", {"n": 1})
    result = cli("doc", "get", db, "d", "--json")
    assert result.exit_code == 0
    assert result.stdout.count("\n") == 1
    assert result.json()["n"] == 1


def test_get_flags(cli: CliRun, server: Server, db: str) -> None:
    first = put_raw(server, db, "d", {"v": 1})
    second = put_raw(server, db, "d", {"v": 2, "_rev": first})
    assert cli("doc", "get", db, "d", "--rev", first, "--json").json()["v"] == 1
    revs = cli("doc", "get", db, "d", "--revs", "--json").json()["_revisions"]
    assert revs["start"] == 2
    info = cli("doc", "get", db, "d", "--revs-info", "--json").json()["_revs_info"]
    assert [i["rev"] for i in info] == [second, first]
    assert "_conflicts" not in cli("doc", "get", db, "d", "--conflicts", "--json").json()
    result = cli("doc", "get", db, "d", "--open-revs", "all", "--json")
    assert result.exit_code == 0
    assert [r["ok"]["_rev"] for r in result.json()] == [second]
    listed = cli("doc", "get", db, "d", "--open-revs", json.dumps([second, "9-" + "0" * 32]))
    assert listed.exit_code == 0, listed.stderr
    assert listed.json() == [
        {"ok": {"_id": "d", "_rev": second, "v": 2}},
        {"missing": "9-" + "0" * 32},
    ]


def test_get_attachments_inline(cli: CliRun, server: Server, db: str) -> None:
    rev = put_raw(server, db, "d", {"n": 1})
    httpx.put(
        f"{server.url}/{db}/d/a.txt?rev={rev}",
        content=b"hello\n",
        headers={"Content-Type": "text/plain"},
    )
    result = cli("doc", "get", db, "d", "--attachments", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["_attachments"]["a.txt"]["data"] == "aGVsbG8K"
    since = cli("doc", "get", db, "d", "--attachments", "--atts-since", json.dumps([rev]), "--json")
    assert since.exit_code == 0, since.stderr
    assert "a.txt" in since.json()["_attachments"]


def test_get_missing_exits_4(cli: CliRun, db: str) -> None:
    result = cli("doc", "get", db, "nope")
    assert result.exit_code == 4
    assert result.stdout == ""
    assert result.stderr.startswith("couchctl: error: GET /")
    assert "nope" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--open-revs", "[1, 2]"],
        ["--open-revs", "not json"],
        ["--atts-since", '"1-a"'],
    ],
)
def test_get_bad_json_flags_exit_2(cli: CliRun, db: str, args: list[str]) -> None:
    result = cli("doc", "get", db, "d", *args)
    assert result.exit_code == 2
    assert result.stderr.startswith("couchctl: error: ")


# -- put -----------------------------------------------------------------------------------


def test_put_from_file_stdin_and_data(cli: CliRun, server: Server, db: str, tmp_path: Path) -> None:
    path = tmp_path / "doc.json"
    path.write_text('{"from": "file"}', encoding="utf-8")
    result = cli("doc", "put", db, "d1", str(path))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("saved document d1 rev 1-")
    assert get_raw(server, db, "d1").json()["from"] == "file"

    result = cli("doc", "put", db, "d2", "-", input='{"from": "stdin"}')
    assert result.exit_code == 0, result.stderr
    assert get_raw(server, db, "d2").json()["from"] == "stdin"

    result = cli("doc", "put", db, "ünï ☃/x", "--data", '{"from": "data"}', "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["ok"] is True
    assert result.json()["id"] == "ünï ☃/x"
    assert get_raw(server, db, "ünï ☃/x").json()["from"] == "data"


def test_put_update_with_rev_and_stale_rev(cli: CliRun, server: Server, db: str) -> None:
    first = put_raw(server, db, "d", {"v": 1})
    ok = cli(
        "doc", "put", db, "d", "--data", '{"v": 2}', "--rev", first, "--json", *server.w_option(db)
    )
    assert ok.exit_code == 0, ok.stderr
    assert ok.json()["rev"].startswith("2-")
    stale = cli("doc", "put", db, "d", "--data", '{"v": 3}', "--rev", first)
    assert stale.exit_code == 5
    assert stale.stdout == ""
    assert "conflict" in stale.stderr
    assert stale.stderr.startswith("couchctl: error: PUT /")
    in_body = cli("doc", "put", db, "d", "--data", json.dumps({"v": 3, "_rev": first}))
    assert in_body.exit_code == 5


def test_put_no_new_edits(cli: CliRun, server: Server, db: str) -> None:
    result = cli(
        "doc",
        "put",
        db,
        "rep",
        "--data",
        '{"_rev": "3-' + "a" * 32 + '", "v": 1}',
        "--no-new-edits",
    )
    assert result.exit_code == 0, result.stderr
    assert get_raw(server, db, "rep").json()["_rev"] == "3-" + "a" * 32


def test_put_batch(cli: CliRun, server: Server, db: str) -> None:
    result = cli("doc", "put", db, "b", "--data", '{"v": 1}', "--batch", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["id"] == "b"


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["-"], "[1, 2, 3]", "must be a JSON object, got an array"),
        (["-"], '"text"', "must be a JSON object, got a string"),
        (["--data", "42"], None, "must be a JSON object, got a number"),
        (["-"], '{\n  "a": 1,\n  "b": \n}', "line 4 column 1"),
        (["--data", "{nope"], None, "not valid JSON"),
        ([], None, "no document given"),
        (["-", "--data", "{}"], "{}", "not both"),
    ],
)
def test_put_bad_input_exits_2_before_any_request(
    cli: CliRun, server: Server, db: str, args: list[str], stdin: str | None, message: str
) -> None:
    result = cli("doc", "put", db, "bad", *args, input=stdin)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("couchctl: error: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert get_raw(server, db, "bad").status_code == 404


def test_put_file_not_found_exits_2(cli: CliRun, db: str, tmp_path: Path) -> None:
    result = cli("doc", "put", db, "d", str(tmp_path / "missing.json"))
    assert result.exit_code == 2
    assert "file not found" in result.stderr
    assert "missing.json" in result.stderr


def test_put_file_not_json_names_line_and_column(cli: CliRun, db: str, tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "a": 1,\n  oops\n}\n', encoding="utf-8")
    result = cli("doc", "put", db, "d", str(path))
    assert result.exit_code == 2
    assert "broken.json" in result.stderr
    assert "line 3 column 3" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_put_attach_missing_file_exits_2_before_any_request(
    cli: CliRun, server: Server, db: str, tmp_path: Path
) -> None:
    result = cli("doc", "put", db, "d", "--data", "{}", "--attach", str(tmp_path / "nope.png"))
    assert result.exit_code == 2
    assert "file not found" in result.stderr
    assert get_raw(server, db, "d").status_code == 404


@pytest.mark.couchdb_only
def test_put_with_attachments_is_multipart(
    cli: CliRun, server: Server, db: str, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"one\ntwo\n")
    blob = tmp_path / "blob.bin"
    blob.write_bytes(bytes(range(256)))
    result = cli(
        "doc", "put", db, "mp", "--data", '{"n": 1}', "--attach", str(notes), "--attach", str(blob)
    )
    assert result.exit_code == 0, result.stderr
    stubs = get_raw(server, db, "mp").json()["_attachments"]
    assert stubs["notes.txt"]["content_type"] == "text/plain"
    assert stubs["notes.txt"]["length"] == 8
    assert stubs["blob.bin"]["length"] == 256
    raw = httpx.get(f"{server.url}/{db}/mp/blob.bin")
    assert raw.content == bytes(range(256))


# -- create ----------------------------------------------------------------------------------


def test_create(cli: CliRun, server: Server, db: str) -> None:
    result = cli("doc", "create", db, "--data", '{"type": "note"}')
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("created document ")
    new_id = result.stdout.split()[2]
    assert get_raw(server, db, new_id).json()["type"] == "note"
    as_json = cli("doc", "create", db, "-", "--json", input='{"_id": "named"}')
    assert as_json.exit_code == 0, as_json.stderr
    assert as_json.json()["id"] == "named"
    batch = cli("doc", "create", db, "--data", '{"_id": "b"}', "--batch", "--json")
    assert batch.exit_code == 0, batch.stderr
    assert batch.json()["ok"] is True


def test_create_refuses_a_non_object(cli: CliRun, db: str) -> None:
    result = cli("doc", "create", db, "--data", "[]")
    assert result.exit_code == 2
    assert "must be a JSON object" in result.stderr


# -- delete ----------------------------------------------------------------------------------


def test_delete_current_revision(cli: CliRun, server: Server, db: str) -> None:
    rev = put_raw(server, db, "a/b", {"v": 1})
    result = cli("doc", "delete", db, "a/b")
    assert result.exit_code == 0, result.stderr
    assert rev in result.stderr  # which revision was deleted
    assert result.stdout.startswith(f"deleted document a/b rev {rev}")
    assert get_raw(server, db, "a/b").status_code == 404


def test_delete_with_rev(cli: CliRun, server: Server, db: str) -> None:
    rev = put_raw(server, db, "d", {"v": 1})
    result = cli("doc", "delete", db, "d", "--rev", rev, "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["ok"] is True
    assert result.json()["rev"].startswith("2-")


@pytest.mark.couchdb_only
def test_delete_stale_rev_exits_5(cli: CliRun, server: Server, db: str) -> None:
    first = put_raw(server, db, "d", {"v": 1})
    put_raw(server, db, "d", {"v": 2, "_rev": first})
    result = cli("doc", "delete", db, "d", "--rev", first)
    assert result.exit_code == 5
    assert "conflict" in result.stderr


def test_delete_missing_exits_4(cli: CliRun, db: str) -> None:
    result = cli("doc", "delete", db, "nope")
    assert result.exit_code == 4
    assert result.stderr.startswith(f"couchctl: error: document nope in {db}: missing")


# -- exists ----------------------------------------------------------------------------------


def test_exists(cli: CliRun, server: Server, db: str) -> None:
    rev = put_raw(server, db, "a/b c+d", {"v": 1})
    result = cli("doc", "exists", db, "a/b c+d")
    assert (result.exit_code, result.stdout) == (0, rev + "\n")
    as_json = cli("doc", "exists", db, "a/b c+d", "--json")
    assert as_json.json() == {"id": "a/b c+d", "rev": rev, "exists": True}


def test_exists_local_document(cli: CliRun, server: Server, db: str) -> None:
    rev = put_raw(server, db, "_local/x", {"v": 1})
    result = cli("doc", "exists", db, "_local/x")
    assert (result.exit_code, result.stdout.strip()) == (0, rev)


def test_exists_missing(cli: CliRun, db: str) -> None:
    result = cli("doc", "exists", db, "nope")
    assert result.exit_code == 4
    assert result.stdout == ""
    assert "does not exist" in result.stderr
    as_json = cli("doc", "exists", db, "nope", "--json")
    assert as_json.exit_code == 4
    assert as_json.json() == {"id": "nope", "rev": None, "exists": False}


# -- copy ------------------------------------------------------------------------------------


def test_copy(cli: CliRun, server: Server, db: str) -> None:
    put_raw(server, db, "src", {"v": 1})
    result = cli("doc", "copy", db, "src", "dst")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("copied document src to dst")
    copied = get_raw(server, db, "dst").json()
    assert copied["v"] == 1
    again = cli("doc", "copy", db, "src", "dst")
    assert again.exit_code == 5
    overwrite = cli("doc", "copy", db, "src", "dst", "--destination-rev", copied["_rev"])
    assert overwrite.exit_code == 0, overwrite.stderr
    assert get_raw(server, db, "dst").json()["_rev"].startswith("2-")


def test_copy_older_revision(cli: CliRun, server: Server, db: str) -> None:
    first = put_raw(server, db, "src", {"v": 1})
    put_raw(server, db, "src", {"v": 2, "_rev": first})
    result = cli("doc", "copy", db, "src", "old", "--rev", first)
    assert result.exit_code == 0, result.stderr
    assert get_raw(server, db, "old").json()["v"] == 1


def test_copy_to_an_id_with_question_mark_exits_2(cli: CliRun, db: str) -> None:
    result = cli("doc", "copy", db, "src", "a?b")
    assert result.exit_code == 2
    assert "?rev=" in result.stderr


def test_copy_missing_source_exits_4(cli: CliRun, db: str) -> None:
    result = cli("doc", "copy", db, "nope", "dst")
    assert result.exit_code == 4


def test_every_command_has_help_with_an_example(cli_offline: CliRun) -> None:
    for command in ("get", "put", "create", "delete", "exists", "copy"):
        result = cli_offline("doc", command, "--help")
        assert result.exit_code == 0
        assert "Example: couchctl doc " + command in result.stdout
