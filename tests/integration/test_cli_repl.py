"""`couchctl repl ...`: _replicator documents and the scheduler (CouchDB only:
the stand-in has no _scheduler), and bad input refused before any request."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from tests.conftest import CliRun, Server
from tests.standin import free_port

UNREACHABLE = f"http://admin:pw@127.0.0.1:{free_port()}"  # nothing listens: a request would exit 3


def _put_docs(server: Server, db: str, count: int) -> None:
    docs = [{"_id": f"d{i}", "n": i} for i in range(count)]
    response = httpx.post(
        f"{server.url}/{db}/_bulk_docs", json={"docs": docs}, params=server.all_copies(db)
    )
    assert response.status_code == 201, response.text


@pytest.fixture
def rep_id(server: Server) -> object:
    name = f"ctl-{uuid.uuid4().hex[:10]}"
    yield name
    found = httpx.get(f"{server.url}/_replicator/{name}")
    if found.status_code == 200:
        httpx.delete(f"{server.url}/_replicator/{name}", params={"rev": found.json()["_rev"]})


@pytest.mark.couchdb_only
def test_start_wait_list_status_stop(cli: CliRun, server: Server, db: str, rep_id: str) -> None:
    _put_docs(server, db, 5)
    target = server.new_db_name("rt")
    try:
        started = cli("repl", "start", db, target, "--id", rep_id, "--create-target", "--wait")
        assert started.exit_code == 0, started.stderr
        assert started.stdout == f"{rep_id}\n"
        assert httpx.get(f"{server.url}/{target}").json()["doc_count"] == 5

        stored = httpx.get(f"{server.url}/_replicator/{rep_id}").json()
        # credentials in auth.basic, never in the URL string
        assert "@" not in stored["source"]["url"]
        assert stored["source"]["auth"]["basic"]["username"] == "admin"
        assert stored["target"]["url"].endswith(f"/{target}")

        # On a cluster the scheduler's view of a finished job settles a moment later.
        for _ in range(20):
            listed = cli("repl", "list", "--json")
            assert listed.exit_code == 0, listed.stderr
            mine = [d for d in listed.json()["docs"] if d["doc_id"] == rep_id]
            assert len(mine) == 1
            if mine[0]["state"] == "completed":
                break
            time.sleep(0.5)
        assert mine[0]["state"] == "completed"
        human = cli("repl", "list")
        assert rep_id in human.stdout and f"/{target}/" in human.stdout
        assert ":pw@" not in human.stdout + listed.stdout

        for _ in range(20):  # each cluster node settles on its own
            status = cli("repl", "status", rep_id, "--json")
            if status.json()["state"] == "completed":
                break
            time.sleep(0.5)
        assert status.json()["state"] == "completed"
        assert status.json()["info"]["docs_written"] == 5
        watched = cli("repl", "status", rep_id, "--watch", "--interval", "100ms")
        assert watched.exit_code == 0 and "completed" in watched.stdout

        stopped = cli("repl", "stop", rep_id)
        assert stopped.exit_code == 0, stopped.stderr
        # a cluster may answer from a copy that has not seen the deletion yet
        for _ in range(20):
            if httpx.get(f"{server.url}/_replicator/{rep_id}").status_code == 404:
                break
            time.sleep(0.5)
        assert httpx.get(f"{server.url}/_replicator/{rep_id}").status_code == 404
        assert cli("repl", "stop", rep_id).exit_code == 4
    finally:
        httpx.delete(f"{server.url}/{target}")


@pytest.mark.couchdb_only
def test_start_with_filters_writes_them(cli: CliRun, server: Server, db: str, rep_id: str) -> None:
    target = server.new_db_name("rt")
    result = cli(
        "repl",
        "start",
        db,
        target,
        "--id",
        rep_id,
        "--continuous",
        "--selector",
        '{"n": {"$gt": 1}}',
        "--since-seq",
        "0",
        "--winning-revs-only",
    )
    assert result.exit_code == 0, result.stderr
    stored = httpx.get(f"{server.url}/_replicator/{rep_id}").json()
    assert stored["continuous"] is True
    assert stored["selector"] == {"n": {"$gt": 1}}
    assert stored["since_seq"] == "0"
    assert stored["winning_revs_only"] is True
    assert "create_target" not in stored
    assert cli("repl", "stop", rep_id).exit_code == 0
    httpx.delete(f"{server.url}/{target}")


@pytest.mark.couchdb_only
def test_wait_on_a_missing_source_fails(cli: CliRun, server: Server, rep_id: str) -> None:
    missing = server.new_db_name("missing")
    result = cli("repl", "start", missing, server.new_db_name("rt"), "--id", rep_id, "--wait")
    assert result.exit_code == 1, result.stderr
    assert "couchctl: error: replication" in result.stderr
    assert "pw" not in result.stderr


@pytest.mark.couchdb_only
def test_full_url_userinfo_moves_into_auth(
    cli: CliRun, server: Server, db: str, rep_id: str
) -> None:
    target = "http://someone:s3cret@127.0.0.1:9/elsewhere"
    result = cli("repl", "start", db, target, "--id", rep_id)
    assert result.exit_code == 0, result.stderr
    stored = httpx.get(f"{server.url}/_replicator/{rep_id}").json()
    assert stored["target"] == {
        "url": "http://127.0.0.1:9/elsewhere",
        "auth": {"basic": {"username": "someone", "password": "s3cret"}},
    }
    status = cli("repl", "status", rep_id, "--json")
    assert status.exit_code == 0, status.stderr
    listed = cli("repl", "list", "--json")
    assert rep_id in listed.stdout
    assert "s3cret" not in status.stdout + listed.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["same", "same"], "same database"),
        (["same", "http://127.0.0.1:5984/same/"], None),
        (["a", "b", "--selector", "[1]"], "--selector must be a JSON object"),
        (["a", "b", "--selector", "{nope"], "not valid JSON"),
        (["a", "b", "--doc-ids", "x,,y"], "empty name"),
        (["a", "b", "--filter", "nofilter"], "DDOC/NAME"),
        (["a", "b", "--continuous", "--wait"], "one-shot"),
        (["Bad Name", "b"], "invalid database name"),
    ],
)
def test_bad_input_exits_2_and_sends_nothing(
    cli_offline: CliRun, args: list[str], message: str | None
) -> None:
    url = UNREACHABLE
    if args[1].startswith("http://127.0.0.1:5984"):
        url = "http://admin:pw@127.0.0.1:5984"  # same origin: the same database
        args = [args[0], args[1]]
    result = cli_offline("repl", "start", *args, url=url)
    assert result.exit_code == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("couchctl: error: ")
    if message:
        assert message in result.stderr
    assert "pw" not in result.stderr


def test_list_without_scheduler_is_an_error_not_a_traceback(cli: CliRun, server: Server) -> None:
    result = cli("repl", "list", "--json")
    if server.couchdb:
        assert result.exit_code == 0
        assert isinstance(result.json()["docs"], list)
    else:
        assert result.exit_code == 4
        assert "Traceback" not in result.stderr
