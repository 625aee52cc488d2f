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
_decoder = json.JSONDecoder()


class RowStream:
    """Yield the elements of the array member `array_key` of a streamed JSON object.

    After iteration, `meta` holds every other top-level member.
    """

    def __init__(self, chunks: AsyncIterator[bytes], array_key: str) -> None:
        self._chunks = chunks
        self._key = array_key
        self._text = codecs.getincrementaldecoder("utf-8")()
        self._buf = ""
        self._pos = 0
        self._eof = False
        self.meta: dict[str, Any] = {}

    async def _fill(self) -> bool:
        """Read one more chunk into the buffer; False at the end of the body."""
        if self._eof:
            return False
        try:
            chunk = await self._chunks.__anext__()
        except StopAsyncIteration:
            self._eof = True
            self._buf = self._buf[self._pos :] + self._text.decode(b"", final=True)
            self._pos = 0
            return True
        # Drop what was consumed so the buffer holds one element at most.
        self._buf = self._buf[self._pos :] + self._text.decode(chunk)
        self._pos = 0
        return True

    async def _skip_ws(self) -> str:
        while True:
            buf, pos = self._buf, self._pos
            while pos < len(buf) and buf[pos] in _WS:
                pos += 1
            self._pos = pos
            if pos < len(buf):
                return buf[pos]
            if not await self._fill():
                raise ProtocolError("the response ended in the middle of its JSON body")

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
                # A number at the very end of the buffer may still continue.
                if end < len(self._buf) or self._eof:
                    self._pos = end
                    return value
            # Incomplete: read on, but decode again only once a newline (CouchDB's
            # row separator) or the end of the body arrives, so that a long row is
            # not decoded over and over.
            seen = len(self._buf) - self._pos
            while not self._eof:
                await self._fill()
                if "\n" in self._buf[self._pos + seen :]:
                    break
                seen = len(self._buf) - self._pos

    async def __aiter__(self) -> AsyncIterator[Any]:
        await self._expect("{")
        if await self._skip_ws() == "}":
            self._pos += 1
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
                return
