"""Row commands in human mode: a table printed while the rows arrive, stopped at a cap.

`db all-docs`, `db design-docs`, `db changes`, `view query` and `find query` show
at most ROW_CAP rows to a person unless --limit or --all says otherwise. To know
whether more exist without reading them, the server is asked for one row more
than the cap; that row is not shown and the footer says how to see the rest.
--json and --jsonl are untouched: everything that was asked for.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from couchctl.render import Column, Output

__all__ = ["AllRowsOption", "Shown", "show_rows", "table_rows"]

AllRowsOption = Annotated[
    bool,
    typer.Option(
        "--all",
        help="Show every row (a table stops at 100 rows unless --limit is given).",
    ),
]


@dataclass
class Shown:
    """What a human-mode table showed: how many rows, whether more exist (the table
    stopped at its cap), the last row shown, and the answer's other members."""

    count: int
    more: bool
    last: Any = None
    meta: dict[str, Any] = field(default_factory=dict)


async def show_rows(
    out: Output,
    rows: AsyncIterator[Any],
    columns: Sequence[Column] | Callable[[list[Any]], Sequence[Column]],
    *,
    cap: int | None,
    empty: str | None,
) -> Shown:
    """Print `rows` as a table while they arrive, at most `cap` of them.

    A row past the cap only says that more exist; a second one means the server
    sends more than it was asked for, and the stream is closed then and there.
    """
    table = out.row_table(columns, empty=empty)
    shown = Shown(0, False)
    ended = False
    try:
        async for row in rows:
            if cap is None or table.count < cap:
                table.add(row)
                shown.last = row
            elif shown.more:
                break
            else:
                shown.more = True
        ended = True
    finally:
        table.close(ended=ended)
        aclose = getattr(rows, "aclose", None)
        if aclose is not None:
            await aclose()
    shown.count = table.count
    return shown


async def table_rows(
    out: Output,
    stream: Callable[[dict[str, Any], dict[str, Any]], AsyncIterator[Any]],
    options: dict[str, Any],
    columns: Sequence[Column] | Callable[[list[Any]], Sequence[Column]],
    *,
    all_rows: bool,
    empty: str | None,
) -> Shown:
    """The human-mode table of a row command: `stream(options, meta)` is asked for
    ROW_CAP + 1 rows unless --limit or --all was given."""
    from couchctl.render import ROW_CAP

    cap: int | None = None
    if not all_rows and options.get("limit") is None:
        options = {**options, "limit": ROW_CAP + 1}
        cap = ROW_CAP
    meta: dict[str, Any] = {}
    shown = await show_rows(out, stream(options, meta), columns, cap=cap, empty=empty)
    shown.meta = meta
    return shown
