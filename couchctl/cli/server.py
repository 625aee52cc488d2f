"""Server information: version, health, databases, tasks, uuids, membership, session, whoami."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated, Any

import typer

from couchctl.cli._admin import IntervalOption, parse_duration
from couchctl.cli._options import output_options
from couchctl.cli._reads import server_info as server_info_op
from couchctl.cli._run import checked, run
from couchctl.render import Mode

if TYPE_CHECKING:
    from couchctl.client import CouchClient
    from couchctl.config import Settings
    from couchctl.render import Output

app = typer.Typer(
    help="Server information: version, health, databases, tasks, uuids, membership, session, whoami.",
    no_args_is_help=True,
)


@app.command("info")
@output_options()
def info(ctx: typer.Context, mode: Mode = "human") -> None:
    """Show the server's welcome: version, git sha, uuid, vendor, features.

    Example: couchctl server info
    """

    run(ctx, server_info_op(), mode)


@app.command("up")
@output_options()
def up(ctx: typer.Context, mode: Mode = "human") -> None:
    """Check that the node is up and serving (GET /_up); exit 0 when it is.

    A node in maintenance mode answers 404 (exit 4); one that cannot be reached exits 3.

    Example: couchctl server up && echo ready
    """

    async def op(couch: CouchClient, out: Output) -> None:
        result = await couch.server_up()
        status = result.get("status", "ok") if isinstance(result, dict) else "ok"
        out.result(result, str(status))

    run(ctx, op, mode)


@app.command("dbs")
@output_options()
def dbs(
    ctx: typer.Context,
    descending: Annotated[
        bool, typer.Option("--descending", help="List the names in reverse order.")
    ] = False,
    start_key: Annotated[
        str | None,
        typer.Option(
            "--start-key",
            help="Start at this database name (a name, not JSON).",
            show_default=False,
        ),
    ] = None,
    end_key: Annotated[
        str | None,
        typer.Option(
            "--end-key", help="Stop at this database name (a name, not JSON).", show_default=False
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", help="List at most this many names.", min=0, show_default=False),
    ] = None,
    skip: Annotated[
        int | None,
        typer.Option("--skip", help="Skip this many names first.", min=0, show_default=False),
    ] = None,
    mode: Mode = "human",
) -> None:
    """List the names of the databases (GET /_all_dbs), one a line.

    For counts and sizes see 'couchctl db list'.

    Example: couchctl server dbs --start-key logs- --end-key 'logs-~'
    """

    async def op(couch: CouchClient, out: Output) -> None:
        names = await couch.all_dbs(
            descending=descending or None,
            start_key=start_key,
            end_key=end_key,
            limit=limit,
            skip=skip,
        )
        if mode == "json":
            out.json(names)
        else:
            for name in names:
                out.text(name)

    run(ctx, op, mode)


def _started(task: dict[str, Any]) -> str:
    import datetime

    started = task.get("started_on")
    if not isinstance(started, int | float):
        return ""
    moment = datetime.datetime.fromtimestamp(started, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%SZ")


def _task_subject(task: dict[str, Any]) -> str:
    """What a task works on: the database (and design document), or source -> target."""
    if task.get("type") == "replication" or "source" in task:
        return f"{task.get('source') or ''} -> {task.get('target') or ''}"
    subject = str(task.get("database") or "")
    if task.get("design_document"):
        subject += f" {task['design_document']}"
    return subject


def _progress(task: dict[str, Any]) -> str:
    progress = task.get("progress")
    if isinstance(progress, int | float):
        return f"{progress}%"
    done, total = task.get("changes_done"), task.get("total_changes")
    if isinstance(done, int) and isinstance(total, int) and total:
        return f"{100 * done // total}%"
    return ""


def _changes(task: dict[str, Any]) -> str:
    done, total = task.get("changes_done"), task.get("total_changes")
    if isinstance(done, int) and isinstance(total, int):
        return f"{done}/{total}"
    return ""


@app.command("tasks")
@output_options(jsonl=True)
def tasks(
    ctx: typer.Context,
    watch: Annotated[bool, typer.Option("--watch", help="Redraw the table until Ctrl-C.")] = False,
    interval: IntervalOption = "2s",
    mode: Mode = "human",
) -> None:
    """List the running tasks: compactions, indexers, replications (GET /_active_tasks).

    Example: couchctl server tasks --watch --interval 1s
    """
    seconds = checked(ctx, lambda: parse_duration(interval, "--interval"))

    async def op(couch: CouchClient, out: Output) -> None:
        from couchctl.render import Column

        columns = [
            Column("type", lambda task: task.get("type")),
            Column("database", _task_subject),
            Column("progress", _progress, "right"),
            Column("changes", _changes, "right"),
            Column("phase", lambda task: task.get("phase") or task.get("process_status")),
            Column("started", _started),
            Column("node", lambda task: task.get("node")),
            Column("pid", lambda task: task.get("pid")),
        ]
        if not watch or mode != "human":
            result = await couch.active_tasks()
            out.rows(result, columns, whole=None, empty="no active tasks")
            return
        import anyio

        with out.live_table() as draw:
            while True:
                result = await couch.active_tasks()
                draw(result, columns, f"{len(result)} active tasks (Ctrl-C to stop)")
                await anyio.sleep(seconds)

    run(ctx, op, mode)


@app.command("uuids")
@output_options()
def uuids(
    ctx: typer.Context,
    count: Annotated[
        int | None,
        typer.Option(
            "--count",
            "-n",
            help="How many UUIDs (server default: 1, at most max_count, 1000).",
            min=1,
            show_default=False,
        ),
    ] = None,
    mode: Mode = "human",
) -> None:
    """Get new UUIDs from the server (GET /_uuids), one a line.

    Example: couchctl server uuids --count 5
    """

    async def op(couch: CouchClient, out: Output) -> None:
        result = await couch.uuids(count)
        if mode != "human":
            out.json(result)
            return
        for uuid in result.get("uuids", []):
            out.text(str(uuid))

    run(ctx, op, mode)


@app.command("membership")
@output_options()
def membership(ctx: typer.Context, mode: Mode = "human") -> None:
    """List the nodes of the cluster (GET /_membership): known and connected.

    Example: couchctl server membership
    """

    async def op(couch: CouchClient, out: Output) -> None:
        from couchctl.render import Column

        result = await couch.membership()
        known = [str(node) for node in result.get("all_nodes", [])]
        cluster = [str(node) for node in result.get("cluster_nodes", [])]
        rows = [
            (node, "yes" if node in known else "no", "yes" if node in cluster else "no")
            for node in [*cluster, *(node for node in known if node not in cluster)]
        ]
        columns = [
            Column("node", lambda row: row[0]),
            Column("connected", lambda row: row[1]),
            Column("cluster member", lambda row: row[2]),
        ]
        out.rows(rows, columns, whole=result, empty="no nodes")

    run(ctx, op, mode)


@app.command("session")
@output_options()
def session(ctx: typer.Context, mode: Mode = "human") -> None:
    """Show who the server thinks you are (GET /_session): name, roles, how authenticated.

    Example: couchctl --url http://alice@127.0.0.1:5984 server session
    """

    async def op(couch: CouchClient, out: Output) -> None:
        result = await couch.session_info()
        user = result.get("userCtx") or {}
        details = result.get("info") or {}
        rows: list[tuple[str, Any]] = [
            ("name", user.get("name") if user.get("name") is not None else "(anonymous)"),
            ("roles", ", ".join(str(role) for role in user.get("roles") or []) or "(none)"),
        ]
        if details.get("authenticated"):
            rows.append(("authenticated by", details["authenticated"]))
        if details.get("authentication_handlers"):
            rows.append(("handlers", ", ".join(details["authentication_handlers"])))
        out.fields(rows, whole=result)

    run(ctx, op, mode)


def _settings_rows(settings: Settings, prompted: bool) -> list[tuple[str, str, str]]:
    """(setting, value as it may be shown, where it came from): secrets masked."""
    rows: list[tuple[str, str, str]] = [
        ("url", settings.url, settings.url_source),
        ("user", settings.user or "(none)", settings.source_of("user") or ""),
    ]
    for name, value in (("password", settings.password), ("token", settings.token)):
        source = settings.source_of(name) or ""
        if value is None:
            shown = "(asked at the prompt)" if name == "password" and prompted else "(none)"
        elif source.endswith("_FILE") or source.endswith("-file"):
            shown = f"(from {source})"
        else:
            shown = "***"
        rows.append((name, shown, source))
    rows += [
        ("profile", settings.profile or "(none)", settings.source_of("profile") or ""),
        (
            "config file",
            settings.config_file
            if settings.config_file and os.path.exists(settings.config_file)
            else f"(none: {settings.config_file} does not exist)",
            settings.source_of("config file") or "default",
        ),
        ("timeout", f"{settings.timeout:g}s", settings.source_of("timeout") or "default"),
        ("retries", str(settings.retries), settings.source_of("retries") or "default"),
        ("cacert", settings.cacert or "(system CAs)", settings.source_of("cacert") or ""),
        ("insecure", "yes" if settings.insecure else "no", settings.source_of("insecure") or ""),
    ]
    return rows


@app.command("whoami")
@output_options()
def whoami(ctx: typer.Context, mode: Mode = "human") -> None:
    """Show the effective settings, where each came from, and who the server says you are.

    Sources: a flag (--url), the environment (COUCH_URL), a profile and its file, or
    the default. Passwords and tokens are never shown. --json prints
    {"settings": {NAME: {"value": V, "source": S}}, "session": {"name": N, "roles": [...],
    "authenticated": HOW}}.

    Example: couchctl --profile prod server whoami
    """
    import sys

    from couchctl.cli._context import global_options

    options = global_options(ctx)

    async def op(couch: CouchClient, out: Output) -> None:
        from couchctl.render import Column

        settings = options.settings_quiet()
        prompted = bool(settings.user and settings.password is None and sys.stdin.isatty())
        rows = _settings_rows(settings, prompted)
        result = await couch.session_info()
        user = result.get("userCtx") or {}
        details = result.get("info") or {}
        roles = [str(role) for role in user.get("roles") or []]
        session = {
            "name": user.get("name"),
            "roles": roles,
            "authenticated": details.get("authenticated"),
        }
        if mode != "human":
            out.json(
                {
                    "settings": {name: {"value": v, "source": s} for name, v, s in rows},
                    "session": session,
                }
            )
            return
        columns = [
            Column("setting", lambda row: row[0]),
            Column("value", lambda row: row[1]),
            Column("from", lambda row: row[2]),
        ]
        name = user.get("name")
        rows += [
            ("session user", name if name is not None else "(anonymous)", "GET /_session"),
            ("session roles", ", ".join(roles) or "(none)", "GET /_session"),
        ]
        if details.get("authenticated"):
            rows.append(("authenticated by", str(details["authenticated"]), "GET /_session"))
        out.table(rows, columns)

    run(ctx, op, mode)
