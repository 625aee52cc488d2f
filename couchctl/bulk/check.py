"""The check of a whole input file before a load sends anything (`check_input`).

Every line of JSON Lines, or every element of a JSON array, must be a document
`_bulk_docs` takes; the first that is not is an `InputError` with its line. The
documents and the deletions among them are counted on the way.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from couchctl.bulk.documents import InputError, check_document
from couchctl.bulk.input import _TOO_DEEP, _array_elements, _decoder, _first_char

__all__ = ["InputCheck", "check_input"]


@dataclass
class InputCheck:
    documents: int = 0
    deletions: int = 0  # documents with "_deleted": true


def check_input(path: Path, *, new_edits: bool = True) -> InputCheck:
    """Check a whole input file without keeping it; count its documents and deletions."""
    with path.open("rb") as stream:
        head, first = _first_char(stream)
        if first != "[":
            stream.seek(0)
            return _check_lines_in_parts(path, stream, new_edits)
        check = InputCheck()
        for line, text, value in _array_elements(head, stream):
            check_document(value, line, new_edits=new_edits, text=text)
            check.documents += 1
            check.deletions += value.get("_deleted") is True
            del text, value  # not held while the next element is read
    return check


_CHECK_BLOCK = 1 << 20
# JSON Lines files from this size up are checked in parts, one process each (fork).
PARALLEL_FROM = 16 << 20
_MAX_PARTS = 4


def _check_lines_in_parts(path: Path, stream: IO[bytes], new_edits: bool) -> InputCheck:
    """`_check_lines` over the whole file, in parts checked side by side on a large file.

    Nothing is sent while the file is checked, so the server waits for this: on a
    machine with cores to spare, each part after the first is checked by a forked
    copy of this process (Linux only), which writes back its counts or its first error
    (line numbers are counted from the part's start and added up here). A part whose
    process fails is checked here. The first error of the file is the one raised.
    """
    size = os.fstat(stream.fileno()).st_size
    parts = min(os.cpu_count() or 1, _MAX_PARTS)
    if size < PARALLEL_FROM or parts < 2 or sys.platform != "linux":
        return _check_lines(stream, new_edits)[1]
    bounds = [0]
    for i in range(1, parts):  # each part starts at the start of a line
        stream.seek(size * i // parts)
        stream.readline()
        if bounds[-1] < stream.tell() < size:
            bounds.append(stream.tell())
    bounds.append(size)
    spans = list(itertools.pairwise(bounds))
    children: list[tuple[int, int]] = []
    try:
        for start, end in spans[1:]:
            children.append(_fork_check(path, start, end, new_edits))
        stream.seek(0)
        results: list[_Part] = [_check_part(stream, 0, bounds[1], new_edits)]
        for (pid, fd), (start, end) in zip(children, spans[1:], strict=True):
            result = _collect(pid, fd)
            if result is None:  # the process failed: check the part here
                stream.seek(start)
                result = _check_part(stream, start, end, new_edits)
            results.append(result)
    finally:
        for pid, fd in children:
            _reap(pid, fd)
    check = InputCheck()
    lines = 0
    for result in results:
        if isinstance(result, InputError):
            raise InputError(lines + result.line, result.detail)
        lines += result[0]
        check.documents += result[1]
        check.deletions += result[2]
    return check


# A part's (lines, documents, deletions), or its first error (line from the part's start).
_Part = tuple[int, int, int] | InputError


def _check_part(stream: IO[bytes], start: int, end: int, new_edits: bool) -> _Part:
    try:
        lines, check = _check_lines(stream, new_edits, end=end, first=start == 0)
    except InputError as exc:
        return exc
    return lines, check.documents, check.deletions


def _fork_check(path: Path, start: int, end: int, new_edits: bool) -> tuple[int, int]:
    """A child process checking bytes [start, end) of the file: (its pid, the read end of
    the pipe it answers on)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: check, answer, and leave without any of the parent's cleanup
        code = 1
        try:
            os.close(read_fd)
            with path.open("rb") as part:
                part.seek(start)
                result = _check_part(part, start, end, new_edits)
            answer = (
                ["error", result.line, result.detail]
                if isinstance(result, InputError)
                else ["ok", *result]
            )
            data = json.dumps(answer).encode()
            while data:
                data = data[os.write(write_fd, data) :]
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    return pid, read_fd


def _collect(pid: int, fd: int) -> _Part | None:
    """What the child answered, or None when it failed."""
    data = b""
    while chunk := os.read(fd, 1 << 16):
        data += chunk
    _, status = os.waitpid(pid, 0)
    try:
        answer = json.loads(data)
        if os.waitstatus_to_exitcode(status) != 0:
            return None
        if answer[0] == "error":
            return InputError(int(answer[1]), str(answer[2]))
        return int(answer[1]), int(answer[2]), int(answer[3])
    except (ValueError, IndexError, TypeError):
        return None


def _reap(pid: int, fd: int) -> None:
    """Make sure a child is gone (it is still running when the parent was interrupted)."""
    with contextlib.suppress(OSError):
        os.close(fd)
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG) == (0, 0):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def _check_lines(
    stream: IO[bytes], new_edits: bool, *, end: int | None = None, first: bool = True
) -> tuple[int, InputCheck]:
    """The hot loop of `check_input` for JSON Lines, from the stream's position to `end`
    (a line start; the end of the file when None): (lines, counts). `first`: the
    stream is at the start of the file (where a byte order mark may be).

    The file is read in blocks of whole lines. `_scan_block` decodes each document
    where it lies in its block, which halves the cost of a `json.loads` per line; a
    block it cannot vouch for (bad input somewhere in it) is checked again line by
    line, which finds the first error with its line and column.
    """
    check = InputCheck()
    number = 0  # the lines before the block
    position = stream.tell()
    while True:
        want = _CHECK_BLOCK if end is None else min(_CHECK_BLOCK, end - position)
        block = stream.read(want) if want > 0 else b""
        if not block:
            break
        if not block.endswith(b"\n"):
            block += stream.readline()
        position += len(block)
        start = first and number == 0
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError:
            counts = None
        else:
            block = b""  # the text stands for it: a large line is not held twice
            counts = _scan_block(text, start, new_edits)
            if counts is None:
                block = text.encode()
            del text
        if counts is None:
            counts = _check_block_lines(block, number, new_edits, start)
        lines, check_ = counts
        number += lines
        check.documents += check_.documents
        check.deletions += check_.deletions
    return number, check


def _scan_block(text: str, first: bool, new_edits: bool) -> tuple[int, InputCheck] | None:
    """(lines, counts) of a block of whole lines (decoded), or None when some line is
    not a document `_bulk_docs` takes (or a value spans lines)."""
    # The decoder's own scanner (C): one value at a position, and where it ends.
    scan: Callable[[str, int], tuple[Any, int]] = _decoder.scan_once  # type: ignore[attr-defined]
    check = InputCheck()
    size = len(text)
    pos = 1 if first and text.startswith("\ufeff") else 0
    # Whether a member name could start with an underscore (usually not): only the
    # documents where one could need `check_document`. (A one-character search is
    # many times faster than a two-character one.)
    under = "_" in text and '"_' in text
    escape = "\\" in text and "\\u" in text
    lines = 0
    plain = 0  # documents with no `_` member: nothing more to check
    try:
        while pos < size:
            if new_edits and not under and not escape:
                # The common case, as tight as it gets: one object, then its newline.
                start = plain
                while True:
                    try:
                        value, end = scan(text, pos)
                    except (StopIteration, ValueError, RecursionError):
                        break
                    if type(value) is not dict:
                        break
                    if text.startswith("\n", end):
                        pos = end + 1
                    elif text.startswith("\r\n", end):
                        pos = end + 2
                    else:
                        break
                    plain += 1
                lines += plain - start
                if pos >= size:
                    break
            lines += 1
            try:
                value, end = scan(text, pos)
            except (StopIteration, ValueError, RecursionError):
                end = size + 1
            crlf = text.startswith("\r\n", end)
            if end == size or crlf or text.startswith("\n", end):
                special = (under and text.find('"_', pos, end) >= 0) or (
                    escape and text.find("\\u", pos, end) >= 0
                )
                if not special and new_edits and type(value) is dict:
                    plain += 1
                else:
                    check_document(value, lines, new_edits=new_edits, special=special)
                    check.documents += 1
                    check.deletions += value.get("_deleted") is True
                pos = end + 1 + crlf
            else:  # not one value with its newline: that line alone
                line_end = text.find("\n", pos)
                line_end = size if line_end < 0 else line_end + 1
                _check_line(text[pos:line_end].encode(), lines, new_edits, check)
                pos = line_end
    except InputError:
        return None
    if lines != text.count("\n") + (not text.endswith("\n")):
        return None  # a value spanned lines: not JSON Lines
    check.documents += plain
    return lines, check


def _check_block_lines(
    block: bytes, number: int, new_edits: bool, first: bool
) -> tuple[int, InputCheck]:
    """(lines, counts) of a block of whole lines checked one line at a time, the
    lines numbered from `number + 1`; raises InputError at the first bad one.
    `first`: the block starts the file."""
    check = InputCheck()
    lines = 0
    for raw in io.BytesIO(block):
        lines += 1
        _check_line(raw, number + lines, new_edits, check, first and lines == 1)
    return lines, check


def _check_line(
    raw: bytes, number: int, new_edits: bool, check: InputCheck, first: bool = False
) -> None:
    """Check one line of JSON Lines (its bytes, line end included) and count it;
    `first`: the file's first line, which may start with a byte order mark."""
    try:
        text = raw.decode("utf-8").rstrip("\r\n")  # columns count on the line itself
        if first and text.startswith("\ufeff"):
            text = text[1:]
        value = _decoder.decode(text)
    except UnicodeDecodeError:
        raise InputError(number, "not UTF-8 text") from None
    except RecursionError:
        raise InputError(number, _TOO_DEEP) from None
    except json.JSONDecodeError as exc:
        if not text.strip():
            return
        raise InputError(number, f"not valid JSON: {exc.msg} (column {exc.colno})") from None
    check_document(value, number, new_edits=new_edits, text=text)
    check.documents += 1
    check.deletions += value.get("_deleted") is True
