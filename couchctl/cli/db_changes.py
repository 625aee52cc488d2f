"""`db changes`: a database's changes feed (normal, longpoll, or followed continuously).

A command of the `db` group (cli/_app.py's MORE_COMMANDS loads it with it). What the
feed accepts is checked by the client (`check_changes`), before any request.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from couchctl.cli._options import DbArg, json_argument, json_object_argument, output_options
from couchctl.cli._query_options import AttachmentsOption, AttEncodingInfoOption, ConflictsOption
from couchctl.cli._row_table import AllRowsOption
from couchctl.cli._run import checked, fail, run
from couchctl.render import Mode

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from couchctl.client import CouchClient
    from couchctl.render import Column, Output

__all__ = ["app", "changes"]

app = typer.Typer()

# Heartbeat of `changes --follow` when neither --heartbeat nor --longpoll-timeout is given:
# it keeps CouchDB from closing an idle continuous feed after its 60 s default timeout.
FOLLOW_HEARTBEAT_MS = 10_000


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
@output_options(jsonl=True)
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
            help="normal, or longpoll: wait for a first change (see --longpoll-timeout).",
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
        str | None,
        typer.Option(
            "--longpoll-timeout",
            help="How long CouchDB waits for changes (longpoll, --follow) before it ends the "
            "feed: seconds, or with a unit: 500ms, 30s, 2m.",
            show_default=False,
            metavar="DURATION",
        ),
    ] = None,
    heartbeat: Annotated[
        str | None,
        typer.Option(
            "--heartbeat",
            help="Time between keep-alive newlines: seconds, or with a unit: 500ms, 30s "
            f"(--follow default: {FOLLOW_HEARTBEAT_MS // 1000}s).",
            show_default=False,
            metavar="DURATION",
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
    all_rows: AllRowsOption = False,
    mode: Mode = "human",
) -> None:
    """Show the changes of a database; --follow streams them as JSON Lines until Ctrl-C.

    Without --follow: a table (seq, id, revs) of 100 changes unless --limit or --all
    is given, --json the server's answer, --jsonl one change a line; the sequence
    to go on from goes to stderr. With --follow the feed is continuous; a heartbeat
    keeps it open unless --longpoll-timeout is given, and on exit (Ctrl-C included) the
    sequence to resume from (--since) is written to stderr.

    Example: couchctl db changes mydb --since now --follow --include-docs
    """

    def parse() -> dict[str, Any]:  # flags to options, checked before any request
        from couchctl.client import check_changes

        if follow and mode == "json":
            fail("--follow streams JSON Lines: use it without --json (or with --jsonl)")
        if follow and feed is not None:
            fail("--follow and --feed cannot be used together (--follow is feed=continuous)")
        options: dict[str, Any] = {
            "since": since,
            "limit": limit,
            "include_docs": include_docs or None,
            "descending": descending or None,
            "filter": filter_,
            "doc_ids": None if doc_ids is None else json_argument(doc_ids, "--doc-ids"),
            "selector": None if selector is None else json_object_argument(selector, "--selector"),
            "view": view,
            "timeout": _milliseconds(timeout, "--longpoll-timeout"),
            "heartbeat": _milliseconds(heartbeat, "--heartbeat"),
            "style": None if style is None else style.value,
            "conflicts": conflicts or None,
            "attachments": attachments or None,
            "att_encoding_info": att_encoding_info or None,
            "seq_interval": seq_interval,
        }
        if follow and heartbeat is None and timeout is None:
            options["heartbeat"] = FOLLOW_HEARTBEAT_MS
        check_changes("continuous" if follow else None if feed is None else feed.value, **options)
        return options

    options = checked(ctx, parse)
    if follow:
        mode = "jsonl"

    async def follow_feed(couch: CouchClient, out: Output) -> int:
        import anyio

        meta: dict[str, Any] = {}
        interrupted = False
        try:
            async for change in couch.changes_continuous(db, meta=meta, **options):
                out.jsonl(change)
                out.flush()
        except anyio.get_cancelled_exc_class():
            # Ctrl-C: the event loop cancels the command. Following ends that way, so
            # it is no error: say where to resume and exit 130, quietly.
            interrupted = True
        finally:
            seq = meta.get("last_seq", since)
            if interrupted:
                resume = f"; resume with --since {_seq_text(seq)}" if seq is not None else ""
                out.info(f"interrupted{resume}")
            elif meta.get("last_seq") is not None:
                out.info(f"last_seq: {_seq_text(meta['last_seq'])}")
        return 130 if interrupted else 0

    async def op(couch: CouchClient, out: Output) -> int:
        from couchctl.render import Column

        if follow:
            return await follow_feed(couch, out)
        if mode == "jsonl" and feed is not Feed.longpoll:
            meta: dict[str, Any] = {}
            async for change in couch.iter_changes(db, meta=meta, **options):
                out.jsonl(change)
            out.flush()
            if meta.get("last_seq") is not None:
                out.info(f"last_seq: {_seq_text(meta['last_seq'])}")
            return 0
        columns = [
            Column("seq", lambda change: _short_seq(change.get("seq"))),
            Column("id", lambda change: change.get("id")),
            Column("revs", _revs_of),
            Column("deleted", lambda change: "deleted" if change.get("deleted") else ""),
        ]
        if include_docs:
            columns.append(Column("doc", lambda change: change.get("doc")))
        if mode == "human":
            await table(couch, out, columns)
            return 0
        result = await couch.changes(db, feed=feed.value if feed is not None else None, **options)
        if mode == "jsonl":
            for change in result.get("results", []):
                out.jsonl(change)
            out.flush()
            if result.get("last_seq") is not None:
                out.info(f"last_seq: {_seq_text(result['last_seq'])}")
        else:
            out.json(result)
        return 0

    async def table(couch: CouchClient, out: Output, columns: list[Column]) -> None:
        from couchctl.cli._row_table import table_rows
        from couchctl.render import rows_footer

        def stream(asked: dict[str, Any], meta: dict[str, Any]) -> AsyncIterator[Any]:
            if feed is Feed.longpoll:
                return _longpoll(couch, db, asked, meta)
            return couch.iter_changes(db, meta=meta, **asked)

        shown = await table_rows(
            out, stream, options, columns, all_rows=all_rows, empty="no changes"
        )
        # Past the cap, go on from the last change shown, not the last one read.
        last = shown.last if shown.more else None
        seq = last.get("seq") if isinstance(last, dict) else shown.meta.get("last_seq")
        if seq is not None:
            out.info(f"last_seq: {_seq_text(seq)}")
        if shown.more:
            pending = shown.meta.get("pending")
            total = shown.count + 1 + pending if isinstance(pending, int) else None
            out.info(rows_footer(shown.count, total=total, more=True))

    run(ctx, op, mode)


async def _longpoll(
    couch: CouchClient, db: str, options: dict[str, Any], meta: dict[str, Any]
) -> AsyncIterator[Any]:
    """The results of a longpoll feed (one answer, once a change came), as a stream."""
    result = await couch.changes(db, feed="longpoll", **options)
    for change in result.get("results", []):
        yield change
    meta.update({name: value for name, value in result.items() if name != "results"})


def _seq_text(seq: Any) -> str:
    """A sequence as typed on a command line (CouchDB: opaque strings; some servers: numbers)."""
    return seq if isinstance(seq, str) else str(seq)


def _short_seq(seq: Any) -> str:
    """A sequence for a table cell: CouchDB's are ~100-character opaque strings, so the
    table shows their start (the whole value is in --json/--jsonl and in last_seq)."""
    text = _seq_text(seq)
    return text if len(text) <= 16 else text[:12] + "…"


def _milliseconds(value: str | None, flag: str) -> int | None:
    """A duration flag in CouchDB's unit (milliseconds, at least 1); refused as bad input."""
    if value is None:
        return None
    from couchctl._duration import parse_duration

    try:
        return max(1, round(parse_duration(value) * 1000))
    except ValueError as exc:
        fail(f"{flag}: {exc}")
