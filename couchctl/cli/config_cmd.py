"""Node configuration: get, set, delete, reload (secrets redacted unless asked)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from couchctl.cli._options import output_options
from couchctl.cli._run import checked, fail, run
from couchctl.render import Mode

if TYPE_CHECKING:
    from couchctl.client import CouchClient
    from couchctl.render import Output

app = typer.Typer(
    help="Node configuration (/_node/NODE/_config): get, set, delete, reload.",
    no_args_is_help=True,
)

NodeOpt = Annotated[
    str | None,
    typer.Option(
        "--node", help="Node name, e.g. couchdb@127.0.0.1 (default: _local).", show_default=False
    ),
]
AllNodesFlag = Annotated[
    bool, typer.Option("--all-nodes", help="Apply on every node of the cluster.")
]
ShowSecrets = Annotated[
    bool,
    typer.Option("--show-secrets", help="Show admin hashes, passwords and secrets as they are."),
]
SectionArg = Annotated[str, typer.Argument(help="Configuration section, e.g. chttpd.")]
KeyArg = Annotated[str, typer.Argument(help="Key in the section, e.g. max_http_request_size.")]


async def _nodes(couch: CouchClient, node: str | None, all_nodes: bool) -> list[str]:
    """The nodes to act on, each checked against _membership before anything is changed."""
    if all_nodes:
        return await couch.cluster_node_names(all_connected=True)
    return [await couch.check_node(node or "_local")]


def _flag_check(node: str | None, all_nodes: bool) -> str:
    """The node to use (default _local), after checking the node flags."""
    if node is not None and all_nodes:
        fail("--node and --all-nodes cannot be used together")
    if node is not None and not node.strip():
        fail("--node: the node name is empty")
    return node or "_local"


def _shown(section: str, key: str, value: Any, show_secrets: bool) -> Any:
    from couchctl.client import redact_config

    return value if show_secrets else redact_config(value, section, key)


@app.command("get")
@output_options()
def get(
    ctx: typer.Context,
    section: Annotated[
        str | None, typer.Argument(help="Only this section.", show_default=False)
    ] = None,
    key: Annotated[str | None, typer.Argument(help="Only this key.", show_default=False)] = None,
    node: NodeOpt = None,
    show_secrets: ShowSecrets = False,
    mode: Mode = "human",
) -> None:
    """Show a node's configuration: everything, a section, or one value.

    Example: couchctl config get chttpd bind_address --node couchdb@127.0.0.1
    """
    checked(ctx, lambda: _flag_check(node, False))

    async def op(couch: CouchClient, out: Output) -> None:
        from couchctl.client import redact_config
        from couchctl.render import Column

        target = await couch.check_node(node or "_local")
        result = await couch.config_get(target, section, key)
        shown = result if show_secrets else redact_config(result, section, key)
        if mode != "human":
            out.json(shown)
            return
        if key is not None:
            out.text(str(shown))
            return
        if section is not None:
            rows = [(section, name, value) for name, value in sorted(shown.items())]
        else:
            rows = [
                (name, item, value)
                for name, part in sorted(shown.items())
                for item, value in sorted(part.items())
            ]
        columns = [
            Column("section", lambda row: row[0]),
            Column("key", lambda row: row[1]),
            Column("value", lambda row: row[2]),
        ]
        out.table(rows, columns, empty="no values")

    run(ctx, op, mode)


def _report(
    out: Output,
    mode: str,
    section: str,
    key: str,
    old: dict[str, Any],
    show_secrets: bool,
    per_node: bool,
) -> None:
    """The old value: as is for one node; with --all-nodes `node<TAB>old value`
    lines, or {node: old value} as JSON."""
    shown = {name: _shown(section, key, value, show_secrets) for name, value in old.items()}
    if mode != "human":
        out.json(shown if per_node else next(iter(shown.values())))
        return
    if not per_node:
        out.text(str(next(iter(shown.values()))))
        return
    for name, value in shown.items():
        out.text(f"{name}\t{value}")


@app.command("set")
@output_options()
def set_(
    ctx: typer.Context,
    section: SectionArg,
    key: KeyArg,
    value: Annotated[str, typer.Argument(help="The new value (a string, as CouchDB stores it).")],
    node: NodeOpt = None,
    all_nodes: AllNodesFlag = False,
    show_secrets: ShowSecrets = False,
    mode: Mode = "human",
) -> None:
    """Set a configuration value; prints the old value (empty when there was none).

    Example: couchctl config set chttpd max_http_request_size 67108864 --all-nodes
    """
    checked(ctx, lambda: _flag_check(node, all_nodes))

    async def op(couch: CouchClient, out: Output) -> None:
        old: dict[str, Any] = {}
        for target in await _nodes(couch, node, all_nodes):
            old[target] = await couch.config_set(target, section, key, value)
        _report(out, mode, section, key, old, show_secrets, all_nodes)

    run(ctx, op, mode)


@app.command("delete")
@output_options()
def delete(
    ctx: typer.Context,
    section: SectionArg,
    key: KeyArg,
    node: NodeOpt = None,
    all_nodes: AllNodesFlag = False,
    show_secrets: ShowSecrets = False,
    mode: Mode = "human",
) -> None:
    """Delete a configuration value; prints the old value.

    Example: couchctl config delete log level --node couchdb@127.0.0.1
    """
    checked(ctx, lambda: _flag_check(node, all_nodes))

    async def op(couch: CouchClient, out: Output) -> None:
        old: dict[str, Any] = {}
        for target in await _nodes(couch, node, all_nodes):
            old[target] = await couch.config_delete(target, section, key)
        _report(out, mode, section, key, old, show_secrets, all_nodes)

    run(ctx, op, mode)


@app.command("reload")
@output_options()
def reload(ctx: typer.Context, node: NodeOpt = None, mode: Mode = "human") -> None:
    """Re-read the configuration files of a node, dropping changes not persisted.

    Example: couchctl config reload --node couchdb@127.0.0.1
    """
    checked(ctx, lambda: _flag_check(node, False))

    async def op(couch: CouchClient, out: Output) -> None:
        target = await couch.check_node(node or "_local")
        result = await couch.config_reload(target)
        out.result(result, f"reloaded the configuration of {target}")

    run(ctx, op, mode)
