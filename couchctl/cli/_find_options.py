"""The flags of `find query` and `find explain` (the members of a _find body), and
their parsing: JSON, `@file` or `-`, or the short comma forms (`_id,n`, `n:desc`)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from couchctl.cli._options import flag_group, json_argument, json_object_argument
from couchctl.cli._run import fail

__all__ = [
    "FIND_FLAGS",
    "FindFlags",
    "PartitionOpt",
    "SelectorArg",
    "field_direction",
    "find_arguments",
    "find_flags",
    "find_options",
]


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


def parse_fields(value: str | None) -> list[str] | None:
    if value is None:
        return None
    if _is_json_source(value):
        parsed: list[str] = json_argument(value, "--fields")  # checked by the client
        return parsed
    fields = [f.strip() for f in value.split(",") if f.strip()]
    if not fields:
        fail("--fields names no field")
    return fields


def field_direction(spec: str, flag: str) -> str | dict[str, str]:
    """`name` or `name:asc|desc` (only a final :asc/:desc is a direction)."""
    name, sep, direction = spec.rpartition(":")
    if sep and direction in ("asc", "desc") and name:
        return {name: direction}
    if not spec:
        fail(f"{flag}: an empty field name")
    return spec


def parse_sort(value: str | None) -> list[Any] | None:
    if value is None:
        return None
    if _is_json_source(value):
        parsed: list[Any] = json_argument(value, "--sort")  # checked by the client
        return parsed
    return [field_direction(spec.strip(), "--sort") for spec in value.split(",") if spec.strip()]


def parse_use_index(value: str | None) -> str | list[str] | None:
    if value is None:
        return None
    if value.startswith("[") or value.startswith("@"):
        parsed: list[str] = json_argument(value, "--use-index")  # checked by the client
        return parsed
    return value


def find_options(
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
        "sort": parse_sort(sort),
        "fields": parse_fields(fields),
        "use_index": parse_use_index(use_index),
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


def find_arguments(selector: str, flags: FindFlags) -> tuple[dict[str, Any], dict[str, Any]]:
    """The selector and the _find options of a command line, checked by the client
    (`check_find`) before any request."""
    from couchctl.client import check_find

    parsed = json_object_argument(selector, "SELECTOR")
    options = find_options(**flags)
    check_find(parsed, **options)
    return parsed, options
