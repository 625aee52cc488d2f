"""Views and design documents: query, info, list."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from couchctl.cli._options import DbArg, DdocArg, ViewArg, output_options
from couchctl.cli._query_options import RowFlags, row_query_flags, row_query_options, write_rows
from couchctl.cli._row_table import AllRowsOption
from couchctl.cli._run import checked, run
from couchctl.render import Mode

if TYPE_CHECKING:
    from collections.abc import Callable

    from couchctl.client import CouchClient
    from couchctl.render import Column, Output

app = typer.Typer(help="Views and design documents: query, info, list.", no_args_is_help=True)


@app.command("query")
@output_options(jsonl=True)
@row_query_flags()
def query(
    ctx: typer.Context,
    db: DbArg,
    ddoc: DdocArg,
    view: ViewArg,
    rows: RowFlags,
    partition: Annotated[
        str | None,
        typer.Option(
            "--partition",
            help="Query this partition of a partitioned database.",
            show_default=False,
        ),
    ] = None,
    all_rows: AllRowsOption = False,
    mode: Mode = "human",
) -> None:
    """Query a view: rows as a table (id, key, value[, doc]; key, value when reduced).

    Keys are JSON: --key '"note"', --start-key '["note"]' --end-key '["note",{}]'.
    The table shows 100 rows unless --limit or --all is given, and total_rows and
    offset under it on stderr (--limit 0 counts the rows).

    Example: couchctl view query mydb dd by_type --group-level 1
    """

    options = checked(ctx, lambda: row_query_options(**rows))

    async def op(couch: CouchClient, out: Output) -> None:
        from couchctl.render import rows_footer

        shown = await write_rows(
            out,
            lambda asked, meta: couch.iter_view(
                db, ddoc, view, partition=partition, meta=meta, **asked
            ),
            lambda: couch.view_exec(db, ddoc, view, partition=partition, **options),
            options,
            _row_columns(bool(options.get("include_docs"))),
            all_rows=all_rows,
            empty=None,
        )
        if shown is None:
            return
        total, offset = shown.meta.get("total_rows"), shown.meta.get("offset")
        total = total if isinstance(total, int) else None
        offset = offset if isinstance(offset, int) else None
        if total is None and not shown.count:
            out.info("no rows")
        elif total is not None or shown.more:
            out.info(rows_footer(shown.count, total=total, offset=offset, more=shown.more))

    run(ctx, op, mode)


def _row_columns(with_docs: bool) -> Callable[[list[Any]], list[Column]]:
    """The columns, from the first rows: a reduced view's rows have no id, so no id column."""

    def columns(first: list[Any]) -> list[Column]:
        from couchctl.render import Column

        reduced = bool(first) and all(isinstance(row, dict) and "id" not in row for row in first)
        chosen = [] if reduced else [Column("id", lambda row: row.get("id"))]
        chosen += [
            Column("key", lambda row: _json_cell(row.get("key"))),
            Column("value", lambda row: _json_cell(row.get("value"))),
        ]
        if with_docs:
            chosen.append(Column("doc", lambda row: row.get("doc")))
        return chosen

    return columns


def _json_cell(value: Any) -> str:
    """Keys and values shown as JSON, so that the string "1" and the number 1 differ."""
    import json

    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@app.command("info")
@output_options()
def info(ctx: typer.Context, db: DbArg, ddoc: DdocArg, mode: Mode = "human") -> None:
    """Show a design document's view index: size, signature, updater state.

    Example: couchctl view info mydb dd
    """

    async def op(couch: CouchClient, out: Output) -> None:
        result = await couch.des_info(db, ddoc)
        out.fields(_info_rows(result), whole=result)

    run(ctx, op, mode)


def _info_rows(result: Any) -> list[tuple[str, Any]]:
    from couchctl.render import format_size

    rows: list[tuple[str, Any]] = [("name", result.get("name"))]
    index = result.get("view_index")
    if not isinstance(index, dict):
        rows.append(("view_index", index))
        return rows
    raw_sizes = index.get("sizes")
    sizes: dict[str, Any] = raw_sizes if isinstance(raw_sizes, dict) else {}
    pending = index.get("updates_pending")
    for field in ("language", "signature", "update_seq", "purge_seq"):
        if field in index:
            rows.append((field, index[field]))
    for size in ("active", "external", "file"):
        if isinstance(sizes.get(size), int | float):
            rows.append((f"size ({size})", format_size(sizes[size])))
    for field in ("updater_running", "compact_running", "waiting_clients", "waiting_commit"):
        if field in index:
            rows.append((field, index[field]))
    if isinstance(pending, dict) and "total" in pending:
        rows.append(("updates_pending", pending["total"]))
    return rows


@app.command("list")
@output_options(jsonl=True)
def list_(ctx: typer.Context, db: DbArg, mode: Mode = "human") -> None:
    """List the design documents of a database with their views and language.

    Example: couchctl view list mydb
    """

    async def op(couch: CouchClient, out: Output) -> None:
        from couchctl.render import Column

        result = await couch.design_docs_with_views(db)
        rows = [row for row in result.get("rows", []) if isinstance(row.get("doc"), dict)]
        columns = [
            Column("ddoc", lambda row: row["id"]),
            Column("views", lambda row: ", ".join(_views_of(row["doc"]))),
            Column("language", lambda row: row["doc"].get("language") or "javascript"),
        ]
        out.rows(rows, columns, whole=result, empty="no design documents")

    run(ctx, op, mode)


def _views_of(doc: dict[str, Any]) -> list[str]:
    views = doc.get("views")
    return sorted(views) if isinstance(views, dict) else []
