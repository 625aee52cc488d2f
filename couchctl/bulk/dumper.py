"""The dump engine: every document of a database as JSON Lines, in id order.

By default (`concurrency=1`) one streamed `_all_docs?include_docs=true` request,
which the client resumes from the last id received after a failure in the middle
of the body. With `concurrency` > 1, one cheap streamed pass over `_all_docs` (ids
only) cuts the key space into ranges of `batch_size` documents; `concurrency`
workers fetch the ranges with
`_all_docs?include_docs=true&startkey=..&endkey=..&inclusive_end=false`, each read
whole and retried by the client, and the ranges are handed on in key order through
a bounded reorder window. Documents are passed on as the JSON text the server sent
(CouchDB's one-row-a-line bodies are cut at newlines, not decoded); only a document
whose attachment stubs must go is decoded and encoded again.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from couchctl.bulk._tasks import first_error
from couchctl.client import ProtocolError, dumps, row_id

if TYPE_CHECKING:
    from couchctl.client import CouchClient

__all__ = ["DumpOptions", "DumpSummary", "Emit", "dump"]

# The parts of an `_all_docs?include_docs=true` row that `_keep_raw` looks for:
# {"id":ID,"key":ID,"value":{"rev":...},"doc":{...}}
_ROW_START = '{"id":"'
_DESIGN_ROW_START = '{"id":"_design/'
_DOC_AFTER_VALUE = '},"doc":{'
Emit = Callable[[str, int], Awaitable[None] | None]
# The documents of one stream are handed on once they hold this many characters of
# rows, or `batch_size` documents: large documents are not gathered by the thousand.
EMIT_CHARS = 1 << 20


@dataclass
class DumpOptions:
    include_design: bool = False
    attachments: bool = False
    batch_size: int = 2000
    concurrency: int = 1


@dataclass
class DumpSummary:
    documents: int = 0
    design: int = 0  # design documents left out
    stripped_attachments: int = 0  # documents whose attachment stubs were left out
    ranges: int = 0
    elapsed: float = 0.0

    @property
    def rate(self) -> float:
        """Documents dumped a second."""
        return self.documents / self.elapsed if self.elapsed > 0 else 0.0


class _Dumper:
    def __init__(
        self,
        couch: CouchClient,
        db: str,
        options: DumpOptions,
        emit: Emit,
    ) -> None:
        self.couch = couch
        self.db = db
        self.options = options
        self.emit = emit
        self.summary = DumpSummary()

    def _keep(self, row: Any, out: list[str]) -> None:
        """Append the row's document, as one JSON Lines record, unless it is left out."""
        if not isinstance(row, dict) or "error" in row:
            # A range of `_all_docs` lists only live documents; an error row (CouchDB's
            # `{"key": ..., "error": ...}`) would be a document missing from the dump.
            raise ProtocolError(f"the server answered a row with an error: {dumps(row)}")
        doc = row.get("doc")
        if not isinstance(doc, dict):
            return  # deleted (keys mode), nothing to dump
        doc_id = row.get("id", "")
        if (
            isinstance(doc_id, str)
            and doc_id.startswith("_design/")
            and not self.options.include_design
        ):
            self.summary.design += 1
            return
        if not self.options.attachments and "_attachments" in doc:
            # Stubs cannot be loaded back (CouchDB answers missing_stub): leave them
            # out and say so; --attachments keeps the data inline.
            del doc["_attachments"]
            self.summary.stripped_attachments += 1
        out.append(dumps(doc))

    def _keep_raw(self, row: str, out: list[str]) -> None:
        """`_keep` for a row's JSON text: the document's text is cut out as the server
        sent it, decoded only when its attachment stubs must go.

        A row of `_all_docs?include_docs=true` is `{"id":ID,"key":ID,"value":{...},
        "doc":{...}}`: the first `},"doc":{` ends its value (no JSON string holds an
        unescaped quote, so an id cannot hold it), and the document runs from there to
        the row's last `}`. Found with `str.find`: a regex match per row cost 2.6 times
        as much (bench/README.md, "bulk load and dump")."""
        cut = row.find(_DOC_AFTER_VALUE)
        if cut < 0 or not row.startswith(_ROW_START) or row[-1] != "}":
            self._keep(json.loads(row), out)  # another shape (an error row): decode
            return
        if row.startswith(_DESIGN_ROW_START) and not self.options.include_design:
            self.summary.design += 1
            return
        text = row[cut + len(_DOC_AFTER_VALUE) - 1 : -1]
        if not self.options.attachments and '"_attachments":' in text:
            self._keep(json.loads(row), out)
            return
        out.append(text)

    async def _emit(self, lines: list[str]) -> None:
        if not lines:
            return
        self.summary.documents += len(lines)
        if len(lines) == 1 and len(lines[0]) >= EMIT_CHARS:
            # A large document alone: handed on as it is, then its newline (not
            # copied to add it).
            await self._call(lines.pop(), 1)
            await self._call("\n", 0)
            return
        lines.append("")
        await self._call("\n".join(lines), len(lines) - 1)

    async def _call(self, text: str, count: int) -> None:
        result = self.emit(text, count)
        if result is not None:
            await result

    async def single(self) -> None:
        """One streamed `_all_docs?include_docs=true` request."""
        chunk: list[str] = []
        pages = self.couch.bulk_iter_range(
            self.db, attachments=self.options.attachments or None, raw=True
        )
        keep = self._keep_raw
        # Closed here, whatever stops the loop (a closed pipe): not left to the event
        # loop's finalizer with its request still open.
        size = 0
        batch = self.options.batch_size
        async with contextlib.aclosing(pages):
            async for page in pages:
                for index in range(len(page)):  # (enumerate would hold on to the row)
                    row = page[index]
                    keep(row, chunk)
                    size += len(row)
                    if size >= EMIT_CHARS or len(chunk) >= batch:
                        # Cut into `chunk`: the row is not held besides it meanwhile.
                        page[index] = row = ""
                        await self._emit(chunk)
                        chunk = []
                        size = 0
                page.clear()  # likewise the rest, while the next page is read
                row = ""
        await self._emit(chunk)
        self.summary.ranges = 1

    async def _fetch(self, start: str | None, end: str | None) -> list[str]:
        """One range, read whole (the client retries it, a failure mid-body included)."""
        docs: list[str] = []
        rows = await self.couch.bulk_fetch_range(
            self.db, start, end, attachments=self.options.attachments or None, raw=True
        )
        keep = self._keep_raw
        for row in rows:
            keep(row, docs)
        return docs

    async def ranges(self) -> None:
        """Split keys from a streamed ids pass; ranges fetched concurrently, emitted in order."""
        import anyio

        options = self.options
        # Ranges fetched or waiting for their turn: the reorder buffer's bound.
        window = anyio.Semaphore(max(1, options.concurrency) + 2)
        results: dict[int, list[str]] = {}
        ready = anyio.Event()
        total_ranges: list[int] = []

        send, receive = anyio.create_memory_object_stream[tuple[int, str | None, str | None]](0)

        async def plan() -> None:
            async with send:
                index = 0
                start: str | None = None
                count = 0
                pages = self.couch.bulk_iter_ids(self.db, raw=True)
                async with contextlib.aclosing(pages):
                    async for page in pages:
                        for row in page:
                            if count and count % options.batch_size == 0:
                                end = row_id(row)
                                if end is not None:
                                    await window.acquire()
                                    await send.send((index, start, end))
                                    index += 1
                                    start = end
                            count += 1
                await window.acquire()
                await send.send((index, start, None))
                total_ranges.append(index + 1)
                ready.set()

        async def work(receive: Any) -> None:
            nonlocal ready
            async with receive:
                async for index, start, end in receive:
                    results[index] = await self._fetch(start, end)
                    ready.set()

        async def write() -> None:
            nonlocal ready
            index = 0
            while not total_ranges or index < total_ranges[0]:
                if index in results:
                    docs = results.pop(index)
                    await self._emit(docs)
                    window.release()
                    index += 1
                    continue
                await ready.wait()
                ready = anyio.Event()
            self.summary.ranges = index

        async with anyio.create_task_group() as group:
            group.start_soon(plan)
            for _ in range(max(1, options.concurrency)):
                group.start_soon(work, receive.clone())
            receive.close()
            group.start_soon(write)


async def dump(
    couch: CouchClient,
    db: str,
    options: DumpOptions,
    emit: Emit,
) -> DumpSummary:
    """Hand every document of `db` to `emit` as JSON Lines text, in key order, a range
    at a time: `emit(text, number_of_documents)`. Large blocks are given back to the
    system from here on (`couchctl._malloc`)."""
    from couchctl._malloc import give_back_large_blocks

    give_back_large_blocks()
    dumper = _Dumper(couch, db, options, emit)
    started = time.monotonic()
    with first_error():
        if options.concurrency <= 1:
            await dumper.single()
        else:
            await dumper.ranges()
    dumper.summary.elapsed = time.monotonic() - started
    return dumper.summary
