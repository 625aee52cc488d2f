"""`couchctl config ...` (CouchDB only: the stand-in has no /_node/*/_config).

Every value set here is in a section of its own and removed afterwards: the
server is shared."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import CliRun, Server
from tests.standin import free_port

UNREACHABLE = f"http://admin:pw@127.0.0.1:{free_port()}"


@pytest.fixture
def section(server: Server) -> Iterator[str]:
    name = f"ctl_test_{uuid.uuid4().hex[:8]}"
    yield name
    found = httpx.get(f"{server.url}/_node/_local/_config/{name}")
    if found.status_code == 200:
        for key in found.json():
            httpx.delete(f"{server.url}/_node/_local/_config/{name}/{key}")


@pytest.mark.couchdb_only
def test_set_get_delete(cli: CliRun, server: Server, section: str) -> None:
    first = cli("config", "set", section, "color", "blue")
    assert first.exit_code == 0, first.stderr
    assert first.stdout == "\n"  # no old value
    second = cli("config", "set", section, "color", "green", "--json")
    assert second.json() == "blue"
    assert httpx.get(f"{server.url}/_node/_local/_config/{section}/color").json() == "green"

    assert cli("config", "get", section, "color").stdout == "green\n"
    assert cli("config", "get", section, "--json").json() == {"color": "green"}
    table = cli("config", "get", section)
    assert section in table.stdout and "color" in table.stdout and "green" in table.stdout

    deleted = cli("config", "delete", section, "color")
    assert deleted.exit_code == 0, deleted.stderr
    assert deleted.stdout == "green\n"
    assert httpx.get(f"{server.url}/_node/_local/_config/{section}/color").status_code == 404
    assert cli("config", "delete", section, "color").exit_code == 4


@pytest.mark.couchdb_only
def test_secrets_are_redacted_unless_asked(cli: CliRun, server: Server, section: str) -> None:
    httpx.put(f"{server.url}/_node/_local/_config/{section}/db_password", json="hunter2")
    httpx.put(f"{server.url}/_node/_local/_config/{section}/plain", json="visible")
    table = cli("config", "get", section)
    assert (
        "hunter2" not in table.stdout and "[redacted]" in table.stdout and "visible" in table.stdout
    )
    as_json = cli("config", "get", section, "--json").json()
    assert as_json == {"db_password": "[redacted]", "plain": "visible"}
    assert cli("config", "get", section, "db_password").stdout == "[redacted]\n"
    shown = cli("config", "get", section, "db_password", "--show-secrets")
    assert shown.stdout == "hunter2\n"
    old = cli("config", "set", section, "db_password", "x")
    assert old.stdout == "[redacted]\n"

    everything = cli("config", "get", "--json").json()
    admins = httpx.get(f"{server.url}/_node/_local/_config/admins").json()
    assert everything["admins"] == {name: "[redacted]" for name in admins}
    assert everything["chttpd_auth"].get("secret", "[redacted]") == "[redacted]"
    assert not any(value in cli("config", "get", "admins").stdout for value in admins.values())


@pytest.mark.couchdb_only
def test_all_nodes_and_node(cli: CliRun, server: Server, section: str) -> None:
    membership = httpx.get(f"{server.url}/_membership").json()
    local = httpx.get(f"{server.url}/_node/_local").json()["name"]
    result = cli("config", "set", section, "k", "v", "--node", local)
    assert result.exit_code == 0, result.stderr
    assert cli("config", "get", section, "k", "--node", local).stdout == "v\n"
    if set(membership["cluster_nodes"]) <= set(membership["all_nodes"]):
        every = cli("config", "set", section, "k", "w", "--all-nodes", "--json")
        assert every.exit_code == 0, every.stderr
        assert set(every.json()) == set(membership["cluster_nodes"])


@pytest.mark.couchdb_only
def test_reload(cli: CliRun) -> None:
    result = cli("config", "reload", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json() == {"ok": True}


@pytest.mark.couchdb_only
def test_unknown_node_exits_2_before_any_config_request(
    cli: CliRun, section: str, server: Server
) -> None:
    result = cli("config", "set", section, "k", "v", "--node", "nobody@nowhere")
    assert result.exit_code == 2
    assert "unknown node 'nobody@nowhere'" in result.stderr
    assert httpx.get(f"{server.url}/_node/_local/_config/{section}/k").status_code == 404
    assert cli("config", "get", "--node", "nobody@nowhere").exit_code == 2
    assert cli("config", "reload", "--node", "nobody@nowhere").exit_code == 2


@pytest.mark.parametrize(
    "args",
    [
        ["set", "s", "k", "v", "--node", "n@h", "--all-nodes"],
        ["delete", "s", "k", "--node", ""],
        ["get", "--json", "--jsonl"],
    ],
)
def test_bad_flags_exit_2(cli_offline: CliRun, args: list[str]) -> None:
    result = cli_offline("config", *args, url=UNREACHABLE)
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith("couchctl: error: ")
