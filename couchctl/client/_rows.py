"""Incremental reading of CouchDB's row responses: the one row reader.

`_all_docs`, views, `_find` and `_changes` answer with one JSON object holding a
large array (`rows`, `docs` or `results`) and a few other members before or after
it. CouchDB streams the array one element a line, so the reader hands on each
element as soon as it is complete and keeps only that element in memory; the
other members are collected in `meta`.

`RowParser` is the parser, fed chunk by chunk (`feed`, then `close`); `RowStream`
reads it from an async byte stream, a row at a time or a received chunk's rows
at a time (`pages`). With `raw=True` rows are handed on as their JSON text, as
the server sent it; a body with one row a line (CouchDB's) is then cut at its
newlines without decoding anything.

Time is linear in the body's length however long one row is: a value that is not
complete yet is decoded again only once a newline arrives or the text waiting
has doubled.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from typing import Any

from couchctl.client._errors import ProtocolError

__all__ = ["RowParser", "RowStream", "blocks"]

# CouchDB sends a row body in HTTP chunks of about 1.5 KB (`[httpd]
# chunked_response_buffer`); readers that need no row before the next ones
# (a dump, a range read whole) parse blocks of this size instead: the parser's
# fixed cost is paid once per block, not once per chunk.
BLOCK = 256 * 1024

_WS = " \t\r\n"
# Characters that may continue a number cut at the end of a chunk ("1" of "12", "1." of "1.5").
_NUMBER_CHARS = frozenset("0123456789.eE+-")
_decoder = json.JSONDecoder()

# States: what comes next.
_OPEN, _KEY, _FIRST_KEY, _COLON, _VALUE, _AFTER_MEMBER = range(6)
_FIRST_ELEMENT, _ELEMENT, _AFTER_ELEMENT, _END = range(6, 10)


class _More(Exception):
    """The buffer ends before the next token does."""


class RowParser:
    """Push parser of a row response: `feed(chunk)` and `close()` return the rows
    (elements of the member `array_key`) completed so far; `meta` holds every other
    top-level member. Anything that is not one JSON object (a truncated body, bad
    UTF-8, trailing data) raises ProtocolError."""

    def __init__(self, array_key: str, *, raw: bool = False) -> None:
        self._key = array_key
        self._raw = raw
        self._text = codecs.getincrementaldecoder("utf-8")()
        self._buf = ""
        self._pos = 0
        # Text received but not yet joined to `_buf`: joined once per decode
        # attempt, not once per chunk, so a long row costs linear time.
        self._pending: list[str] = []
        self._pending_len = 0
        self._newline = False  # a newline arrived since the last attempt
        self._waiting = False  # a value is incomplete: decode again only when worth it
        self._state = _OPEN
        self._member = ""
        self._lines: bool | None = None  # raw rows cut at newlines (decided at the array)
        self._scanned = 0  # lines mode: how far past `_pos` holds no newline
        self._final = False
        self.meta: dict[str, Any] = {}

    def feed(self, chunk: bytes) -> list[Any]:
        try:
            text = self._text.decode(chunk)
        except UnicodeDecodeError:
            raise ProtocolError("the server sent a row response that is not UTF-8") from None
        self._queue(text)
        return self._run()

    def close(self) -> list[Any]:
        """The end of the body: the last rows; ProtocolError unless the object is whole."""
        try:
            text = self._text.decode(b"", final=True)
        except UnicodeDecodeError:
            raise ProtocolError("the server sent a row response that is not UTF-8") from None
        self._queue(text)
        self._final = True
        rows = self._run()
        if self._state != _END:
            raise ProtocolError("the response ended in the middle of its JSON body")
        return rows

    def _queue(self, text: str) -> None:
        if text:
            self._pending.append(text)
            self._pending_len += len(text)
            if "\n" in text:
                self._newline = True

    def _run(self) -> list[Any]:
        held = len(self._buf) - self._pos
        if self._waiting and not (self._final or self._newline or self._pending_len >= held):
            return []
        if self._pending:
            # One join: a long row is not copied twice on its way into the buffer.
            self._buf = "".join([self._buf[self._pos :], *self._pending])
            self._pos = 0
            self._pending.clear()
            self._pending_len = 0
        self._newline = False
        self._waiting = False
        rows: list[Any] = []
        try:
            while self._step(rows):
                pass
        except _More:
            pass
        return rows

    def _char(self) -> str:
        """The next non-space character (not consumed)."""
        buf, pos = self._buf, self._pos
        while pos < len(buf) and buf[pos] in _WS:
            pos += 1
        self._pos = pos
        if pos < len(buf):
            return buf[pos]
        raise _More

    def _expect(self, chars: str) -> str:
        char = self._char()
        if char not in chars:
            raise ProtocolError(f"unexpected {char!r} in a row response (wanted {chars!r})")
        self._pos += 1
        return char

    def _value(self) -> tuple[Any, int]:
        """Decode the value at the current position: (value, end), not consumed."""
        self._char()
        try:
            value, end = _decoder.raw_decode(self._buf, self._pos)
        except RecursionError:
            raise ProtocolError("the server sent JSON nested too deeply") from None
        except json.JSONDecodeError:
            if self._final:
                raise ProtocolError("the server sent malformed JSON in a row response") from None
            self._waiting = True
            raise _More from None
        if (
            not self._final
            and type(value) in (int, float)
            and (end >= len(self._buf) or self._buf[end] in _NUMBER_CHARS)
        ):
            self._waiting = True  # a number that may go on in the next chunk
            raise _More
        return value, end

    def _step(self, rows: list[Any]) -> bool:
        """Consume one token; False at the end of the object."""
        state = self._state
        if state == _OPEN:
            self._expect("{")
            self._state = _FIRST_KEY
        elif state in (_KEY, _FIRST_KEY):
            if state == _FIRST_KEY and self._char() == "}":
                self._pos += 1
                self._state = _END
                return True
            if self._char() != '"':
                raise ProtocolError("a row response member has no name")
            key, end = self._value()
            self._member, self._pos = key, end
            self._state = _COLON
        elif state == _COLON:
            self._expect(":")
            self._state = _VALUE
        elif state == _VALUE:
            if self._member == self._key and self._char() == "[":
                self._pos += 1
                self._state = _FIRST_ELEMENT
            else:
                value, self._pos = self._value()
                self.meta[self._member] = value
                self._state = _AFTER_MEMBER
        elif state == _AFTER_MEMBER:
            self._state = _KEY if self._expect(",}") == "," else _END
        elif state == _FIRST_ELEMENT:
            if self._raw and self._lines is None:
                self._lines = self._starts_lines()
            if self._lines:
                self._cut_lines(rows)
            elif self._char() == "]":
                self._pos += 1
                self._state = _AFTER_MEMBER
            else:
                self._state = _ELEMENT
        elif state in (_ELEMENT, _AFTER_ELEMENT):
            # The hot loop: element, separator, element, ... without a dispatch each.
            raw = self._raw
            while True:
                if self._state == _ELEMENT:
                    self._char()
                    start = self._pos
                    value, self._pos = self._value()
                    rows.append(self._buf[start : self._pos] if raw else value)
                    self._state = _AFTER_ELEMENT
                if self._expect(",]") == "]":
                    self._state = _AFTER_MEMBER
                    return True
                self._state = _ELEMENT
        else:  # _END: only whitespace may follow
            if self._buf[self._pos :].strip(_WS):
                raise ProtocolError("unexpected data after the end of a row response")
            self._pos = len(self._buf)
            return False
        return True

    def _starts_lines(self) -> bool:
        """Whether the array's elements come one a line (a newline right after `[`)."""
        buf, pos = self._buf, self._pos
        if len(buf) - pos < 2 and not self._final:
            raise _More
        return buf.startswith(("\r\n", "\n"), pos)

    def _cut_lines(self, rows: list[Any]) -> None:
        """Rows one a line (`{...},` or `,{...}`), as text; `]` starting a line ends them."""
        buf = self._buf
        pos = self._pos
        search = pos + self._scanned
        while True:
            end = buf.find("\n", search)
            if end < 0:
                if not self._final:
                    self._scanned = len(buf) - pos
                    self._pos = pos
                    self._waiting = True
                    raise _More
                end = len(buf)  # the last line may come without its newline
            line = buf[pos:end].strip(_WS).strip(",")
            if line.startswith("]"):
                self._pos = buf.index("]", pos) + 1
                self._scanned = 0
                self._state = _AFTER_MEMBER
                return
            if line:
                if not (line.startswith("{") and line.endswith("}")):
                    raise ProtocolError(f"unexpected line in a row response: {line[:80]!r}")
                rows.append(line)
            if end >= len(buf):
                self._pos = end
                raise ProtocolError("the response ended in the middle of its rows")
            pos = search = end + 1


class RowStream:
    """Yield the elements of the array member `array_key` of a streamed JSON object
    (their JSON text with `raw`).

    After iteration, `meta` holds every other top-level member. Anything that is not
    one JSON object (a truncated body, bad UTF-8, trailing data) raises ProtocolError.
    """

    def __init__(
        self, chunks: AsyncIterator[bytes], array_key: str, *, raw: bool = False, block: int = 0
    ) -> None:
        self._chunks = chunks if block <= 0 else blocks(chunks, block)
        self._parser = RowParser(array_key, raw=raw)

    @property
    def meta(self) -> dict[str, Any]:
        return self._parser.meta

    async def pages(self) -> AsyncGenerator[list[Any], None]:
        """The rows a received chunk at a time (lists, never empty): for readers of
        many rows, which then loop over each list without an `await` per row."""
        parser = self._parser
        async for chunk in self._chunks:
            rows = parser.feed(chunk)
            if rows:
                yield rows
        rows = parser.close()
        if rows:
            yield rows

    async def __aiter__(self) -> AsyncIterator[Any]:
        async for page in self.pages():
            for row in page:
                yield row


def sync_blocks(chunks: Iterator[bytes], size: int) -> Iterator[bytes]:
    """`blocks` for a sync iterator (a body read in a worker thread)."""
    held: list[bytes] = []
    length = 0
    for chunk in chunks:
        held.append(chunk)
        length += len(chunk)
        if length >= size:
            yield b"".join(held)
            held.clear()
            length = 0
    if held:
        yield b"".join(held)


async def blocks(chunks: AsyncIterator[bytes], size: int) -> AsyncIterator[bytes]:
    """The chunks joined into blocks of at least `size` bytes (the last may be shorter).
    For readers that do not need each chunk as soon as it arrives."""
    held: list[bytes] = []
    length = 0
    async for chunk in chunks:
        held.append(chunk)
        length += len(chunk)
        if length >= size:
            yield b"".join(held)
            held.clear()
            length = 0
    if held:
        yield b"".join(held)
