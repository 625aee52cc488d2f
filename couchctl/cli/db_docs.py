"""`db all-docs` and `db design-docs`: the documents of a database, as rows.

Commands of the `db` group (cli/_app.py's MORE_COMMANDS loads them with it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from couchctl.cli._options import DbArg, output_options
from couchctl.cli._query_options import RowFlags, row_query_flags, row_query_options, write_rows
from couchctl.cli._row_table import AllRowsOption
from couchctl.cli._run import checked, run
from couchctl.render import Mode

if TYPE_CHECKING:
    from couchctl.cli._row_table import Shown
    from couchctl.client import CouchClient
    from couchctl.render import Column, Output

__all__ = ["all_docs", "app", "design_docs"]

app = typer.Typer()

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


def _footer(out: Output, shown: Shown | None, *, with_total: bool) -> None:
    """How many rows were shown, of how many (total_rows), and how to see the rest."""
    from couchctl.render import rows_footer

    if shown is None or not shown.count:
        return
    total = shown.meta.get("total_rows")
    total = total if with_total and isinstance(total, int) else None
    if shown.more or total is not None:
        out.info(rows_footer(shown.count, total=total, more=shown.more))


@app.command("all-docs")
@output_options(jsonl=True)
@row_query_flags(sorted_=(AllDocsSortedOption, None))
def all_docs(
    ctx: typer.Context,
    db: DbArg,
    rows: RowFlags,
    all_rows: AllRowsOption = False,
    mode: Mode = "human",
) -> None:
    """List the documents of a database (_all_docs): id and rev, optionally the docs.

    Keys are JSON: --key '"doc-1"', --keys '["a","b"]', --start-key '"doc-"'.
    The table shows 100 rows unless --limit or --all is given; --jsonl streams
    every row, one a line, in constant memory.

    Example: couchctl db all-docs mydb --start-key '"user:"' --end-key '"user:\\ufff0"' --limit 20
    """

    def parse() -> dict[str, Any]:
        options = row_query_options(**rows)
        if "sorted" in options:  # the client's _all_docs name
            options["sort"] = options.pop("sorted")
        return options

    options = checked(ctx, parse)
    columns = _doc_row_columns("keys" in options, bool(options.get("include_docs")))

    async def op(couch: CouchClient, out: Output) -> None:
        shown = await write_rows(
            out,
            lambda asked, meta: couch.iter_all_docs(db, meta=meta, **asked),
            lambda: couch.db_all_docs(db, **options),
            options,
            columns,
            all_rows=all_rows,
            empty="no documents",
        )
        _footer(out, shown, with_total="keys" not in options)

    run(ctx, op, mode)


@app.command("design-docs")
@output_options(jsonl=True)
@row_query_flags(DESIGN_DOCS_FLAGS)
def design_docs(
    ctx: typer.Context,
    db: DbArg,
    rows: RowFlags,
    all_rows: AllRowsOption = False,
    mode: Mode = "human",
) -> None:
    """List the design documents of a database (_design_docs).

    Keys are design document ids as JSON: --key '"_design/app"'.

    Example: couchctl db design-docs mydb --include-docs --json
    """

    options = checked(ctx, lambda: row_query_options(**rows))
    columns = _doc_row_columns("keys" in options, bool(options.get("include_docs")))

    async def op(couch: CouchClient, out: Output) -> None:
        shown = await write_rows(
            out,
            lambda asked, meta: couch.iter_design_docs(db, meta=meta, **asked),
            lambda: couch.db_design_docs(db, **options),
            options,
            columns,
            all_rows=all_rows,
            empty="no design documents",
        )
        _footer(out, shown, with_total="keys" not in options)

    run(ctx, op, mode)
