"""Output: data on stdout, messages on stderr, one JSON value with --json."""

from __future__ import annotations

import io
import json

import pytest

from couchctl.render import Column, Output, format_size


def make(mode: str = "human") -> tuple[Output, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Output(mode, stdout=out, stderr=err), out, err  # type: ignore[arg-type]


class Flushes(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1


def test_json_is_one_compact_value_on_a_pipe() -> None:
    output, out, err = make("json")
    output.json({"a": "é", "b": [1, None]})
    assert out.getvalue() == '{"a":"é","b":[1,null]}\n'
    assert err.getvalue() == ""


def test_jsonl_flushes_each_line() -> None:
    stream = Flushes()
    output = Output("jsonl", stdout=stream, stderr=io.StringIO())
    output.jsonl({"id": 1})
    output.jsonl({"id": 2})
    assert stream.getvalue() == '{"id":1}\n{"id":2}\n'
    assert stream.flushes >= 2


def test_result_human_and_json() -> None:
    output, out, _ = make()
    output.result({"ok": True}, "created database db")
    assert out.getvalue() == "created database db\n"
    output, out, _ = make("json")
    output.result({"ok": True}, "created database db")
    assert json.loads(out.getvalue()) == {"ok": True}


def test_document_human_without_colour_is_indented_json() -> None:
    output, out, _ = make()
    output.document({"_id": "x"})
    assert json.loads(out.getvalue()) == {"_id": "x"}
    assert "\n  " in out.getvalue()


ROWS = [{"id": "a", "n": 1, "d": {"x": True}}, {"id": "b", "n": None, "d": False}]
COLUMNS = [
    Column("ID", lambda r: r["id"]),
    Column("N", lambda r: r["n"], "right"),
    Column("D", lambda r: r["d"]),
]


def test_rows_in_each_mode() -> None:
    output, out, _ = make("jsonl")
    output.rows(iter(ROWS), COLUMNS)
    assert [json.loads(line) for line in out.getvalue().splitlines()] == ROWS

    output, out, _ = make("json")
    output.rows(iter(ROWS), COLUMNS, whole={"rows": ROWS, "total_rows": 2})
    assert json.loads(out.getvalue()) == {"rows": ROWS, "total_rows": 2}

    output, out, _ = make("json")
    output.rows(iter(ROWS), COLUMNS)
    assert json.loads(out.getvalue()) == ROWS

    output, out, _ = make()
    output.rows(iter(ROWS), COLUMNS)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["ID", "N", "D"]
    assert lines[-2].split() == ["a", "1", '{"x":true}']
    assert lines[-1].split() == ["b", "false"]


def test_empty_table_message_goes_to_stderr() -> None:
    output, out, err = make()
    output.table([], COLUMNS, empty="no databases")
    assert out.getvalue() == ""
    assert err.getvalue() == "no databases\n"


def test_messages_on_stderr() -> None:
    output, out, err = make()
    output.info("hello")
    output.warn("careful")
    output.error("it failed:\nline two\r\n  three", hint="try again")
    assert out.getvalue() == ""
    assert err.getvalue().splitlines() == [
        "hello",
        "couchctl: warning: careful",
        "couchctl: error: it failed: line two three",
        "hint: try again",
    ]


def test_progress_is_silent_off_a_terminal() -> None:
    output, out, err = make()
    with output.progress("upload", 100) as bar:
        bar.advance(50)
    assert out.getvalue() == err.getvalue() == ""


def test_no_colour_off_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    output, _, _ = make()
    assert output.color is False
    assert output.show_progress is False


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (None, ""),
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (5 * 1024**2, "5.0 MiB"),
        (3 * 1024**5, "3072.0 TiB"),
    ],
)
def test_format_size(size: float | None, text: str) -> None:
    assert format_size(size) == text


def test_fields_table_for_people() -> None:
    output, out, err = make()
    output.fields([("name", "mydb"), ("documents", 3)], whole={"db_name": "mydb"})
    rows = [line.split() for line in out.getvalue().splitlines() if line.strip()]
    assert rows == [["field", "value"], ["name", "mydb"], ["documents", "3"]]
    assert err.getvalue() == ""


@pytest.mark.parametrize("mode", ["json", "jsonl"])
def test_fields_whole_answer_as_json(mode: str) -> None:
    output, out, err = make(mode)
    output.fields([("name", "mydb")], whole={"db_name": "mydb", "doc_count": 3})
    assert json.loads(out.getvalue()) == {"db_name": "mydb", "doc_count": 3}
    assert err.getvalue() == ""
