"""Views and design documents: query, info, list."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from couchctl.cli._options import DbArg, JsonFlag, JsonlFlag, json_argument, output_mode
from couchctl.cli._run import fail, run, run_local

if TYPE_CHECKING:
    from collections.abc import Callable

    from couchctl.client import CouchClient
    from couchctl.render import Mode, Output

T = TypeVar("T")

app = typer.Typer(help="Views and design documents: query, info, list.", no_args_is_help=True)

DdocArg = Annotated[
    str,
    typer.Argument(help="Design document name, with or without '_design/'.", show_default=False),
]


class Stale(StrEnum):
    ok = "ok"
    update_after = "update_after"


class Update(StrEnum):
    true = "true"
    false = "false"
    lazy = "lazy"


def _checked(ctx: typer.Context, parse: Callable[[], T]) -> T:
    """Run flag parsing under the CLI's error mapping: bad input exits 2 before any request."""
    results: list[T] = []
    run_local(ctx, lambda out: results.append(parse()))
    return results[0]


def _json_key(value: str | None, flag: str) -> Any:
    """A JSON key flag: None when absent, JSON_NULL for a literal null."""
    if value is None:
        return None
    parsed = json_argument(value, flag)
    if parsed is None:
        from couchctl.client import JSON_NULL

        return JSON_NULL
    return parsed


@app.command("query")
def query(
    ctx: typer.Context,
    db: DbArg,
    ddoc: DdocArg,
    view: Annotated[str, typer.Argument(help="View name.", show_default=False)],
    key: Annotated[
        str | None,
        typer.Option(
            "--key", help="Only rows with this key (JSON, @file or -).", show_default=False
        ),
    ] = None,
    keys: Annotated[
        str | None,
        typer.Option(
            "--keys",
            help="Only rows with one of these keys: a JSON array (@file or -); sent as a POST body.",
            show_default=False,
        ),
    ] = None,
    start_key: Annotated[
        str | None,
        typer.Option("--start-key", help="Start at this key (JSON).", show_default=False),
    ] = None,
    end_key: Annotated[
        str | None,
        typer.Option("--end-key", help="Stop at this key (JSON).", show_default=False),
    ] = None,
    start_key_doc_id: Annotated[
        str | None,
        typer.Option(
            "--start-key-doc-id",
            help="Start at this document id among rows of the start key.",
            show_default=False,
        ),
    ] = None,
    end_key_doc_id: Annotated[
        str | None,
        typer.Option(
            "--end-key-doc-id",
            help="Stop at this document id among rows of the end key.",
            show_default=False,
        ),
    ] = None,
    inclusive_end: Annotated[
        bool | None,
        typer.Option(
            "--inclusive-end/--no-inclusive-end",
            help="Include the rows of the end key (server default: yes).",
            show_default=False,
        ),
    ] = None,
    descending: Annotated[
        bool, typer.Option("--descending", help="Return rows in descending key order.")
    ] = False,
    group: Annotated[
        bool, typer.Option("--group", help="Reduce per distinct key (group=true).")
    ] = False,
    group_level: Annotated[
        int | None,
        typer.Option(
            "--group-level", help="Reduce per prefix of array keys.", min=0, show_default=False
        ),
    ] = None,
    reduce: Annotated[
        bool | None,
        typer.Option(
            "--reduce/--no-reduce",
            help="Use the view's reduce function (server default: yes when it has one).",
            show_default=False,
        ),
    ] = None,
    include_docs: Annotated[
        bool, typer.Option("--include-docs", help="Include each row's document.")
    ] = False,
    attachments: Annotated[
        bool,
        typer.Option("--attachments", help="With --include-docs: inline attachment data."),
    ] = False,
    att_encoding_info: Annotated[
        bool,
        typer.Option(
            "--att-encoding-info",
            help="With --include-docs: encoding information of compressed attachments.",
        ),
    ] = False,
    conflicts: Annotated[
        bool,
        typer.Option("--conflicts", help="With --include-docs: include _conflicts."),
    ] = False,
    limit: Annotated[
        int | None,
        typer.Option("--limit", help="Return at most this many rows.", min=0, show_default=False),
    ] = None,
    skip: Annotated[
        int | None,
        typer.Option("--skip", help="Skip this many rows first.", min=0, show_default=False),
    ] = None,
    sorted_: Annotated[
        bool | None,
        typer.Option(
            "--sorted/--no-sorted",
            help="Sort the rows (--no-sorted is faster; no total_rows/offset).",
            show_default=False,
        ),
    ] = None,
    stable: Annotated[
        bool, typer.Option("--stable", help="Answer from a stable set of shard replicas.")
    ] = False,
    stale: Annotated[
        Stale | None,
        typer.Option(
            "--stale",
            help="ok: don't update the index; update_after: update it after answering.",
            show_default=False,
        ),
    ] = None,
    update: Annotated[
        Update | None,
        typer.Option(
            "--update",
            help="Update the index before answering: true, false or lazy (after answering).",
            show_default=False,
        ),
    ] = None,
    update_seq: Annotated[
        bool, typer.Option("--update-seq", help="Include the sequence the view reflects.")
    ] = False,
    partition: Annotated[
        str | None,
        typer.Option(
            "--partition",
            help="Query this partition of a partitioned database.",
            show_default=False,
        ),
    ] = None,
    json_flag: JsonFlag = False,
    jsonl_flag: JsonlFlag = False,
) -> None:
    """Query a view: rows as a table (id, key, value[, doc]).

    Keys are JSON: --key '"note"', --start-key '["note"]' --end-key '["note",{}]'.

    Example: couchctl view query mydb dd by_type --group-level 1
    """

    def parse() -> tuple[Mode, dict[str, Any]]:
        key_value = _json_key(key, "--key")
        keys_value = None
        if keys is not None:
            keys_value = json_argument(keys, "--keys")
            if not isinstance(keys_value, list):
                fail('--keys must be a JSON array, e.g. \'["a", "b"]\'')
            if key is not None:
                fail("--key and --keys cannot be used together")
        options: dict[str, Any] = {
            "conflicts": conflicts or None,
            "descending": descending or None,
            "end_key": _json_key(end_key, "--end-key"),
            "end_key_doc_id": end_key_doc_id,
            "group": group or None,
            "group_level": group_level,
            "include_docs": include_docs or None,
            "attachments": attachments or None,
            "att_encoding_info": att_encoding_info or None,
            "inclusive_end": inclusive_end,
            "key": key_value,
            "keys": keys_value,
            "limit": limit,
            "reduce": reduce,
            "skip": skip,
            "sorted": sorted_,
            "stable": stable or None,
            "stale": stale.value if stale is not None else None,
            "start_key": _json_key(start_key, "--start-key"),
            "start_key_doc_id": start_key_doc_id,
            "update": _update_value(update),
            "update_seq": update_seq or None,
        }
        return output_mode(json_flag, jsonl_flag), {
            k: v for k, v in options.items() if v is not None
        }

    mode, options = _checked(ctx, parse)

    async def op(couch: CouchClient, out: Output) -> None:
        if mode == "jsonl":
            async for row in couch.iter_view(db, ddoc, view, partition=partition, **options):
                out.jsonl(row)
            out.flush()
            return
        result = await couch.view_exec(db, ddoc, view, partition=partition, **options)
        out.rows(
            result.get("rows", []), _row_columns(bool(include_docs)), whole=result, empty="no rows"
        )

    run(ctx, op, mode)


def _update_value(update: Update | None) -> bool | str | None:
    if update is None:
        return None
    if update is Update.lazy:
        return "lazy"
    return update is Update.true


def _row_columns(with_docs: bool) -> list[Any]:
    from couchctl.render import Column

    columns = [
        Column("id", lambda row: row.get("id")),
        Column("key", lambda row: _json_cell(row.get("key"))),
        Column("value", lambda row: _json_cell(row.get("value"))),
    ]
    if with_docs:
        columns.append(Column("doc", lambda row: row.get("doc")))
    return columns


def _json_cell(value: Any) -> str:
    """Keys and values shown as JSON, so that the string "1" and the number 1 differ."""
    import json

    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@app.command("info")
def info(ctx: typer.Context, db: DbArg, ddoc: DdocArg, json_flag: JsonFlag = False) -> None:
    """Show a design document's view index: size, signature, updater state.

    Example: couchctl view info mydb dd
    """
    mode = _checked(ctx, lambda: output_mode(json_flag))

    async def op(couch: CouchClient, out: Output) -> None:
        result = await couch.des_info(db, ddoc)
        if mode != "human":
            out.json(result)
            return
        out.table(_info_rows(result), _info_columns())

    run(ctx, op, mode)


def _info_columns() -> list[Any]:
    from couchctl.render import Column

    return [Column("field", lambda row: row[0]), Column("value", lambda row: row[1])]


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
def list_(
    ctx: typer.Context, db: DbArg, json_flag: JsonFlag = False, jsonl_flag: JsonlFlag = False
) -> None:
    """List the design documents of a database with their views and language.

    Example: couchctl view list mydb
    """
    mode = _checked(ctx, lambda: output_mode(json_flag, jsonl_flag))

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
