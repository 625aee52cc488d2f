"""The only place that writes to stdout and stderr.

stdout carries data only: a table or highlighted JSON for people, exactly one JSON
value with `--json`, one JSON object a line with `--jsonl`. Messages, warnings,
errors and progress bars go to stderr. No colour and no progress bar when the
stream is not a terminal or when NO_COLOR is set.

rich is imported only when something is drawn for a person.

Text for people passes through here once: control characters (C0, DEL, C1, even
tab and newline inside a cell) are shown escaped (`\x1b`, `\n`), so that text from
the server cannot move the cursor, retitle or clear the terminal; every URL in a
message has its userinfo masked. `--json` / `--jsonl` stay exact JSON.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "ROW_CAP",
    "Column",
    "Mode",
    "Output",
    "Progress",
    "RowTable",
    "escape_controls",
    "format_size",
    "rows_footer",
]

Mode = Literal["human", "json", "jsonl"]


@dataclass(frozen=True)
class Column:
    """A table column: its header and how to get the cell from a row."""

    header: str
    get: Callable[[Any], Any]
    justify: Literal["left", "right"] = "left"


_FIELD_COLUMNS = (
    Column("field", lambda pair: pair[0]),
    Column("value", lambda pair: pair[1]),
)


def format_size(num: float | None) -> str:
    """A size for people, in IEC units (B, KiB, MiB, GiB, TiB): the one size formatter."""
    if num is None:
        return ""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(num) < 1024 or unit == "TiB":
            return f"{num:.0f} {unit}" if unit == "B" else f"{num:.1f} {unit}"
        num /= 1024
    return str(num)  # pragma: no cover


# Rows a human-mode row table shows unless --limit or --all says otherwise.
ROW_CAP = 100


def rows_footer(
    shown: int,
    *,
    total: int | None = None,
    offset: int | None = None,
    more: bool = False,
    hint: str = "--limit N, --all, or --jsonl for everything",
) -> str:
    """The line under a row table: how many rows were shown, of how many, and, when
    the table stopped at its cap, how to see the rest."""
    where = f", offset {offset:,}" if offset is not None else ""
    if total is not None:
        line = f"{shown:,} of {total:,} rows{where}"
    elif more:
        line = f"{shown:,} rows shown{where}"
    else:
        line = f"{shown:,} rows{where}"
    return f"{line}: {hint}" if more else line


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_NAMED_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}
# Characters JSON leaves raw that a terminal may still act on (DEL, C1 such as CSI).
_JSON_RAW_CONTROL = re.compile("[\x7f-\x9f]")


def escape_controls(text: str) -> str:
    """`text` with every control character shown as an escape (`\\x1b`, `\\n`, `\\t`)."""
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(lambda m: _NAMED_ESCAPES.get(m[0]) or f"\\x{ord(m[0]):02x}", text)


def _message(text: str) -> str:
    """A line of a message for people: controls escaped, URL userinfo masked."""
    from couchctl.config import mask_text

    return escape_controls(mask_text(text))


def _lines(text: str) -> str:
    """A message of several lines (a trace): each line cleaned as `_message`."""
    return "\n".join(_message(line) for line in text.split("\n"))


def _json_for_terminal(text: str) -> str:
    """JSON text with DEL and C1 characters written as \\u escapes (the same JSON value)."""
    return _JSON_RAW_CONTROL.sub(lambda m: f"\\u{ord(m[0]):04x}", text)


def _cell(value: Any) -> str:
    return escape_controls(_cell_text(value))


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def dumps_line(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Progress:
    """A progress handle; `advance` is cheap and does nothing when no bar is shown."""

    def __init__(self, advance: Callable[[float], None] | None = None) -> None:
        self._advance = advance

    def advance(self, amount: float) -> None:
        if self._advance is not None:
            self._advance(amount)


class Output:
    """Where and how results are written. Tests swap the streams."""

    def __init__(
        self,
        mode: Mode = "human",
        *,
        stdout: IO[str] | None = None,
        stderr: IO[str] | None = None,
        color: bool | None = None,
    ) -> None:
        self.mode: Mode = mode
        self.stdout = stdout if stdout is not None else sys.stdout
        self.stderr = stderr if stderr is not None else sys.stderr
        no_color = "NO_COLOR" in os.environ
        self.stdout_tty = _isatty(self.stdout)
        self.stderr_tty = _isatty(self.stderr)
        self.color = (self.stdout_tty and not no_color) if color is None else color
        self.show_progress = self.stderr_tty and not no_color
        self._out_console: Console | None = None
        self._err_console: Console | None = None

    # -- consoles (rich, lazily) ------------------------------------------------

    def _console(self, stream: IO[str], color: bool) -> Console:
        from rich.console import Console

        width = os.environ.get("TERMINAL_WIDTH")
        return Console(
            file=stream,
            no_color=not color,
            color_system="auto" if color else None,
            highlight=color,
            soft_wrap=False,
            width=int(width) if width and width.isdigit() else None,
            emoji=False,
            markup=False,
        )

    @property
    def out_console(self) -> Console:
        if self._out_console is None:
            self._out_console = self._console(self.stdout, self.color)
        return self._out_console

    @property
    def err_console(self) -> Console:
        if self._err_console is None:
            self._err_console = self._console(
                self.stderr, self.stderr_tty and "NO_COLOR" not in os.environ
            )
        return self._err_console

    # -- data on stdout -----------------------------------------------------------

    def json(self, value: Any) -> None:
        """Exactly one JSON value: compact for pipes, indented on a terminal."""
        if self.stdout_tty:
            text = json.dumps(value, ensure_ascii=False, indent=2)
        else:
            text = dumps_line(value)
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def jsonl(self, value: Any) -> None:
        """One JSON Lines record, flushed so that a pipe sees it as it arrives."""
        self.stdout.write(dumps_line(value) + "\n")
        self.stdout.flush()

    def jsonl_text(self, text: str) -> None:
        """Many JSON Lines records already serialised (`bulk dump`), written as is and flushed."""
        self.stdout.write(text)
        self.stdout.flush()

    def flush(self) -> None:
        self.stdout.flush()

    def document(self, value: Any) -> None:
        """A JSON value: highlighted for people, as is with --json/--jsonl."""
        if self.mode != "human":
            self.json(value)
            return
        text = _json_for_terminal(json.dumps(value, ensure_ascii=False, indent=2))
        if not self.color:
            self.stdout.write(text + "\n")
            return
        # Not rich.json.JSON: it parses and dumps again, turning the escapes back
        # into raw characters.
        from rich.highlighter import JSONHighlighter

        highlighted = JSONHighlighter()(text)
        highlighted.no_wrap = True
        self.out_console.print(highlighted)

    def result(self, value: Any, message: str) -> None:
        """An action's outcome: one short line for people, the server's JSON otherwise."""
        if self.mode == "human":
            self.stdout.write(_message(message) + "\n")
            self.stdout.flush()
        else:
            self.json(value)

    def text(self, line: str) -> None:
        """A plain line of data on stdout (a revision, a name), controls escaped."""
        self.stdout.write(escape_controls(line) + "\n")
        self.stdout.flush()

    def raw(self, data: bytes) -> None:
        """Bytes as they are on stdout (an attachment downloaded to `-o -`)."""
        buffer = getattr(self.stdout, "buffer", None)
        if buffer is None:
            raise OSError("standard output does not accept bytes")
        buffer.write(data)
        buffer.flush()

    def table(
        self,
        rows: Iterable[Any],
        columns: Sequence[Column],
        *,
        title: str | None = None,
        empty: str | None = None,
    ) -> None:
        """Rows as a rich table (people) - callers handle --json/--jsonl themselves."""
        from rich.table import Table

        table = Table(title=title, box=None if not self.color else _box(), show_edge=False)
        for column in columns:
            table.add_column(column.header, justify=column.justify, overflow="fold")
        count = 0
        for row in rows:
            table.add_row(*(_cell(column.get(row)) for column in columns))
            count += 1
        if count == 0 and empty is not None:
            self.info(empty)
            return
        self.out_console.print(table)

    @contextmanager
    def live_table(self) -> Iterator[Callable[[Iterable[Any], Sequence[Column], str | None], None]]:
        """A table redrawn in place on a terminal (`--watch`); elsewhere each
        drawing is printed after the previous one."""
        if not self.stdout_tty:

            def print_table(
                rows: Iterable[Any], columns: Sequence[Column], title: str | None
            ) -> None:
                self.table(rows, columns, title=title)

            yield print_table
            return
        from rich.live import Live
        from rich.table import Table

        with Live(console=self.out_console, auto_refresh=False, transient=False) as live:

            def draw(rows: Iterable[Any], columns: Sequence[Column], title: str | None) -> None:
                table = Table(title=title, box=None if not self.color else _box(), show_edge=False)
                for column in columns:
                    table.add_column(column.header, justify=column.justify, overflow="fold")
                for row in rows:
                    table.add_row(*(_cell(column.get(row)) for column in columns))
                live.update(table, refresh=True)

            yield draw

    def row_table(
        self,
        columns: Sequence[Column] | Callable[[list[Any]], Sequence[Column]],
        *,
        empty: str | None = None,
    ) -> RowTable:
        """A table printed as its rows arrive (`add`, then `close`); see RowTable."""
        return RowTable(self, columns, empty=empty)

    def fields(self, pairs: Iterable[tuple[str, Any]], *, whole: Any = None) -> None:
        """(field, value) pairs as a two-column table for people; `whole` as JSON otherwise."""
        if self.mode != "human":
            self.json(whole)
        else:
            self.table(pairs, _FIELD_COLUMNS)

    def rows(
        self,
        rows: Iterable[Any],
        columns: Sequence[Column],
        *,
        whole: Mapping[str, Any] | None = None,
        title: str | None = None,
        empty: str | None = None,
    ) -> None:
        """Rows in the chosen mode: a table, one JSON line each, or `whole` as JSON."""
        if self.mode == "jsonl":
            for row in rows:
                self.jsonl(row)
            self.flush()
        elif self.mode == "json":
            self.json(whole if whole is not None else list(rows))
        else:
            self.table(rows, columns, title=title, empty=empty)

    # -- messages on stderr ---------------------------------------------------------

    def info(self, message: str) -> None:
        self.stderr.write(_message(message) + "\n")
        self.stderr.flush()

    def notice(self, message: str) -> None:
        """A line about what couchctl is doing (waiting to retry): `couchctl: ...`."""
        self.stderr.write(f"couchctl: {_one_line(message)}\n")
        self.stderr.flush()

    def warn(self, message: str) -> None:
        self.stderr.write(f"couchctl: warning: {_message(_one_line(message))}\n")
        self.stderr.flush()

    def error(self, message: str, hint: str | None = None) -> None:
        self.stderr.write(f"couchctl: error: {_message(_one_line(message))}\n")
        if hint:
            self.stderr.write(f"hint: {_message(_one_line(hint))}\n")
        self.stderr.flush()

    def trace(self, message: str) -> None:
        """A --verbose trace record (may span lines: request line and headers)."""
        self.stderr.write(_lines(message) + "\n")
        self.stderr.flush()

    def confirm(self, question: str) -> bool:
        """Ask on the terminal (stdin and stderr must both be terminals)."""
        self.stderr.write(f"{_message(question)} [y/N] ")
        self.stderr.flush()
        try:
            answer = sys.stdin.readline()
        except (OSError, KeyboardInterrupt):
            return False
        return answer.strip().lower() in {"y", "yes"}

    # -- progress on stderr -----------------------------------------------------------

    @contextmanager
    def progress(
        self,
        description: str,
        total: float | None = None,
        *,
        unit: Literal["bytes", "docs"] = "bytes",
    ) -> Iterator[Progress]:
        """A rich progress bar with rate and ETA, only on a terminal."""
        if not self.show_progress:
            yield Progress()
            return
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            MofNCompleteColumn,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichProgress

        columns: list[Any] = [TextColumn("{task.description}"), BarColumn(), TaskProgressColumn()]
        if unit == "bytes":
            columns += [DownloadColumn(binary_units=True), _rate_column()]
        else:
            columns += [MofNCompleteColumn(), TextColumn("{task.fields[rate]} docs/s")]
        columns.append(TimeRemainingColumn())
        with RichProgress(*columns, console=self.err_console, transient=True) as bar:
            task = bar.add_task(description, total=total, rate="-")
            started = _now()

            def advance(amount: float) -> None:
                bar.advance(task, amount)
                if unit == "docs":
                    elapsed = max(_now() - started, 1e-6)
                    done = bar.tasks[0].completed
                    bar.update(task, rate=f"{done / elapsed:,.0f}")

            yield Progress(advance)


class RowTable:
    """A table for people printed while its rows arrive, in constant memory.

    The first rows (a few dozen, or those of the first quarter second) set the
    column widths; the header and they are then printed, and every later row as
    soon as it is added, in those widths. On a terminal the table fits its width:
    a cell too long for its column ends in `…` (the whole value is in --json and
    --jsonl). `columns` may be a function of those first rows (a find's fields).

    While nothing arrives for more than a second, a spinner with the time waited
    runs on stderr (on a terminal only): a view index being built says so.
    """

    _BATCH = 25
    _BATCH_SECONDS = 0.25
    _GAP = "  "

    def __init__(
        self,
        out: Output,
        columns: Sequence[Column] | Callable[[list[Any]], Sequence[Column]],
        *,
        empty: str | None = None,
    ) -> None:
        self._out = out
        self._columns_for = columns if callable(columns) else None
        self._columns: list[Column] = [] if callable(columns) else list(columns)
        self._empty = empty
        self._batch: list[Any] = []
        self._batch_started = 0.0
        self._widths: list[int] | None = None
        self._cut = out.stdout_tty
        self._room = 0  # the terminal's width, when cells are cut to fit it
        self.count = 0
        self._spinner = _Spinner(out, "waiting for the server") if out.show_progress else None
        if self._spinner is not None:
            self._spinner.start()

    def add(self, row: Any) -> None:
        self.count += 1
        if self._widths is not None:
            self._write([self._line([_cell(column.get(row)) for column in self._columns])])
            return
        if not self._batch:
            self._batch_started = _now()
        self._batch.append(row)
        if len(self._batch) >= self._BATCH or _now() - self._batch_started >= self._BATCH_SECONDS:
            self._print_batch()
        elif self._spinner is not None:
            self._spinner.activity()

    def close(self, *, ended: bool = True) -> None:
        """The end of the rows shown: the rest of the table, or `empty` when there
        were none and the rows `ended` (rather than failed)."""
        if self._spinner is not None:
            self._spinner.stop()
            self._spinner = None
        if self._widths is None and self._batch:
            self._print_batch()
        elif self._widths is None and self._empty is not None and ended:
            self._out.info(self._empty)
        self._out.stdout.flush()

    def _print_batch(self) -> None:
        from rich.cells import cell_len

        if self._columns_for is not None:
            self._columns = list(self._columns_for(self._batch))
        columns = self._columns
        rows = [[_cell(column.get(row)) for column in columns] for row in self._batch]
        self._batch = []
        widths = [cell_len(column.header) for column in columns]
        for cells in rows:
            widths = [max(width, cell_len(cell)) for width, cell in zip(widths, cells, strict=True)]
        if self._cut:
            self._room = self._out.out_console.width
            widths = _fit(widths, self._room - len(self._GAP) * (len(widths) - 1))
        self._widths = widths
        header = self._line([column.header for column in columns])
        lines = [f"\x1b[1m{header}\x1b[0m" if self._out.color else header]
        if self._out.color:
            lines.append(self._GAP.join("─" * width for width in widths))
        lines += [self._line(cells) for cells in rows]
        self._write(lines)

    def _line(self, cells: list[str]) -> str:
        """A row in the columns' widths. A later cell wider than its column widens
        it (the rows after it align on the new width); on a terminal, only what
        would run past the screen's edge is cut, ending in `…`."""
        from rich.cells import cell_len, set_cell_size

        widths = self._widths
        assert widths is not None
        room = self._room
        parts: list[str] = []
        pos = 0
        for index, (column, text) in enumerate(zip(self._columns, cells, strict=True)):
            size, cell = cell_len(text), text
            if size > widths[index]:
                rest = sum(widths[index + 1 :]) + len(self._GAP) * (len(widths) - index - 1)
                fits = max(widths[index], room - pos - rest) if room else size
                if size > fits:
                    cell, size = set_cell_size(text, max(fits - 1, 0)) + "…", fits
                widths[index] = size
            pad = " " * max(widths[index] - size, 0)
            parts.append(pad + cell if column.justify == "right" else cell + pad)
            pos += widths[index] + len(self._GAP)
        return self._GAP.join(parts).rstrip()

    def _write(self, lines: list[str]) -> None:
        if self._spinner is not None:
            self._spinner.activity()
        self._out.stdout.write("".join(line + "\n" for line in lines))
        if self._out.stdout_tty:
            self._out.stdout.flush()


def _fit(widths: list[int], room: int, floor: int = 8) -> list[int]:
    """Column widths narrowed, widest first (none below `floor`), until the row fits
    in `room` cells."""
    widths = list(widths)
    while sum(widths) > room:
        widest = max(range(len(widths)), key=widths.__getitem__)
        if widths[widest] <= floor:
            break
        second = max((w for i, w in enumerate(widths) if i != widest), default=floor)
        narrower = max(floor, second, widths[widest] - (sum(widths) - room))
        widths[widest] = narrower if narrower < widths[widest] else widths[widest] - 1
    return widths


class _Spinner:
    """A spinner with the time waited, on stderr, shown once nothing happened for a
    second and hidden again as soon as something does (`activity`)."""

    _DELAY = 1.0

    def __init__(self, out: Output, text: str) -> None:
        import threading

        self._out = out
        self._text = text
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._started = self._last = _now()
        self._status: Any = None
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _watch(self) -> None:
        while not self._done.wait(0.1):
            with self._lock:
                if self._done.is_set() or _now() - self._last < self._DELAY:
                    continue
                text = f"{self._text}… {_now() - self._started:.0f}s"
                if self._status is None:
                    from rich.status import Status

                    self._status = Status(text, console=self._out.err_console)
                    self._status.start()
                else:
                    self._status.update(text)

    def activity(self) -> None:
        with self._lock:
            self._last = _now()
            if self._status is not None:
                self._status.stop()
                self._status = None

    def stop(self) -> None:
        self._done.set()
        self.activity()
        self._thread.join()


def _rate_column() -> Any:
    """A progress column of bytes per second in the sizes' IEC units (rich's own
    speed column counts in decimal megabytes)."""
    from rich.progress import ProgressColumn, Task
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text("?" if speed is None else f"{format_size(speed)}/s")

    return RateColumn()


def _one_line(message: str) -> str:
    """A message fit for one line of stderr (server reasons may hold newlines)."""
    return " ".join(message.split()) if "\n" in message or "\r" in message else message


def _now() -> float:
    import time

    return time.monotonic()


def _box() -> Any:
    from rich import box

    return box.SIMPLE_HEAD


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
