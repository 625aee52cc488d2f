"""Clusters: status of the nodes, and the _cluster_setup sequence."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from couchctl.cli._exit import ExitCode
from couchctl.cli._options import output_options
from couchctl.cli._run import checked, fail, run
from couchctl.render import Mode

if TYPE_CHECKING:
    from couchctl.client import CouchClient, NodeStatus
    from couchctl.render import Output

app = typer.Typer(help="Clusters: node status and setup (_cluster_setup).", no_args_is_help=True)


def _version(status: NodeStatus) -> str:
    versions = status.versions if isinstance(status.versions, dict) else {}
    erlang = (versions.get("erlang") or {}).get("version")
    engine = (versions.get("javascript_engine") or {}).get("name")
    parts = [f"erlang {erlang}" if erlang else "", f"js {engine}" if engine else ""]
    return ", ".join(part for part in parts if part)


@app.command("status")
@output_options()
def status(ctx: typer.Context, mode: Mode = "human") -> None:
    """Show the cluster: membership, setup state, each node's reachability and versions.

    A node is reachable when the connected server gets its /_node/NODE/_versions.
    Exit 1 when a cluster node is unreachable.

    Example: couchctl --url http://admin@db1.example:5984 cluster status
    """

    async def op(couch: CouchClient, out: Output) -> int | None:
        from dataclasses import asdict

        from couchctl.render import Column

        welcome = await couch.server_info()
        up = await couch.server_up()
        result = await couch.cluster_status()
        nodes: list[NodeStatus] = result["nodes"]
        down = [node.name for node in nodes if node.member and not node.reachable]
        if mode != "human":
            out.json(
                {
                    "version": welcome.get("version"),
                    "up": up,
                    "setup_state": result["setup_state"],
                    "membership": result["membership"],
                    "local": result["local"],
                    "nodes": [asdict(node) for node in nodes],
                }
            )
        else:
            out.fields(
                [
                    ("connected to", f"{result['local']} (CouchDB {welcome.get('version')})"),
                    ("up", up.get("status") if isinstance(up, dict) else up),
                    ("setup state", result["setup_state"] or "(unknown)"),
                    ("cluster nodes", len([n for n in nodes if n.member])),
                ]
            )
            columns = [
                Column("node", lambda node: node.name),
                Column("member", lambda node: "yes" if node.member else "no"),
                Column("connected", lambda node: "yes" if node.known else "no"),
                Column("reachable", lambda node: "yes" if node.reachable else "NO"),
                Column("versions", lambda node: _version(node) or node.error),
            ]
            out.table(nodes, columns, empty="no nodes")
        if down:
            out.error(f"unreachable cluster node{'s' if len(down) > 1 else ''}: {', '.join(down)}")
            return int(ExitCode.FAILURE)
        return None

    run(ctx, op, mode)


@app.command("setup")
@output_options()
def setup(
    ctx: typer.Context,
    node: Annotated[
        list[str],
        typer.Option(
            "--node",
            help="URL of another node to join (repeat). Credentials from the URL, else the connection's.",
            show_default=False,
        ),
    ],
    bind_address: Annotated[
        str,
        typer.Option(
            "--bind-address",
            help="Address the nodes listen on (127.1 keeps a one-machine cluster on loopback).",
        ),
    ] = "0.0.0.0",
    mode: Mode = "human",
) -> None:
    """Join nodes into a cluster with the connected server as coordinator (_cluster_setup).

    Runs enable_cluster on each node, add_node, finish_cluster; node_count is 1 + the
    --node count. Steps already done are skipped, so it can run again. Ends when every
    node lists every node.

    Example: couchctl --url http://admin@10.0.0.1:5984 cluster setup --node http://10.0.0.2:5984 --node http://10.0.0.3:5984
    """

    def parse() -> list[str]:
        from urllib.parse import urlsplit

        if len(set(node)) != len(node):
            fail("--node: the same node is named twice")
        from couchctl.config import mask_url

        for url in node:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                fail(f"--node: not an http(s) URL: {mask_url(url)!r}")
        if bind_address in ("127.0.0.1", "::1"):
            fail(
                f"--bind-address: CouchDB refuses {bind_address} for a cluster",
                "use 0.0.0.0, or 127.1 to stay on loopback on one machine",
            )
        return list(node)

    checked(ctx, parse)

    async def op(couch: CouchClient, out: Output) -> None:
        from dataclasses import asdict

        from couchctl.client import SetupStep

        def report(step: SetupStep) -> None:
            if mode == "human":
                detail = f" ({step.detail})" if step.detail else ""
                out.text(f"{step.step}: {step.outcome}{detail}")

        steps = await couch.cluster_setup(node, bind_address=bind_address, report=report)
        if mode != "human":
            out.json([asdict(step) for step in steps])

    run(ctx, op, mode)
