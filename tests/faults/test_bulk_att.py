"""`bulk load`, `att upload` and `att download` through the fault proxy.

bulk load: every batch has known ids (input `_id`s, or ids taken from /_uuids
before the batch is sent), so a batch whose answer was lost is retried after
checking which documents the server already has: every document is there
exactly once, checked on the server itself. att download: no partial file is
ever left under its final name.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CliRun, Server, eventually
from tests.faults.conftest import all_docs, direct, put_docs
from tests.faults.proxy import FaultProxy

COUNT = 400

BULK_FAULTS: list[tuple[str, dict[str, Any]]] = [
    ("status", {"status": 503, "count": 2}),
    ("status", {"status": 429, "retry_after": "0.5"}),
    ("status", {"status": 502}),
    ("reset_before", {"count": 2}),
    ("reset_mid_body", {}),
    ("truncate", {}),
    ("stall", {"seconds": 1.0}),
    ("too_large", {"limit": 6000, "count": -1}),
]


def fault_id(fault: tuple[str, dict[str, Any]]) -> str:
    return f"{fault[0]}-{fault[1].get('status', '')}".rstrip("-")


def input_docs() -> list[dict[str, Any]]:
    """Half with an _id, half without (the load takes ids from /_uuids for those)."""
    return [
        ({"_id": f"k{i:05}"} if i % 2 else {}) | {"seq": i, "pad": "x" * 40} for i in range(COUNT)
    ]


def check_exactly_once(server: Server, db: str) -> None:
    # The load's writes return once a quorum of copies has them: on a cluster, a read
    # straight after may meet a copy still catching up (fewer documents, never more),
    # so it is read again for a while until every document shows or the time is up.
    docs = eventually(lambda: all_docs(server, db), lambda docs: len(docs) >= COUNT)
    seqs = Counter(d["seq"] for d in docs)
    assert len(docs) == COUNT
    assert sorted(seqs) == list(range(COUNT))
    assert max(seqs.values()) == 1
    for doc in docs:
        if doc["seq"] % 2:
            assert doc["_id"] == f"k{doc['seq']:05}"


@pytest.mark.parametrize("fault", BULK_FAULTS, ids=fault_id)
def test_bulk_load_through_fault(
    fault: tuple[str, dict[str, Any]],
    proxy: FaultProxy,
    proxy_url: str,
    cli: CliRun,
    server: Server,
    db: str,
    tmp_path: Path,
) -> None:
    source = tmp_path / "docs.jsonl"
    source.write_text("".join(json.dumps(d) + "\n" for d in input_docs()), encoding="utf-8")
    action, options = fault
    rule = proxy.add(action, method="POST", path=f"^/{db}/_bulk_docs", **options)
    result = cli(
        "bulk", "load", db, str(source), "--batch-size", "100", "--concurrency", "2",
        url=proxy_url,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert rule.hits >= min(options.get("count", 1), 1)
    check_exactly_once(server, db)


def test_bulk_load_gives_up_with_exit_8_and_resumes(
    proxy: FaultProxy, proxy_url: str, cli: CliRun, server: Server, db: str, tmp_path: Path
) -> None:
    source = tmp_path / "docs.jsonl"
    source.write_text("".join(json.dumps(d) + "\n" for d in input_docs()), encoding="utf-8")
    proxy.add("status", method="POST", path=f"^/{db}/_bulk_docs", status=503, count=-1)
    failed = cli("bulk", "load", db, str(source), "--batch-size", "100", url=proxy_url)
    assert failed.exit_code == 8, failed.stderr
    proxy.clear()
    resumed = cli("bulk", "load", db, str(source), "--batch-size", "100", "--resume", url=proxy_url)
    assert resumed.exit_code == 0, resumed.stderr
    check_exactly_once(server, db)


PAYLOAD = bytes(range(256)) * 400  # 100 KiB, not text: stored as is


@pytest.mark.parametrize("action", ["reset_before", "reset_mid_body", "truncate"])
def test_att_upload_is_sent_once(
    action: str,
    proxy: FaultProxy,
    proxy_url: str,
    cli: CliRun,
    server: Server,
    db: str,
    tmp_path: Path,
) -> None:
    put_docs(server, db, [{"_id": "holder"}])
    source = tmp_path / "blob.bin"
    source.write_bytes(PAYLOAD)
    proxy.add(action, method="PUT", path=f"^/{db}/holder/blob.bin")
    result = cli("att", "upload", db, "holder", str(source), url=proxy_url)
    # The server applied the upload and its answer was lost on the way: couchctl finds
    # its own revision on the server and says so, instead of an outage or a conflict.
    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert len(proxy.requests("PUT", f"^/{db}/holder/blob.bin")) == 1
    doc = direct(server, "GET", f"/{db}/holder")
    assert doc["_rev"].startswith("2-")  # one upload, one new revision
    assert doc["_attachments"]["blob.bin"]["length"] == len(PAYLOAD)


@pytest.mark.parametrize("status, code", [(503, 8), (429, 7)])
def test_att_upload_status_is_reported(
    status: int,
    code: int,
    proxy: FaultProxy,
    proxy_url: str,
    cli: CliRun,
    server: Server,
    db: str,
    tmp_path: Path,
) -> None:
    put_docs(server, db, [{"_id": "holder"}])
    source = tmp_path / "blob.bin"
    source.write_bytes(PAYLOAD)
    proxy.add("status", method="PUT", path=f"^/{db}/holder/blob.bin", status=status)
    result = cli("att", "upload", db, "holder", str(source), url=proxy_url)
    assert result.exit_code == code, result.stderr
    assert direct(server, "GET", f"/{db}/holder")["_rev"].startswith("1-")


def test_att_upload_too_large_is_exit_7(
    proxy: FaultProxy, proxy_url: str, cli: CliRun, server: Server, db: str, tmp_path: Path
) -> None:
    put_docs(server, db, [{"_id": "holder"}])
    source = tmp_path / "blob.bin"
    source.write_bytes(PAYLOAD)
    proxy.add("too_large", method="PUT", limit=len(PAYLOAD) - 1)
    result = cli("att", "upload", db, "holder", str(source), url=proxy_url)
    assert result.exit_code == 7, result.stderr
    assert "413" in result.stderr


@pytest.fixture
def with_attachment(server: Server, db: str) -> str:
    import httpx

    rev = direct(server, "PUT", f"/{db}/holder", json={})["rev"]
    response = httpx.put(
        f"{server.url}/{db}/holder/blob.bin",
        params={"rev": rev},
        content=PAYLOAD,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 201, response.text
    return db


@pytest.mark.parametrize(
    "fault",
    [
        ("status", {"status": 503, "count": 2}),
        ("status", {"status": 429, "retry_after": "0.5"}),
        ("reset_before", {}),
        ("stall", {"seconds": 1.0}),
    ],
    ids=fault_id,
)
def test_att_download_rides_out(
    fault: tuple[str, dict[str, Any]],
    proxy: FaultProxy,
    proxy_url: str,
    cli: CliRun,
    with_attachment: str,
    tmp_path: Path,
) -> None:
    action, options = fault
    rule = proxy.add(action, method="GET", path=f"^/{with_attachment}/holder/blob.bin", **options)
    target = tmp_path / "out.bin"
    result = cli(
        "att", "download", with_attachment, "holder", "blob.bin", "-o", str(target), url=proxy_url
    )
    assert result.exit_code == 0, result.stderr
    assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(PAYLOAD).digest()
    assert rule.hits == options.get("count", 1)
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


@pytest.mark.parametrize("action", ["reset_mid_body", "truncate"])
def test_att_download_cut_leaves_no_file(
    action: str,
    proxy: FaultProxy,
    proxy_url: str,
    cli: CliRun,
    with_attachment: str,
    tmp_path: Path,
) -> None:
    proxy.add(action, method="GET", path=f"^/{with_attachment}/holder/blob.bin", count=-1)
    target = tmp_path / "out.bin"
    result = cli(
        "att", "download", with_attachment, "holder", "blob.bin", "-o", str(target), url=proxy_url
    )
    assert result.exit_code == 3, result.stderr
    assert "Traceback" not in result.stderr
    assert not target.exists()
