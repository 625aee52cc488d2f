"""`couchctl db grant | revoke | shards | sync-shards`."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import CliRun, Server
from tests.standin import free_port

UNREACHABLE = f"http://admin:pw@127.0.0.1:{free_port()}"


def _security(server: Server, db: str) -> dict[str, object]:
    body: dict[str, object] = httpx.get(f"{server.url}/{db}/_security").json()
    return body


def _set_security(server: Server, db: str, security: dict[str, object]) -> None:
    response = httpx.put(f"{server.url}/{db}/_security", json=security)
    assert response.status_code == 200, response.text


def test_grant_and_revoke_keep_what_they_do_not_touch(cli: CliRun, server: Server, db: str) -> None:
    _set_security(
        server,
        db,
        {
            "admins": {"names": ["boss"], "roles": []},
            "members": {"names": [], "roles": ["staff"]},
            "x": 1,
        },
    )
    granted = cli("db", "grant", db, "--member", "--user", "alice", "--role", "readers", "--json")
    assert granted.exit_code == 0, granted.stderr
    expected = {
        "admins": {"names": ["boss"], "roles": []},
        "members": {"names": ["alice"], "roles": ["staff", "readers"]},
        "x": 1,
    }
    assert granted.json() == expected
    assert _security(server, db) == expected
    again = cli("db", "grant", db, "--member", "--user", "alice", "--json")  # idempotent
    assert again.json() == expected

    admins = cli("db", "grant", db, "--admin", "--role", "ops", "--json")
    assert admins.json()["admins"] == {"names": ["boss"], "roles": ["ops"]}

    revoked = cli("db", "revoke", db, "--member", "--user", "alice", "--role", "staff", "--json")
    assert revoked.exit_code == 0, revoked.stderr
    assert revoked.json()["members"] == {"names": [], "roles": ["readers"]}
    assert _security(server, db)["members"] == {"names": [], "roles": ["readers"]}
    human = cli("db", "revoke", db, "--admin", "--user", "boss")
    assert human.exit_code == 0
    assert '"boss"' not in human.stdout and '"ops"' in human.stdout


def test_a_change_that_leaves_the_database_public_needs_yes(
    cli: CliRun, server: Server, db: str
) -> None:
    _set_security(
        server, db, {"admins": {"names": [], "roles": []}, "members": {"names": [], "roles": []}}
    )
    refused = cli("db", "grant", db, "--admin", "--role", "ops")
    assert refused.exit_code == 2
    assert "public" in refused.stderr and "--yes" in refused.stderr
    assert _security(server, db).get("admins", {}) in ({}, {"names": [], "roles": []})
    accepted = cli("db", "grant", db, "--admin", "--role", "ops", "--yes", "--json")
    assert accepted.exit_code == 0, accepted.stderr
    assert _security(server, db)["admins"] == {"names": [], "roles": ["ops"]}

    _set_security(server, db, {"members": {"names": ["alice"], "roles": []}})
    last = cli("db", "revoke", db, "--member", "--user", "alice")
    assert last.exit_code == 2
    assert _security(server, db)["members"] == {"names": ["alice"], "roles": []}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["grant", "mydb", "--user", "alice"], "--member or --admin"),
        (["grant", "mydb", "--member", "--admin", "--user", "alice"], "--member or --admin"),
        (["revoke", "mydb", "--member"], "--user NAME or --role ROLE"),
        (["grant", "mydb", "--member", "--role", ""], "role"),
        (["grant", "mydb", "--member", "--user", " "], "user name"),
    ],
)
def test_bad_input_exits_2_and_sends_nothing(
    cli_offline: CliRun, args: list[str], message: str
) -> None:
    result = cli_offline("db", *args, url=UNREACHABLE)
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr


@pytest.mark.couchdb_only
def test_shards(cli: CliRun, server: Server, db: str) -> None:
    expected = httpx.get(f"{server.url}/{db}/_shards").json()["shards"]
    result = cli("db", "shards", db, "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["shards"] == expected
    human = cli("db", "shards", db)
    for shard_range, nodes in expected.items():
        assert shard_range in human.stdout
        assert all(node in human.stdout for node in nodes)
    one = cli("db", "shards", db, "some-doc", "--json")
    assert one.json() == httpx.get(f"{server.url}/{db}/_shards/some-doc").json()
    assert one.json()["range"] in expected
    assert cli("db", "shards", server.new_db_name("missing")).exit_code == 4


@pytest.mark.couchdb_only
def test_sync_shards(cli: CliRun, db: str) -> None:
    result = cli("db", "sync-shards", db, "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json() == {"ok": True}
    assert cli("db", "sync-shards", db).stdout == f"shard synchronisation of {db} started\n"
