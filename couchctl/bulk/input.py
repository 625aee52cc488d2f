"""Reading load input: JSON Lines or one JSON array, in constant memory and linear time.

The two are told apart by the first non-space character. A file is checked
completely first (`couchctl.bulk.check.check_input`), so bad input never reaches
the server half sent; stdin is checked a batch at a time, before that batch is
sent. Every error is an `InputError` with the line it was found on (a usage error,
exit 2): not UTF-8, not JSON (nesting too deep included), not a document
`_bulk_docs` takes.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from couchctl.bulk.documents import InputError, check_document

__all__ = ["Record", "iter_records"]

_READ_SIZE = 1 << 16
_WS = " \t\r\n"


@dataclass(slots=True)
class Record:
    """One input document: its ordinal (0-based), its line, its text and whether it has an `_id`.

    `doc_id` is the input's `_id` (parsed from the text only when needed) or the
    one assigned before its batch is sent.
    """

    ordinal: int
    line: int
    text: str
    has_id: bool
    known_id: str | None = None
    assigned: bool = False  # the id was assigned, not taken from the input

    @property
    def doc_id(self) -> str | None:
        if self.known_id is None and self.has_id:
            self.known_id = str(json.loads(self.text)["_id"])
        return self.known_id

    def assign(self, doc_id: str) -> None:
        self.known_id = doc_id
        self.assigned = True

    def doc(self) -> dict[str, Any]:
        """The document as sent (with its assigned `_id`)."""
        value: dict[str, Any] = json.loads(self.text)
        if self.assigned:
            value = {"_id": self.known_id, **value}
        return value


_TOO_DEEP = "not valid JSON: nested too deeply"


def _parse(text: str, line: int) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(line, f"not valid JSON: {exc.msg} (column {exc.colno})") from None
    except RecursionError:
        raise InputError(line, _TOO_DEEP) from None


def _first_char(stream: IO[bytes]) -> tuple[bytes, str]:
    """Read up to the first non-space character; return what was read and that character."""
    head = b""
    while True:
        chunk = stream.read(_READ_SIZE)
        if not chunk:
            return head, ""
        head += chunk
        text = head.lstrip(b" \t\r\n\xef\xbb\xbf")
        if text:
            return head, chr(text[0])


def _lines(head: bytes, stream: IO[bytes]) -> Iterator[tuple[int, str]]:
    """Numbered, stripped, non-empty lines of UTF-8 text, in time linear in the input:
    each chunk is searched for newlines once, and the pieces of a line that spans
    chunks are joined once, when its newline arrives."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    pieces: list[str] = []  # the start of the current line, a piece per chunk
    number = 0

    def chunks() -> Iterator[bytes]:
        if head:
            yield head
        while chunk := stream.read(_READ_SIZE):
            yield chunk

    first = True
    for chunk in chunks():
        try:
            text = decoder.decode(chunk)
        except UnicodeDecodeError:
            raise InputError(number + 1, "not UTF-8 text") from None
        if first and text.startswith("\ufeff"):
            text = text[1:]
        first = False
        start = 0
        while (end := text.find("\n", start)) >= 0:
            if pieces:
                pieces.append(text[start:end])
                line = "".join(pieces)
                pieces.clear()
            else:
                line = text[start:end]
            number += 1
            start = end + 1
            stripped = line.strip()
            line = ""
            if stripped:
                yield number, stripped
            # Not held while the line is loaded and the next one is read.
            stripped = ""
        if start < len(text):
            pieces.append(text[start:])
    try:
        pieces.append(decoder.decode(b"", final=True))
    except UnicodeDecodeError:
        raise InputError(number + 1, "not UTF-8 text") from None
    rest = "".join(pieces).strip()
    if rest:
        yield number + 1, rest


_decoder = json.JSONDecoder()


def _array_elements(head: bytes, stream: IO[bytes]) -> Iterator[tuple[int, str, Any]]:
    """The elements of one JSON array: (line where each starts, its text, its value).

    Constant memory: the buffer holds one element (plus one read) at a time.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    buf = ""
    pos = 0
    line = 1
    eof = False
    read_size = _READ_SIZE
    pending_head: bytes | None = head

    def fill() -> bool:
        nonlocal buf, pos, eof, pending_head, line
        if eof:
            return False
        if pending_head is not None:
            chunk, pending_head = pending_head, None
        else:
            chunk = stream.read(read_size)
        line += buf.count("\n", 0, pos)
        # The rest of the buffer, in a local of its own so that `+=` can grow it in
        # place (CPython does for a string nothing else refers to): a large element
        # is then not copied at each read. The read is let go of once decoded.
        rest = buf[pos:]
        buf = ""
        pos = 0
        try:
            more = decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError:
            raise InputError(line + rest.count("\n"), "not UTF-8 text") from None
        eof = not chunk
        del chunk
        rest += more
        del more
        buf = rest
        return True

    def next_char() -> str:
        nonlocal pos
        while True:
            while pos < len(buf) and buf[pos] in _WS:
                pos += 1
            if pos < len(buf):
                return buf[pos]
            if not fill():
                return ""

    def where() -> int:
        return line + buf.count("\n", 0, pos)

    fill()
    if buf.startswith("\ufeff"):
        pos = 1
    if next_char() != "[":  # pragma: no cover - the caller checked
        raise InputError(where(), "expected a JSON array")
    pos += 1
    if next_char() == "]":
        pos += 1
    else:
        while True:
            char = next_char()
            if not char:
                raise InputError(where(), "the JSON array ends too early")
            start_line = where()
            while True:
                try:
                    value, end = _decoder.raw_decode(buf, pos)
                except RecursionError:
                    raise InputError(start_line, _TOO_DEEP) from None
                except json.JSONDecodeError as exc:
                    truncated = (
                        exc.msg.startswith("Unterminated string") or len(buf) - exc.pos <= 16
                    )
                    if eof or not truncated:
                        raise InputError(
                            start_line + buf.count("\n", pos, exc.pos),
                            f"not valid JSON: {exc.msg}",
                        ) from None
                    # Grow the reads with the element, by a quarter of what there is of
                    # it: a large one is decoded about 5 times over in all (linear
                    # time), and a read and its text are a quarter of it, not all of it.
                    read_size = max(_READ_SIZE, (len(buf) - pos) // 4)
                    fill()
                    continue
                break
            text = buf[pos:end]
            if end > _READ_SIZE:
                # A large element: the buffer lets go of it (its text is handed on).
                line += buf.count("\n", 0, end)
                buf = buf[end:]
                end = 0
            # The value is handed on, not kept here while the consumer holds it.
            box = [value]
            del value
            yield start_line, text, box.pop()
            del text
            pos = end
            sep = next_char()
            if sep == "]":
                pos += 1
                break
            if sep != ",":
                raise InputError(where(), "expected ',' or ']' after an element of the JSON array")
            pos += 1
    if next_char():
        raise InputError(where(), "unexpected text after the JSON array")


def iter_records(
    stream: IO[bytes],
    *,
    new_edits: bool = True,
    checked: bool = False,
    deletions: bool = True,
) -> Iterator[Record]:
    """The documents of JSON Lines or JSON array input, checked one by one.

    `checked=True` is for input that `check_input` has just passed: JSON Lines are
    then not decoded again unless the text leaves open whether there is an `_id`.
    `deletions=False` refuses a document with `"_deleted": true` (InputError).
    """
    head, first = _first_char(stream)
    if first == "":
        return
    ordinal = 0
    if first == "[":
        for line, text, value in _array_elements(head, stream):
            if checked:
                doc_id = value.get("_id") if isinstance(value, dict) else None
            else:
                doc_id = check_document(value, line, new_edits=new_edits, text=text)
                if not deletions and value.get("_deleted") is True:
                    raise InputError(line, _DELETION)
            del value  # not held while the record is loaded and the next one read
            yield Record(ordinal, line, text, doc_id is not None, doc_id)
            del text  # nor its text
            ordinal += 1
        return
    for line, text in _lines(head, stream):
        # (One-character searches first: many times faster than the two below.)
        if checked and (
            ("_" not in text or '"_id"' not in text) and ("\\" not in text or "\\u" not in text)
        ):
            yield Record(ordinal, line, text, False)
        elif checked and text.startswith('{"_id":'):
            yield Record(ordinal, line, text, True)
        else:
            value = _parse(text, line)
            doc_id = check_document(value, line, new_edits=new_edits, text=text)
            if not deletions and value.get("_deleted") is True:
                raise InputError(line, _DELETION)
            del value  # not held while the record is loaded and the next one read
            yield Record(ordinal, line, text, doc_id is not None, doc_id)
        del text  # nor its text
        ordinal += 1


_DELETION = 'deletes a document ("_deleted": true): pass --yes to allow deletions'
