"""Incremental reading of CouchDB's row responses.

`_all_docs`, views, `_find` and `_changes` answer with one JSON object holding a
large array (`rows`, `docs` or `results`) and a few other members before or after
it. CouchDB streams the array one element a line, so the reader decodes each
element as soon as its line is complete and keeps only that element in memory;
the other members are collected in `meta`.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import AsyncIterator
from typing import Any

from couchctl.client._errors import ProtocolError

__all__ = ["RowStream"]

_WS = " \t\r\n"
# Characters that may continue a number cut at the end of a chunk ("1" of "12", "1." of "1.5").
_NUMBER_CHARS = frozenset("0123456789.eE+-")
_decoder = json.JSONDecoder()


def _may_continue(value: Any, buf: str, end: int) -> bool:
    """True when a decoded number could still go on in the next chunk."""
    if type(value) not in (int, float):
        return False  # strings, objects, arrays and literals end with their own delimiter
    return end >= len(buf) or buf[end] in _NUMBER_CHARS


class RowStream:
    """Yield the elements of the array member `array_key` of a streamed JSON object.

    After iteration, `meta` holds every other top-level member. Anything that is not
    one JSON object (a truncated body, bad UTF-8, trailing data) raises ProtocolError.
    """

    def __init__(self, chunks: AsyncIterator[bytes], array_key: str) -> None:
        self._chunks = chunks
        self._key = array_key
        self._text = codecs.getincrementaldecoder("utf-8")()
        self._buf = ""
        self._pos = 0
        # Text read but not yet joined to `_buf`: joining once per decode attempt
        # instead of once per chunk keeps a long row (or a body without newlines,
        # as pouchdb-server sends) linear in its length.
        self._pending: list[str] = []
        self._pending_len = 0
        self._eof = False
        self.meta: dict[str, Any] = {}

    async def _read(self) -> str | None:
        """Queue one more chunk of text; None when the body had already ended."""
        if self._eof:
            return None
        try:
            try:
                chunk = await self._chunks.__anext__()
            except StopAsyncIteration:
                self._eof = True
                text = self._text.decode(b"", final=True)
            else:
                text = self._text.decode(chunk)
        except UnicodeDecodeError:
            raise ProtocolError("the server sent a row response that is not UTF-8") from None
        if text:
            self._pending.append(text)
            self._pending_len += len(text)
        return text

    def _merge(self) -> None:
        """Join the queued text to the unconsumed part of the buffer."""
        if self._pending:
            self._buf = self._buf[self._pos :] + "".join(self._pending)
            self._pos = 0
            self._pending.clear()
            self._pending_len = 0

    async def _skip_ws(self) -> str:
        while True:
            buf, pos = self._buf, self._pos
            while pos < len(buf) and buf[pos] in _WS:
                pos += 1
            self._pos = pos
            if pos < len(buf):
                return buf[pos]
            if await self._read() is None:
                raise ProtocolError("the response ended in the middle of its JSON body")
            self._merge()

    async def _expect(self, chars: str) -> str:
        char = await self._skip_ws()
        if char not in chars:
            raise ProtocolError(f"unexpected {char!r} in a row response (wanted {chars!r})")
        self._pos += 1
        return char

    async def _value(self) -> Any:
        """Decode one JSON value starting at the current position."""
        await self._skip_ws()
        while True:
            try:
                value, end = _decoder.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError:
                if self._eof:
                    raise ProtocolError(
                        "the server sent malformed JSON in a row response"
                    ) from None
            else:
                if self._eof or not _may_continue(value, self._buf, end):
                    self._pos = end
                    return value
            # Incomplete: read on, and decode again once a newline (CouchDB's row
            # separator) arrives, or once the unread text is as long as what is
            # buffered (a body without newlines), or at the end of the body.
            held = len(self._buf) - self._pos
            while True:
                text = await self._read()
                if text is None or self._eof or "\n" in text or self._pending_len >= held:
                    break
            self._merge()

    async def _finish(self) -> None:
        """Only whitespace may follow the closing brace."""
        while True:
            if self._buf[self._pos :].strip(_WS):
                raise ProtocolError("unexpected data after the end of a row response")
            self._pos = len(self._buf)
            if await self._read() is None:
                return
            self._merge()

    async def __aiter__(self) -> AsyncIterator[Any]:
        await self._expect("{")
        if await self._skip_ws() == "}":
            self._pos += 1
            await self._finish()
            return
        while True:
            key = await self._value()
            if not isinstance(key, str):
                raise ProtocolError("a row response member has no name")
            await self._expect(":")
            if key == self._key and await self._skip_ws() == "[":
                self._pos += 1
                if await self._skip_ws() == "]":
                    self._pos += 1
                else:
                    while True:
                        yield await self._value()
                        if await self._expect(",]") == "]":
                            break
            else:
                self.meta[key] = await self._value()
            if await self._expect(",}") == "}":
                await self._finish()
                return
