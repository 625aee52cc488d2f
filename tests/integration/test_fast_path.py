"""The fast path against the real server: the entry point (a subprocess, which takes
the fast path for these command lines) prints what the Typer app prints, byte for
byte, and exits alike."""

from __future__ import annotations

import json
import uuid
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from tests.conftest import CliRun, Server, run_couchctl
from tests.integration._data import HEADERS, UNREACHABLE

# What two calls may answer differently on a cluster, where each may be served by
# other shard copies: opaque sequences and the copies' file sizes.
PER_COPY = {"update_seq", "purge_seq", "sizes"}


def stable(stdout: str) -> str:
    """`stdout`, with PER_COPY removed from a database's info (the rest byte for byte)."""
    if not stdout.startswith('{"instance_start_time"'):
        return stdout
    info = json.loads(stdout)
    return json.dumps({k: v for k, v in info.items() if k not in PER_COPY}, ensure_ascii=False)


def same(cli: CliRun, url: str, *args: str) -> tuple[int, str, str]:
    """Run `args` through the entry point and through the Typer app; they must agree."""
    fast = run_couchctl(*args, url=url)
    slow = cli(*args, url=url)
    assert (fast.returncode, stable(fast.stdout.decode()), fast.stderr.decode()) == (
        slow.exit_code,
        stable(slow.stdout),
        slow.stderr,
    )
    return slow.exit_code, slow.stdout, slow.stderr


def test_db_info(server: Server, db: str, cli: CliRun) -> None:
    code, stdout, stderr = same(cli, server.url, "db", "info", db, "--json")
    assert code == 0
    assert f'"db_name":"{db}"' in stdout
    assert stderr == ""


def test_db_exists(server: Server, db: str, cli: CliRun) -> None:
    code, stdout, stderr = same(cli, server.url, "db", "exists", db, "--json")
    assert (code, json.loads(stdout), stderr) == (0, {"db": db, "exists": True}, "")
    code, stdout, _ = same(cli, server.url, "db", "exists", db + "-missing", "--json")
    assert (code, json.loads(stdout)) == (4, {"db": db + "-missing", "exists": False})


def test_global_options_anywhere(server: Server, db: str, cli: CliRun) -> None:
    code, _, _ = same(cli, UNREACHABLE, "--json", "db", "info", db, "--url", server.url)
    assert code == 0


def test_server_info_and_doc_get(server: Server, db: str, cli: CliRun) -> None:
    response = httpx.put(
        f"{server.url}/{quote(db, safe='')}/doc-1",
        json={"n": 1, "text": "é"},
        params=server.all_copies(db),
        headers=HEADERS,
    )
    assert response.status_code in (201, 202), response.text
    assert same(cli, server.url, "server", "info", "--json")[0] == 0
    code, stdout, _ = same(cli, server.url, "doc", "get", db, "doc-1", "--json")
    assert code == 0
    assert '"text":"é"' in stdout


def test_missing_database_and_document(server: Server, db: str, cli: CliRun) -> None:
    code, stdout, stderr = same(cli, server.url, "db", "info", db + "-missing", "--json")
    assert (code, stdout) == (4, "")
    assert "(404 not_found)" in stderr
    code, _, _ = same(cli, server.url, "doc", "get", db, "nope", "--json")
    assert code == 4


def test_wrong_password(server: Server, db: str, cli: CliRun) -> None:
    # A throw-away user: CouchDB locks a user out after 5 failed logins (test_auth.py).
    parts = urlsplit(server.url)
    nobody = f"couchctl-nobody-{uuid.uuid4().hex[:8]}"
    wrong = urlunsplit(
        parts._replace(netloc=f"{nobody}:wrong-pw@{parts.netloc.rsplit('@', 1)[-1]}")
    )
    code, _, stderr = same(cli, wrong, "db", "info", db, "--json")
    assert code == 6
    assert f"hint: check the user {nobody}" in stderr


def test_unreachable_server(cli: CliRun) -> None:
    code, _, stderr = same(cli, UNREACHABLE, "db", "info", "x", "--json", "--retries", "0")
    assert code == 3
    assert "cannot reach the server" in stderr
