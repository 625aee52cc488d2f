"""Clusters: membership and health of each node, the `_cluster_setup` sequence,
and shards (`/_membership`, `/_cluster_setup`, `/_node/{node}/_versions`,
`/{db}/_shards`, `/{db}/_sync_shards`).

`cluster_setup` follows CouchDB's documented sequence with the connected server
as the coordinator: `enable_cluster` on it, then for each other node
`enable_cluster` (through the coordinator, `remote_node`) and `add_node`, then
`finish_cluster`. Every step is checked first (`GET /_cluster_setup` on each node
and the coordinator's `_membership`), because CouchDB answers 400 to a step
repeated ("Cluster is already enabled"). `port` is always sent: without it
CouchDB assumes 5984 for the remote node. Membership spreads with a delay, so the
end is a poll until every node lists every node.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import anyio

from couchctl.client._base import BaseClient
from couchctl.client._encoding import db_path, segment
from couchctl.client._errors import CouchError, HTTPError, InvalidArgument, TransportError

__all__ = ["ClusterMixin", "NodeStatus", "SetupStep"]

# CouchDB refuses exactly these bind addresses for a cluster (setup.erl).
_REFUSED_BIND = frozenset({"127.0.0.1", "::1"})


@dataclass
class NodeStatus:
    """One node as the connected server sees it."""

    name: str
    known: bool  # in all_nodes: connected to the coordinator
    member: bool  # in cluster_nodes: part of the cluster
    reachable: bool
    versions: Any = None
    error: str | None = None


@dataclass
class SetupStep:
    """One step of `cluster_setup`: what, and whether it was `done` or `skipped`."""

    step: str
    outcome: str
    detail: str = ""


@dataclass
class _Node:
    url: str
    port: int
    user: str | None
    password: str | None
    name: str = ""  # the Erlang node name, name@host
    state: str = ""
    client: BaseClient | None = field(default=None, repr=False)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, HTTPError):
        return exc.reason or exc.error or str(exc.status)
    return str(exc)


class ClusterMixin(BaseClient):
    """Cluster membership, setup and shards."""

    async def cluster_setup_state(self) -> Any:
        """The setup state of the node (`GET /_cluster_setup`):
        `{"state": "cluster_disabled" | "cluster_enabled" | "cluster_finished" | ...}`."""
        return await self.request_json("GET", "/_cluster_setup")

    async def cluster_setup_action(self, body: dict[str, Any]) -> Any:
        """One `_cluster_setup` action (`POST /_cluster_setup`); never retried."""
        return await self.request_json("POST", "/_cluster_setup", json=body, retry=False)

    async def node_info(self, node: str = "_local") -> Any:
        """The node's name (`GET /_node/{node}`): `{"name": "couchdb@127.0.0.1"}`."""
        return await self.request_json("GET", f"/_node/{segment(node)}")

    async def node_versions(self, node: str = "_local") -> Any:
        """Versions of a node's runtime (`GET /_node/{node}/_versions`): Erlang, the
        JavaScript engine, the collation driver. Answered through the cluster, so it
        also proves that the node is reachable."""
        return await self.request_json("GET", f"/_node/{segment(node)}/_versions")

    async def db_shards(self, db: str, doc_id: str | None = None) -> Any:
        """The shards of a database (`GET /{db}/_shards`: range -> nodes), or of the
        shard holding one document (`GET /{db}/_shards/{docid}`: range, nodes)."""
        if doc_id is None:
            return await self.request_json("GET", f"{db_path(db)}/_shards")
        return await self.request_json("GET", f"{db_path(db)}/_shards/{segment(doc_id)}")

    async def db_sync_shards(self, db: str) -> Any:
        """Force the synchronisation of a database's shard copies (`POST /{db}/_sync_shards`)."""
        return await self.request_json(
            "POST",
            f"{db_path(db)}/_sync_shards",
            content=b"",
            headers={"Content-Type": "application/json"},
            retry=True,
        )

    async def cluster_status(self) -> dict[str, Any]:
        """Membership, setup state, and each node's reachability and versions.

        Returns `{"membership", "setup_state", "nodes": [NodeStatus...], "local"}`;
        `setup_state` is None when `_cluster_setup` could not be read.
        """
        membership = await self.request_json("GET", "/_membership")
        known = [str(n) for n in membership.get("all_nodes", [])]
        members = [str(n) for n in membership.get("cluster_nodes", [])]
        setup_state: str | None = None
        try:
            setup_state = (await self.cluster_setup_state()).get("state")
        except HTTPError:
            setup_state = None
        local = (await self.node_info()).get("name")
        names = [*members, *(n for n in known if n not in members)]
        nodes: list[NodeStatus] = []

        async def probe(name: str) -> None:
            status = NodeStatus(name, name in known, name in members, reachable=False)
            try:
                status.versions = await self.node_versions(name)
                status.reachable = True
            except (HTTPError, TransportError) as exc:
                status.error = _describe(exc)
            nodes.append(status)

        async with anyio.create_task_group() as group:
            for name in names:
                group.start_soon(probe, name)
        nodes.sort(key=lambda status: names.index(status.name))
        return {
            "membership": membership,
            "setup_state": setup_state,
            "nodes": nodes,
            "local": local,
        }

    async def cluster_setup(
        self,
        node_urls: Sequence[str],
        *,
        bind_address: str = "0.0.0.0",
        report: Callable[[SetupStep], None] | None = None,
        wait: float = 60.0,
    ) -> list[SetupStep]:
        """Join the nodes at `node_urls` to the connected server (the coordinator).

        Each URL's credentials are used for that node, else the connection's. Steps
        already done are skipped, so running it again is harmless. Returns the steps.
        """
        from couchctl.config import _split_userinfo

        if bind_address in _REFUSED_BIND:
            raise InvalidArgument(
                f"CouchDB refuses bind address {bind_address} for a cluster "
                "(use 0.0.0.0, or 127.1 for a cluster on one machine)"
            )
        if self.user is None or self._password is None:
            raise InvalidArgument("cluster setup needs an admin user and password")
        nodes: list[_Node] = []
        for raw in node_urls:
            parts = urlsplit(raw)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                from couchctl.config import mask_url

                raise InvalidArgument(f"not an http(s) node URL: {mask_url(raw)!r}")
            url, user, password = _split_userinfo(raw)
            if user is None:
                user, password = self.user, self._password
            port = parts.port or (443 if parts.scheme == "https" else 80)
            nodes.append(_Node(url.rstrip("/"), port, user, password))
        steps: list[SetupStep] = []

        def note(step: str, outcome: str, detail: str = "") -> None:
            item = SetupStep(step, outcome, detail)
            steps.append(item)
            if report is not None:
                report(item)

        admin = {"username": self.user, "password": self._password}
        count = str(1 + len(nodes))
        try:
            for node in nodes:
                node.client = BaseClient(
                    node.url,
                    user=node.user,
                    password=node.password,
                    timeout=self.http.timeout.read,
                    retries=self.retries,
                )
                node.name = str((await node.client.request_json("GET", "/_node/_local"))["name"])
                state = await node.client.request_json("GET", "/_cluster_setup")
                node.state = str(state.get("state"))
            coordinator = str((await self.node_info()).get("name"))
            if any(node.name == coordinator for node in nodes):
                raise InvalidArgument(
                    f"{coordinator} is the connected server itself, not another node"
                )
            state = str((await self.cluster_setup_state()).get("state"))
            if state.startswith("single_node"):
                raise CouchError(
                    f"{coordinator} is set up as a single node ({state}): it cannot coordinate a cluster"
                )
            if state == "cluster_disabled":
                await self.cluster_setup_action(
                    {
                        "action": "enable_cluster",
                        "bind_address": bind_address,
                        **admin,
                        "node_count": count,
                    }
                )
                note(f"enable cluster on {coordinator}", "done")
            else:
                note(f"enable cluster on {coordinator}", "skipped", state)
            membership = await self.request_json("GET", "/_membership")
            present = {
                str(n)
                for n in [*membership.get("all_nodes", []), *membership.get("cluster_nodes", [])]
            }
            for node in nodes:
                host = urlsplit(node.url).hostname or ""
                if node.state == "cluster_disabled":
                    await self.cluster_setup_action(
                        {
                            "action": "enable_cluster",
                            "bind_address": bind_address,
                            **admin,
                            "port": node.port,
                            "node_count": count,
                            "remote_node": host,
                            "remote_current_user": node.user,
                            "remote_current_password": node.password,
                        }
                    )
                    note(f"enable cluster on {node.name}", "done")
                else:
                    note(f"enable cluster on {node.name}", "skipped", node.state)
                if node.name in present:
                    note(f"add {node.name}", "skipped", "already a member")
                    continue
                short, _, node_host = node.name.partition("@")
                await self.cluster_setup_action(
                    {
                        "action": "add_node",
                        "host": node_host,
                        "port": node.port,
                        "name": short,
                        "username": node.user,
                        "password": node.password,
                    }
                )
                note(f"add {node.name}", "done")
            state = str((await self.cluster_setup_state()).get("state"))
            if state == "cluster_finished":
                note("finish cluster", "skipped", state)
            else:
                await self.cluster_setup_action({"action": "finish_cluster"})
                note("finish cluster", "done")
            expected = {coordinator, *(node.name for node in nodes)}
            await self._wait_for_membership(nodes, expected, wait)
            note("every node lists every node", "done", ", ".join(sorted(expected)))
        finally:
            for node in nodes:
                if node.client is not None:
                    await node.client.aclose()
        return steps

    async def _wait_for_membership(
        self, nodes: list[_Node], expected: set[str], wait: float
    ) -> None:
        clients: list[BaseClient] = [self, *(n.client for n in nodes if n.client is not None)]
        missing: dict[str, set[str]] = {}
        with anyio.move_on_after(wait):
            while True:
                missing = {}
                for client in clients:
                    membership = await client.request_json("GET", "/_membership")
                    listed = {str(n) for n in membership.get("cluster_nodes", [])}
                    if not expected <= listed:
                        missing[client.base_url] = expected - listed
                if not missing:
                    return
                await anyio.sleep(0.5)
        lacking = "; ".join(
            f"{url} lacks {', '.join(sorted(names))}" for url, names in missing.items()
        )
        raise CouchError(f"membership did not converge within {wait:.0f} s: {lacking}")
