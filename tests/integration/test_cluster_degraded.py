"""A cluster with nodes down: writes are accepted below the write quorum (202), and
couchctl says so while still exiting 0; `server membership` shows the stopped nodes.

Cluster-only, and it stops nodes: it runs when COUCHCTL_TEST_CLUSTER names the nodes
(the first is the one the suite talks to) and COUCHCTL_TEST_NODE_STOP and
COUCHCTL_TEST_NODE_START are shell commands that stop and start the node whose URL
replaces `{url}` (e.g. `systemctl stop couchdb@{url}` on a real deployment).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import CliRun

pytestmark = pytest.mark.cluster


def _node_command(name: str, url: str) -> None:
    template = os.environ.get(name)
    if not template:
        pytest.skip(f"set {name} to a shell command that stops/starts the node at {{url}}")
    subprocess.run(template.format(url=shlex.quote(url)), shell=True, check=True, timeout=180)


@pytest.fixture
def two_nodes_down(cluster_urls: list[str]) -> Iterator[str]:
    """Stop every node but the first; start them again afterwards. Yields the first."""
    if len(cluster_urls) < 3:
        pytest.skip("needs a cluster of three nodes")
    first, *others = cluster_urls
    stopped: list[str] = []
    try:
        for url in others:
            _node_command("COUCHCTL_TEST_NODE_STOP", url)
            stopped.append(url)
        yield first
    finally:
        for url in stopped:
            _node_command("COUCHCTL_TEST_NODE_START", url)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until every node sees every node again
            seen = httpx.get(f"{first}/_membership", timeout=5).json()
            if set(seen["all_nodes"]) == set(seen["cluster_nodes"]):
                break
            time.sleep(0.5)


def test_writes_below_the_quorum_are_said(cli: CliRun, two_nodes_down: str) -> None:
    url = two_nodes_down
    name = f"t-degraded-{os.getpid()}-{int(time.time())}"
    try:
        created = cli("db", "create", name, url=url)
        assert created.exit_code == 0, created.stderr
        assert "write quorum" in created.stderr and "degraded" in created.stderr

        saved = cli("doc", "put", name, "d5", "--data", '{"v": 1}', url=url)
        assert saved.exit_code == 0, saved.stderr
        assert "write quorum" in saved.stderr

        as_json = cli("doc", "put", name, "d6", "--data", '{"v": 1}', "--json", url=url)
        assert as_json.exit_code == 0, as_json.stderr
        assert as_json.json()["ok"] is True and as_json.json()["id"] == "d6"
        assert "write quorum" in as_json.stderr

        loaded = cli("bulk", "load", name, "-", "--json", input='{"_id": "x"}\n', url=url)
        assert loaded.exit_code == 0, loaded.stderr
        assert loaded.json()["quorum_missed"] == 1

        members = cli("server", "membership", "--json", url=url)
        assert members.exit_code == 0, members.stderr
        body = members.json()
        assert len(body["cluster_nodes"]) == 3 and len(body["all_nodes"]) == 1
        table = cli("server", "membership", url=url).stdout
        assert sum(1 for line in table.splitlines() if " no " in f" {line} ") == 2

        # A change meant for every node is refused while nodes are down, before any
        # node is changed (the running node keeps its value).
        before = httpx.get(f"{url}/_node/_local/_config/log/level", timeout=30).json()
        refused = cli("config", "set", "log", "level", "debug", "--all-nodes", url=url)
        assert refused.exit_code == 1
        assert "not connected to the cluster" in refused.stderr
        assert "nothing was changed" in refused.stderr
        assert httpx.get(f"{url}/_node/_local/_config/log/level", timeout=30).json() == before
    finally:
        httpx.delete(f"{url}/{name}", timeout=30)
