"""Databases: create, delete, inspect, list, all-docs, changes, compact, security."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from couchctl.cli._options import DbArg, YesFlag, json_object_argument, output_options
from couchctl.cli._reads import db_exists as db_exists_op
from couchctl.cli._reads import db_info as db_info_op
from couchctl.cli._reads import db_list as db_list_op
from couchctl.cli._reads import size_of
from couchctl.cli._run import checked, confirm_or_exit, run
from couchctl.render import Mode

if TYPE_CHECKING:
    from couchctl.client import CouchClient
    from couchctl.render import Output

app = typer.Typer(
    help="Databases: create, delete, inspect, list, all-docs, changes, compact, security.",
    no_args_is_help=True,
)


# -- create, delete, exists, info -------------------------------------------------------------


@app.command("create")
@output_options()
def create(
    ctx: typer.Context,
    db: DbArg,
    q: Annotated[
        int | None,
        typer.Option(
            "--q",
            help="Shards (range partitions); the server's [cluster] q when not given.",
            min=1,
            show_default=False,
        ),
    ] = None,
    n: Annotated[
        int | None,
        typer.Option(
            "--n",
            help="Replicas of each shard; the server's [cluster] n when not given "
            "(a single node keeps one copy whatever is asked).",
            min=1,
            show_default=False,
        ),
    ] = None,
    partitioned: Annotated[
        bool, typer.Option("--partitioned", help="Create a partitioned database.")
    ] = False,
    mode: Mode = "human",
) -> None:
    """Create a database.

    The name must start with a lowercase letter and hold only a-z, 0-9 and
    _ $ ( ) + - / (CouchDB's rule); anything else is refused before any request.

    When the server applies another q, n or partitioned than was asked (a single
    node keeps n=1), that is said on stderr after creating.

    Example: couchctl db create mydb --q 8
    """

    def parse() -> None:
        from couchctl.client import validate_db_name

        validate_db_name(db)

    checked(ctx, parse)

    async def op(couch: CouchClient, out: Output) -> None:
        result = await couch.db_create(db, q=q, n=n, partitioned=partitioned or None)
        out.result(result, f"created database {db}")
        if q is None and n is None and not partitioned:
            return
        info = await couch.db_info(db)
        for warning in _not_applied(db, info, q=q, n=n, partitioned=partitioned):
            out.warn(warning)

    run(ctx, op, mode)


def _not_applied(
    db: str, info: Any, *, q: int | None, n: int | None, partitioned: bool
) -> list[str]:
    """What the server did not apply of what `db create` asked, from GET /db."""
    if not isinstance(info, dict):
        return []
    cluster: dict[str, Any] = info["cluster"] if isinstance(info.get("cluster"), dict) else {}
    props: dict[str, Any] = info["props"] if isinstance(info.get("props"), dict) else {}
    said: list[str] = []
    for option, asked in (("q", q), ("n", n)):
        got = cluster.get(option)
        if asked is not None and isinstance(got, int) and got != asked:
            why = " (a single node keeps one copy)" if option == "n" and got == 1 else ""
            said.append(f"database {db} has {option}={got}, not the {option}={asked} asked{why}")
    if partitioned and props.get("partitioned") is not True:
        said.append(f"database {db} is not partitioned: the server did not apply --partitioned")
    return said


@app.command("delete")
@output_options()
def delete(
    ctx: typer.Context,
    db: DbArg,
    yes: YesFlag = False,
    mode: Mode = "human",
) -> None:
    """Delete a database and every document in it.

    Asks for confirmation on a terminal; elsewhere --yes is required.

    Example: couchctl db delete mydb --yes
    """

    confirm_or_exit(
        ctx,
        yes,
        question=f"Delete database {db} and all its documents?",
        action=f"delete database {db}",
        declined=f"not deleted: database {db} is unchanged",
    )

    async def op(couch: CouchClient, out: Output) -> None:
        result = await couch.db_delete(db)
        out.result(result, f"deleted database {db}")

    run(ctx, op, mode)


@app.command("exists")
@output_options()
def exists(ctx: typer.Context, db: DbArg, mode: Mode = "human") -> None:
    """Check whether a database exists: exit 0 if it does, 4 if not.

    With --json: {"db": NAME, "exists": true|false}.

    Example: couchctl db exists mydb || couchctl db create mydb
    """

    run(ctx, db_exists_op(db, mode), mode)


@app.command("info")
@output_options()
def info(ctx: typer.Context, db: DbArg, mode: Mode = "human") -> None:
    """Show a database's document counts, sizes, sequence and cluster settings.

    Example: couchctl db info mydb
    """

    run(ctx, db_info_op(db), mode)


# -- list ----------------------------------------------------------------------------------------


@app.command("list")
@output_options(jsonl=True)
def list_(ctx: typer.Context, mode: Mode = "human") -> None:
    """List every database with its document count, deleted count and sizes.

    --json prints one array and --jsonl one line per database, each entry shaped like
    CouchDB's /_dbs_info: {"key": NAME, "info": {...}} (or "error" for a database
    deleted meanwhile). For the bare names see 'couchctl server dbs'.

    Example: couchctl db list
    """

    run(ctx, db_list_op(mode), mode)


# -- maintenance -------------------------------------------------------------------------------


@app.command("compact")
@output_options()
def compact(
    ctx: typer.Context,
    db: DbArg,
    ddoc: Annotated[
        str | None,
        typer.Option(
            "--ddoc",
            help="Compact the view indexes of this design document instead (name or _design/name).",
            show_default=False,
        ),
    ] = None,
    mode: Mode = "human",
) -> None:
    """Start compacting a database (or a design document's views); follow with 'server tasks'.

    Example: couchctl db compact mydb
    """

    async def op(couch: CouchClient, out: Output) -> None:
        result = await couch.db_compact(db, ddoc)
        what = f"the views of {ddoc} in {db}" if ddoc else db
        out.result(result, f"compaction of {what} started")

    run(ctx, op, mode)


@app.command("view-cleanup")
@output_options()
def view_cleanup(ctx: typer.Context, db: DbArg, mode: Mode = "human") -> None:
    """Remove view index files that no design document uses any more.

    Example: couchctl db view-cleanup mydb
    """

    async def op(couch: CouchClient, out: Output) -> None:
        result = await couch.view_cleanup(db)
        out.result(result, f"view cleanup of {db} started")

    run(ctx, op, mode)


@app.command("security")
@output_options()
def security(
    ctx: typer.Context,
    db: DbArg,
    set_: Annotated[
        str | None,
        typer.Option(
            "--set",
            help="Replace the security object: a JSON object, @file, a file path, or - for stdin.",
            show_default=False,
        ),
    ] = None,
    yes: YesFlag = False,
    mode: Mode = "human",
) -> None:
    """Show or replace a database's security object (admins and members).

    A security object without members (no names, no roles) makes the database
    readable by anyone: that asks on a terminal and needs --yes elsewhere.

    Example: couchctl db security mydb --set '{"admins":{"roles":["ops"]},"members":{"roles":["staff"]}}'
    """

    def parse() -> dict[str, Any] | None:
        document = None
        if set_ is not None:
            source = set_
            if not (source == "-" or source.startswith("@") or source.lstrip()[:1] in '{["'):
                source = "@" + source  # a plain path
            document = json_object_argument(source, "--set")
        return document

    document = checked(ctx, parse)
    if document is not None and _leaves_public(document):
        confirm_or_exit(
            ctx,
            yes,
            question=f"Make {db} readable and writable by anyone (no members)?",
            action=f"make {db} public (a security object without members)",
            declined=f"not changed: the security object of {db} is as it was",
        )

    async def op(couch: CouchClient, out: Output) -> None:
        if document is None:
            out.document(await couch.security_get(db))
            return
        result = await couch.security_put(db, document)
        out.result(result, f"updated the security object of {db}")

    run(ctx, op, mode)


def _leaves_public(security: dict[str, Any]) -> bool:
    """Whether a security object lets anyone read the database: no member names or roles."""
    members = security.get("members")
    if not isinstance(members, dict):
        return True
    return not (members.get("names") or members.get("roles"))


@app.command("revs-limit")
@output_options()
def revs_limit(
    ctx: typer.Context,
    db: DbArg,
    set_: Annotated[
        int | None,
        typer.Option(
            "--set",
            help="Remember this many revisions of each document.",
            min=1,
            show_default=False,
        ),
    ] = None,
    mode: Mode = "human",
) -> None:
    """Show or set how many revisions of each document a database remembers.

    Example: couchctl db revs-limit mydb --set 100
    """

    async def op(couch: CouchClient, out: Output) -> None:
        if set_ is None:
            limit = await couch.revs_limit_get(db)
            if mode != "human":
                out.json(limit)
            else:
                out.text(str(limit))
            return
        result = await couch.revs_limit_put(db, set_)
        out.result(result, f"revs limit of {db} set to {set_}")

    run(ctx, op, mode)


@app.command("purge")
@output_options()
def purge(
    ctx: typer.Context,
    db: DbArg,
    doc_id: Annotated[str, typer.Argument(help="Document id.", show_default=False)],
    revs: Annotated[
        list[str], typer.Argument(help="Revisions to purge (leaf revisions).", show_default=False)
    ],
    yes: YesFlag = False,
    mode: Mode = "human",
) -> None:
    """Purge document revisions for good: no tombstone, nothing replicates.

    Asks for confirmation on a terminal; elsewhere --yes is required.

    Example: couchctl db purge mydb doc-1 3-917fa2381192822767f010b95b45325b --yes
    """

    count = len(revs)
    confirm_or_exit(
        ctx,
        yes,
        question=f"Purge {count} revision{'s' if count != 1 else ''} of {doc_id!r} from {db}?",
        action=f"purge from {db}",
        declined=f"not purged: {doc_id!r} in {db} is unchanged",
    )

    async def op(couch: CouchClient, out: Output) -> None:
        result = await couch.purge(db, {doc_id: revs})
        purged = (result.get("purged") or {}).get(doc_id) or []
        count = len(purged)
        message = (
            f"purged {count} revision{'s' if count != 1 else ''} of {doc_id!r}"
            if count
            else f"nothing purged: no such revision of {doc_id!r}"
        )
        out.result(result, message)

    run(ctx, op, mode)


# -- partitions ----------------------------------------------------------------------------------


@app.command("partition-info")
@output_options()
def partition_info(
    ctx: typer.Context,
    db: DbArg,
    partition: Annotated[str, typer.Argument(help="Partition name.", show_default=False)],
    mode: Mode = "human",
) -> None:
    """Show one partition of a partitioned database: document counts and sizes.

    Example: couchctl db partition-info mydb sensor-1
    """

    async def op(couch: CouchClient, out: Output) -> None:
        result = await couch.partition_info(db, partition)
        sizes = result.get("sizes")
        candidates: list[tuple[str, Any]] = [
            ("database", result.get("db_name")),
            ("partition", result.get("partition")),
            ("documents", result.get("doc_count")),
            ("deleted documents", result.get("doc_del_count")),
            ("size (active)", size_of(sizes, "active")),
            ("size (external)", size_of(sizes, "external")),
        ]
        out.fields([row for row in candidates if row[1] is not None], whole=result)

    run(ctx, op, mode)
