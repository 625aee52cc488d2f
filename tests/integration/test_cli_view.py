"""`couchctl view query|info|list` against the real server."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import CliRun, Server
from tests.integration import _data
from tests.integration._data import error, ok, table
from tests.integration.test_client_views import DDOC, DOCS, HEADERS, make_index, sorted_ids

seeded = _data.seeded  # shared fixtures: a database with the design document dd,
partitioned_db = _data.partitioned_db  # a partitioned database (CouchDB only)

# -- view query --------------------------------------------------------------------------------


def test_query_reduce_table(cli: CliRun, seeded: str) -> None:
    result = ok(cli("view", "query", seeded, "dd", "by_type"))
    assert table(result) == [["key", "value"], ["null", str(len(DOCS))]]
    assert result.stderr == ""


def test_query_group_level_json(cli: CliRun, seeded: str) -> None:
    result = ok(
        cli("view", "query", seeded, "_design/dd", "by_type", "--group-level", "1", "--json")
    )
    body = result.json()
    assert {row["key"][0]: row["value"] for row in body["rows"]} == dict(
        Counter(doc["type"] for doc in DOCS)
    )


def test_query_group_sum(cli: CliRun, seeded: str) -> None:
    result = ok(cli("view", "query", seeded, "dd", "sum_n", "--group", "--json"))
    expected: Counter[str] = Counter()
    for doc in DOCS:
        expected[doc["type"]] += doc["n"]
    assert {row["key"]: row["value"] for row in result.json()["rows"]} == dict(expected)


def test_query_map_rows_with_docs(cli: CliRun, seeded: str) -> None:
    result = ok(
        cli(
            "view",
            "query",
            seeded,
            "dd",
            "by_type",
            "--no-reduce",
            "--include-docs",
            "--limit",
            "2",
        )
    )
    lines = table(result)
    assert lines[0] == ["id", "key", "value", "doc"]
    first = sorted(DOCS, key=lambda doc: (doc["type"], doc["n"], doc["_id"]))[0]
    assert first["_id"] in result.stdout.splitlines()[1]
    assert f'"title":"{first["title"]}"' in result.stdout
    assert len(lines) == 3


def test_query_jsonl_streams_rows(cli: CliRun, seeded: str) -> None:
    result = ok(cli("view", "query", seeded, "dd", "ids", "--jsonl"))
    rows = result.jsonl()
    assert len(result.stdout.splitlines()) == len(DOCS)
    assert [row["id"] for row in rows] == sorted_ids()
    assert all(set(row) == {"id", "key", "value"} for row in rows)


def test_query_json_is_the_whole_response(cli: CliRun, seeded: str) -> None:
    body = ok(cli("view", "query", seeded, "dd", "ids", "--update-seq", "--json")).json()
    assert body["total_rows"] == len(DOCS)
    assert "update_seq" in body
    assert [row["id"] for row in body["rows"]] == sorted_ids()


def test_query_key_with_space_and_plus(cli: CliRun, seeded: str) -> None:
    result = ok(cli("view", "query", seeded, "dd", "ids", "--key", '"a b+c"', "--json"))
    assert [row["id"] for row in result.json()["rows"]] == ["a b+c"]


def test_query_keys_post_from_file_and_stdin(cli: CliRun, seeded: str, tmp_path: Path) -> None:
    keys = '[["note", 2], ["task", 4]]'
    path = tmp_path / "keys.json"
    path.write_text(keys, encoding="utf-8")
    from_file = ok(
        cli(
            "view", "query", seeded, "dd", "by_type", "--keys", f"@{path}", "--no-reduce", "--jsonl"
        )
    )
    from_stdin = ok(
        cli(
            "view",
            "query",
            seeded,
            "dd",
            "by_type",
            "--keys",
            "-",
            "--no-reduce",
            "--jsonl",
            input=keys,
        )
    )
    expected = sorted(
        doc["_id"] for doc in DOCS if [doc["type"], doc["n"]] in (["note", 2], ["task", 4])
    )
    assert sorted(row["id"] for row in from_file.jsonl()) == expected
    assert from_stdin.jsonl() == from_file.jsonl()


def test_query_keys_grouped(cli: CliRun, seeded: str) -> None:
    result = ok(
        cli(
            "view", "query", seeded, "dd", "by_type", "--keys", '[["note", 2]]', "--group", "--json"
        )
    )
    assert result.json()["rows"] == [{"key": ["note", 2], "value": 2}]


def test_query_range(cli: CliRun, seeded: str) -> None:
    result = ok(
        cli(
            "view",
            "query",
            seeded,
            "dd",
            "by_type",
            "--start-key",
            '["task"]',
            "--end-key",
            '["task", {}]',
            "--no-reduce",
            "--jsonl",
        )
    )
    assert sorted(row["id"] for row in result.jsonl()) == sorted(
        doc["_id"] for doc in DOCS if doc["type"] == "task"
    )


def test_query_doc_id_range_and_inclusive_end(cli: CliRun, seeded: str) -> None:
    ids = sorted_ids()
    inclusive = ok(
        cli(
            "view",
            "query",
            seeded,
            "dd",
            "ids",
            "--start-key",
            f'"{ids[1]}"',
            "--start-key-doc-id",
            ids[1],
            "--end-key",
            f'"{ids[3]}"',
            "--end-key-doc-id",
            ids[3],
            "--inclusive-end",
            "--jsonl",
        )
    )
    assert [row["id"] for row in inclusive.jsonl()] == ids[1:4]
    exclusive = ok(
        cli(
            "view",
            "query",
            seeded,
            "dd",
            "ids",
            "--start-key",
            f'"{ids[1]}"',
            "--end-key",
            f'"{ids[3]}"',
            "--no-inclusive-end",
            "--jsonl",
        )
    )
    assert [row["id"] for row in exclusive.jsonl()] == ids[1:3]


def test_query_descending_limit_skip(cli: CliRun, seeded: str) -> None:
    result = ok(
        cli(
            "view",
            "query",
            seeded,
            "dd",
            "ids",
            "--descending",
            "--limit",
            "2",
            "--skip",
            "1",
            "--jsonl",
        )
    )
    assert [row["id"] for row in result.jsonl()] == list(reversed(sorted_ids()))[1:3]


@pytest.mark.parametrize(
    "flags",
    [
        ["--stale", "ok"],
        ["--stale", "update_after"],
        ["--update", "lazy"],
        ["--update", "false", "--stable"],
        ["--update", "true"],
        ["--include-docs", "--conflicts", "--attachments", "--att-encoding-info"],
    ],
)
def test_query_index_and_doc_flags(
    cli: CliRun, server: Server, seeded: str, flags: list[str]
) -> None:
    ok(cli("view", "query", seeded, "dd", "ids", "--limit", "1"))  # build the index first
    result = ok(cli("view", "query", seeded, "dd", "ids", "--jsonl", *flags))
    ids = [row["id"] for row in result.jsonl()]
    if (
        flags[:2]
        in (
            ["--stale", "ok"],
            ["--stale", "update_after"],
            ["--update", "lazy"],
            ["--update", "false"],
        )
        and server.all_copies(seeded).get("w", "1") != "1"
    ):
        # A read that does not update answers from each shard copy's index as it is; on
        # a cluster those may be copies the first query did not bring up to date, so
        # CouchDB promises a subset in key order (test_client_views has the same).
        assert ids == [i for i in sorted_ids() if i in set(ids)]
    else:
        assert ids == sorted_ids()


@pytest.mark.couchdb_only
def test_query_unsorted(cli: CliRun, seeded: str) -> None:
    result = ok(cli("view", "query", seeded, "dd", "ids", "--no-sorted", "--jsonl"))
    assert sorted(row["id"] for row in result.jsonl()) == sorted_ids()
    ok(cli("view", "query", seeded, "dd", "ids", "--sorted", "--json"))


@pytest.mark.couchdb_only
def test_query_partition(cli: CliRun, server: Server, partitioned_db: str) -> None:
    name = partitioned_db
    docs = [
        {"_id": "p1:a", "n": 1},
        {"_id": "p2:b", "n": 2},
        {
            "_id": "_design/pdd",
            "views": {"by_n": {"map": "function (doc) { emit(doc.n, null); }"}},
        },
    ]
    response = httpx.post(
        f"{server.url}/{name}/_bulk_docs",
        json={"docs": docs},
        params=server.all_copies(name),
        headers=HEADERS,
    )
    assert response.status_code == 201
    result = ok(cli("view", "query", name, "pdd", "by_n", "--partition", "p1", "--jsonl"))
    assert [row["id"] for row in result.jsonl()] == ["p1:a"]
    error(cli("view", "query", name, "pdd", "by_n"), 7, "partition")


def test_query_empty_result(cli: CliRun, seeded: str) -> None:
    result = ok(cli("view", "query", seeded, "dd", "ids", "--key", '"nobody"'))
    assert result.stdout == ""
    assert re.fullmatch(r"0 of \d+ rows, offset \d+\n", result.stderr), result.stderr


# -- view query: errors ------------------------------------------------------------------------


def test_query_missing_view_and_ddoc(cli: CliRun, seeded: str) -> None:
    error(cli("view", "query", seeded, "dd", "nope"), 4, "/_design/dd/_view/nope")
    error(cli("view", "query", seeded, "nope", "v"), 4, "/_design/nope/_view/v")


def test_query_missing_database(cli: CliRun, server: Server) -> None:
    error(cli("view", "query", server.new_db_name("missing"), "dd", "v"), 4)


def test_query_include_docs_on_reduce_view(cli: CliRun, seeded: str) -> None:
    error(cli("view", "query", seeded, "dd", "by_type", "--include-docs"), 7, "include_docs")


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        (["--key", "note"], "--key is not valid JSON"),
        (["--start-key", "[1,"], "--start-key is not valid JSON"),
        (["--end-key", "{x}"], "--end-key is not valid JSON"),
        (["--keys", '{"a": 1}'], "--keys must be a JSON array"),
        (["--keys", "@/nonexistent/keys.json"], "file not found"),
        (["--key", '"a"', "--keys", '["a"]'], "cannot be used together"),
        (["--json", "--jsonl"], "cannot be used together"),
        (["--stale", "sometimes"], "--stale"),
        (["--update", "maybe"], "--update"),
        (["--limit", "-1"], "--limit"),
    ],
)
def test_query_bad_input_is_refused(
    cli: CliRun, seeded: str, flags: list[str], fragment: str
) -> None:
    error(cli("view", "query", seeded, "dd", "by_type", *flags), 2, fragment)


def test_query_bad_input_needs_no_server(cli_offline: CliRun) -> None:
    # Refused before any request: the unreachable URL is never tried.
    result = cli_offline(
        "view", "query", "db", "dd", "v", "--key", "note", url="http://127.0.0.1:9"
    )
    error(result, 2, "--key")


# -- view info ---------------------------------------------------------------------------------


@pytest.mark.couchdb_only
def test_info(cli: CliRun, seeded: str) -> None:
    ok(cli("view", "query", seeded, "dd", "ids", "--limit", "1"))  # build the index
    human = ok(cli("view", "info", seeded, "dd"))
    fields = {line[0] for line in table(human)}
    assert {"field", "name", "signature", "language", "updater_running"} <= fields
    body = ok(cli("view", "info", seeded, "_design/dd", "--json")).json()
    assert body["name"] == "dd"
    assert body["view_index"]["signature"] in human.stdout


@pytest.mark.couchdb_only
def test_info_missing_ddoc(cli: CliRun, seeded: str) -> None:
    error(cli("view", "info", seeded, "nope"), 4)


def test_info_missing_database(cli: CliRun, server: Server) -> None:
    error(cli("view", "info", server.new_db_name("missing"), "dd"), 4)


# -- view list ---------------------------------------------------------------------------------


def test_list(cli: CliRun, server: Server, seeded: str) -> None:
    make_index(server, seeded, {"index": {"fields": ["n"]}, "ddoc": "idx", "name": "by-n"})
    result = ok(cli("view", "list", seeded))
    lines = table(result)
    assert lines[0] == ["ddoc", "views", "language"]
    rows = {line[0]: line[1:] for line in lines[1:]}
    views = ", ".join(sorted(DDOC["views"])).split()
    assert rows["_design/dd"] == [*views, "javascript"]
    assert rows["_design/idx"] == ["by-n", "query"]


def test_list_json_and_jsonl(cli: CliRun, seeded: str) -> None:
    body = ok(cli("view", "list", seeded, "--json")).json()
    docs = [row["doc"] for row in body["rows"]]
    assert [doc["_id"] for doc in docs] == ["_design/dd"]
    assert docs[0]["views"] == DDOC["views"]
    lines = ok(cli("view", "list", seeded, "--jsonl")).jsonl()
    assert [line["id"] for line in lines] == ["_design/dd"]


def test_list_empty_and_missing(cli: CliRun, server: Server, db: str) -> None:
    empty = ok(cli("view", "list", db))
    assert empty.stdout == ""
    assert "no design documents" in empty.stderr
    error(cli("view", "list", server.new_db_name("missing")), 4)


# -- help ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["query", "info", "list"])
def test_help_has_an_example(cli_offline: CliRun, command: str) -> None:
    result = cli_offline("view", command, "--help")
    assert result.exit_code == 0
    assert f"Example: couchctl view {command}" in result.stdout


def test_query_help_lists_every_flag(cli_offline: CliRun) -> None:
    text = cli_offline("view", "query", "--help").stdout
    flags: Any = [
        "--key",
        "--keys",
        "--start-key",
        "--end-key",
        "--start-key-doc-id",
        "--end-key-doc-id",
        "--inclusive-end",
        "--no-inclusive-end",
        "--descending",
        "--group",
        "--group-level",
        "--reduce",
        "--no-reduce",
        "--include-docs",
        "--attachments",
        "--att-encoding-info",
        "--conflicts",
        "--limit",
        "--skip",
        "--sorted",
        "--no-sorted",
        "--stable",
        "--stale",
        "--update",
        "--update-seq",
        "--partition",
        "--json",
        "--jsonl",
    ]
    for flag in flags:
        assert flag in text, flag
