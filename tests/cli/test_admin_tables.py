"""Tables of the control-plane commands, answered by recorded CouchDB 3.4.3 responses
on a mocked transport: the columns people read, and no secret in any of them."""

from __future__ import annotations

import pytest
from pytest_httpx import HTTPXMock

from tests.conftest import CliRun
from tests.unit._wire import BASE, answer

URL = "http://admin:pw@couch.test:5984"


def test_tasks_table_shows_progress_and_changes(cli_offline: CliRun, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "288-active-tasks-indexer", url=f"{BASE}/_active_tasks")
    result = cli_offline("server", "tasks", url=URL)
    assert result.exit_code == 0, result.stderr
    header = result.stdout.splitlines()[0].split()
    assert header[:5] == ["type", "database", "progress", "changes", "phase"]
    assert "404/20001" in result.stdout and "404/20000" in result.stdout
    assert "2%" in result.stdout
    assert "shards/80000000-ffffffff/corpus_big.1795792116 _design/big" in result.stdout


def test_repl_list_table(cli_offline: CliRun, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "264-scheduler-docs", url=f"{BASE}/_scheduler/docs")
    httpx_mock.add_response(
        url=f"{BASE}/_replicator/_all_docs",
        json={
            "total_rows": 1,
            "offset": 0,
            "rows": [{"id": "corpus-rep", "key": "corpus-rep", "value": {"rev": "1-a"}}],
        },
    )
    answer(httpx_mock, "266-scheduler-jobs", url=f"{BASE}/_scheduler/jobs")
    result = cli_offline("repl", "list", url=URL)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "id",
        "source",
        "target",
        "state",
        "docs",
        "written",
        "changes",
        "pending",
        "updated",
    ]
    row = lines[1].split()
    assert row[:4] == [
        "corpus-rep",
        "http://127.0.0.1:5984/corpus/",
        "http://127.0.0.1:5984/corpus_target2/",
        "running",
    ]
    assert row[4] == "30" and row[-1] == "2026-11-27T15:08:32Z"


def test_repl_list_json_masks_userinfo(cli_offline: CliRun, httpx_mock: HTTPXMock) -> None:
    body = {
        "total_rows": 1,
        "offset": 0,
        "docs": [
            {
                "database": "_replicator",
                "doc_id": "r",
                "source": "http://u:secret1@h/db",
                "target": {
                    "url": "http://h/t",
                    "auth": {"basic": {"username": "u", "password": "secret2"}},
                },
            }
        ],
    }
    httpx_mock.add_response(url=f"{BASE}/_scheduler/docs", json=body)
    httpx_mock.add_response(url=f"{BASE}/_replicator/_all_docs", json={"rows": [{"id": "r"}]})
    result = cli_offline("repl", "list", "--json", url=URL)
    assert result.exit_code == 0, result.stderr
    doc = result.json()["docs"][0]
    assert doc["source"] == "http://u:***@h/db"
    assert doc["target"] == {"url": "http://h/t", "auth": "[redacted]"}
    assert result.json()["total_rows"] == 1


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_user_info_hides_the_hash(
    cli_offline: CliRun, httpx_mock: HTTPXMock, json_flag: list[str]
) -> None:
    stored = {
        "_id": "org.couchdb.user:carol",
        "_rev": "1-a",
        "name": "carol",
        "type": "user",
        "roles": ["ops"],
        "password_scheme": "pbkdf2",
        "pbkdf2_prf": "sha256",
        "iterations": 600000,
        "salt": "SALTVALUE",
        "derived_key": "DERIVEDKEYVALUE",
    }
    httpx_mock.add_response(url=f"{BASE}/_users/org.couchdb.user%3Acarol", json=stored)
    result = cli_offline("user", "info", "carol", *json_flag, url=URL)
    assert result.exit_code == 0, result.stderr
    assert "carol" in result.stdout and "ops" in result.stdout
    for secret in ("SALTVALUE", "DERIVEDKEYVALUE", "600000", "pbkdf2", "salt", "derived_key"):
        assert secret not in result.stdout
