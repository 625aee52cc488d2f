"""`db backup` and `db restore` through the fault proxy: every document comes back
once, and no archive is left under its final name by a failed backup."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import CliRun, Server
from tests.faults.conftest import JSON, all_docs, put_docs
from tests.faults.proxy import FaultProxy

COUNT = 200
FAULTS: list[tuple[str, dict[str, Any]]] = [
    ("status", {"status": 503, "count": 2}),
    ("status", {"status": 429, "retry_after": "0.5"}),
    ("reset_before", {}),
    ("stall", {"seconds": 1.0}),
]
MID_BODY = ["reset_mid_body", "truncate"]


def fault_id(fault: tuple[str, dict[str, Any]]) -> str:
    return f"{fault[0]}-{fault[1].get('status', '')}".rstrip("-")


@pytest.fixture
def source(server: Server, db: str) -> str:
    put_docs(server, db, [{"_id": f"b{i:04}", "n": i} for i in range(COUNT)])
    return db


@pytest.fixture
def target(server: Server) -> Iterator[str]:
    name = server.new_db_name("restore")
    yield name
    httpx.delete(f"{server.url}/{name}", headers=JSON)


@pytest.mark.parametrize("fault", FAULTS, ids=fault_id)
def test_backup_then_restore_through_faults(
    fault: tuple[str, dict[str, Any]],
    proxy: FaultProxy,
    proxy_url: str,
    cli: CliRun,
    server: Server,
    source: str,
    target: str,
    tmp_path: Path,
) -> None:
    action, options = fault
    archive = tmp_path / "backup.jsonl"
    # The fault hits the first request that reads documents, then the first that writes.
    read = proxy.add(action, method=None, path=f"^/{source}/_(all_docs|changes)", **options)
    result = cli("db", "backup", source, "-o", str(archive), url=proxy_url)
    assert result.exit_code == 0, result.stderr
    assert read.hits >= 1
    write = proxy.add(action, method="POST", path=f"^/{target}/_bulk_docs", **options)
    result = cli("db", "restore", target, str(archive), url=proxy_url)
    assert result.exit_code == 0, result.stderr
    assert write.hits >= 1
    restored = {d["_id"]: (d["n"], d["_rev"]) for d in all_docs(server, target)}
    original = {d["_id"]: (d["n"], d["_rev"]) for d in all_docs(server, source)}
    assert restored == original
    assert len(restored) == COUNT


@pytest.mark.parametrize("action", MID_BODY)
def test_backup_rides_out_a_cut_listing(
    action: str,
    proxy: FaultProxy,
    proxy_url: str,
    cli: CliRun,
    server: Server,
    source: str,
    target: str,
    tmp_path: Path,
) -> None:
    # The listing of a full backup (`_all_docs`) cut in the middle is asked again from
    # the last id received (or from the start when none was handed on): the archive
    # is whole, nothing in it twice.
    rule = proxy.add(action, path=f"^/{source}/_all_docs")
    archive = tmp_path / "backup.jsonl"
    result = cli("db", "backup", source, "-o", str(archive), url=proxy_url)
    assert result.exit_code == 0, result.stderr
    assert rule.hits == 1
    assert len(proxy.requests("GET", f"^/{source}/_all_docs")) == 2
    restored = cli("db", "restore", target, str(archive))
    assert restored.exit_code == 0, restored.stderr
    assert sorted(d["_id"] for d in all_docs(server, target)) == [f"b{i:04}" for i in range(COUNT)]


@pytest.mark.parametrize("action", MID_BODY)
def test_backup_cut_mid_body_leaves_no_archive(
    action: str, proxy: FaultProxy, proxy_url: str, cli: CliRun, source: str, tmp_path: Path
) -> None:
    # A backup whose reads are cut every time gives up: exit 3, and nothing under the
    # archive's name; the next run makes the whole archive.
    proxy.add(action, path=f"^/{source}/_(all_docs|changes)", count=-1)
    archive = tmp_path / "backup.jsonl"
    result = cli("db", "backup", source, "-o", str(archive), "--retries", "1", url=proxy_url)
    assert result.exit_code == 3, result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []
    proxy.clear()
    again = cli("db", "backup", source, "-o", str(archive), url=proxy_url)
    assert again.exit_code == 0, again.stderr
    assert archive.exists()


@pytest.mark.parametrize("action", MID_BODY)
def test_restore_rides_out_a_cut_answer(
    action: str,
    proxy: FaultProxy,
    proxy_url: str,
    cli: CliRun,
    server: Server,
    source: str,
    target: str,
    tmp_path: Path,
) -> None:
    archive = tmp_path / "backup.jsonl"
    assert cli("db", "backup", source, "-o", str(archive), url=proxy_url).exit_code == 0
    write = proxy.add(action, method="POST", path=f"^/{target}/_bulk_docs")
    result = cli("db", "restore", target, str(archive), url=proxy_url)
    assert result.exit_code == 0, result.stderr
    assert write.hits == 1
    restored = sorted(d["n"] for d in all_docs(server, target))
    assert restored == list(range(COUNT))
