"""The check of a whole JSON Lines file before a load (couchctl.bulk.check).

The fast path decodes each document where it lies in a block of the file; whatever
it meets, the result must be what checking each line on its own gives: the same
counts, or the same error on the same line. `one_line_at_a_time` is that reference
(each line decoded alone with `json.loads`, as the check did before blocks).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from couchctl.bulk import InputCheck, InputError, check_input
from couchctl.bulk import check as bulk_check
from couchctl.bulk.documents import check_document

GOOD = '{"type":"order","n":1,"tags":["a","b"]}'


def one_line_at_a_time(data: bytes, new_edits: bool = True) -> InputCheck | str:
    """The reference: counts, or the error message, of checking each line alone."""
    check = InputCheck()
    for number, raw in enumerate(data.split(b"\n"), 1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return f"line {number}: not UTF-8 text"
        if number == 1:
            text = text.removeprefix("\ufeff")
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except RecursionError:
            return f"line {number}: not valid JSON: nested too deeply"
        except json.JSONDecodeError as exc:
            return f"line {number}: not valid JSON: {exc.msg} (column {exc.colno})"
        try:
            check_document(value, number, new_edits=new_edits)
        except InputError as exc:
            return str(exc)
        check.documents += 1
        check.deletions += value.get("_deleted") is True
    return check


def checked(path: Path, new_edits: bool = True) -> InputCheck | str:
    try:
        return check_input(path, new_edits=new_edits)
    except InputError as exc:
        return str(exc)


LINES = [
    GOOD,
    '{"_id":"a1","n":2}',
    '{"_id":"_design/d","views":{}}',
    '{"_id":"gone","_rev":"1-abc","_deleted":true}',
    '{"\\u005fid":"escaped","n":3}',
    '{"name":"caf\\u00e9","_attachments":{}}',
    '  {"n":4}  ',
    '{"n":5}\r',
    "",
    "   ",
    '{"text":"a line\\nwith an escaped newline"}',
    '{"created_at":"2026-11-30","user_name":"x"}',
]

BAD = [
    '{"a":',  # the first half of a document spread over two lines (see below)
    "[1, 2]",
    "42",
    '"text"',
    "null",
    '{"a":1} {"b":2}',
    '{"a":1} x',
    '{"_id":1}',
    '{"_id":""}',
    '{"_id":"_users"}',
    '{"_foo":1}',
    '{"\\u005ffoo":1}',
    '{"_deleted":"yes"}',
    '{"_attachments":[]}',
    '{"_rev":5}',
    '{"a":1',
    "{'a':1}",
    '{"a":01}',
    "[" * 100_000,
]


@pytest.fixture(
    params=[(16, 1), (200, 1), (1 << 20, 1), (16, 4), (200, 3)],
    ids=["block16", "block200", "block1M", "block16-4parts", "block200-3parts"],
)
def block(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Blocks of one or two lines, a few lines, and the whole file; in one process, or
    in parts checked by forked processes side by side (Linux)."""
    size, parts = request.param
    monkeypatch.setattr(bulk_check, "_CHECK_BLOCK", size)
    if parts > 1:
        if sys.platform != "linux":
            pytest.skip("files are checked in parts on Linux only")
        monkeypatch.setattr(bulk_check, "PARALLEL_FROM", 0)
        monkeypatch.setattr(bulk_check, "_MAX_PARTS", parts)
        monkeypatch.setattr(bulk_check.os, "cpu_count", lambda: parts)
    return int(size)


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "in.jsonl"
    path.write_bytes(data)
    return path


def test_good_lines_of_every_kind(block: int, tmp_path: Path) -> None:
    data = ("\n".join(LINES * 5) + "\n").encode()
    expected = one_line_at_a_time(data)
    assert expected == InputCheck(documents=50, deletions=5)
    assert checked(write(tmp_path, data)) == expected


@pytest.mark.parametrize("ending", ["\n", "\r\n"])
def test_line_endings_and_a_last_line_without_one(block: int, tmp_path: Path, ending: str) -> None:
    data = (ending.join([GOOD] * 30) + ending).encode()
    assert checked(write(tmp_path, data)) == InputCheck(documents=30)
    data = ending.join([GOOD] * 30).encode()  # no line end at the very end
    assert checked(write(tmp_path, data)) == InputCheck(documents=30)


def test_byte_order_mark_only_at_the_start(block: int, tmp_path: Path) -> None:
    data = ("\ufeff" + "\n".join([GOOD] * 10) + "\n").encode()
    assert checked(write(tmp_path, data)) == InputCheck(documents=10)
    data = ("\n".join([GOOD, "\ufeff" + GOOD]) + "\n").encode()
    assert checked(write(tmp_path, data)) == "line 2: not valid JSON: Expecting value (column 1)"


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize("where", [1, 7, 19])  # (a first line "[" is a JSON array)
def test_a_bad_line_anywhere_gives_the_error_of_that_line(
    block: int, tmp_path: Path, bad: str, where: int
) -> None:
    lines = [GOOD] * 20
    lines[where] = bad
    if bad == '{"a":':
        lines.insert(where + 1, "1}")  # valid JSON over two lines, not JSON Lines
    data = ("\n".join(lines) + "\n").encode()
    expected = one_line_at_a_time(data)
    assert isinstance(expected, str) and expected.startswith(f"line {where + 1}: ")
    assert checked(write(tmp_path, data)) == expected


def test_the_first_of_two_bad_lines_is_the_one_named(block: int, tmp_path: Path) -> None:
    lines = [GOOD] * 20
    lines[5] = '{"_id":"_bad"}'
    lines[15] = "not json"
    data = ("\n".join(lines) + "\n").encode()
    assert checked(write(tmp_path, data)) == (
        "line 6: illegal _id '_bad': only _design/ and _local/ ids may start with an underscore"
    )


def test_not_utf8_names_its_line(block: int, tmp_path: Path) -> None:
    data = ("\n".join([GOOD] * 12) + "\n").encode() + b'{"n":"\xff"}\n' + GOOD.encode()
    assert checked(write(tmp_path, data)) == "line 13: not UTF-8 text"


def test_no_new_edits_needs_id_and_rev_on_every_line(block: int, tmp_path: Path) -> None:
    good = '{"_id":"a","_rev":"1-x","n":1}'
    data = ("\n".join([good] * 9 + ['{"_id":"b","n":2}']) + "\n").encode()
    assert checked(write(tmp_path, data), new_edits=False) == (
        "line 10: with --no-new-edits every document needs an _id and a _rev"
    )
    assert checked(write(tmp_path, data)) == InputCheck(documents=10)


def test_empty_and_blank_files(block: int, tmp_path: Path) -> None:
    assert checked(write(tmp_path, b"")) == InputCheck()
    assert checked(write(tmp_path, b"\n \n\t\r\n")) == InputCheck()


needs_fork = pytest.mark.skipif(sys.platform != "linux", reason="parts are checked on Linux only")


@needs_fork
def test_a_part_whose_process_fails_is_checked_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = os.getpid()
    real = bulk_check._check_part

    def dies_in_a_child(*args: object, **kwargs: object) -> object:
        if os.getpid() != parent:
            os._exit(3)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(bulk_check, "_check_part", dies_in_a_child)
    monkeypatch.setattr(bulk_check, "PARALLEL_FROM", 0)
    monkeypatch.setattr(bulk_check.os, "cpu_count", lambda: 3)
    lines = [GOOD] * 30
    lines[25] = "[]"
    data = ("\n".join(lines) + "\n").encode()
    assert checked(write(tmp_path, data)) == (
        "line 26: a document must be a JSON object, not an array"
    )
    lines[25] = GOOD
    assert checked(write(tmp_path, ("\n".join(lines) + "\n").encode())) == InputCheck(30)


@needs_fork
def test_parts_are_used_from_the_size_up_and_leave_no_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    forks: list[int] = []
    real_fork = os.fork

    def counted_fork() -> int:
        pid = real_fork()
        if pid:
            forks.append(pid)
        return pid

    monkeypatch.setattr(bulk_check.os, "fork", counted_fork)
    monkeypatch.setattr(bulk_check.os, "cpu_count", lambda: 2)
    data = ("\n".join([GOOD] * 100) + "\n").encode()
    monkeypatch.setattr(bulk_check, "PARALLEL_FROM", len(data) + 1)
    assert checked(write(tmp_path, data)) == InputCheck(100)
    assert forks == []  # smaller than PARALLEL_FROM: one process
    monkeypatch.setattr(bulk_check, "PARALLEL_FROM", len(data))
    assert checked(write(tmp_path, data)) == InputCheck(100)
    assert len(forks) == 1
    with pytest.raises(ChildProcessError):
        os.waitpid(forks[0], os.WNOHANG)  # already reaped


@needs_fork
def test_a_child_still_running_is_killed_and_reaped() -> None:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    os.close(write_fd)
    started = time.monotonic()
    bulk_check._reap(pid, read_fd)
    assert time.monotonic() - started < 5
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
