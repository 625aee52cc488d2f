"""Databases: create, delete, inspect, list, all-docs, changes, compact, security."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from couchctl.cli._exit import ExitCode
from couchctl.cli._options import (
    DbArg,
    JsonFlag,
    JsonlFlag,
    YesFlag,
    json_argument,
    json_object_argument,
    output_mode,
)
from couchctl.cli._query_options import (
    AttachmentsOption,
    AttEncodingInfoOption,
    ConflictsOption,
    RowFlags,
    row_query_flags,
    row_query_options,
    write_rows,
)
from couchctl.cli._run import checked, confirm_or_exit, fail, run

if TYPE_CHECKING:
    from couchctl.client import CouchClient
    from couchctl.render import Column, Mode, Output

app = typer.Typer(
    help="Databases: create, delete, inspect, list, all-docs, changes, compact, security.",
    no_args_is_help=True,
)

# CouchDB refuses more names than this in one POST /_dbs_info
# (max_db_number_for_dbs_info_req, 100 by default).
DBS_INFO_CHUNK = 100
# Parallel GET /{db} when the server has no /_dbs_info (the pouchdb-server stand-in).
DB_INFO_CONCURRENCY = 4
# Heartbeat of `changes --follow` when neither --heartbeat nor --timeout is given:
# it keeps CouchDB from closing an idle continuous feed after its 60 s default timeout.
FOLLOW_HEARTBEAT_MS = 10_000


# -- create, delete, exists, info -------------------------------------------------------------


@app.command("create")
def create(
    ctx: typer.Context,
    db: DbArg,
    q: Annotated[
        int | None,
        typer.Option(
            "--q",
            help="Shards (range partitions); the cluster's default (2) when not given.",
            min=1,
            show_default=False,
        ),
    ] = None,
    n: Annotated[
        int | None,
        typer.Option(
            "--n",
            help="Replicas of each shard; the cluster's default (3) when not given.",
            min=1,
            show_default=False,
        ),
    ] = None,
    partitioned: Annotated[
        bool, typer.Option("--partitioned", help="Create a partitioned database.")
    ] = False,
    json_flag: JsonFlag = False,
) -> None:
    """Create a database.

    The name must start with a lowercase letter and hold only a-z, 0-9 and
    _ $ ( ) + - / (CouchDB's rule); anything else is refused before any request.

    Example: couchctl db create mydb --q 8
    """

    def parse() -> Mode:
        from couchctl.client import validate_db_name

        validate_db_name(db)
        return output_mode(json_flag)

    mode = checked(ctx, parse)

    async def op(couch: CouchClient, out: Output) -> None:
        result = await couch.db_create(db, q=q, n=n, partitioned=partitioned or None)
        out.result(result, f"created database {db}")

    run(ctx, op, mode)


@app.command("delete")
def delete(
    ctx: typer.Context,
    db: DbArg,
    yes: YesFlag = False,
    json_flag: JsonFlag = False,
) -> None:
    """Delete a database and every document in it.

    Asks for confirmation on a terminal; elsewhere --yes is required.

    Example: couchctl db delete mydb --yes
    """

    mode = checked(ctx, lambda: output_mode(json_flag))
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
def exists(ctx: typer.Context, db: DbArg, json_flag: JsonFlag = False) -> None:
    """Check whether a database exists: exit 0 if it does, 4 if not.

    With --json: {"db": NAME, "exists": true|false}.

    Example: couchctl db exists mydb || couchctl db create mydb
    """
    mode = checked(ctx, lambda: output_mode(json_flag))

    async def op(couch: CouchClient, out: Output) -> int:
        found = await couch.db_exists(db)
        if mode != "human":
            out.json({"db": db, "exists": found})
        elif found:
            out.text(f"database {db} exists")
        else:
            out.info(f"database {db} does not exist")
        return 0 if found else int(ExitCode.NOT_FOUND)

    run(ctx, op, mode)


def _size(sizes: Any, name: str) -> str | None:
    from couchctl.render import format_size

    if isinstance(sizes, dict) and isinstance(sizes.get(name), int | float):
        return format_size(sizes[name])
    return None


def _info_rows(info: dict[str, Any]) -> list[tuple[str, Any]]:
    """The fields of GET /{db} worth reading, skipping those the server did not send."""
    sizes = info.get("sizes")
    props = info.get("props")
    cluster = info.get("cluster")
    candidates: list[tuple[str, Any]] = [
        ("name", info.get("db_name")),
        ("documents", info.get("doc_count")),
        ("deleted documents", info.get("doc_del_count")),
        ("size (active)", _size(sizes, "active")),
        ("size (external)", _size(sizes, "external")),
        ("size (file)", _size(sizes, "file")),
        ("update_seq", info.get("update_seq")),
        ("purge_seq", info.get("purge_seq")),
        ("compact running", info.get("compact_running")),
        (
            "partitioned",
            bool(props.get("partitioned")) if isinstance(props, dict) else None,
        ),
        ("shards (q)", cluster.get("q") if isinstance(cluster, dict) else None),
        ("replicas (n)", cluster.get("n") if isinstance(cluster, dict) else None),
        ("disk format", info.get("disk_format_version")),
    ]
    return [(name, value) for name, value in candidates if value is not None]


@app.command("info")
def info(ctx: typer.Context, db: DbArg, json_flag: JsonFlag = False) -> None:
    """Show a database's document counts, sizes, sequence and cluster settings.

    Example: couchctl db info mydb
    """
    mode = checked(ctx, lambda: output_mode(json_flag))

    async def op(couch: CouchClient, out: Output) -> None:
        result = await couch.db_info(db)
        out.fields(_info_rows(result), whole=result)

    run(ctx, op, mode)


# -- list ----------------------------------------------------------------------------------------


async def _databases_info(couch: CouchClient, names: list[str]) -> list[dict[str, Any]]:
    """`[{"key": name, "info": {...}} | {"key": name, "error": ...}]` for every name.

    POST /_dbs_info in chunks; on a server without it (404), GET /{db} for each,
    a few at a time.
    """
    from couchctl.client import NotFound

    entries: list[dict[str, Any]] = []
    try:
        for start in range(0, len(names), DBS_INFO_CHUNK):
            entries.extend(await couch.dbs_info(names[start : start + DBS_INFO_CHUNK]))
        return entries
    except NotFound:
        pass

    import anyio

    found: dict[str, dict[str, Any]] = {}
    limiter = anyio.CapacityLimiter(DB_INFO_CONCURRENCY)

    async def one(name: str) -> None:
        async with limiter:
            try:
                found[name] = {"key": name, "info": await couch.db_info(name)}
            except NotFound:
                found[name] = {"key": name, "error": "not_found"}

    async with anyio.create_task_group() as group:
        for name in names:
            group.start_soon(one, name)
    return [found[name] for name in names]


def _entry_info(entry: dict[str, Any]) -> dict[str, Any]:
    info = entry.get("info")
    return info if isinstance(info, dict) else {}


@app.command("list")
def list_(ctx: typer.Context, json_flag: JsonFlag = False, jsonl_flag: JsonlFlag = False) -> None:
    """List every database with its document count, deleted count and sizes.

    --json prints one array and --jsonl one line per database, each entry shaped like
    CouchDB's /_dbs_info: {"key": NAME, "info": {...}} (or "error" for a database
    deleted meanwhile). For the bare names see 'couchctl server dbs'.

    Example: couchctl db list
    """
    mode = checked(ctx, lambda: output_mode(json_flag, jsonl_flag))

    async def op(couch: CouchClient, out: Output) -> None:
        from couchctl.render import Column

        names = await couch.all_dbs()
        entries = await _databases_info(couch, names)
        if mode == "human":
            entries = [entry for entry in entries if "info" in entry]
        columns = [
            Column("name", lambda entry: entry.get("key")),
            Column("docs", lambda entry: _entry_info(entry).get("doc_count"), "right"),
            Column("deleted", lambda entry: _entry_info(entry).get("doc_del_count"), "right"),
            Column(
                "active", lambda entry: _size(_entry_info(entry).get("sizes"), "active"), "right"
            ),
            Column("file", lambda entry: _size(_entry_info(entry).get("sizes"), "file"), "right"),
        ]
        out.rows(entries, columns, whole=None, empty="no databases")

    run(ctx, op, mode)


# -- all-docs, design-docs ---------------------------------------------------------------------

# _design_docs takes the _all_docs parameters up to --update-seq (no view options).
DESIGN_DOCS_FLAGS = (
    "key",
    "keys",
    "start_key",
    "end_key",
    "start_key_doc_id",
    "end_key_doc_id",
    "include_docs",
    "conflicts",
    "descending",
    "inclusive_end",
    "limit",
    "skip",
    "update_seq",
)
# --sorted/--no-sorted, also spelled --sort/--no-sort here (the client's name: sort).
AllDocsSortedOption = Annotated[
    bool | None,
    typer.Option(
        "--sorted/--no-sorted",
        "--sort/--no-sort",
        help="Sort the rows (--no-sorted is faster; no total_rows/offset).",
        show_default=False,
    ),
]


def _rev_of(row: dict[str, Any]) -> Any:
    value = row.get("value")
    return value.get("rev") if isinstance(value, dict) else None


def _status_of(row: dict[str, Any]) -> str:
    if row.get("error"):
        return str(row["error"])
    value = row.get("value")
    if isinstance(value, dict) and value.get("deleted"):
        return "deleted"
    return ""


def _doc_row_columns(with_keys: bool, with_docs: bool) -> list[Column]:
    from couchctl.render import Column

    columns = [
        Column("id", lambda row: row.get("id") if row.get("id") is not None else row.get("key")),
        Column("rev", _rev_of),
    ]
    if with_keys:
        columns.append(Column("status", _status_of))
    if with_docs:
        columns.append(Column("doc", lambda row: row.get("doc")))
    return columns


def _row_summary(out: Output, shown: int, result: dict[str, Any]) -> None:
    total = result.get("total_rows")
    if isinstance(total, int):
        out.info(f"{shown} of {total} rows")


@app.command("all-docs")
@row_query_flags(sorted_=(AllDocsSortedOption, None))
def all_docs(
    ctx: typer.Context,
    db: DbArg,
    rows: RowFlags,
    json_flag: JsonFlag = False,
    jsonl_flag: JsonlFlag = False,
) -> None:
    """List the documents of a database (_all_docs): id and rev, optionally the docs.

    Keys are JSON: --key '"doc-1"', --keys '["a","b"]', --start-key '"doc-"'.
    --jsonl streams one row a line in constant memory.

    Example: couchctl db all-docs mydb --start-key '"user:"' --end-key '"user:\\ufff0"' --limit 20
    """

    def parse() -> tuple[Mode, dict[str, Any]]:
        options = row_query_options(**rows)
        if "sorted" in options:  # the client's _all_docs name
            options["sort"] = options.pop("sorted")
        return output_mode(json_flag, jsonl_flag), options

    mode, options = checked(ctx, parse)
    columns = _doc_row_columns("keys" in options, bool(options.get("include_docs")))

    async def op(couch: CouchClient, out: Output) -> None:
        result = await write_rows(
            out,
            lambda: couch.iter_all_docs(db, **options),
            lambda: couch.db_all_docs(db, **options),
            columns,
            empty="no documents",
        )
        if mode == "human" and result and result.get("rows") and "keys" not in options:
            _row_summary(out, len(result["rows"]), result)

    run(ctx, op, mode)


@app.command("design-docs")
@row_query_flags(DESIGN_DOCS_FLAGS)
def design_docs(
    ctx: typer.Context,
    db: DbArg,
    rows: RowFlags,
    json_flag: JsonFlag = False,
    jsonl_flag: JsonlFlag = False,
) -> None:
    """List the design documents of a database (_design_docs).

    Keys are design document ids as JSON: --key '"_design/app"'.

    Example: couchctl db design-docs mydb --include-docs --json
    """

    def parse() -> tuple[Mode, dict[str, Any]]:
        options = row_query_options(**rows)
        return output_mode(json_flag, jsonl_flag), options

    mode, options = checked(ctx, parse)
    columns = _doc_row_columns("keys" in options, bool(options.get("include_docs")))

    async def op(couch: CouchClient, out: Output) -> None:
        await write_rows(
            out,
            lambda: couch.iter_design_docs(db, **options),
            lambda: couch.db_design_docs(db, **options),
            columns,
            empty="no design documents",
        )

    run(ctx, op, mode)


# -- maintenance -------------------------------------------------------------------------------


@app.command("compact")
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
    json_flag: JsonFlag = False,
) -> None:
    """Start compacting a database (or a design document's views); follow with 'server tasks'.

    Example: couchctl db compact mydb
    """
    mode = checked(ctx, lambda: output_mode(json_flag))

    async def op(couch: CouchClient, out: Output) -> None:
        result = await couch.db_compact(db, ddoc)
        what = f"the views of {ddoc} in {db}" if ddoc else db
        out.result(result, f"compaction of {what} started")

    run(ctx, op, mode)


@app.command("view-cleanup")
def view_cleanup(ctx: typer.Context, db: DbArg, json_flag: JsonFlag = False) -> None:
    """Remove view index files that no design document uses any more.

    Example: couchctl db view-cleanup mydb
    """
    mode = checked(ctx, lambda: output_mode(json_flag))

    async def op(couch: CouchClient, out: Output) -> None:
        result = await couch.view_cleanup(db)
        out.result(result, f"view cleanup of {db} started")

    run(ctx, op, mode)


@app.command("security")
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
    json_flag: JsonFlag = False,
) -> None:
    """Show or replace a database's security object (admins and members).

    Example: couchctl db security mydb --set '{"admins":{"roles":["ops"]},"members":{"roles":[]}}'
    """

    def parse() -> tuple[Mode, dict[str, Any] | None]:
        document = None
        if set_ is not None:
            source = set_
            if not (source == "-" or source.startswith("@") or source.lstrip()[:1] in '{["'):
                source = "@" + source  # a plain path
            document = json_object_argument(source, "--set")
        return output_mode(json_flag), document

    mode, document = checked(ctx, parse)

    async def op(couch: CouchClient, out: Output) -> None:
        if document is None:
            out.document(await couch.security_get(db))
            return
        result = await couch.security_put(db, document)
        out.result(result, f"updated the security object of {db}")

    run(ctx, op, mode)


@app.command("revs-limit")
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
    json_flag: JsonFlag = False,
) -> None:
    """Show or set how many revisions of each document a database remembers.

    Example: couchctl db revs-limit mydb --set 100
    """
    mode = checked(ctx, lambda: output_mode(json_flag))

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
def purge(
    ctx: typer.Context,
    db: DbArg,
    doc_id: Annotated[str, typer.Argument(help="Document id.", show_default=False)],
    revs: Annotated[
        list[str], typer.Argument(help="Revisions to purge (leaf revisions).", show_default=False)
    ],
    yes: YesFlag = False,
    json_flag: JsonFlag = False,
) -> None:
    """Purge document revisions for good: no tombstone, nothing replicates.

    Asks for confirmation on a terminal; elsewhere --yes is required.

    Example: couchctl db purge mydb doc-1 3-917fa2381192822767f010b95b45325b --yes
    """

    mode = checked(ctx, lambda: output_mode(json_flag))
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


# -- changes -------------------------------------------------------------------------------------


class Feed(StrEnum):
    normal = "normal"
    longpoll = "longpoll"


class Style(StrEnum):
    main_only = "main_only"
    all_docs = "all_docs"


def _revs_of(change: dict[str, Any]) -> str:
    return ", ".join(
        str(item.get("rev")) for item in change.get("changes") or [] if isinstance(item, dict)
    )


@app.command("changes")
def changes(
    ctx: typer.Context,
    db: DbArg,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Start after this sequence ('now' for new changes only).",
            show_default=False,
        ),
    ] = None,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            "-f",
            help="Follow the continuous feed, one JSON line per change, until interrupted.",
        ),
    ] = False,
    feed: Annotated[
        Feed | None,
        typer.Option(
            "--feed",
            help="normal, or longpoll: wait for a first change (see --timeout).",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", help="At most this many changes.", min=0, show_default=False),
    ] = None,
    include_docs: Annotated[
        bool, typer.Option("--include-docs", help="Include each changed document.")
    ] = False,
    descending: Annotated[bool, typer.Option("--descending", help="Newest changes first.")] = False,
    filter_: Annotated[
        str | None,
        typer.Option(
            "--filter",
            help="A filter: _design, _view (with --view), or DDOC/NAME of a filter function.",
            show_default=False,
        ),
    ] = None,
    doc_ids: Annotated[
        str | None,
        typer.Option(
            "--doc-ids",
            help="Only these documents: a JSON array of ids (@file, -).",
            show_default=False,
        ),
    ] = None,
    selector: Annotated[
        str | None,
        typer.Option(
            "--selector",
            help="Only documents matching this Mango selector: a JSON object (@file, -).",
            show_default=False,
        ),
    ] = None,
    view: Annotated[
        str | None,
        typer.Option("--view", help="With --filter _view: DDOC/VIEW.", show_default=False),
    ] = None,
    timeout: Annotated[
        int | None,
        typer.Option(
            "--timeout",
            help="Milliseconds CouchDB waits for changes (longpoll, --follow) before it ends the feed.",
            min=0,
            show_default=False,
        ),
    ] = None,
    heartbeat: Annotated[
        int | None,
        typer.Option(
            "--heartbeat",
            help=f"Milliseconds between keep-alive newlines (--follow default: {FOLLOW_HEARTBEAT_MS}).",
            min=1,
            show_default=False,
        ),
    ] = None,
    style: Annotated[
        Style | None,
        typer.Option(
            "--style",
            help="all_docs: every leaf revision, not just the winner.",
            show_default=False,
        ),
    ] = None,
    conflicts: ConflictsOption = False,
    attachments: AttachmentsOption = False,
    att_encoding_info: AttEncodingInfoOption = False,
    seq_interval: Annotated[
        int | None,
        typer.Option(
            "--seq-interval",
            help="Compute seq only every N changes (faster; others get null).",
            min=1,
            show_default=False,
        ),
    ] = None,
    json_flag: JsonFlag = False,
    jsonl_flag: JsonlFlag = False,
) -> None:
    """Show the changes of a database; --follow streams them as JSON Lines until Ctrl-C.

    Without --follow: a table (seq, id, revs), --json the server's answer, --jsonl
    one change a line; the last sequence goes to stderr. With --follow the feed is
    continuous; a heartbeat keeps it open unless --timeout is given, and on exit the
    sequence to resume from (--since) is written to stderr.

    Example: couchctl db changes mydb --since now --follow --include-docs
    """

    def parse() -> tuple[Mode, dict[str, Any]]:
        mode = output_mode(json_flag, jsonl_flag)
        if follow and mode == "json":
            fail("--follow streams JSON Lines: use it without --json (or with --jsonl)")
        if follow and feed is not None:
            fail("--follow and --feed cannot be used together (--follow is feed=continuous)")
        ids = None
        if doc_ids is not None:
            ids = json_argument(doc_ids, "--doc-ids")
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                fail('--doc-ids must be a JSON array of document ids, e.g. \'["a", "b"]\'')
        mango = json_object_argument(selector, "--selector") if selector is not None else None
        if ids is not None and mango is not None:
            fail("--doc-ids and --selector cannot be used together")
        if ids is not None and filter_ not in (None, "_doc_ids"):
            fail("--doc-ids already filters (filter=_doc_ids): drop --filter")
        if mango is not None and filter_ not in (None, "_selector"):
            fail("--selector already filters (filter=_selector): drop --filter")
        if view is not None and filter_ not in (None, "_view"):
            fail("--view goes with --filter _view")
        options: dict[str, Any] = {
            "since": since,
            "limit": limit,
            "include_docs": include_docs or None,
            "descending": descending or None,
            "filter": "_view" if view is not None and filter_ is None else filter_,
            "doc_ids": ids,
            "selector": mango,
            "view": view,
            "timeout": timeout,
            "heartbeat": heartbeat,
            "style": style.value if style is not None else None,
            "conflicts": conflicts or None,
            "attachments": attachments or None,
            "att_encoding_info": att_encoding_info or None,
            "seq_interval": seq_interval,
        }
        if follow and heartbeat is None and timeout is None:
            options["heartbeat"] = FOLLOW_HEARTBEAT_MS
        return ("jsonl" if follow else mode), options

    mode, options = checked(ctx, parse)

    async def follow_feed(couch: CouchClient, out: Output) -> None:
        meta: dict[str, Any] = {}
        try:
            async for change in couch.changes_continuous(db, meta=meta, **options):
                out.jsonl(change)
                out.flush()
        finally:
            if meta.get("last_seq") is not None:
                out.info(f"last_seq: {_seq_text(meta['last_seq'])}")

    async def op(couch: CouchClient, out: Output) -> None:
        from couchctl.render import Column

        if follow:
            await follow_feed(couch, out)
            return
        if mode == "jsonl" and feed is not Feed.longpoll:
            meta: dict[str, Any] = {}
            async for change in couch.iter_changes(db, meta=meta, **options):
                out.jsonl(change)
            out.flush()
            if meta.get("last_seq") is not None:
                out.info(f"last_seq: {_seq_text(meta['last_seq'])}")
            return
        result = await couch.changes(db, feed=feed.value if feed is not None else None, **options)
        results = result.get("results", [])
        columns = [
            Column("seq", lambda change: _short_seq(change.get("seq"))),
            Column("id", lambda change: change.get("id")),
            Column("revs", _revs_of),
            Column("deleted", lambda change: "deleted" if change.get("deleted") else ""),
        ]
        if include_docs:
            columns.append(Column("doc", lambda change: change.get("doc")))
        if mode == "jsonl":
            for change in results:
                out.jsonl(change)
            out.flush()
        else:
            out.rows(results, columns, whole=result, empty="no changes")
        if mode != "json" and result.get("last_seq") is not None:
            out.info(f"last_seq: {_seq_text(result['last_seq'])}")

    run(ctx, op, mode)


def _seq_text(seq: Any) -> str:
    """A sequence as typed on a command line (CouchDB: opaque strings; some servers: numbers)."""
    return seq if isinstance(seq, str) else str(seq)


def _short_seq(seq: Any) -> str:
    """A sequence for a table cell: CouchDB's are ~100-character opaque strings, so the
    table shows their start (the whole value is in --json/--jsonl and in last_seq)."""
    text = _seq_text(seq)
    return text if len(text) <= 16 else text[:12] + "…"


# -- partitions ----------------------------------------------------------------------------------


@app.command("partition-info")
def partition_info(
    ctx: typer.Context,
    db: DbArg,
    partition: Annotated[str, typer.Argument(help="Partition name.", show_default=False)],
    json_flag: JsonFlag = False,
) -> None:
    """Show one partition of a partitioned database: document counts and sizes.

    Example: couchctl db partition-info mydb sensor-1
    """
    mode = checked(ctx, lambda: output_mode(json_flag))

    async def op(couch: CouchClient, out: Output) -> None:
        result = await couch.partition_info(db, partition)
        sizes = result.get("sizes")
        candidates: list[tuple[str, Any]] = [
            ("database", result.get("db_name")),
            ("partition", result.get("partition")),
            ("documents", result.get("doc_count")),
            ("deleted documents", result.get("doc_del_count")),
            ("size (active)", _size(sizes, "active")),
            ("size (external)", _size(sizes, "external")),
        ]
        out.fields([row for row in candidates if row[1] is not None], whole=result)

    run(ctx, op, mode)
