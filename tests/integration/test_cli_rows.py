"""Row commands for people: tables that stop at 100 rows with a footer, against the real server."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.conftest import CliRun, Server
from tests.integration._data import ok

HEADERS = {"Accept": "application/json"}
COUNT = 130  # documents, past the 100-row stop
DDOC = {
    "_id": "_design/rows",
    "views": {
        "by_n": {"map": "function (doc) { if (doc.n !== undefined) emit(doc.n, null); }"},
        "count": {
            "map": "function (doc) { if (doc.n !== undefined) emit(doc.n % 3, 1); }",
            "reduce": "_count",
        },
    },
}
HINT = "--limit N, --all, or --jsonl for everything"


@pytest.fixture
def many(server: Server, db: str) -> str:
    """A database of COUNT documents {"_id": "doc-NNN", "n": N} and the design document rows."""
    docs: list[dict[str, Any]] = [{"_id": f"doc-{n:03d}", "n": n} for n in range(COUNT)]
    response = httpx.post(
        f"{server.url}/{db}/_bulk_docs",
        json={"docs": [*docs, DDOC]},
        params=server.all_copies(db),
        headers=HEADERS,
    )
    assert response.status_code == 201, response.text
    return db


def body_lines(stdout: str) -> list[list[str]]:
    """The rows of a table (its header left out), split on runs of spaces."""
    return [line.split() for line in stdout.splitlines()[1:] if line.strip()]


def test_all_docs_stops_at_100_rows_with_a_footer(cli: CliRun, many: str) -> None:
    result = ok(cli("db", "all-docs", many))
    rows = body_lines(result.stdout)
    assert [row[0] for row in rows] == [DDOC["_id"]] + [f"doc-{n:03d}" for n in range(99)]
    assert result.stderr == f"100 of {COUNT + 1} rows: {HINT}\n"


def test_all_docs_all_limit_and_jsonl_give_more(cli: CliRun, many: str) -> None:
    everything = ok(cli("db", "all-docs", many, "--all"))
    assert len(body_lines(everything.stdout)) == COUNT + 1
    assert everything.stderr == f"{COUNT + 1} of {COUNT + 1} rows\n"
    limited = ok(cli("db", "all-docs", many, "--limit", "120"))
    assert len(body_lines(limited.stdout)) == 120
    assert limited.stderr == f"120 of {COUNT + 1} rows\n"
    assert len(ok(cli("db", "all-docs", many, "--jsonl")).jsonl()) == COUNT + 1
    assert len(ok(cli("db", "all-docs", many, "--json")).json()["rows"]) == COUNT + 1


def test_view_query_footer_has_total_rows_and_offset(cli: CliRun, many: str) -> None:
    capped = ok(cli("view", "query", many, "rows", "by_n"))
    assert len(body_lines(capped.stdout)) == 100
    assert capped.stderr == f"100 of {COUNT} rows, offset 0: {HINT}\n"


@pytest.mark.couchdb_only  # pouchdb-server answers offset 0 after a start key
def test_view_query_footer_offset_of_a_range(cli: CliRun, many: str) -> None:
    ranged = ok(cli("view", "query", many, "rows", "by_n", "--start-key", "120"))
    assert [row[1] for row in body_lines(ranged.stdout)] == [str(n) for n in range(120, COUNT)]
    assert ranged.stderr == f"{COUNT - 120} of {COUNT} rows, offset 120\n"


def test_view_query_limit_0_counts(cli: CliRun, many: str) -> None:
    result = ok(cli("view", "query", many, "rows", "by_n", "--limit", "0"))
    assert result.stdout == ""
    assert result.stderr == f"0 of {COUNT} rows, offset 0\n"


def test_reduce_table_has_no_id_column(cli: CliRun, many: str) -> None:
    result = ok(cli("view", "query", many, "rows", "count", "--group"))
    lines = [line.split() for line in result.stdout.splitlines()]
    assert lines[0] == ["key", "value"]
    counts = {int(key): int(value) for key, value in lines[1:]}
    assert counts == {r: len(range(r, COUNT, 3)) for r in range(3)}
    assert result.stderr == ""  # no total_rows for a reduce


def test_changes_stops_at_100_and_resumes_from_the_last_shown(cli: CliRun, many: str) -> None:
    capped = ok(cli("db", "changes", many))
    shown = body_lines(capped.stdout)
    assert len(shown) == 100
    last_seq, footer = capped.stderr.splitlines()
    assert footer.startswith("100 ") and footer.endswith(f": {HINT}")
    # The sequence said goes on after the rows shown: together every change, once.
    seq = last_seq.removeprefix("last_seq: ")
    rest = ok(cli("db", "changes", many, "--since", seq, "--jsonl")).jsonl()
    ids = [row[1] for row in shown]
    assert sorted(ids + [change["id"] for change in rest]) == sorted(
        [f"doc-{n:03d}" for n in range(COUNT)] + [DDOC["_id"]]
    )
    everything = ok(cli("db", "changes", many, "--all"))
    assert len(body_lines(everything.stdout)) == COUNT + 1
    assert re.fullmatch(r"last_seq: \S+\n", everything.stderr)


def test_find_query_stops_at_100_rows(cli: CliRun, many: str) -> None:
    selector = '{"n": {"$gte": 0}}'
    capped = ok(cli("find", "query", many, selector, "--fields", "_id,n"))
    assert len(body_lines(capped.stdout)) == 100
    assert "100 rows shown: --limit N, --all, or --all --jsonl" in capped.stderr
    everything = ok(cli("find", "query", many, selector, "--fields", "_id,n", "--all"))
    rows = body_lines(everything.stdout)
    assert sorted(int(row[1]) for row in rows) == list(range(COUNT))
    assert "rows shown" not in everything.stderr


def test_table_stops_reading_when_the_server_sends_more_than_asked(
    cli_offline: CliRun, httpx_mock: Any
) -> None:
    rows = [{"id": f"d{n:04d}", "key": f"d{n:04d}", "value": {"rev": "1-a"}} for n in range(500)]
    httpx_mock.add_response(json={"total_rows": 500, "offset": 0, "rows": rows})
    result = cli_offline("db", "all-docs", "corpus", url="http://couch.test")
    assert result.exit_code == 0, result.stderr
    assert len(body_lines(result.stdout)) == 100
    # Read up to the second row past the stop: the total that follows the rows is unknown.
    assert result.stderr == f"100 rows shown: {HINT}\n"
