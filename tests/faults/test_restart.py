"""Riding out a server restart: refused and dropped connections are waited for.

The proxy plays the restart (`down`: the listening socket closed, every open
connection dropped, the port reopened after 5 s). A real restart is opt-in:
COUCHCTL_TEST_RESTART_CMD is a shell command that restarts the test server.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from couchctl.client import CouchClient
from tests.conftest import CliRun, Server, run_couchctl
from tests.faults.conftest import all_docs, put_docs
from tests.faults.proxy import FaultProxy

WAITING = re.compile(
    r"^couchctl: server unreachable \((connection refused|connection reset by the server)\), "
    r"retrying in \d+\.\d s \(attempt (\d) of (\d)\)$"
)


def total_wait(monkeypatch: pytest.MonkeyPatch, pick: int) -> float:
    """The sum of the default schedule's waits, each at the low (0) or high (1) end of its jitter."""
    monkeypatch.setattr("couchctl.client._base.random.uniform", lambda a, b: (a, b)[pick])
    client = CouchClient()
    return sum(client._delay(attempt, None) for attempt in range(client.retries))


def test_default_schedule_carries_a_10_s_restart(monkeypatch: pytest.MonkeyPatch) -> None:
    assert total_wait(monkeypatch, 0) >= 12.0
    # ... and a server that never comes back fails in reasonable time.
    assert total_wait(monkeypatch, 1) <= 20.0


def down_when(
    proxy: FaultProxy, seconds: float, method: str, path: str, after: int
) -> threading.Thread:
    """Take the proxy down once `after` requests matching method and path were seen."""

    def watch() -> None:
        deadline = time.monotonic() + 60
        while len(proxy.requests(method, path)) < after and time.monotonic() < deadline:
            time.sleep(0.01)
        proxy.down(seconds)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_doc_get_waits_for_the_server_and_says_so(
    proxy: FaultProxy, proxy_url: str, cli: CliRun, server: Server, db: str
) -> None:
    put_docs(server, db, [{"_id": "a", "n": 1}])
    proxy.down(5)
    started = time.monotonic()
    result = cli("doc", "get", db, "a", "--json", url=proxy_url)
    assert result.exit_code == 0, result.stderr
    assert result.json()["n"] == 1
    assert time.monotonic() - started >= 4.5
    lines = result.stderr.splitlines()
    assert lines, "no waiting message"
    matches = [WAITING.match(line) for line in lines]
    assert all(matches), result.stderr
    attempts = [int(m.group(2)) for m in matches if m]
    assert attempts == list(range(2, 2 + len(lines)))
    assert {m.group(3) for m in matches if m} == {"7"}


def test_unreachable_server_fails_with_exit_3_after_the_schedule(
    proxy: FaultProxy, proxy_url: str, cli: CliRun, db: str
) -> None:
    proxy.down(3600)
    result = cli("--retries", "2", "db", "info", db, url=proxy_url)
    assert result.exit_code == 3
    lines = result.stderr.splitlines()
    assert [bool(WAITING.match(line)) for line in lines[:2]] == [True, True], result.stderr
    assert lines[2].startswith("couchctl: error: cannot reach the server")


def test_refused_post_of_a_new_document_is_not_retried(
    proxy: FaultProxy, proxy_url: str, cli: CliRun, server: Server, db: str
) -> None:
    proxy.down(3600)
    result = cli("doc", "create", db, "--data", "{}", url=proxy_url)
    assert result.exit_code == 3
    assert not any(WAITING.match(line) for line in result.stderr.splitlines())
    assert all_docs(server, db) == []


def write_source(path: Path, count: int) -> Path:
    path.write_text(
        "".join(
            json.dumps(({"_id": f"r{i:06}"} if i % 2 else {}) | {"seq": i}) + "\n"
            for i in range(count)
        ),
        encoding="utf-8",
    )
    return path


def check_loaded(server: Server, db: str, count: int) -> None:
    docs = all_docs(server, db)
    seqs = Counter(d["seq"] for d in docs)
    assert len(docs) == count
    assert sorted(seqs) == list(range(count))


def test_bulk_load_rides_out_a_restart(
    proxy: FaultProxy, proxy_url: str, cli: CliRun, server: Server, db: str, tmp_path: Path
) -> None:
    count = 4000
    source = write_source(tmp_path / "docs.jsonl", count)
    # Slow each batch a little so that the restart falls in the middle of the load.
    proxy.add("stall", method="POST", path="/_bulk_docs", seconds=0.15, count=-1)
    watcher = down_when(proxy, 5, "POST", f"^/{db}/_bulk_docs", after=6)
    started = time.monotonic()
    result = cli(
        "bulk", "load", db, str(source), "--batch-size", "100", "--concurrency", "2",
        url=proxy_url,
    )  # fmt: skip
    watcher.join()
    assert result.exit_code == 0, result.stderr
    assert time.monotonic() - started >= 5
    assert "Traceback" not in result.stderr
    assert any(WAITING.match(line) for line in result.stderr.splitlines()), result.stderr
    assert list(tmp_path.iterdir()) == [source]  # no journal left behind
    check_loaded(server, db, count)


@pytest.mark.skipif(
    not os.environ.get("COUCHCTL_TEST_RESTART_CMD"),
    reason="opt-in: COUCHCTL_TEST_RESTART_CMD restarts the test server (a private one)",
)
def test_bulk_load_rides_out_a_real_restart(server: Server, db: str, tmp_path: Path) -> None:
    count = 50_000
    source = write_source(tmp_path / "docs.jsonl", count)
    load = subprocess.Popen(
        [
            sys.executable, "-m", "couchctl", "bulk", "load", db, str(source),
            "--batch-size", "500", "--concurrency", "2",
        ],
        env={**os.environ, "COUCH_URL": server.url, "NO_COLOR": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    time.sleep(1.0)
    subprocess.run(os.environ["COUCHCTL_TEST_RESTART_CMD"], shell=True, check=True, timeout=120)
    _, stderr = load.communicate(timeout=600)
    assert load.returncode == 0, stderr.decode()
    check_loaded(server, db, count)


def test_real_entry_point_says_it_waits(proxy: FaultProxy, proxy_url: str, db: str) -> None:
    proxy.down(2)
    result = run_couchctl("db", "info", db, "--json", url=proxy_url)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["db_name"] == db
    assert any(WAITING.match(line) for line in result.stderr.decode().splitlines())
