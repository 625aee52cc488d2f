"""`couchctl cluster ...`: status on any CouchDB; setup on the nodes named in
COUCHCTL_TEST_CLUSTER (marker `cluster`)."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import CliRun, Server
from tests.standin import free_port

UNREACHABLE = f"http://admin:pw@127.0.0.1:{free_port()}"


@pytest.mark.couchdb_only
def test_status(cli: CliRun, server: Server) -> None:
    membership = httpx.get(f"{server.url}/_membership").json()
    # A member that is not connected cannot answer: exit 1, exactly then.
    down = sorted(set(membership["cluster_nodes"]) - set(membership["all_nodes"]))
    result = cli("cluster", "status", "--json")
    assert result.exit_code == (1 if down else 0), result.stderr
    body = result.json()
    assert body["membership"] == membership
    assert body["setup_state"] == httpx.get(f"{server.url}/_cluster_setup").json()["state"]
    assert sorted(n["name"] for n in body["nodes"] if not n["reachable"]) == down
    assert body["version"] == httpx.get(f"{server.url}/").json()["version"]
    human = cli("cluster", "status")
    assert human.exit_code == result.exit_code
    for node in membership["cluster_nodes"]:
        assert node in human.stdout
    if down:
        assert (
            f"unreachable cluster node{'s' if len(down) > 1 else ''}: {', '.join(down)}"
            in human.stderr
        )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--node", "http://127.0.0.1:25984", "--bind-address", "127.0.0.1"], "refuses 127.0.0.1"),
        (["--node", "ftp://x"], "not an http(s) URL"),
        (["--node", "ftp://u:hunter2@x"], "ftp://u:***@x"),
        (["--node", "http://a:1", "--node", "http://a:1"], "named twice"),
        ([], "Missing option"),
    ],
)
def test_setup_bad_input_exits_2_and_sends_nothing(
    cli_offline: CliRun, args: list[str], message: str
) -> None:
    result = cli_offline("cluster", "setup", *args, url=UNREACHABLE)
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr
    assert "hunter2" not in result.stderr


@pytest.mark.cluster
def test_setup_joins_every_node_and_is_idempotent(
    cli_offline: CliRun, cluster_urls: list[str]
) -> None:
    coordinator, *others = cluster_urls
    args = ["cluster", "setup", "--bind-address", "127.1"]
    for url in others:
        args += ["--node", url]
    first = cli_offline(*args, url=coordinator)
    assert first.exit_code == 0, first.stderr
    assert "every node lists every node: done" in first.stdout
    second = cli_offline(*args, "--json", url=coordinator)
    assert second.exit_code == 0, second.stderr
    steps = second.json()
    assert [s["outcome"] for s in steps[:-1]] == ["skipped"] * (len(steps) - 1)
    names = set()
    for url in cluster_urls:
        membership = httpx.get(f"{url}/_membership").json()
        names.add(frozenset(membership["cluster_nodes"]))
        assert httpx.get(f"{url}/_cluster_setup").json()["state"] == "cluster_finished"
    assert len(names) == 1 and len(next(iter(names))) == len(cluster_urls)
    status = cli_offline("cluster", "status", "--json", url=coordinator)
    assert status.exit_code == 0, status.stderr
    assert all(node["reachable"] and node["member"] for node in status.json()["nodes"])
    assert "pw" not in first.stdout + second.stdout + urlsplit(coordinator).path
