"""Row streams (`db all-docs`, `view query`, `find query --all`, `db changes`) and
`bulk dump` through the fault proxy.

A fault before the first byte of an answer (429, 503, a reset, a stall) is
retried and the rows come out whole, once each. A fault in the middle of a
stream cannot be taken back from stdout: the command stops with exit 3 and the
rows it did write are the first rows of the answer, none twice.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CliRun, Server
from tests.faults.conftest import put_docs
from tests.faults.proxy import FaultProxy

COUNT = 300

COMMANDS: dict[str, tuple[list[str], str]] = {
    # name: (arguments after the database name is put in, the path regex of its request)
    "all-docs": (["db", "all-docs", "{db}", "--jsonl"], "/_all_docs"),
    "view": (["view", "query", "{db}", "dd", "by_n", "--jsonl"], "/_design/dd/_view/by_n"),
    "find": (["find", "query", "{db}", '{"n": {"$gte": 0}}', "--all", "--jsonl"], "/_find"),
    "changes": (["db", "changes", "{db}", "--jsonl"], "/_changes"),
}

BEFORE_FAULTS: list[tuple[str, dict[str, Any]]] = [
    ("status", {"status": 503, "count": 2}),
    ("status", {"status": 429, "retry_after": "0.5"}),
    ("reset_before", {}),
    ("stall", {"seconds": 1.0}),
]
MID_BODY_FAULTS = ["reset_mid_body", "truncate"]


@pytest.fixture
def loaded(server: Server, db: str) -> str:
    docs: list[dict[str, Any]] = [{"_id": f"d{i:05}", "n": i} for i in range(COUNT)]
    docs.append({"_id": "_design/dd", "views": {"by_n": {"map": "function(d){emit(d.n,null)}"}}})
    put_docs(server, db, docs)
    return db


def row_ids(name: str, rows: list[Any]) -> list[str]:
    if name == "find":
        return [r["_id"] for r in rows]
    return [r["id"] for r in rows if not r["id"].startswith("_design/")]


def args_for(name: str, db: str) -> list[str]:
    return [a.replace("{db}", db) for a in COMMANDS[name][0]]


EXPECTED = [f"d{i:05}" for i in range(COUNT)]


@pytest.mark.parametrize("name", list(COMMANDS))
@pytest.mark.parametrize(
    "fault", BEFORE_FAULTS, ids=lambda f: f"{f[0]}-{f[1].get('status', '')}".rstrip("-")
)
def test_fault_before_the_answer_is_retried(
    name: str,
    fault: tuple[str, dict[str, Any]],
    proxy: FaultProxy,
    proxy_url: str,
    cli: CliRun,
    loaded: str,
) -> None:
    action, options = fault
    rule = proxy.add(action, path=f"^/{loaded}{COMMANDS[name][1]}", **options)
    result = cli(*args_for(name, loaded), url=proxy_url)
    assert result.exit_code == 0, result.stderr
    ids = row_ids(name, result.jsonl())
    if name == "changes":
        ids.sort()  # the changes feed is in sequence order, not id order
    assert ids == EXPECTED
    assert rule.hits == options.get("count", 1)


@pytest.mark.parametrize("name", list(COMMANDS))
@pytest.mark.parametrize("action", MID_BODY_FAULTS)
def test_fault_mid_stream_stops_with_exit_3(
    name: str, action: str, proxy: FaultProxy, proxy_url: str, cli: CliRun, loaded: str
) -> None:
    rule = proxy.add(action, path=f"^/{loaded}{COMMANDS[name][1]}")
    result = cli(*args_for(name, loaded), url=proxy_url)
    assert result.exit_code == 3, result.stderr
    assert rule.hits == 1
    assert result.stderr.startswith("couchctl: error: cannot reach the server")
    assert "Traceback" not in result.stderr
    ids = row_ids(name, result.jsonl())
    assert len(ids) < COUNT
    assert len(set(ids)) == len(ids)
    if name != "changes":
        assert ids == EXPECTED[: len(ids)]


@pytest.mark.parametrize(
    "fault", BEFORE_FAULTS, ids=lambda f: f"{f[0]}-{f[1].get('status', '')}".rstrip("-")
)
def test_bulk_dump_rides_out(
    fault: tuple[str, dict[str, Any]],
    proxy: FaultProxy,
    proxy_url: str,
    cli: CliRun,
    loaded: str,
    tmp_path: Path,
) -> None:
    action, options = fault
    rule = proxy.add(action, path=f"^/{loaded}/_all_docs", **options)
    out = tmp_path / "dump.jsonl"
    result = cli("bulk", "dump", loaded, "-o", str(out), "--batch-size", "100", url=proxy_url)
    assert result.exit_code == 0, result.stderr
    docs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [d["_id"] for d in docs] == EXPECTED
    assert rule.hits == options.get("count", 1)


@pytest.mark.parametrize("action", MID_BODY_FAULTS)
def test_bulk_dump_cut_leaves_no_file(
    action: str, proxy: FaultProxy, proxy_url: str, cli: CliRun, loaded: str, tmp_path: Path
) -> None:
    proxy.add(action, path=f"^/{loaded}/_all_docs", count=-1)
    out = tmp_path / "dump.jsonl"
    result = cli("bulk", "dump", loaded, "-o", str(out), url=proxy_url)
    assert result.exit_code == 3, result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("concurrency", ["1", "4"])
@pytest.mark.parametrize("action", MID_BODY_FAULTS)
def test_bulk_dump_rides_out_a_cut_body(
    action: str,
    concurrency: str,
    proxy: FaultProxy,
    proxy_url: str,
    cli: CliRun,
    loaded: str,
    tmp_path: Path,
) -> None:
    # One stream (the default) resumes from the last id received; a range is read
    # whole before it is written, so a cut range is read again. Nothing is doubled.
    rule = proxy.add(action, path=f"^/{loaded}/_all_docs.*include_docs")
    out = tmp_path / "dump.jsonl"
    result = cli(
        "bulk", "dump", loaded, "-o", str(out), "--batch-size", "100",
        "--concurrency", concurrency, url=proxy_url,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert rule.hits == 1
    docs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [d["_id"] for d in docs] == EXPECTED
    requests = proxy.requests("GET", f"^/{loaded}/_all_docs.*include_docs")
    if concurrency == "1":  # one stream, asked again once (from where it was cut, or
        # from the start when no row had been handed on yet: tests/unit/test_dump_resume)
        assert len(requests) == 2
        assert "startkey" not in requests[0].target
