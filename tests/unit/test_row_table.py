"""RowTable: a table printed while its rows arrive; its footer, spinner and size units."""

from __future__ import annotations

import io
import time
from typing import Any

import pytest

from couchctl.render import Column, Output, RowTable, _fit, format_size, rows_footer

COLUMNS = [Column("id", lambda row: row["id"]), Column("n", lambda row: row["n"], justify="right")]


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def make(stdout: io.StringIO | None = None, stderr: io.StringIO | None = None) -> Output:
    return Output(
        "human",
        stdout=stdout if stdout is not None else io.StringIO(),  # type: ignore[arg-type]
        stderr=stderr if stderr is not None else io.StringIO(),  # type: ignore[arg-type]
        color=False,
    )


def test_rows_are_printed_before_the_table_ends() -> None:
    out = make()
    table = out.row_table(COLUMNS)
    for n in range(RowTable._BATCH):
        table.add({"id": f"doc-{n}", "n": n})
    printed = out.stdout.getvalue().splitlines()  # type: ignore[attr-defined]
    assert printed[0].split() == ["id", "n"]
    assert len(printed) == 1 + RowTable._BATCH  # the first rows, before close
    table.add({"id": "later", "n": 12345})  # wider than the column: printed whole off a terminal
    assert out.stdout.getvalue().splitlines()[-1].split() == ["later", "12345"]  # type: ignore[attr-defined]
    table.close()


def test_a_slow_first_row_is_printed_once_the_next_one_comes() -> None:
    out = make()
    table = out.row_table(COLUMNS)
    table.add({"id": "a", "n": 1})
    assert out.stdout.getvalue() == ""  # type: ignore[attr-defined]
    time.sleep(RowTable._BATCH_SECONDS + 0.05)
    table.add({"id": "b", "n": 2})
    assert out.stdout.getvalue().splitlines() == ["id  n", "a   1", "b   2"]  # type: ignore[attr-defined]
    table.close()


def test_columns_from_the_first_rows_and_right_justified() -> None:
    out = make()
    table = out.row_table(
        lambda first: [Column(name, lambda r, k=name: r.get(k)) for name in first[0]]
    )
    table.add({"x": "long value", "y": 1})
    table.close()
    assert out.stdout.getvalue().splitlines() == ["x           y", "long value  1"]  # type: ignore[attr-defined]


def test_empty_table_says_so_unless_the_rows_failed() -> None:
    out = make()
    out.row_table(COLUMNS, empty="no rows").close()
    assert out.stderr.getvalue() == "no rows\n"  # type: ignore[attr-defined]
    failed = make()
    failed.row_table(COLUMNS, empty="no rows").close(ended=False)
    assert failed.stderr.getvalue() == ""  # type: ignore[attr-defined]


def test_on_a_terminal_the_table_fits_and_long_cells_end_in_an_ellipsis(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TERMINAL_WIDTH", "30")
    out = make(stdout=Terminal())
    table = out.row_table([Column("id", lambda r: r["id"]), Column("doc", lambda r: r["doc"])])
    table.add({"id": "a", "doc": "x" * 100})
    table.close()
    lines = out.stdout.getvalue().splitlines()  # type: ignore[attr-defined]
    assert all(len(line) <= 30 for line in lines)
    assert lines[1].endswith("x…")


def test_fit_narrows_the_widest_columns_first() -> None:
    assert _fit([10, 50, 200], 80) == [10, 35, 35]
    assert sum(_fit([30, 30, 30], 50)) == 50
    assert _fit([5, 5], 4) == [5, 5]  # never below the floor


def test_spinner_while_the_server_is_silent_on_a_terminal_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    err = Terminal()
    out = make(stderr=err)
    table = out.row_table(COLUMNS)
    time.sleep(1.5)
    table.add({"id": "a", "n": 1})
    table.close()
    assert "waiting for the server" in err.getvalue()
    assert out.stdout.getvalue().splitlines()[-1].split() == ["a", "1"]  # type: ignore[attr-defined]

    quiet = io.StringIO()
    out = make(stderr=quiet)
    table = out.row_table(COLUMNS)
    time.sleep(1.3)
    table.close()
    assert quiet.getvalue() == ""


def test_no_spinner_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    err = Terminal()
    table = make(stderr=err).row_table(COLUMNS)
    time.sleep(1.3)
    table.close()
    assert err.getvalue() == ""


@pytest.mark.parametrize(
    ("kwargs", "line"),
    [
        (
            {"total": 60000, "more": True},
            "100 of 60,000 rows: --limit N, --all, or --jsonl for everything",
        ),
        ({"more": True}, "100 rows shown: --limit N, --all, or --jsonl for everything"),
        ({"total": 250}, "100 of 250 rows"),
        ({"total": 250, "offset": 3}, "100 of 250 rows, offset 3"),
        ({"more": True, "hint": "--all"}, "100 rows shown: --all"),
    ],
)
def test_rows_footer(kwargs: dict[str, Any], line: str) -> None:
    assert rows_footer(100, **kwargs) == line


def test_one_size_unit() -> None:
    assert [format_size(n) for n in (512, 2048, 5 * 1024**2, 3 * 1024**3)] == [
        "512 B",
        "2.0 KiB",
        "5.0 MiB",
        "3.0 GiB",
    ]


def test_progress_bar_counts_in_iec_units(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERMINAL_WIDTH", "200")
    err = Terminal()
    with make(stderr=err).progress("downloading", total=4 * 1024**2) as bar:
        bar.advance(2 * 1024**2)
        time.sleep(0.2)
        bar.advance(1024**2)
    text = err.getvalue()
    assert "3.0/4.0 MiB" in text
    assert "MiB/s" in text
    assert "MB" not in text.replace("MiB", "")


def test_a_later_wider_cell_is_shown_whole_when_the_screen_has_room(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TERMINAL_WIDTH", "40")
    out = make(stdout=Terminal())
    table = out.row_table(COLUMNS)
    for n in range(RowTable._BATCH):
        table.add({"id": f"d{n}", "n": n})
    table.add({"id": "d-late", "n": 123456})
    table.add({"id": "d", "n": 7})
    table.close()
    lines = out.stdout.getvalue().splitlines()  # type: ignore[attr-defined]
    assert lines[-2].split() == ["d-late", "123456"]  # nothing cut
    assert len(lines[-1]) == len(lines[-2])  # later rows align on the wider columns
