"""Across the groups: destructive commands confirm, row commands stream, shared flags agree."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import typer.core
import typer.main

from couchctl.cli._app import app
from tests.conftest import CliRun, Server
from tests.integration._data import UNREACHABLE, ok, refused, table

HEADERS = {"Accept": "application/json"}


def options(group: str, name: str) -> list[typer.core.TyperOption]:
    root = typer.main.get_command(app)
    assert isinstance(root, typer.core.TyperGroup)
    sub = root.commands[group]
    assert isinstance(sub, typer.core.TyperGroup)
    params = sub.commands[name].params
    return [param for param in params if isinstance(param, typer.core.TyperOption)]


def flags(group: str, name: str) -> set[str]:
    return {flag for option in options(group, name) for flag in option.opts + option.secondary_opts}


def options_by_flag(group: str, name: str) -> dict[str, typer.core.TyperOption]:
    return {option.opts[0]: option for option in options(group, name)}


# -- every destructive command: --yes, a question on a terminal ---------------------------------

# DESIGN.md section 6: db delete and bulk deletes ask on a terminal and need --yes elsewhere.
# Deleting one document, attachment or index does not ask: the revision is its safety, and
# scripts call these as `doc delete DB ID [--rev R]`. Only the winner of a conflicted
# document asks (another leaf becomes the winner): `doc delete` has --yes for that alone.
DESTRUCTIVE = [
    ("db", "delete"),
    ("db", "purge"),
    ("bulk", "docs"),
    ("bulk", "load"),
]


@pytest.mark.parametrize(("group", "name"), DESTRUCTIVE)
def test_destructive_commands_take_yes(group: str, name: str) -> None:
    assert {"--yes", "-y"} <= flags(group, name)


@pytest.mark.parametrize(("group", "name"), [("att", "delete"), ("find", "index-delete")])
def test_single_deletes_take_no_yes(group: str, name: str) -> None:
    assert not {"--yes", "-y"} & flags(group, name)


def put(server: Server, db: str, doc_id: str, doc: dict[str, Any]) -> str:
    response = httpx.put(f"{server.url}/{db}/{doc_id}", json=doc, headers=HEADERS)
    assert response.status_code == 201, response.text
    rev: str = response.json()["rev"]
    return rev


def status(server: Server, path: str) -> int:
    return httpx.get(f"{server.url}/{path}", headers=HEADERS).status_code


def test_doc_delete_in_a_script_deletes_without_asking(
    cli: CliRun, server: Server, db: str
) -> None:
    put(server, db, "d", {"v": 1})
    result = cli("doc", "delete", db, "d")  # stdin is not a terminal
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("deleted document d rev 1-")
    assert "[y/N]" not in result.stderr
    assert status(server, f"{db}/d") == 404


def test_att_delete_in_a_script_deletes_without_asking(
    cli: CliRun, server: Server, db: str
) -> None:
    put(
        server,
        db,
        "d",
        {"_attachments": {"a.txt": {"content_type": "text/plain", "data": "aGk="}}},
    )
    result = cli("att", "delete", db, "d", "a.txt")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("deleted attachment a.txt of d rev 2-")
    assert "[y/N]" not in result.stderr
    assert status(server, f"{db}/d/a.txt") == 404


# -- row commands: --json and --jsonl -----------------------------------------------------------

ROW_COMMANDS = [
    ("server", "tasks"),
    ("db", "list"),
    ("db", "all-docs"),
    ("db", "design-docs"),
    ("db", "changes"),
    ("att", "list"),
    ("view", "query"),
    ("view", "list"),
    ("find", "query"),
    ("find", "index-list"),
    ("bulk", "docs"),
    ("bulk", "get"),
]


@pytest.mark.parametrize(("group", "name"), ROW_COMMANDS)
def test_row_commands_take_json_and_jsonl(group: str, name: str) -> None:
    assert {"--json", "--jsonl"} <= flags(group, name)


@pytest.mark.parametrize(("group", "name"), ROW_COMMANDS)
def test_json_and_jsonl_together_exit_2(cli: CliRun, group: str, name: str) -> None:
    args = {"db": ["anydb"], "att": ["anydb", "doc"], "view": ["anydb"], "bulk": ["anydb"]}
    extra: dict[tuple[str, str], list[str]] = {
        ("db", "list"): [],
        ("view", "query"): ["anydb", "dd", "v"],
        ("find", "query"): ["anydb", "{}"],
        ("find", "index-list"): ["anydb"],
        ("bulk", "docs"): ["anydb", "-"],
        ("bulk", "get"): ["anydb", "doc-1"],
    }
    positional = extra.get((group, name), args.get(group, []))
    refused(
        cli(group, name, *positional, "--json", "--jsonl", url=UNREACHABLE, input="[]"),
        "--json and --jsonl cannot be used together",
    )


def test_bulk_docs_jsonl_one_result_a_line(cli: CliRun, db: str) -> None:
    result = ok(cli("bulk", "docs", db, "-", "--jsonl", input='[{"_id": "a"}, {"_id": "b"}]'))
    rows = result.jsonl()
    assert [row["id"] for row in rows] == ["a", "b"]
    assert all(row["rev"].startswith("1-") for row in rows)
    assert len(result.stdout.splitlines()) == 2


# -- the view-row query flags: one definition for all-docs, design-docs and view query ----------

SHARED_ROW_FLAGS = [
    "--key",
    "--keys",
    "--start-key",
    "--end-key",
    "--start-key-doc-id",
    "--end-key-doc-id",
    "--inclusive-end",
    "--descending",
    "--limit",
    "--skip",
    "--include-docs",
    "--conflicts",
    "--update-seq",
]
VIEW_ONLY_FLAGS = [
    "--attachments",
    "--att-encoding-info",
    "--group",
    "--group-level",
    "--reduce",
    "--sorted",
    "--stable",
    "--stale",
    "--update",
]


@pytest.mark.parametrize("flag", SHARED_ROW_FLAGS + VIEW_ONLY_FLAGS)
def test_all_docs_and_view_query_share_each_flag(flag: str) -> None:
    view = options_by_flag("view", "query")[flag]
    all_docs = options_by_flag("db", "all-docs")[flag]
    assert view.help == all_docs.help
    assert view.type.name == all_docs.type.name
    if flag in SHARED_ROW_FLAGS:
        assert options_by_flag("db", "design-docs")[flag].help == view.help


def test_all_docs_keeps_its_sort_alias() -> None:
    assert {"--sorted", "--no-sorted", "--sort", "--no-sort"} <= flags("db", "all-docs")


def test_all_docs_no_sort_alias_on_the_wire(cli_offline: CliRun, httpx_mock: Any) -> None:
    httpx_mock.add_response(
        url="http://couch.test/mydb/_all_docs?sorted=false",
        json={"total_rows": 0, "offset": 0, "rows": []},
    )
    result = cli_offline("db", "all-docs", "mydb", "--no-sort", "--json", url="http://couch.test")
    assert result.exit_code == 0, result.stderr
    assert result.json()["rows"] == []


@pytest.mark.parametrize(
    ("flags_", "query"),
    [
        (["--key", "null"], "key=null"),
        (["--start-key", '["a"]', "--end-key", '["a",{}]'], "startkey=%5B%22a%22%5D"),
        (["--update", "lazy", "--stale", "ok"], "update=lazy"),
        (["--update", "false"], "update=false"),
    ],
)
def test_view_query_json_flags_on_the_wire(
    cli_offline: CliRun, httpx_mock: Any, flags_: list[str], query: str
) -> None:
    httpx_mock.add_response(json={"total_rows": 0, "offset": 0, "rows": []})
    result = cli_offline(
        "view", "query", "mydb", "dd", "v", *flags_, "--json", url="http://couch.test"
    )
    assert result.exit_code == 0, result.stderr
    (request,) = httpx_mock.get_requests()
    assert request.url.path == "/mydb/_design/dd/_view/v"
    assert query in str(request.url.query, "ascii")


# -- info commands: one field/value table ------------------------------------------------------


def test_info_commands_print_a_field_value_table(cli: CliRun, server: Server, db: str) -> None:
    put(
        server,
        db,
        "d",
        {"_attachments": {"a.txt": {"content_type": "text/plain", "data": "aGk="}}},
    )
    for args in (["db", "info", db], ["att", "info", db, "d", "a.txt"], ["server", "info"]):
        assert table(ok(cli(*args)))[0] == ["field", "value"], args


def test_table_headers_are_lower_case(cli: CliRun, server: Server, db: str) -> None:
    put(
        server,
        db,
        "d",
        {"_attachments": {"a.txt": {"content_type": "text/plain", "data": "aGk="}}},
    )
    for args in (["att", "list", db, "d"], ["db", "list"], ["db", "all-docs", db]):
        header = table(ok(cli(*args)))[0]
        assert header == [word.lower() for word in header], args


def test_find_query_and_explain_share_the_body_flags() -> None:
    query = options_by_flag("find", "query")
    explain = options_by_flag("find", "explain")
    assert set(explain) - {"--json"} <= set(query)
    for flag, option in explain.items():
        assert option.help == query[flag].help, flag


# -- file arguments: one wording, exit 2 before any request -----------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["doc", "put", "mydb", "doc-1", "/nonexistent/doc.json"],
        ["doc", "create", "mydb", "/nonexistent/doc.json"],
        ["att", "upload", "mydb", "doc-1", "/nonexistent/doc.json"],
        ["bulk", "docs", "mydb", "/nonexistent/doc.json"],
        ["bulk", "load", "mydb", "/nonexistent/doc.json"],
        ["db", "security", "mydb", "--set", "/nonexistent/doc.json"],
    ],
)
def test_a_missing_file_is_named_the_same_everywhere(cli: CliRun, args: list[str]) -> None:
    refused(cli(*args, url=UNREACHABLE), "file not found: /nonexistent/doc.json")


@pytest.mark.parametrize(
    "args",
    [
        ["att", "upload", "mydb", "doc-1", "/"],
        ["bulk", "load", "mydb", "/"],
    ],
)
def test_a_directory_is_not_a_file(cli: CliRun, args: list[str]) -> None:
    refused(cli(*args, url=UNREACHABLE), "not a regular file: /")


def test_att_download_to_stdout_refuses_json(cli: CliRun) -> None:
    # stdout carries either the attachment's bytes or one JSON value, never both
    refused(
        cli("att", "download", "mydb", "doc-1", "a.txt", "-o", "-", "--json", url=UNREACHABLE),
        "-o - writes the attachment itself to stdout: drop --json",
    )
