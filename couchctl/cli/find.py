"""Mango queries and indexes: query, explain, index-list, index-create, index-delete."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from couchctl.cli._find_options import (
    FindFlags,
    PartitionOpt,
    SelectorArg,
    field_direction,
    find_arguments,
    find_flags,
)
from couchctl.cli._options import DbArg, complete_ddoc, json_object_argument, output_options
from couchctl.cli._run import checked, fail, run
from couchctl.render import Mode

if TYPE_CHECKING:
    from collections.abc import Callable

    from couchctl.client import CouchClient
    from couchctl.render import Column, Output

app = typer.Typer(
    help="Mango queries and indexes: query, explain, index-list, index-create, index-delete.",
    no_args_is_help=True,
)

# CouchDB's page size when a _find body has no limit.
SERVER_DEFAULT_LIMIT = 25


def _report_meta(out: Output, meta: dict[str, Any], *, stats: bool = True) -> None:
    """The server's warning (and execution statistics) on stderr."""
    warning = meta.get("warning")
    if isinstance(warning, str):
        for line in warning.splitlines():
            if line.strip():
                out.warn(line.strip())
    execution_stats = meta.get("execution_stats")
    if stats and isinstance(execution_stats, dict):
        text = ", ".join(f"{name}={value}" for name, value in execution_stats.items())
        out.info(f"execution stats: {text}")


def _get_path(doc: Any, field: str) -> Any:
    """A field of a document; `a.b` reaches into nested objects, as in Mango."""
    if field in doc:
        return doc[field]
    value: Any = doc
    for part in field.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _doc_columns(docs: list[Any], fields: list[str] | None) -> list[Column]:
    from couchctl.render import Column

    if fields:
        names = list(fields)
    else:
        names = []
        for doc in docs:
            if isinstance(doc, dict):
                names.extend(name for name in doc if name not in names and name != "_rev")
    if "_id" in names:
        names.remove("_id")
        names.insert(0, "_id")

    def getter(name: str) -> Callable[[Any], Any]:
        return lambda doc: _get_path(doc, name) if isinstance(doc, dict) else None

    return [Column("id" if name == "_id" else name, getter(name)) for name in names]


@app.command("query")
@output_options(jsonl=True)
@find_flags
def query(
    ctx: typer.Context,
    db: DbArg,
    selector: SelectorArg,
    flags: FindFlags,
    partition: PartitionOpt = None,
    all_pages: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Every match: follow bookmarks (--limit sets the page size); "
            "a table without its 100-row stop, or JSON Lines with --jsonl.",
        ),
    ] = False,
    mode: Mode = "human",
) -> None:
    """Find documents with a Mango selector: a table of documents (id + fields).

    The table shows 100 documents unless --limit or --all is given; the server's
    warning (e.g. no matching index) is shown on stderr.

    Example: couchctl find query mydb '{"type": "note", "n": {"$gt": 1}}' --fields _id,n --sort n
    """

    def parse() -> tuple[dict[str, Any], dict[str, Any]]:
        if all_pages and mode == "json":
            fail("--all streams every page: use it without --json (a table, or --jsonl)")
        return find_arguments(selector, flags)

    parsed, options = checked(ctx, parse)

    async def op(couch: CouchClient, out: Output) -> None:
        from couchctl.client import FIND_PAGE_SIZE

        if mode == "human":
            await table(couch, out)
            return
        if mode == "jsonl":
            meta: dict[str, Any] = {}
            count = 0
            async for doc in couch.iter_find(
                db,
                parsed,
                partition=partition,
                meta=meta,
                follow_bookmarks=all_pages,
                **options,
            ):
                out.jsonl(doc)
                count += 1
            out.flush()
            _report_meta(out, meta)
            page_size = options.get("limit", FIND_PAGE_SIZE)
            if all_pages and page_size and count >= page_size and not meta.get("bookmark"):
                out.warn(
                    "the server sent no bookmark, so only the first page could be read: "
                    "results may be incomplete"
                )
            return
        result = await couch.db_find(db, parsed, partition=partition, **options)
        out.json(result)
        _report_meta(out, result, stats=False)

    async def table(couch: CouchClient, out: Output) -> None:
        from couchctl.cli._row_table import table_rows
        from couchctl.render import rows_footer

        shown = await table_rows(
            out,
            lambda asked, meta: couch.iter_find(
                db, parsed, partition=partition, meta=meta, follow_bookmarks=all_pages, **asked
            ),
            options,
            lambda first: _doc_columns(first, options.get("fields")),
            all_rows=all_pages,
            empty="no documents",
        )
        _report_meta(out, shown.meta)
        if shown.more:
            out.info(rows_footer(shown.count, more=True, hint="--limit N, --all, or --all --jsonl"))
            return
        page = options.get("limit", SERVER_DEFAULT_LIMIT)
        next_bookmark = shown.meta.get("bookmark")
        if (
            not all_pages
            and shown.count >= page
            and isinstance(next_bookmark, str)
            and next_bookmark
        ):
            out.info(f"more may follow: --bookmark {next_bookmark}")

    run(ctx, op, mode)


@app.command("explain")
@output_options()
@find_flags
def explain(
    ctx: typer.Context,
    db: DbArg,
    selector: SelectorArg,
    flags: FindFlags,
    partition: PartitionOpt = None,
    mode: Mode = "human",
) -> None:
    """Show which index a Mango query would use, and how: a short summary (index,
    range, fields, covering); --json gives the server's whole _explain answer.

    Example: couchctl find explain mydb '{"type": "note"}' --sort type
    """

    parsed, options = checked(ctx, lambda: find_arguments(selector, flags))

    async def op(couch: CouchClient, out: Output) -> None:
        result = await couch.explain(db, parsed, partition=partition, **options)
        out.fields(_explain_summary(result), whole=result)

    run(ctx, op, mode)


def _compact(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _explain_summary(result: Any) -> list[tuple[str, Any]]:
    """The few lines of an _explain answer a person reads: the index chosen and how
    it is used. The whole answer is --json's."""
    if not isinstance(result, dict):
        return [("explain", result)]
    rows: list[tuple[str, Any]] = []
    index = result.get("index")
    scan = isinstance(index, dict) and index.get("name") == "_all_docs"
    if isinstance(index, dict):
        ddoc, name, kind = index.get("ddoc"), index.get("name"), index.get("type")
        where = f"{ddoc}/{name}" if ddoc else str(name)
        rows.append(("index", f"{where} ({kind})"))
        if scan:
            rows.append(("note", "no usable index: every document is read"))
        elif _index_fields_text(index):
            rows.append(("index fields", _index_fields_text(index)))
    mrargs = result.get("mrargs")
    if not scan and isinstance(mrargs, dict) and ("start_key" in mrargs or "end_key" in mrargs):
        start, end = mrargs.get("start_key"), mrargs.get("end_key")
        rows.append(("range", f"{_compact(start)} .. {_compact(end)}"))
    if "selector" in result:
        rows.append(("selector", _compact(result["selector"])))
    fields = result.get("fields")
    if isinstance(fields, list):
        rows.append(("fields", ", ".join(str(field) for field in fields) or "all"))
    opts = result.get("opts")
    sort = opts.get("sort") if isinstance(opts, dict) else None
    if isinstance(sort, dict) and sort:
        rows.append(("sort", ", ".join(f"{name} {way}" for name, way in sort.items())))
    for name in ("limit", "skip"):
        if name in result:
            rows.append((name, result[name]))
    if isinstance(result.get("covering"), bool):
        rows.append(("covering", "yes" if result["covering"] else "no"))
    return rows


def _index_fields_text(index: Any) -> str:
    definition = index.get("def") if isinstance(index, dict) else None
    fields = definition.get("fields") if isinstance(definition, dict) else None
    if not isinstance(fields, list):
        return ""
    parts: list[str] = []
    for field in fields:
        if isinstance(field, dict):
            parts.extend(
                name if direction == "asc" else f"{name} {direction}"
                for name, direction in field.items()
            )
        else:
            parts.append(str(field))
    return ", ".join(parts)


@app.command("index-list")
@output_options(jsonl=True)
def index_list(ctx: typer.Context, db: DbArg, mode: Mode = "human") -> None:
    """List the Mango indexes of a database: design document, name, type, fields.

    Example: couchctl find index-list mydb
    """

    async def op(couch: CouchClient, out: Output) -> None:
        from couchctl.render import Column

        result = await couch.index_list(db)
        indexes = result.get("indexes", [])
        columns = [
            Column("ddoc", lambda index: index.get("ddoc")),
            Column("name", lambda index: index.get("name")),
            Column("type", lambda index: index.get("type")),
            Column("fields", _index_fields_text),
        ]
        if any(isinstance(index.get("partitioned"), bool) for index in indexes):
            columns.append(Column("partitioned", lambda index: index.get("partitioned")))
        if any("partial_filter_selector" in (index.get("def") or {}) for index in indexes):
            columns.append(
                Column(
                    "partial filter",
                    lambda index: (index.get("def") or {}).get("partial_filter_selector"),
                )
            )
        out.rows(indexes, columns, whole=result, empty="no indexes")

    run(ctx, op, mode)


@app.command("index-create")
@output_options()
def index_create(
    ctx: typer.Context,
    db: DbArg,
    fields: Annotated[
        list[str],
        typer.Argument(
            help="Fields to index, in order; name or name:desc (name:asc is the default).",
            show_default=False,
        ),
    ],
    name: Annotated[
        str | None,
        typer.Option(
            "--name", help="Index name (default: chosen by the server).", show_default=False
        ),
    ] = None,
    ddoc: Annotated[
        str | None,
        typer.Option(
            "--ddoc",
            help="Design document to hold the index (default: a new one per index).",
            show_default=False,
        ),
    ] = None,
    partial_filter: Annotated[
        str | None,
        typer.Option(
            "--partial-filter",
            help="Only index documents matching this selector (JSON object, @file or -).",
            show_default=False,
        ),
    ] = None,
    partitioned: Annotated[
        bool | None,
        typer.Option(
            "--partitioned/--global",
            help="In a partitioned database: a partitioned index (default) or a global one.",
            show_default=False,
        ),
    ] = None,
    index_type: Annotated[
        str, typer.Option("--type", help="Index type: json (or text, with search installed).")
    ] = "json",
    mode: Mode = "human",
) -> None:
    """Create a Mango index on one or more fields.

    Example: couchctl find index-create mydb type n:desc --name type-n --ddoc idx
    """

    def parse() -> tuple[list[Any], dict[str, Any] | None]:
        specs = [field_direction(spec, "FIELD") for spec in fields]
        selector = (
            None
            if partial_filter is None
            else json_object_argument(partial_filter, "--partial-filter")
        )
        return specs, selector

    specs, selector = checked(ctx, parse)

    async def op(couch: CouchClient, out: Output) -> None:
        result = await couch.index_create(
            db,
            specs,
            name=name,
            ddoc=ddoc,
            partial_filter_selector=selector,
            partitioned=partitioned,
            type=index_type,
        )
        where = f"{result.get('name')} in {result.get('id')}"
        if result.get("result") == "exists":
            out.result(result, f"index {where} already exists")
        else:
            out.result(result, f"created index {where}")

    run(ctx, op, mode)


@app.command("index-delete")
@output_options()
def index_delete(
    ctx: typer.Context,
    db: DbArg,
    ddoc: Annotated[
        str,
        typer.Argument(
            help="Design document of the index, with or without '_design/'.",
            autocompletion=complete_ddoc,
            show_default=False,
        ),
    ],
    name: Annotated[str, typer.Argument(help="Index name.", show_default=False)],
    index_type: Annotated[str, typer.Option("--type", help="Index type.")] = "json",
    mode: Mode = "human",
) -> None:
    """Delete a Mango index.

    Example: couchctl find index-delete mydb idx type-n
    """
    bare = ddoc.removeprefix("_design/")

    async def op(couch: CouchClient, out: Output) -> None:
        result = await couch.index_delete(db, ddoc, name, type=index_type)
        out.result(result, f"deleted index {name} from _design/{bare}")

    run(ctx, op, mode)
