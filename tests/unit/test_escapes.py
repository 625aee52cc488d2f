"""Text from the server cannot drive the terminal: control characters are shown
escaped in human output; --json and --jsonl stay exact JSON."""

from __future__ import annotations

import io
import json

import pytest

from couchctl.render import Column, Output, escape_controls

NASTY = "a\x1b]0;owned\x07b\x1b[2Jc\td\ne\x9bf\x7f"


def make(mode: str = "human", color: bool = False) -> tuple[Output, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Output(mode, stdout=out, stderr=err, color=color), out, err  # type: ignore[arg-type]


def raw_controls(text: str) -> list[str]:
    return [c for c in text if (ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) <= 0x9F]


def test_escape_controls() -> None:
    assert escape_controls(NASTY) == "a\\x1b]0;owned\\x07b\\x1b[2Jc\\td\\ne\\x9bf\\x7f"
    assert escape_controls("plain é ü 漢") == "plain é ü 漢"


@pytest.mark.parametrize("color", [False, True])
def test_table_cells_are_escaped(color: bool) -> None:
    output, out, _ = make(color=color)
    output.table([{"id": NASTY}], [Column("id", lambda row: row["id"])])
    text = out.getvalue()
    assert "\x1b]0;" not in text and "\x1b[2J" not in text and "\x07" not in text
    assert "\\x1b]0;owned\\x07" in text
    if not color:
        assert raw_controls(text) == []


def test_messages_and_lines_are_escaped() -> None:
    output, out, err = make()
    output.result({"id": NASTY}, f"deleted {NASTY}")
    output.text(NASTY)
    output.info(f"document {NASTY} does not exist")
    output.warn(NASTY)
    output.error(f"GET /db/x: {NASTY}", f"hint {NASTY}")
    output.trace(f"> GET /{NASTY}\n  accept: */*")
    assert raw_controls(out.getvalue()) == []
    assert raw_controls(err.getvalue()) == []
    assert "\\x1b[2J" in out.getvalue() and "\\x1b[2J" in err.getvalue()


@pytest.mark.parametrize("color", [False, True])
def test_document_for_people_is_json_without_raw_controls(color: bool) -> None:
    output, out, _ = make(color=color)
    output.document({"_id": NASTY})
    text = out.getvalue()
    assert "\x1b]" not in text and "\x9b" not in text and "\x07" not in text
    if not color:
        assert json.loads(text) == {"_id": NASTY}


@pytest.mark.parametrize("mode", ["json", "jsonl"])
def test_json_modes_stay_exact(mode: str) -> None:
    output, out, _ = make(mode)
    output.rows([{"id": NASTY}], [Column("id", lambda row: row["id"])])
    value = json.loads(out.getvalue().splitlines()[0])
    assert value in ({"id": NASTY}, [{"id": NASTY}])
