"""Helpers shared by the CLI integration tests: a seeded database and checks of a CLI result.

Import the `seeded` fixture by name (`from tests.integration._data import seeded`) so that
pytest finds it in the test module.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import CliResult, Server
from tests.integration.test_client_views import seed

UNREACHABLE = "http://127.0.0.1:9"  # a request there would exit 3, not 2
HEADERS = {"Accept": "application/json"}


def post_docs(server: Server, db: str, docs: list[dict[str, Any]]) -> list[Any]:
    """`_bulk_docs` straight to the server, on every copy of a cluster; the answers."""
    response = httpx.post(
        f"{server.url}/{db}/_bulk_docs",
        json={"docs": docs},
        params=server.all_copies(db),
        headers=HEADERS,
    )
    assert response.status_code == 201, response.text
    result: list[Any] = response.json()
    return result


@pytest.fixture
def seeded(server: Server, db: str) -> str:
    """A fresh database with the design document `dd` and the documents of test_client_views."""
    seed(server, db)
    return db


def table(result: CliResult) -> list[list[str]]:
    """The non-empty lines of a rendered table, split on runs of spaces."""
    return [line.split() for line in result.stdout.splitlines() if line.strip()]


def ok(result: CliResult) -> CliResult:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def one_error_line(stderr: str) -> str:
    """The single `couchctl: error: ...` line (an optional hint line may follow)."""
    lines = stderr.splitlines()
    assert lines, "nothing on stderr"
    assert lines[0].startswith("couchctl: error: "), stderr
    assert all(line.startswith("hint: ") for line in lines[1:]), stderr
    assert "Traceback" not in stderr
    return lines[0]


def error(result: CliResult, code: int, *fragments: str) -> None:
    """Exit `code`, nothing on stdout, an error line on stderr holding every fragment."""
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert result.stderr.startswith("couchctl: error: "), result.stderr
    for fragment in fragments:
        assert fragment in result.stderr


def refused(result: CliResult, message: str) -> None:
    """Bad input: exit 2, nothing on stdout, one error line holding `message`."""
    assert result.exit_code == 2
    assert result.stdout == ""
    assert message in one_error_line(result.stderr)


@pytest.fixture
def partitioned_db(server: Server) -> Iterator[str]:
    """A fresh partitioned database (CouchDB only), deleted after the test."""
    name = server.new_db_name("tp")
    response = httpx.put(f"{server.url}/{name}?partitioned=true", headers=HEADERS)
    assert response.status_code in (201, 202), response.text
    yield name
    httpx.delete(f"{server.url}/{name}", headers=HEADERS)
