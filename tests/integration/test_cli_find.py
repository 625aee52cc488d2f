"""`couchctl find query|explain|index-list|index-create|index-delete` against the real server."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from tests.conftest import CliRun, Server, eventually
from tests.integration import _data
from tests.integration._data import error, ok, table
from tests.integration.test_client_views import DOCS, HEADERS, make_index

seeded = _data.seeded  # shared fixtures: a database with the design document dd,
partitioned_db = _data.partitioned_db  # a partitioned database (CouchDB only)


def ids_of(kind: str) -> list[str]:
    return sorted(doc["_id"] for doc in DOCS if doc["type"] == kind)


NO_INDEX_WARNING = "couchctl: warning: No matching index found"


# -- find query --------------------------------------------------------------------------------


def test_query_table(cli: CliRun, seeded: str) -> None:
    result = ok(cli("find", "query", seeded, '{"type": "note"}'))
    lines = table(result)
    assert lines[0] == ["id", "type", "n", "title"]
    assert [line[0] for line in lines[1:]] == ids_of("note")
    assert NO_INDEX_WARNING in result.stderr


def test_query_fields_comma_list(cli: CliRun, seeded: str) -> None:
    result = ok(cli("find", "query", seeded, '{"type": "task"}', "--fields", "_id,n"))
    lines = table(result)
    assert lines[0] == ["id", "n"]
    by_id = {doc["_id"]: doc for doc in DOCS}
    assert [[doc_id, str(by_id[doc_id]["n"])] for doc_id in ids_of("task")] == lines[1:]


def test_query_json_is_the_whole_response(cli: CliRun, seeded: str) -> None:
    result = ok(
        cli("find", "query", seeded, '{"type": "task"}', "--fields", '["_id", "title"]', "--json")
    )
    body = result.json()
    assert [doc["_id"] for doc in body["docs"]] == ids_of("task")
    assert all(set(doc) == {"_id", "title"} for doc in body["docs"])
    assert body["warning"].startswith("No matching index")
    assert NO_INDEX_WARNING in result.stderr


def test_query_jsonl_one_doc_a_line(cli: CliRun, seeded: str) -> None:
    result = ok(cli("find", "query", seeded, '{"n": {"$gte": 0}}', "--jsonl"))
    lines = result.stdout.splitlines()
    assert len(lines) == len(DOCS)
    assert sorted(doc["_id"] for doc in result.jsonl()) == sorted(doc["_id"] for doc in DOCS)


def test_query_selector_from_file_and_stdin(cli: CliRun, seeded: str, tmp_path: Path) -> None:
    path = tmp_path / "selector.json"
    path.write_text('{"type": "memo"}', encoding="utf-8")
    from_file = ok(cli("find", "query", seeded, f"@{path}", "--jsonl"))
    from_stdin = ok(cli("find", "query", seeded, "-", "--jsonl", input='{"type": "memo"}'))
    assert [doc["_id"] for doc in from_file.jsonl()] == ids_of("memo")
    assert from_stdin.jsonl() == from_file.jsonl()


def test_query_sort_with_an_index(cli: CliRun, server: Server, seeded: str) -> None:
    make_index(server, seeded, {"index": {"fields": ["n"]}, "ddoc": "idx-n", "name": "by-n"})
    descending = ok(
        cli("find", "query", seeded, '{"n": {"$gt": 0}}', "--sort", "n:desc", "--jsonl")
    )
    assert [doc["n"] for doc in descending.jsonl()] == sorted(
        (doc["n"] for doc in DOCS), reverse=True
    )
    ascending = ok(
        cli(
            "find",
            "query",
            seeded,
            '{"n": {"$gt": 0}}',
            "--sort",
            '[{"n": "asc"}]',
            "--use-index",
            "idx-n",
            "--jsonl",
        )
    )
    assert [doc["n"] for doc in ascending.jsonl()] == sorted(doc["n"] for doc in DOCS)
    assert "warning" not in ascending.stderr


def test_query_limit_skip(cli: CliRun, seeded: str) -> None:
    result = ok(
        cli("find", "query", seeded, '{"type": "note"}', "--limit", "1", "--skip", "1", "--jsonl")
    )
    assert [doc["_id"] for doc in result.jsonl()] == ids_of("note")[1:2]


def test_query_read_flags(cli: CliRun, seeded: str) -> None:
    for flags in (
        ["--r", "1"],
        ["--update"],
        ["--no-update", "--stable"],
        ["--stale", "ok"],
        ["--conflicts"],
    ):
        result = ok(cli("find", "query", seeded, '{"type": "task"}', "--jsonl", *flags))
        assert [doc["_id"] for doc in result.jsonl()] == ids_of("task"), flags


def test_query_all_on_one_page(cli: CliRun, seeded: str) -> None:
    result = ok(cli("find", "query", seeded, '{"n": {"$gt": 0}}', "--all", "--jsonl"))
    assert sorted(doc["_id"] for doc in result.jsonl()) == sorted(doc["_id"] for doc in DOCS)
    assert "incomplete" not in result.stderr


@pytest.mark.couchdb_only
def test_query_all_follows_bookmarks(cli: CliRun, seeded: str) -> None:
    result = ok(
        cli("find", "query", seeded, '{"n": {"$gt": 0}}', "--all", "--limit", "2", "--jsonl")
    )
    assert sorted(doc["_id"] for doc in result.jsonl()) == sorted(doc["_id"] for doc in DOCS)
    assert "incomplete" not in result.stderr


@pytest.mark.couchdb_only
def test_query_bookmark_pages(cli: CliRun, seeded: str) -> None:
    first = ok(cli("find", "query", seeded, '{"type": "note"}', "--limit", "2", "--json")).json()
    second = ok(
        cli(
            "find",
            "query",
            seeded,
            '{"type": "note"}',
            "--limit",
            "2",
            "--bookmark",
            first["bookmark"],
            "--json",
        )
    ).json()
    seen = [doc["_id"] for doc in first["docs"]] + [doc["_id"] for doc in second["docs"]]
    assert seen == ids_of("note")
    human = ok(cli("find", "query", seeded, '{"type": "note"}', "--limit", "2"))
    assert f"--bookmark {first['bookmark']}" in human.stderr


@pytest.mark.couchdb_only
def test_query_execution_stats(cli: CliRun, seeded: str) -> None:
    result = ok(cli("find", "query", seeded, '{"type": "note"}', "--execution-stats"))
    assert f"results_returned={len(ids_of('note'))}" in result.stderr
    body = ok(
        cli("find", "query", seeded, '{"type": "note"}', "--execution-stats", "--json")
    ).json()
    assert body["execution_stats"]["results_returned"] == len(ids_of("note"))


@pytest.mark.couchdb_only
def test_query_unknown_index_warns(cli: CliRun, seeded: str) -> None:
    result = ok(cli("find", "query", seeded, '{"type": "task"}', "--use-index", '["nope", "x"]'))
    assert "couchctl: warning: _design/nope" in result.stderr


@pytest.mark.couchdb_only
def test_query_partition(cli: CliRun, server: Server, partitioned_db: str) -> None:
    name = partitioned_db
    docs = [{"_id": "p1:a", "n": 1}, {"_id": "p1:b", "n": 2}, {"_id": "p2:c", "n": 3}]
    response = httpx.post(
        f"{server.url}/{name}/_bulk_docs",
        json={"docs": docs},
        params=server.all_copies(name),
        headers=HEADERS,
    )
    assert response.status_code == 201
    result = ok(cli("find", "query", name, '{"n": {"$gt": 0}}', "--partition", "p1", "--jsonl"))
    assert [doc["_id"] for doc in result.jsonl()] == ["p1:a", "p1:b"]
    explained = ok(cli("find", "explain", name, '{"n": {"$gt": 0}}', "--partition", "p1", "--json"))
    assert explained.json()["opts"]["partition"] == "p1"


def test_query_no_match(cli: CliRun, seeded: str) -> None:
    result = ok(cli("find", "query", seeded, '{"type": "nothing"}'))
    assert result.stdout == ""
    assert "no documents" in result.stderr


# -- find query: errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["[1, 2]"], "SELECTOR must be a JSON object"),
        (["nope"], "SELECTOR is not valid JSON"),
        (['"type"'], "SELECTOR must be a JSON object"),
        (["@/nonexistent/selector.json"], "file not found"),
        (["{}", "--fields", '{"a": 1}'], "fields must be a JSON array"),
        (["{}", "--sort", '{"n": "asc"}'], "sort must be a JSON array"),
        (["{}", "--use-index", "[1]"], "use_index must be"),
        (["{}", "--fields", '["a", ""]'], "fields must be a JSON array of field names"),
        (["{}", "--all", "--json"], "--all"),
        (["{}", "--json", "--jsonl"], "cannot be used together"),
        (["{}", "--stale", "update_after"], "--stale"),
    ],
)
def test_query_bad_input_is_refused(
    cli: CliRun, seeded: str, args: list[str], fragment: str
) -> None:
    error(cli("find", "query", seeded, *args), 2, fragment)


def test_bad_selector_needs_no_server(cli_offline: CliRun) -> None:
    result = cli_offline("find", "query", "db", "[1]", url="http://127.0.0.1:9")
    error(result, 2, "SELECTOR")
    result = cli_offline("find", "explain", "db", "not json", url="http://127.0.0.1:9")
    error(result, 2, "SELECTOR")


def test_query_server_errors(cli: CliRun, server: Server, seeded: str) -> None:
    error(cli("find", "query", seeded, '{"n": {"$bogus": 1}}'), 7, "$bogus")
    error(cli("find", "query", server.new_db_name("missing"), "{}"), 4)


# -- find explain ------------------------------------------------------------------------------


def test_explain(cli: CliRun, seeded: str) -> None:
    body = ok(cli("find", "explain", seeded, '{"type": "note"}', "--limit", "3", "--json")).json()
    assert body["dbname"] == seeded
    assert body["index"]["name"] == "_all_docs"
    human = ok(cli("find", "explain", seeded, '{"type": "note"}'))
    summary = _fields(human.stdout)
    assert summary["index"] == "_all_docs (special)"
    assert summary["selector"] == json.dumps(body["selector"], separators=(",", ":"))
    assert "dbname" not in human.stdout  # a summary, not the whole answer


def _fields(stdout: str) -> dict[str, str]:
    """A field/value table as a dict (columns are two or more spaces apart)."""
    pairs = (re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in stdout.splitlines()[1:])
    return {pair[0]: pair[1] for pair in pairs}


@pytest.mark.couchdb_only
def test_explain_summary_of_an_index(cli: CliRun, seeded: str) -> None:
    ok(cli("find", "index-create", seeded, "type", "n", "--name", "type-n", "--ddoc", "idx"))
    human = ok(
        cli("find", "explain", seeded, '{"type": "note", "n": {"$gt": 0}}', "--fields", "_id,n")
    )
    summary = _fields(human.stdout)
    assert summary["index"] == "_design/idx/type-n (json)"
    assert summary["range"] == '["note",0] .. ["note","<MAX>"]'
    assert summary["fields"] == "_id, n"
    assert summary["covering"] in ("yes", "no")


@pytest.mark.couchdb_only
def test_explain_options(cli: CliRun, seeded: str) -> None:
    body = ok(
        cli(
            "find",
            "explain",
            seeded,
            '{"type": "note"}',
            "--fields",
            "_id",
            "--limit",
            "3",
            "--skip",
            "1",
            "--json",
        )
    ).json()
    assert (body["limit"], body["skip"], body["fields"]) == (3, 1, ["_id"])


# -- indexes ------------------------------------------------------------------------------------


def test_index_create_and_list(cli: CliRun, server: Server, seeded: str) -> None:
    created = ok(
        cli("find", "index-create", seeded, "type", "n", "--name", "type-n", "--ddoc", "idx")
    )
    assert created.stdout == "created index type-n in _design/idx\n"
    again = ok(
        cli(
            "find",
            "index-create",
            seeded,
            "type",
            "n",
            "--name",
            "type-n",
            "--ddoc",
            "_design/idx",
            "--json",
        )
    )
    assert again.json() == {"id": "_design/idx", "name": "type-n", "result": "exists"}
    assert (
        "already exists"
        in ok(
            cli("find", "index-create", seeded, "type", "n", "--name", "type-n", "--ddoc", "idx")
        ).stdout
    )

    server.read_repaired(seeded, "_design/idx")  # `_index` takes no `w`: on every copy
    listed = ok(cli("find", "index-list", seeded))
    lines = table(listed)
    assert lines[0][:4] == ["ddoc", "name", "type", "fields"]
    assert any(line[:5] == ["_design/idx", "type-n", "json", "type,", "n"] for line in lines)
    assert any(line[:3] == ["_all_docs", "special", "_id"] for line in lines)


def test_index_create_descending_and_default_names(
    cli: CliRun, server: Server, seeded: str
) -> None:
    body = ok(cli("find", "index-create", seeded, "n:desc", "--json")).json()
    assert body["result"] == "created"
    server.read_repaired(seeded, body["id"])  # `_index` takes no `w`: on every copy
    indexes = ok(cli("find", "index-list", seeded, "--json")).json()["indexes"]
    ours = next(index for index in indexes if index["ddoc"] == body["id"])
    assert ours["def"]["fields"] == [{"n": "desc"}]
    lines = ok(cli("find", "index-list", seeded, "--jsonl")).jsonl()
    assert lines == indexes


@pytest.mark.couchdb_only
def test_index_partial_filter_and_delete(cli: CliRun, seeded: str) -> None:
    ok(
        cli(
            "find",
            "index-create",
            seeded,
            "n",
            "--name",
            "notes",
            "--ddoc",
            "pidx",
            "--partial-filter",
            '{"type": "note"}',
        )
    )
    listed = eventually(
        lambda: cli("find", "index-list", seeded), lambda r: "partial filter" in r.stdout
    )
    assert "partial filter" in ok(listed).stdout
    deleted = ok(cli("find", "index-delete", seeded, "pidx", "notes"))
    assert deleted.stdout == "deleted index notes from _design/pidx\n"
    error(cli("find", "index-delete", seeded, "_design/pidx", "notes"), 4)


@pytest.mark.couchdb_only
def test_index_delete_json(cli: CliRun, seeded: str) -> None:
    ok(cli("find", "index-create", seeded, "n", "--name", "by-n", "--ddoc", "didx"))
    assert ok(cli("find", "index-delete", seeded, "_design/didx", "by-n", "--json")).json() == {
        "ok": True
    }


@pytest.mark.couchdb_only
def test_index_create_global_in_partitioned_db(
    cli: CliRun, server: Server, partitioned_db: str
) -> None:
    name = partitioned_db
    for flags in (
        ["n", "--name", "global-n", "--global"],
        ["type", "--name", "part-type", "--partitioned"],
    ):
        created = ok(cli("find", "index-create", name, *flags, "--json")).json()
        server.read_repaired(name, created["id"])  # `_index` takes no `w`: on every copy
    indexes = {
        index["name"]: index
        for index in ok(cli("find", "index-list", name, "--json")).json()["indexes"]
    }
    assert indexes["global-n"]["partitioned"] is False
    assert indexes["part-type"]["partitioned"] is True


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["n", "--partial-filter", "[1]"], "--partial-filter must be a JSON object"),
        (["n", "--partial-filter", "{"], "--partial-filter is not valid JSON"),
        (["n", "--json", "--jsonl"], "No such option"),
    ],
)
def test_index_create_bad_input(cli: CliRun, seeded: str, args: list[str], fragment: str) -> None:
    error(cli("find", "index-create", seeded, *args), 2, fragment)


def test_index_commands_on_a_missing_database(cli: CliRun, server: Server) -> None:
    missing = server.new_db_name("missing")
    error(cli("find", "index-list", missing), 4)
    error(cli("find", "index-create", missing, "n"), 4)


# -- help ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command", ["query", "explain", "index-list", "index-create", "index-delete"]
)
def test_help_has_an_example(cli_offline: CliRun, command: str) -> None:
    result = cli_offline("find", command, "--help")
    assert result.exit_code == 0
    assert f"Example: couchctl find {command}" in result.stdout


def test_query_help_lists_every_flag(cli_offline: CliRun) -> None:
    text = cli_offline("find", "query", "--help").stdout
    for flag in [
        "--fields",
        "--sort",
        "--limit",
        "--skip",
        "--bookmark",
        "--use-index",
        "--r",
        "--update",
        "--no-update",
        "--stable",
        "--stale",
        "--execution-stats",
        "--partition",
        "--all",
        "--json",
        "--jsonl",
    ]:
        assert flag in text, flag
