"""`couchctl server audit` and `server tasks --watch`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import CliRun, Server

CHECKS = [
    "admin party",
    "public databases",
    "require_valid_user",
    "cors",
    "bind address",
    "cookie timeout",
    "admin names",
]


def test_audit_finds_a_public_database(cli: CliRun, server: Server, db: str) -> None:
    httpx.put(f"{server.url}/{db}/_security", json={"admins": {}, "members": {}})
    result = cli("server", "audit", "--json")
    checks = {c["check"]: c for c in result.json()}
    assert list(checks) == CHECKS
    public = checks["public databases"]
    assert public["status"] in ("fail", "warn")
    assert db in public["detail"] or "more" in public["detail"]
    # exit 1 exactly when a check fails
    failed = any(c["status"] == "fail" for c in checks.values())
    assert result.exit_code == (1 if failed else 0)
    human = cli("server", "audit")
    assert human.exit_code == result.exit_code
    assert "public databases" in human.stdout


@pytest.mark.couchdb_only
def test_audit_of_a_locked_down_database(cli: CliRun, server: Server, db: str) -> None:
    httpx.put(f"{server.url}/{db}/_security", json={"members": {"roles": ["_admin"]}})
    result = cli("server", "audit", "--json")
    assert result.stdout, result.stderr
    checks = {c["check"]: c for c in result.json()}
    assert checks["admin party"]["status"] == "ok"
    config = httpx.get(f"{server.url}/_node/_local/_config").json()
    names = [n for n in config["admins"] if n in ("admin", "couchdb")]
    assert checks["admin names"]["status"] == ("warn" if names else "ok")
    bind = config["chttpd"].get("bind_address", "127.0.0.1")
    assert checks["bind address"]["status"] == ("ok" if bind.startswith("127.") else "fail")
    assert db not in checks["public databases"]["detail"]


@pytest.mark.couchdb_only
def test_audit_sees_cors_with_credentials(cli: CliRun, server: Server) -> None:
    base = f"{server.url}/_node/_local/_config"
    saved = {
        key: httpx.get(f"{base}/{key}")
        for key in ("chttpd/enable_cors", "cors/origins", "cors/credentials")
    }
    try:
        for key, value in (
            ("chttpd/enable_cors", "true"),
            ("cors/origins", "*"),
            ("cors/credentials", "true"),
        ):
            httpx.put(f"{base}/{key}", json=value)
        checks = {c["check"]: c for c in cli("server", "audit", "--json").json()}
        assert checks["cors"]["status"] == "fail"
        assert cli("server", "audit").exit_code == 1
    finally:
        for key, response in saved.items():
            if response.status_code == 200:
                httpx.put(f"{base}/{key}", json=response.json())
            else:
                httpx.delete(f"{base}/{key}")


def test_tasks_watch_redraws_until_interrupted(server: Server) -> None:
    import threading

    env = {**os.environ, "COUCH_URL": server.url, "NO_COLOR": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "couchctl", "server", "tasks", "--watch", "--interval", "200ms"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None
    seen: list[bytes] = []
    reader = threading.Thread(target=lambda: seen.extend(iter(process.stdout.readline, b"")))
    reader.start()
    # Two redraws, however slow the machine is to start the process (deadline 60 s).
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if b"".join(seen).count(b"active tasks (Ctrl-C to stop)") >= 2:
            break
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    reader.join(timeout=10)
    assert process.returncode == 130, stderr
    assert b"".join(seen).decode().count("active tasks (Ctrl-C to stop)") >= 2
    assert b"Traceback" not in stderr


def test_tasks_watch_bad_interval(cli: CliRun) -> None:
    result = cli("server", "tasks", "--watch", "--interval", "soon")
    assert result.exit_code == 2
    assert "--interval" in result.stderr
