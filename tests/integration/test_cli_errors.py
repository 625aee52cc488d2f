"""Failures through the CLI: one line on stderr, the exit code of DESIGN section 5,
no traceback unless --debug."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.conftest import CliRun, Server, run_couchctl
from tests.standin import free_port


def closed_url() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nothing listens there


def assert_one_error_line(stderr: str, starts: str) -> None:
    lines = stderr.splitlines()
    assert lines, "nothing on stderr"
    assert lines[0].startswith(starts), stderr
    assert all(not line.startswith("couchctl: error:") for line in lines[1:]), stderr
    assert all(line.startswith("hint: ") for line in lines[1:]), stderr
    assert "Traceback" not in stderr


def test_server_down(cli_offline: CliRun) -> None:
    url = closed_url()
    result = cli_offline("--retries", "0", "server", "info", url=url)
    assert result.exit_code == 3
    assert result.stdout == ""
    assert_one_error_line(result.stderr, f"couchctl: error: cannot reach the server at {url}: ")
    assert "connection refused" in result.stderr.splitlines()[0]


def test_server_down_real_entry_point() -> None:
    url = closed_url()
    result = run_couchctl("--retries", "0", "db", "info", "somedb", url=url)
    assert result.returncode == 3
    assert result.stdout == b""
    assert_one_error_line(result.stderr.decode(), "couchctl: error: cannot reach the server")


def test_server_down_with_debug_shows_the_traceback(cli_offline: CliRun) -> None:
    result = cli_offline("--debug", "--retries", "0", "server", "info", url=closed_url())
    assert result.exit_code == 3
    assert "Traceback (most recent call last)" in result.stderr
    assert "ConnectionFailed" in result.stderr
    error_lines = [
        line for line in result.stderr.splitlines() if line.startswith("couchctl: error:")
    ]
    assert len(error_lines) == 1


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A socket that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in accepted:
            conn.close()
        listener.close()


def test_timeout(cli_offline: CliRun, silent_server: str) -> None:
    started = time.monotonic()
    result = cli_offline("--timeout", "0.5", "server", "info", url=silent_server)
    elapsed = time.monotonic() - started
    assert result.exit_code == 3
    assert_one_error_line(
        result.stderr, f"couchctl: error: cannot reach the server at {silent_server}"
    )
    assert "timed out" in result.stderr
    assert elapsed < 10


def test_timeout_from_the_environment(cli_offline: CliRun, silent_server: str) -> None:
    result = cli_offline("server", "info", url=silent_server, env={"COUCHCTL_TIMEOUT": "0.3"})
    assert result.exit_code == 3
    assert "timed out" in result.stderr


class _Flaky(BaseHTTPRequestHandler):
    """Answers 503 (Retry-After: 0) to the first `failures` requests, then 200."""

    failures = 0
    seen: list[str]

    def do_GET(self) -> None:
        self.seen.append(self.path)
        if len(self.seen) <= self.failures:
            body = b'{"error":"service_unavailable","reason":"try later"}'
            self.send_response(503)
            self.send_header("Retry-After", "0")
        else:
            body = b'{"couchdb":"Welcome","version":"3.4.3"}'
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def flaky_server(failures: int) -> tuple[ThreadingHTTPServer, list[str]]:
    seen: list[str] = []
    handler = type("Handler", (_Flaky,), {"failures": failures, "seen": seen})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, seen


def test_503_is_retried_then_succeeds(cli_offline: CliRun) -> None:
    httpd, seen = flaky_server(failures=2)
    try:
        result = cli_offline(
            "server", "info", "--json", url=f"http://127.0.0.1:{httpd.server_port}"
        )
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert result.exit_code == 0, result.stderr
    assert result.json()["version"] == "3.4.3"
    assert seen == ["/", "/", "/"]


def test_server_error_after_retries_exits_8(cli_offline: CliRun) -> None:
    httpd, seen = flaky_server(failures=100)
    try:
        result = cli_offline(
            "--retries", "3", "server", "info", url=f"http://127.0.0.1:{httpd.server_port}"
        )
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert result.exit_code == 8
    waits = result.stderr.splitlines()[:3]
    assert [w.split(", retrying in ")[0] for w in waits] == ["couchctl: server answered 503"] * 3
    assert_one_error_line(
        "\n".join(result.stderr.splitlines()[3:]),
        "couchctl: error: GET /: try later (503 service_unavailable)",
    )
    assert len(seen) == 4  # the first try and 3 retries


def test_not_found_exits_4(cli: CliRun, server: Server) -> None:
    name = server.new_db_name("missing")
    result = cli("db", "info", name)
    assert result.exit_code == 4
    assert result.stdout == ""
    assert_one_error_line(result.stderr, "couchctl: error: ")
    assert "404" in result.stderr


def test_existing_database_exits_5(cli: CliRun, db: str) -> None:
    result = cli("db", "create", db)
    assert result.exit_code == 5
    assert_one_error_line(result.stderr, "couchctl: error: ")
    assert "412" in result.stderr


def test_bad_flag_is_a_one_line_usage_error(cli_offline: CliRun) -> None:
    result = cli_offline("server", "info", "--no-such-flag")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert_one_error_line(result.stderr, "couchctl: error: No such option: --no-such-flag")


def test_missing_argument_is_a_usage_error(cli_offline: CliRun) -> None:
    result = cli_offline("db", "info")
    assert result.exit_code == 2
    assert_one_error_line(result.stderr, "couchctl: error: Missing argument")


def test_bad_input_is_refused_before_any_request(cli_offline: CliRun) -> None:
    # The URL points nowhere: exit 2 (not 3) proves that no request was tried.
    result = cli_offline("db", "create", "Bad Name", url=closed_url())
    assert result.exit_code == 2
    assert_one_error_line(result.stderr, "couchctl: error: ")
    assert "database name" in result.stderr
    result = cli_offline("doc", "create", "db", "--data", "{not json", url=closed_url())
    assert result.exit_code == 2
    assert_one_error_line(result.stderr, "couchctl: error: ")


def test_bad_url_is_a_usage_error_and_hides_the_password(cli_offline: CliRun) -> None:
    result = cli_offline("--url", "ftp://admin:hunter2@host", "server", "info")
    assert result.exit_code == 2
    assert_one_error_line(result.stderr, "couchctl: error: the server URL must start with http")
    assert "hunter2" not in result.stderr


def test_unknown_profile_is_a_usage_error(cli_offline: CliRun) -> None:
    result = cli_offline("--profile", "nope", "server", "info")
    assert result.exit_code == 2
    assert_one_error_line(result.stderr, "couchctl: error: profile 'nope' not found")


@pytest.mark.parametrize(
    "command",
    [
        ["db", "all-docs", "{db}", "--include-docs", "--jsonl"],
        # written 10 documents at a time: the pipe closes in the middle
        ["bulk", "dump", "{db}", "-o", "-", "--batch-size", "10"],  # one stream
        ["bulk", "dump", "{db}", "-o", "-", "--batch-size", "10", "--concurrency", "4"],
    ],
)
def test_reader_going_away_is_quiet(command: list[str], server: Server, db: str) -> None:
    docs = [{"_id": f"d{i:05d}", "pad": "x" * 100} for i in range(2000)]
    response = httpx.post(f"{server.url}/{db}/_bulk_docs", json={"docs": docs}, timeout=60)
    assert response.status_code == 201
    # `couchctl db all-docs DB --include-docs --jsonl | head -1`, and the like
    process = subprocess.Popen(
        [sys.executable, "-m", "couchctl", *(word.format(db=db) for word in command)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "COUCH_URL": server.url, "NO_COLOR": "1"},
    )
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()
    stderr = process.stderr.read().decode()
    process.wait(timeout=60)
    line = json.loads(first)  # a row (all-docs) or a document (dump)
    assert line.get("id", line.get("_id")) == "d00000"
    assert stderr == ""  # no traceback, no "error while closing an async generator"
    assert process.returncode == 1


def test_unknown_command_suggests_the_nearest(cli_offline: CliRun) -> None:
    result = cli_offline("dbb", "list")
    assert result.exit_code == 2
    assert_one_error_line(
        result.stderr, "couchctl: error: No such command 'dbb'. Did you mean 'db'?"
    )
    result = cli_offline("db", "inf", "x")
    assert result.exit_code == 2
    assert_one_error_line(
        result.stderr, "couchctl: error: No such command 'inf'. Did you mean 'info'?"
    )


def test_unreadable_file_argument_is_a_usage_error(cli_offline: CliRun, tmp_path: Path) -> None:
    result = cli_offline("bulk", "docs", "db", str(tmp_path / "missing.json"), url=closed_url())
    assert result.exit_code == 2
    assert_one_error_line(result.stderr, "couchctl: error: ")
