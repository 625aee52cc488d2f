"""Mango queries and indexes: query, explain, index-list, index-create, index-delete."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from couchctl.cli._options import (
    DbArg,
    JsonFlag,
    JsonlFlag,
    flag_group,
    json_argument,
    json_object_argument,
    output_mode,
)
from couchctl.cli._run import checked, fail, run

if TYPE_CHECKING:
    from collections.abc import Callable

    from couchctl.client import CouchClient
    from couchctl.render import Column, Mode, Output

app = typer.Typer(
    help="Mango queries and indexes: query, explain, index-list, index-create, index-delete.",
    no_args_is_help=True,
)

# CouchDB's page size when a _find body has no limit.
SERVER_DEFAULT_LIMIT = 25


class Stale(StrEnum):
    ok = "ok"


SelectorArg = Annotated[
    str,
    typer.Argument(
        help='Mango selector: a JSON object, @file or - (stdin), e.g. \'{"type": "note"}\'.',
        show_default=False,
    ),
]
FieldsOpt = Annotated[
    str | None,
    typer.Option(
        "--fields",
        help='Fields to return: a JSON array or a comma list, e.g. _id,type or \'["_id","type"]\'.',
        show_default=False,
    ),
]
SortOpt = Annotated[
    str | None,
    typer.Option(
        "--sort",
        help='Sort: a JSON array (\'[{"n": "desc"}]\') or a comma list (n:desc,type).',
        show_default=False,
    ),
]
LimitOpt = Annotated[
    int | None,
    typer.Option(
        "--limit",
        help="At most this many documents (server default: 25).",
        min=0,
        show_default=False,
    ),
]
SkipOpt = Annotated[
    int | None,
    typer.Option("--skip", help="Skip this many matches first.", min=0, show_default=False),
]
BookmarkOpt = Annotated[
    str | None,
    typer.Option(
        "--bookmark", help="Continue after the page this bookmark ends.", show_default=False
    ),
]
UseIndexOpt = Annotated[
    str | None,
    typer.Option(
        "--use-index",
        help='Index to use: "<ddoc>" or a JSON array \'["<ddoc>", "<name>"]\'.',
        show_default=False,
    ),
]
ROpt = Annotated[
    int | None,
    typer.Option(
        "--r", help="Read quorum: replicas each document is read from.", min=1, show_default=False
    ),
]
UpdateOpt = Annotated[
    bool | None,
    typer.Option(
        "--update/--no-update",
        help="Update the index before answering (server default: yes).",
        show_default=False,
    ),
]
StableOpt = Annotated[
    bool, typer.Option("--stable", help="Answer from a stable set of shard replicas.")
]
StaleOpt = Annotated[
    Stale | None,
    typer.Option("--stale", help="ok: same as --stable --no-update.", show_default=False),
]
ExecutionStatsOpt = Annotated[
    bool,
    typer.Option("--execution-stats", help="Include execution statistics (shown on stderr)."),
]
ConflictsOpt = Annotated[
    bool, typer.Option("--conflicts", help="Include _conflicts in the documents.")
]
AllowFallbackOpt = Annotated[
    bool | None,
    typer.Option(
        "--allow-fallback/--no-allow-fallback",
        help="Fall back to another index when --use-index is unusable (server default: yes).",
        show_default=False,
    ),
]
PartitionOpt = Annotated[
    str | None,
    typer.Option(
        "--partition", help="Query this partition of a partitioned database.", show_default=False
    ),
]

# The flags of `find query` and `find explain` (the _find body), as (type, default).
FIND_FLAGS: dict[str, tuple[Any, Any]] = {
    "fields": (FieldsOpt, None),
    "sort": (SortOpt, None),
    "limit": (LimitOpt, None),
    "skip": (SkipOpt, None),
    "bookmark": (BookmarkOpt, None),
    "use_index": (UseIndexOpt, None),
    "r": (ROpt, None),
    "update": (UpdateOpt, None),
    "stable": (StableOpt, False),
    "stale": (StaleOpt, None),
    "execution_stats": (ExecutionStatsOpt, False),
    "conflicts": (ConflictsOpt, False),
    "allow_fallback": (AllowFallbackOpt, None),
}
FindFlags = dict[str, Any]  # what a command declared with `flags: FindFlags` receives
find_flags = flag_group("flags", FIND_FLAGS)


def _is_json_source(value: str) -> bool:
    return value == "-" or value.startswith(("@", "[", "{", '"'))


def _parse_fields(value: str | None) -> list[str] | None:
    if value is None:
        return None
    if _is_json_source(value):
        parsed = json_argument(value, "--fields")
        if not isinstance(parsed, list) or not all(isinstance(f, str) and f for f in parsed):
            fail("--fields must be a JSON array of field names, or a comma list")
        return parsed
    fields = [f.strip() for f in value.split(",") if f.strip()]
    if not fields:
        fail("--fields names no field")
    return fields


def _field_direction(spec: str, flag: str) -> str | dict[str, str]:
    """`name` or `name:asc|desc` (only a final :asc/:desc is a direction)."""
    name, sep, direction = spec.rpartition(":")
    if sep and direction in ("asc", "desc") and name:
        return {name: direction}
    if not spec:
        fail(f"{flag}: an empty field name")
    return spec


def _parse_sort(value: str | None) -> list[Any] | None:
    if value is None:
        return None
    if _is_json_source(value):
        parsed = json_argument(value, "--sort")
        if not isinstance(parsed, list):
            fail('--sort must be a JSON array, e.g. \'[{"n": "desc"}]\'')
        return parsed
    return [_field_direction(spec.strip(), "--sort") for spec in value.split(",") if spec.strip()]


def _parse_use_index(value: str | None) -> str | list[str] | None:
    if value is None:
        return None
    if value.startswith("[") or value.startswith("@"):
        parsed = json_argument(value, "--use-index")
        if not isinstance(parsed, list) or not all(isinstance(u, str) for u in parsed):
            fail('--use-index must be "<ddoc>" or a JSON array ["<ddoc>", "<index name>"]')
        return parsed
    return value


def _find_options(
    *,
    limit: int | None,
    skip: int | None,
    sort: str | None,
    fields: str | None,
    use_index: str | None,
    r: int | None,
    bookmark: str | None,
    update: bool | None,
    stable: bool,
    stale: Stale | None,
    execution_stats: bool,
    conflicts: bool,
    allow_fallback: bool | None,
) -> dict[str, Any]:
    """The _find body options that were set on the command line."""
    options: dict[str, Any] = {
        "limit": limit,
        "skip": skip,
        "sort": _parse_sort(sort),
        "fields": _parse_fields(fields),
        "use_index": _parse_use_index(use_index),
        "r": r,
        "bookmark": bookmark,
        "update": update,
        "stable": stable or None,
        "stale": stale.value if stale is not None else None,
        "execution_stats": execution_stats or None,
        "conflicts": conflicts or None,
        "allow_fallback": allow_fallback,
    }
    return {name: value for name, value in options.items() if value is not None}


def _selector(value: str) -> dict[str, Any]:
    return json_object_argument(value, "SELECTOR")


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
            help="Follow bookmarks and stream every match as JSON Lines (--limit sets the page size).",
        ),
    ] = False,
    json_flag: JsonFlag = False,
    jsonl_flag: JsonlFlag = False,
) -> None:
    """Find documents with a Mango selector: a table of documents (id + fields).

    The server's warning (e.g. no matching index) is shown on stderr.

    Example: couchctl find query mydb '{"type": "note", "n": {"$gt": 1}}' --fields _id,n --sort n
    """

    def parse() -> tuple[Mode, dict[str, Any], dict[str, Any]]:
        mode = output_mode(json_flag, jsonl_flag)
        if all_pages:
            if mode == "json":
                fail("--all streams JSON Lines: use it without --json")
            mode = "jsonl"
        parsed = _selector(selector)
        options = _find_options(**flags)
        return mode, parsed, options

    mode, parsed, options = checked(ctx, parse)

    async def op(couch: CouchClient, out: Output) -> None:
        from couchctl.client import FIND_PAGE_SIZE

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
        docs = result.get("docs", [])
        if mode == "json":
            out.json(result)
            _report_meta(out, result, stats=False)
            return
        out.table(docs, _doc_columns(docs, options.get("fields")), empty="no documents")
        _report_meta(out, result)
        page = options.get("limit", SERVER_DEFAULT_LIMIT)
        next_bookmark = result.get("bookmark")
        if docs and len(docs) >= page and isinstance(next_bookmark, str) and next_bookmark:
            out.info(f"more may follow: --bookmark {next_bookmark}")

    run(ctx, op, mode)


@app.command("explain")
@find_flags
def explain(
    ctx: typer.Context,
    db: DbArg,
    selector: SelectorArg,
    flags: FindFlags,
    partition: PartitionOpt = None,
    json_flag: JsonFlag = False,
) -> None:
    """Show which index a Mango query would use, and how (the server's _explain answer).

    Example: couchctl find explain mydb '{"type": "note"}' --sort type
    """

    def parse() -> tuple[Mode, dict[str, Any], dict[str, Any]]:
        mode = output_mode(json_flag)
        options = _find_options(**flags)
        return mode, _selector(selector), options

    mode, parsed, options = checked(ctx, parse)

    async def op(couch: CouchClient, out: Output) -> None:
        result = await couch.explain(db, parsed, partition=partition, **options)
        out.document(result)

    run(ctx, op, mode)


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
def index_list(
    ctx: typer.Context, db: DbArg, json_flag: JsonFlag = False, jsonl_flag: JsonlFlag = False
) -> None:
    """List the Mango indexes of a database: design document, name, type, fields.

    Example: couchctl find index-list mydb
    """
    mode = checked(ctx, lambda: output_mode(json_flag, jsonl_flag))

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
    json_flag: JsonFlag = False,
) -> None:
    """Create a Mango index on one or more fields.

    Example: couchctl find index-create mydb type n:desc --name type-n --ddoc idx
    """

    def parse() -> tuple[Mode, list[Any], dict[str, Any] | None]:
        mode = output_mode(json_flag)
        specs = [_field_direction(spec, "FIELD") for spec in fields]
        selector = (
            None
            if partial_filter is None
            else json_object_argument(partial_filter, "--partial-filter")
        )
        return mode, specs, selector

    mode, specs, selector = checked(ctx, parse)

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
def index_delete(
    ctx: typer.Context,
    db: DbArg,
    ddoc: Annotated[
        str,
        typer.Argument(
            help="Design document of the index, with or without '_design/'.", show_default=False
        ),
    ],
    name: Annotated[str, typer.Argument(help="Index name.", show_default=False)],
    index_type: Annotated[str, typer.Option("--type", help="Index type.")] = "json",
    json_flag: JsonFlag = False,
) -> None:
    """Delete a Mango index.

    Example: couchctl find index-delete mydb idx type-n
    """
    mode = checked(ctx, lambda: output_mode(json_flag))
    bare = ddoc.removeprefix("_design/")

    async def op(couch: CouchClient, out: Output) -> None:
        result = await couch.index_delete(db, ddoc, name, type=index_type)
        out.result(result, f"deleted index {name} from _design/{bare}")

    run(ctx, op, mode)
