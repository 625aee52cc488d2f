"""Single reads and writes (`doc get`, `db info`, `doc put`, `doc create`) through the fault proxy.

Reads are retried through every fault; a write is sent once: a PUT whose answer
is lost is not repeated blindly, and a POST of a new document without an id is
never repeated (the proxy's log shows what reached the server).
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest

from tests.conftest import CliRun, Server, run_couchctl
from tests.faults.conftest import all_docs, direct, put_docs
from tests.faults.proxy import FaultProxy

# A fault applied once to the next matching request, and whether a client
# retrying reads must ride it out.
READ_FAULTS: list[tuple[str, dict[str, Any]]] = [
    ("status", {"status": 503, "count": 2}),
    ("status", {"status": 429, "retry_after": "1"}),
    ("status", {"status": 502}),
    ("reset_before", {}),
    ("reset_mid_body", {}),
    ("truncate", {}),
    ("stall", {"seconds": 1.5}),
]


def fault_id(fault: tuple[str, dict[str, Any]]) -> str:
    action, options = fault
    return f"{action}-{options.get('status', '')}".rstrip("-")


@pytest.mark.parametrize("fault", READ_FAULTS, ids=fault_id)
def test_doc_get_rides_out(
    fault: tuple[str, dict[str, Any]],
    proxy: FaultProxy,
    proxy_url: str,
    cli: CliRun,
    server: Server,
    db: str,
) -> None:
    put_docs(server, db, [{"_id": "a", "n": 1}])
    action, options = fault
    rule = proxy.add(action, method="GET", path=f"^/{db}/a", **options)
    started = time.monotonic()
    result = cli("doc", "get", db, "a", "--json", url=proxy_url)
    assert result.exit_code == 0, result.stderr
    assert result.json()["n"] == 1
    assert rule.hits == options.get("count", 1)
    faulted = 1 if action == "stall" else rule.hits
    assert len(proxy.requests("GET", f"^/{db}/a")) == faulted + (action != "stall")
    if options.get("retry_after"):
        assert time.monotonic() - started >= 1.0  # Retry-After was honoured


@pytest.mark.parametrize("fault", READ_FAULTS, ids=fault_id)
def test_db_info_rides_out(
    fault: tuple[str, dict[str, Any]], proxy: FaultProxy, proxy_url: str, cli: CliRun, db: str
) -> None:
    action, options = fault
    rule = proxy.add(action, method="GET", path=f"^/{db}$", **options)
    result = cli("db", "info", db, "--json", url=proxy_url)
    assert result.exit_code == 0, result.stderr
    assert result.json()["db_name"] == db
    assert rule.hits == options.get("count", 1)


def test_read_gives_up_with_exit_8(proxy: FaultProxy, proxy_url: str, cli: CliRun, db: str) -> None:
    proxy.add("status", method="GET", path=f"^/{db}$", status=503, count=-1)
    result = cli("--retries", "2", "db", "info", db, url=proxy_url)
    assert result.exit_code == 8, result.stderr
    lines = result.stderr.splitlines()
    assert [line.split(",")[0] for line in lines[:2]] == ["couchctl: server answered 503"] * 2
    assert lines[2].startswith("couchctl: error: ")
    assert "Traceback" not in result.stderr
    assert len(proxy.requests("GET", f"^/{db}$")) == 3


def test_stall_past_timeout_is_exit_3(
    proxy: FaultProxy, proxy_url: str, cli: CliRun, db: str
) -> None:
    proxy.add("stall", method="GET", path=f"^/{db}$", seconds=3, count=-1)
    result = cli("--timeout", "0.5", "db", "info", db, url=proxy_url)
    assert result.exit_code == 3, result.stderr
    assert "timed out" in result.stderr


@pytest.mark.parametrize("action", ["reset_before", "reset_mid_body", "truncate"])
def test_doc_create_is_never_sent_twice(
    action: str, proxy: FaultProxy, proxy_url: str, cli: CliRun, server: Server, db: str
) -> None:
    proxy.add(action, method="POST", path=f"^/{db}$")
    result = cli("doc", "create", db, "--data", '{"kind": "once"}', url=proxy_url)
    assert result.exit_code == 3, result.stderr
    assert "Traceback" not in result.stderr
    assert len(proxy.requests("POST", f"^/{db}")) == 1
    # The server did write it, once: the client must not have written a second copy.
    assert [d["kind"] for d in all_docs(server, db)] == ["once"]


@pytest.mark.parametrize("status, code", [(503, 8), (429, 7), (502, 8)])
def test_doc_create_status_is_not_retried(
    status: int, code: int, proxy: FaultProxy, proxy_url: str, cli: CliRun, server: Server, db: str
) -> None:
    proxy.add("status", method="POST", path=f"^/{db}$", status=status)
    result = cli("doc", "create", db, "--data", '{"kind": "never"}', url=proxy_url)
    assert result.exit_code == code, result.stderr
    assert len(proxy.requests("POST", f"^/{db}")) == 1
    assert all_docs(server, db) == []


def test_doc_put_lost_answer_leaves_one_revision(
    proxy: FaultProxy, proxy_url: str, cli: CliRun, server: Server, db: str
) -> None:
    proxy.add("reset_before", method="PUT", path=f"^/{db}/p")
    result = cli("doc", "put", db, "p", "--data", '{"v": 1}', url=proxy_url)
    assert result.exit_code == 3, result.stderr
    assert len(proxy.requests("PUT", f"^/{db}/p")) == 1
    doc = direct(server, "GET", f"/{db}/p")
    assert doc["v"] == 1
    assert doc["_rev"].startswith("1-")


def test_doc_put_503_then_ok_on_the_next_run(
    proxy: FaultProxy, proxy_url: str, cli: CliRun, server: Server, db: str
) -> None:
    proxy.add("status", method="PUT", path=f"^/{db}/p", status=503)
    assert cli("doc", "put", db, "p", "--data", '{"v": 1}', url=proxy_url).exit_code == 8
    assert cli("doc", "put", db, "p", "--data", '{"v": 1}', url=proxy_url).exit_code == 0
    assert [d["v"] for d in all_docs(server, db)] == [1]
    assert len(proxy.requests("PUT", f"^/{db}/p")) == 2


def test_doc_put_too_large_is_exit_7(
    proxy: FaultProxy, proxy_url: str, cli: CliRun, server: Server, db: str
) -> None:
    proxy.add("too_large", method="PUT", limit=1000, count=-1)
    result = cli("doc", "put", db, "big", "--data", '{"blob": "%s"}' % ("x" * 5000), url=proxy_url)
    assert result.exit_code == 7, result.stderr
    assert "413" in result.stderr
    assert all_docs(server, db) == []


# -- the fast path (a subprocess: `doc get`/`db info --json` run without Typer, on the
# standard library's HTTP client, client/_plain.py) ------------------------------------------


@pytest.mark.parametrize("fault", READ_FAULTS, ids=fault_id)
def test_fast_path_rides_out(
    fault: tuple[str, dict[str, Any]], proxy: FaultProxy, proxy_url: str, server: Server, db: str
) -> None:
    put_docs(server, db, [{"_id": "a", "n": 1}])
    action, options = fault
    rule = proxy.add(action, method="GET", path=f"^/{db}/a", **options)
    result = run_couchctl("doc", "get", db, "a", "--json", url=proxy_url)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["n"] == 1
    assert rule.hits == options.get("count", 1)
    faulted = 1 if action == "stall" else rule.hits
    assert len(proxy.requests("GET", f"^/{db}/a")) == faulted + (action != "stall")


@pytest.mark.parametrize(
    "fault",
    [
        ("status", {"status": 503, "count": -1}),
        ("reset_before", {"count": -1}),
        ("truncate", {"count": -1}),
        ("stall", {"seconds": 3, "count": -1}),
    ],
    ids=fault_id,
)
def test_fast_path_fails_as_the_app_does(
    fault: tuple[str, dict[str, Any]], proxy: FaultProxy, proxy_url: str, cli: CliRun, db: str
) -> None:
    """Given up on: the same message and exit code on either path."""
    action, options = fault
    proxy.add(action, method="GET", path=f"^/{db}$", **options)
    args = ("--retries", "1", "--timeout", "0.5", "db", "info", db, "--json")
    fast = run_couchctl(*args, url=proxy_url)
    slow = cli(*args, url=proxy_url)
    assert slow.exit_code in (3, 8), slow.stderr
    assert "Traceback" not in fast.stderr.decode()
    # The retry notice says how long it waits (random jitter): compare without it.
    assert (fast.returncode, _without_delays(fast.stderr.decode())) == (
        slow.exit_code,
        _without_delays(slow.stderr),
    )
    assert fast.stdout == b""
    # Two attempts on each path; a request that timed out may have been processed,
    # so it is not sent again.
    assert len(proxy.requests("GET", f"^/{db}$")) == (2 if action == "stall" else 4)


def _without_delays(stderr: str) -> str:
    return re.sub(r"retrying in [0-9.]+ s", "retrying in N s", stderr)
