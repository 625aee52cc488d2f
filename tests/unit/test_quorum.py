"""Writes a cluster accepted with fewer copies than the write quorum (202) are said,
and `w` / `r` reach the wire."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

from couchctl.client import CouchClient, InvalidArgument
from couchctl.client._base import quorum_missed
from tests.conftest import CliResult, _invoke
from tests.unit._wire import BASE, only_request, target_of

pytestmark = pytest.mark.anyio

SAVED = {"ok": True, "id": "d5", "rev": "1-967a00dff5e02add41819138abb3284d"}


@pytest.mark.parametrize(
    ("method", "url", "status", "missed"),
    [
        ("PUT", "/db/d5", 202, True),
        ("DELETE", "/db/d5?rev=1-a", 202, True),
        ("PUT", "/db", 202, True),
        ("POST", "/db/_bulk_docs", 202, True),
        ("PUT", "/db/d5/photo.jpg?rev=1-a", 202, True),
        ("COPY", "/db/d5", 202, True),
        ("PUT", "/db/d5", 201, False),
        ("PUT", "/db/d5?batch=ok", 202, False),  # batch mode is always 202
        ("POST", "/db/_compact", 202, False),  # queued work
        ("POST", "/db/_compact/ddoc", 202, False),
        ("POST", "/db/_view_cleanup", 202, False),
        ("POST", "/_replicate", 202, False),
        ("GET", "/db/d5", 202, False),
    ],
)
def test_which_202_is_a_missed_quorum(method: str, url: str, status: int, missed: bool) -> None:
    request = httpx.Request(method, BASE + url)
    assert quorum_missed(request, status) is missed


async def test_client_counts_missed_quorums(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=202, json=SAVED)
    httpx_mock.add_response(status_code=201, json=SAVED)
    httpx_mock.add_response(status_code=202, json={"ok": True})
    await couch.doc_create_or_update("db", "d5", {"v": 1})
    await couch.doc_create_or_update("db", "d6", {"v": 1})
    await couch.db_compact("db")
    assert couch.quorum_missed == 1


async def test_w_and_r_are_sent(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json=SAVED)
    await couch.doc_create_or_update("db", "d5", {"v": 1}, w=3)
    assert target_of(only_request(httpx_mock)) == ("/db/d5", ["w=3"])
    httpx_mock.reset()

    httpx_mock.add_response(json=SAVED)
    await couch.doc_delete("db", "d5", "1-a", w=2)
    assert target_of(only_request(httpx_mock)) == ("/db/d5", ["rev=1-a", "w=2"])
    httpx_mock.reset()

    httpx_mock.add_response(json={"_id": "d5", "_rev": "1-a"})
    await couch.doc_get("db", "d5", r=3)
    assert target_of(only_request(httpx_mock)) == ("/db/d5", ["r=3"])
    httpx_mock.reset()

    httpx_mock.add_response(status_code=201, json=[SAVED])
    await couch.db_bulk_docs("db", [{"_id": "d5"}], w=3)
    request = only_request(httpx_mock)
    assert target_of(request) == ("/db/_bulk_docs", ["w=3"])
    assert json.loads(request.content) == {"docs": [{"_id": "d5"}]}


@pytest.mark.parametrize("bad", [0, -1, True])
async def test_a_quorum_is_a_positive_count(
    couch: CouchClient, httpx_mock: HTTPXMock, bad: int
) -> None:
    with pytest.raises(InvalidArgument, match="w must be a whole number"):
        await couch.doc_create_or_update("db", "d5", {}, w=bad)
    assert httpx_mock.get_requests() == []


def _cli(*args: str) -> CliResult:
    return _invoke(list(args), BASE, None, {"COUCHDB_USER": "", "COUCHDB_PASSWORD": ""})


def test_cli_says_a_missed_quorum_and_still_exits_0(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=202, json=SAVED)
    result = _cli("doc", "put", "db", "d5", "--data", '{"v": 1}')
    assert result.exit_code == 0, result.stderr
    assert "saved" in result.stdout or "saved" in result.stderr
    warning = [line for line in result.stderr.splitlines() if "write quorum" in line]
    assert len(warning) == 1 and "degraded" in warning[0] and "202" in warning[0]


def test_cli_json_is_the_servers_body_unchanged(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=202, json=SAVED)
    result = _cli("doc", "put", "db", "d5", "--data", '{"v": 1}', "--json", "--w", "3")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == SAVED
    assert "write quorum" in result.stderr
    assert target_of(only_request(httpx_mock)) == ("/db/d5", ["w=3"])


def test_cli_says_nothing_for_a_full_quorum(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=201, json=SAVED)
    result = _cli("doc", "put", "db", "d5", "--data", '{"v": 1}')
    assert result.exit_code == 0, result.stderr
    assert "quorum" not in result.stderr


def test_cli_refuses_a_zero_quorum_before_sending(httpx_mock: HTTPXMock) -> None:
    result = _cli("doc", "put", "db", "d5", "--data", "{}", "--w", "0")
    assert result.exit_code == 2
    assert httpx_mock.get_requests() == []


def test_bulk_load_counts_batches_below_the_quorum(httpx_mock: HTTPXMock, tmp_path: Any) -> None:
    source = tmp_path / "docs.jsonl"
    source.write_text('{"_id": "a", "v": 1}\n{"_id": "b", "v": 2}\n')
    httpx_mock.add_response(  # the database's info, read before loading
        method="GET", json={"db_name": "db", "doc_count": 0}, is_optional=True, is_reusable=True
    )
    httpx_mock.add_response(
        method="POST",
        status_code=202,
        json=[{"ok": True, "id": "a", "rev": "1-x"}, {"ok": True, "id": "b", "rev": "1-y"}],
    )
    result = _cli("bulk", "load", "db", str(source), "--json", "--w", "3")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["written"] == 2 and summary["quorum_missed"] == 1
    assert "1 batches below the write quorum" in result.stderr
    posts = [r for r in httpx_mock.get_requests() if r.method == "POST"]
    assert [target_of(r) for r in posts] == [("/db/_bulk_docs", ["w=3"])]
