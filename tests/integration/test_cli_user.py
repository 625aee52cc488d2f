"""`couchctl user ...`: _users documents and server admins."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import CliRun, Server
from tests.standin import free_port

UNREACHABLE = f"http://admin:pw@127.0.0.1:{free_port()}"
SECRETS = ("derived_key", "salt", "password_scheme", "iterations", "pbkdf2_prf", "password")


@pytest.fixture
def user_name(server: Server) -> Iterator[str]:
    name = f"ctl-user-{uuid.uuid4().hex[:8]}"
    yield name
    doc_url = f"{server.url}/_users/org.couchdb.user:{name}"
    found = httpx.get(doc_url)
    if found.status_code == 200:
        httpx.delete(doc_url, params={"rev": found.json()["_rev"]})


def _session(server: Server, name: str, password: str) -> httpx.Response:
    base = server.url.split("://", 1)[1].split("@", 1)[1]
    return httpx.get(f"http://{base}/_session", auth=(name, password))


def test_create_info_list_roles_passwd_delete(cli: CliRun, server: Server, user_name: str) -> None:
    created = cli(
        "user",
        "create",
        user_name,
        "--roles",
        "ops,reports",
        "--password-stdin",
        input="first-pw\n",
    )
    assert created.exit_code == 0, created.stderr
    assert created.stdout == f"created user {user_name}\n"
    stored = httpx.get(f"{server.url}/_users/org.couchdb.user:{user_name}").json()
    assert stored["type"] == "user" and stored["roles"] == ["ops", "reports"]
    assert _session(server, user_name, "first-pw").json()["userCtx"]["name"] == user_name

    info = cli("user", "info", user_name, "--json")
    assert info.exit_code == 0, info.stderr
    assert info.json()["name"] == user_name
    assert not set(SECRETS) & set(info.json())
    human = cli("user", "info", user_name)
    for secret in ("derived_key", "salt", "iterations"):
        assert secret not in human.stdout
    if "derived_key" in stored:
        assert stored["derived_key"] not in human.stdout + info.stdout

    listed = cli("user", "list", "--json")
    mine = [doc for doc in listed.json() if doc["name"] == user_name]
    assert len(mine) == 1 and not set(SECRETS) & set(mine[0])
    assert user_name in cli("user", "list").stdout

    roles = cli("user", "roles", user_name, "--add", "audit", "--remove", "ops", "--json")
    assert roles.json() == ["reports", "audit"]
    again = cli("user", "roles", user_name, "--add", "audit", "--json")  # idempotent
    assert again.json() == ["reports", "audit"]

    changed = cli("user", "passwd", user_name, "--password-stdin", input="second-pw\nignored\n")
    assert changed.exit_code == 0, changed.stderr
    assert _session(server, user_name, "second-pw").status_code == 200
    assert "second-pw" not in changed.stdout + changed.stderr

    refused = cli("user", "delete", user_name)  # not a terminal, no --yes
    assert refused.exit_code == 2
    assert httpx.get(f"{server.url}/_users/org.couchdb.user:{user_name}").status_code == 200
    deleted = cli("user", "delete", user_name, "--yes")
    assert deleted.exit_code == 0, deleted.stderr
    assert httpx.get(f"{server.url}/_users/org.couchdb.user:{user_name}").status_code == 404
    assert cli("user", "info", user_name).exit_code == 4


def test_create_twice_is_a_conflict(cli: CliRun, user_name: str) -> None:
    assert cli("user", "create", user_name, "--password-stdin", input="pw1\n").exit_code == 0
    again = cli("user", "create", user_name, "--password-stdin", input="pw1\n")
    assert again.exit_code == 5
    assert "pw1" not in again.stderr


@pytest.mark.couchdb_only
def test_create_admin_on_every_node(cli: CliRun, server: Server) -> None:
    name = f"ctl-admin-{uuid.uuid4().hex[:8]}"
    nodes = httpx.get(f"{server.url}/_membership").json()["cluster_nodes"]
    reachable = [
        n for n in nodes if n in httpx.get(f"{server.url}/_membership").json()["all_nodes"]
    ]
    if reachable != nodes:
        pytest.skip("a cluster node is down on this server")
    try:
        result = cli("user", "create", name, "--admin", "--password-stdin", input="adm-pw\n")
        assert result.exit_code == 0, result.stderr
        for node in nodes:
            value = httpx.get(f"{server.url}/_node/{node}/_config/admins/{name}")
            assert value.status_code == 200
        # CouchDB hashes a new admin's password in the background: wait for the hash.
        for _ in range(50):
            stored = httpx.get(f"{server.url}/_node/_local/_config/admins/{name}").json()
            if stored.startswith("-pbkdf2"):
                break
            time.sleep(0.1)
        session = _session(server, name, "adm-pw")
        for _ in range(2):  # at most 3 tries: 5 failures would lock the name out
            if session.status_code == 200:
                break
            time.sleep(1)
            session = _session(server, name, "adm-pw")
        assert session.json()["userCtx"]["roles"] == ["_admin"]
    finally:
        for node in nodes:
            httpx.delete(f"{server.url}/_node/{node}/_config/admins/{name}")


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["create", "bob", "--roles", "a,,b", "--password-stdin"], "pw\n", "empty name"),
        (["create", "", "--password-stdin"], "pw\n", "user name"),
        (["create", "bob:x", "--password-stdin"], "pw\n", "':'"),
        (["create", "bob"], "", "no terminal"),
        (["create", "bob", "--password-stdin"], "\n", "empty"),
        (["create", "bob", "--admin", "--roles", "r", "--password-stdin"], "pw\n", "--roles"),
        (["passwd", "bob"], "pw\n", "no terminal"),
        (["roles", "bob", "--add", ","], None, "empty name"),
        (["delete", "bob"], None, "without confirmation"),
        (["info", " "], None, "user name"),
    ],
)
def test_bad_input_exits_2_and_sends_nothing(
    cli_offline: CliRun, args: list[str], stdin: str | None, message: str
) -> None:
    result = cli_offline("user", *args, input=stdin, url=UNREACHABLE)
    assert result.exit_code == 2, result.stderr
    assert result.stdout == ""
    assert message in result.stderr


def test_there_is_no_password_flag(cli_offline: CliRun) -> None:
    result = cli_offline("user", "create", "bob", "--password", "x", url=UNREACHABLE)
    assert result.exit_code == 2
    assert "No such option" in result.stderr
