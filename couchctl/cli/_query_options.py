"""The view-row query options, defined once: `db all-docs`, `db design-docs`, `view query`.

Each option is an `Annotated` alias, and `ROW_QUERY_FLAGS` lists them all in help
order. A command takes them with `@row_query_flags(...)` and a parameter
`rows: RowFlags`; `row_query_options(**rows)` turns the parsed values into the
client's keyword arguments (JSON keys parsed, unset flags left out), raising
BadInput (exit 2) for a bad value before any request; `write_rows()` prints the
answer in the chosen mode.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from couchctl.cli._options import Command, FlagSpecs, flag_group, json_argument
from couchctl.cli._run import fail

if TYPE_CHECKING:
    from couchctl.cli._row_table import Shown
    from couchctl.render import Column, Output

__all__ = [
    "ROW_QUERY_FLAGS",
    "AttEncodingInfoOption",
    "AttachmentsOption",
    "ConflictsOption",
    "DescendingOption",
    "EndKeyDocIdOption",
    "EndKeyOption",
    "GroupLevelOption",
    "GroupOption",
    "IncludeDocsOption",
    "InclusiveEndOption",
    "KeyOption",
    "KeysOption",
    "LimitOption",
    "ReduceOption",
    "RowFlags",
    "SkipOption",
    "SortedOption",
    "StableOption",
    "Stale",
    "StaleOption",
    "StartKeyDocIdOption",
    "StartKeyOption",
    "Update",
    "UpdateOption",
    "UpdateSeqOption",
    "json_key",
    "json_keys",
    "row_query_flags",
    "row_query_options",
    "write_rows",
]


class Stale(StrEnum):
    ok = "ok"
    update_after = "update_after"


class Update(StrEnum):
    true = "true"
    false = "false"
    lazy = "lazy"


KeyOption = Annotated[
    str | None,
    typer.Option(
        "--key", help="Only rows with this key: JSON (@file, - for stdin).", show_default=False
    ),
]
KeysOption = Annotated[
    str | None,
    typer.Option(
        "--keys",
        help="Only rows with one of these keys: a JSON array (@file, -); sent in a POST body.",
        show_default=False,
    ),
]
StartKeyOption = Annotated[
    str | None,
    typer.Option(
        "--start-key", help="Start at this key (JSON, e.g. '\"doc-\"').", show_default=False
    ),
]
EndKeyOption = Annotated[
    str | None,
    typer.Option(
        "--end-key", help="Stop at this key (JSON, e.g. '\"doc-\\ufff0\"').", show_default=False
    ),
]
StartKeyDocIdOption = Annotated[
    str | None,
    typer.Option(
        "--start-key-doc-id",
        help="Start at this document id among the rows of the start key.",
        show_default=False,
    ),
]
EndKeyDocIdOption = Annotated[
    str | None,
    typer.Option(
        "--end-key-doc-id",
        help="Stop at this document id among the rows of the end key.",
        show_default=False,
    ),
]
InclusiveEndOption = Annotated[
    bool | None,
    typer.Option(
        "--inclusive-end/--no-inclusive-end",
        help="Include the rows of the end key (server default: yes).",
        show_default=False,
    ),
]
DescendingOption = Annotated[
    bool, typer.Option("--descending", help="Return rows in descending key order.")
]
LimitOption = Annotated[
    int | None,
    typer.Option("--limit", help="Return at most this many rows.", min=0, show_default=False),
]
SkipOption = Annotated[
    int | None,
    typer.Option("--skip", help="Skip this many rows first.", min=0, show_default=False),
]
IncludeDocsOption = Annotated[
    bool, typer.Option("--include-docs", help="Include each row's document.")
]
ConflictsOption = Annotated[
    bool, typer.Option("--conflicts", help="With --include-docs: include _conflicts.")
]
AttachmentsOption = Annotated[
    bool, typer.Option("--attachments", help="With --include-docs: inline attachment data.")
]
AttEncodingInfoOption = Annotated[
    bool,
    typer.Option(
        "--att-encoding-info",
        help="With --include-docs: encoding information of compressed attachments.",
    ),
]
UpdateSeqOption = Annotated[
    bool, typer.Option("--update-seq", help="Include the sequence the answer reflects.")
]
GroupOption = Annotated[bool, typer.Option("--group", help="Reduce per distinct key (group=true).")]
GroupLevelOption = Annotated[
    int | None,
    typer.Option(
        "--group-level", help="Reduce per prefix of array keys.", min=0, show_default=False
    ),
]
ReduceOption = Annotated[
    bool | None,
    typer.Option(
        "--reduce/--no-reduce",
        help="Use the view's reduce function (server default: yes when it has one).",
        show_default=False,
    ),
]
SortedOption = Annotated[
    bool | None,
    typer.Option(
        "--sorted/--no-sorted",
        help="Sort the rows (--no-sorted is faster; no total_rows/offset).",
        show_default=False,
    ),
]
StableOption = Annotated[
    bool, typer.Option("--stable", help="Answer from a stable set of shard replicas.")
]
StaleOption = Annotated[
    Stale | None,
    typer.Option(
        "--stale",
        help="ok: don't update the index; update_after: update it after answering "
        "(legacy: prefer --stable/--update).",
        show_default=False,
    ),
]
UpdateOption = Annotated[
    Update | None,
    typer.Option(
        "--update",
        help="Update the index before answering: true, false or lazy (after answering).",
        show_default=False,
    ),
]


# Every flag, as (Annotated type, default), in help order.
ROW_QUERY_FLAGS: dict[str, tuple[Any, Any]] = {
    "key": (KeyOption, None),
    "keys": (KeysOption, None),
    "start_key": (StartKeyOption, None),
    "end_key": (EndKeyOption, None),
    "start_key_doc_id": (StartKeyDocIdOption, None),
    "end_key_doc_id": (EndKeyDocIdOption, None),
    "include_docs": (IncludeDocsOption, False),
    "conflicts": (ConflictsOption, False),
    "attachments": (AttachmentsOption, False),
    "att_encoding_info": (AttEncodingInfoOption, False),
    "descending": (DescendingOption, False),
    "inclusive_end": (InclusiveEndOption, None),
    "limit": (LimitOption, None),
    "skip": (SkipOption, None),
    "update_seq": (UpdateSeqOption, False),
    "group": (GroupOption, False),
    "group_level": (GroupLevelOption, None),
    "reduce": (ReduceOption, None),
    "sorted_": (SortedOption, None),
    "stable": (StableOption, False),
    "stale": (StaleOption, None),
    "update": (UpdateOption, None),
}

# What a command declared with `rows: RowFlags` receives: flag name -> parsed value.
RowFlags = dict[str, Any]


def row_query_flags(
    names: Iterable[str] = ROW_QUERY_FLAGS, **replaced: tuple[Any, Any]
) -> Callable[[Command], Command]:
    """Give a command the named flags (all by default) in place of its `rows` parameter.

    `replaced` swaps the definition of a flag (e.g. one with an extra alias).
    """
    specs: FlagSpecs = {name: replaced.get(name, ROW_QUERY_FLAGS[name]) for name in names}
    return flag_group("rows", specs)


def json_key(value: str | None, flag: str) -> Any:
    """A JSON key flag: None when absent, JSON_NULL for a literal null."""
    if value is None:
        return None
    parsed = json_argument(value, flag)
    if parsed is None:
        from couchctl.client import JSON_NULL

        return JSON_NULL
    return parsed


def json_keys(value: str | None, flag: str) -> list[Any] | None:
    """A JSON array flag (--keys): None when absent."""
    if value is None:
        return None
    parsed = json_argument(value, flag)
    if not isinstance(parsed, list):
        fail(f'{flag} must be a JSON array, e.g. \'["a", "b"]\'')
    return parsed


def _update_value(update: Update | None) -> bool | str | None:
    if update is None:
        return None
    if update is Update.lazy:
        return "lazy"
    return update is Update.true


def row_query_options(
    *,
    key: str | None = None,
    keys: str | None = None,
    start_key: str | None = None,
    end_key: str | None = None,
    start_key_doc_id: str | None = None,
    end_key_doc_id: str | None = None,
    inclusive_end: bool | None = None,
    descending: bool = False,
    limit: int | None = None,
    skip: int | None = None,
    include_docs: bool = False,
    conflicts: bool = False,
    attachments: bool = False,
    att_encoding_info: bool = False,
    update_seq: bool = False,
    group: bool = False,
    group_level: int | None = None,
    reduce: bool | None = None,
    sorted_: bool | None = None,
    stable: bool = False,
    stale: Stale | None = None,
    update: Update | None = None,
) -> dict[str, Any]:
    """The client keyword arguments for these flags: only those set, JSON keys parsed.

    Names follow the client's view options (`sorted`, not `sort`).
    """
    if key is not None and keys is not None:
        fail("--key and --keys cannot be used together")
    options: dict[str, Any] = {
        "key": json_key(key, "--key"),
        "keys": json_keys(keys, "--keys"),
        "start_key": json_key(start_key, "--start-key"),
        "end_key": json_key(end_key, "--end-key"),
        "start_key_doc_id": start_key_doc_id,
        "end_key_doc_id": end_key_doc_id,
        "inclusive_end": inclusive_end,
        "descending": descending or None,
        "limit": limit,
        "skip": skip,
        "include_docs": include_docs or None,
        "conflicts": conflicts or None,
        "attachments": attachments or None,
        "att_encoding_info": att_encoding_info or None,
        "update_seq": update_seq or None,
        "group": group or None,
        "group_level": group_level,
        "reduce": reduce,
        "sorted": sorted_,
        "stable": stable or None,
        "stale": stale.value if stale is not None else None,
        "update": _update_value(update),
    }
    return {name: value for name, value in options.items() if value is not None}


async def write_rows(
    out: Output,
    stream: Callable[[dict[str, Any], dict[str, Any]], AsyncIterator[Any]],
    fetch: Callable[[], Awaitable[Any]],
    options: dict[str, Any],
    columns: Sequence[Column] | Callable[[list[Any]], Sequence[Column]],
    *,
    all_rows: bool = False,
    empty: str | None,
) -> Shown | None:
    """Rows of a view-style answer in the output's mode: `stream(options, meta)`
    one JSON line a row (--jsonl, constant memory), `fetch()` the whole answer
    (--json), or a table printed as the rows arrive, stopped at its cap (people).
    Returns what the table showed (None with --json/--jsonl)."""
    if out.mode == "jsonl":
        async for row in stream(options, {}):
            out.jsonl(row)
        out.flush()
        return None
    if out.mode == "json":
        out.json(await fetch())
        return None
    from couchctl.cli._row_table import table_rows

    return await table_rows(out, stream, options, columns, all_rows=all_rows, empty=empty)
