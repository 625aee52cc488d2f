"""`couchctl server ...` against the real server: stdout, stderr and exit code."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.conftest import CliRun, Server


def without_credentials(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def test_info_human(cli: CliRun, server: Server) -> None:
    result = cli("server", "info")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    expected = httpx.get(server.url + "/", headers={"Accept": "application/json"}).json()
    assert "version" in result.stdout
    assert expected["version"] in result.stdout
    assert expected["uuid"] in result.stdout


def test_info_json_is_the_servers_answer(cli: CliRun, server: Server) -> None:
    result = cli("server", "info", "--json")
    assert result.exit_code == 0, result.stderr
    expected = httpx.get(server.url + "/", headers={"Accept": "application/json"}).json()
    assert result.json() == expected
    assert result.stdout.count("\n") == 1  # one compact JSON value


@pytest.mark.couchdb_only
def test_up(cli: CliRun) -> None:
    result = cli("server", "up")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "ok\n", "")
    assert cli("server", "up", "--json").json()["status"] == "ok"


def test_up_unreachable_server_exits_3(cli_offline: CliRun) -> None:
    result = cli_offline("--retries", "0", "server", "up", url="http://127.0.0.1:9")
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr.startswith("couchctl: error: cannot reach the server")
    assert "Traceback" not in result.stderr


def test_dbs(cli: CliRun, db: str) -> None:
    result = cli("server", "dbs")
    assert result.exit_code == 0, result.stderr
    assert db in result.stdout.splitlines()
    as_json = cli("server", "dbs", "--json")
    assert db in as_json.json()


@pytest.mark.couchdb_only
def test_dbs_range_limit_skip(cli: CliRun, server: Server) -> None:
    prefix = server.new_db_name("s1c")
    names = [f"{prefix}-{i}" for i in range(3)]
    for name in names:
        httpx.put(f"{server.url}/{name}")
    try:
        ranged = cli("server", "dbs", "--start-key", prefix, "--end-key", prefix + "\ufff0")
        assert ranged.stdout.splitlines() == names
        paged = cli("server", "dbs", "--start-key", prefix, "--limit", "1", "--skip", "1", "--json")
        assert paged.json() == names[1:2]
        backwards = cli(
            "server", "dbs", "--descending", "--start-key", prefix + "\ufff0", "--end-key", prefix
        )
        assert backwards.stdout.splitlines() == list(reversed(names))
    finally:
        for name in names:
            httpx.delete(f"{server.url}/{name}")


def test_tasks(cli: CliRun) -> None:
    as_json = cli("server", "tasks", "--json")
    assert as_json.exit_code == 0, as_json.stderr
    tasks = as_json.json()
    assert isinstance(tasks, list)
    human = cli("server", "tasks")
    assert human.exit_code == 0
    if not tasks:
        assert human.stdout == ""
        assert human.stderr == "no active tasks\n"
    jsonl = cli("server", "tasks", "--jsonl")
    assert jsonl.exit_code == 0
    assert all(isinstance(task, dict) for task in jsonl.jsonl())


def test_uuids(cli: CliRun) -> None:
    result = cli("server", "uuids", "--count", "3")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert len(set(lines)) == 3
    assert all(line.strip() for line in lines)
    assert len(cli("server", "uuids").stdout.splitlines()) == 1
    as_json = cli("server", "uuids", "-n", "2", "--json").json()
    assert len(as_json["uuids"]) == 2


def test_uuids_count_zero_is_a_usage_error(cli: CliRun) -> None:
    result = cli("server", "uuids", "--count", "0")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("couchctl: error:")


@pytest.mark.couchdb_only
def test_uuids_over_the_limit_is_a_client_error(cli: CliRun) -> None:
    result = cli("server", "uuids", "--count", "1001")
    assert result.exit_code == 7
    assert result.stderr.startswith("couchctl: error: GET /_uuids")


def test_membership(cli: CliRun) -> None:
    as_json = cli("server", "membership", "--json")
    assert as_json.exit_code == 0, as_json.stderr
    nodes = as_json.json()
    assert nodes["all_nodes"]
    human = cli("server", "membership")
    assert human.exit_code == 0
    assert "node" in human.stdout.splitlines()[0]
    for node in nodes["all_nodes"]:
        assert node in human.stdout


def test_session(cli: CliRun) -> None:
    human = cli("server", "session")
    assert human.exit_code == 0, human.stderr
    assert "admin" in human.stdout
    assert "_admin" in human.stdout
    as_json = cli("server", "session", "--json").json()
    assert as_json["userCtx"]["name"] == "admin"


def test_session_anonymous(cli: CliRun, server: Server) -> None:
    result = cli("server", "session", url=without_credentials(server.url))
    assert result.exit_code == 0, result.stderr
    assert "(anonymous)" in result.stdout
    as_json = cli("server", "session", "--json", url=without_credentials(server.url)).json()
    assert as_json["userCtx"]["name"] is None


def test_json_and_jsonl_together_is_a_usage_error(cli: CliRun) -> None:
    result = cli("server", "tasks", "--json", "--jsonl")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == "couchctl: error: --json and --jsonl cannot be used together\n"


def test_every_server_command_has_help_with_an_example(cli_offline: CliRun) -> None:
    for command in ("info", "up", "dbs", "tasks", "uuids", "membership", "session"):
        result = cli_offline("server", command, "--help")
        assert result.exit_code == 0
        examples = [line for line in result.stdout.splitlines() if "Example: couchctl " in line]
        assert len(examples) == 1
        assert f"server {command}" in examples[0]
