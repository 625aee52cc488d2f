"""The load engine: batches of documents to `_bulk_docs`, concurrently, resumable.

Each document without `_id` gets one before its batch is sent, in the server's id
algorithm (`CouchClient.bulk_ids`: made here when it is CouchDB's default,
`sequential`, else from `GET /_uuids`), so a retried or resumed batch can never
create a second copy. The body of a batch is built from the input text
(`{"docs":[` + documents + `]}`); only the documents that need an `_id` are
touched. Batches run `concurrency` at a time, fewer when their text passes
`IN_FLIGHT_BYTES` (documents with inline attachments), so memory stays bounded
whatever the documents' size; a batch failing with 429, 5xx, a
timeout or a connection reset is sent again by the client (its one retry layer:
`retries`, backoff, `Retry-After`), leaving out the documents the server already
has. A batch refused as a whole with 400/413 is split in halves until the
offending document is found. The journal records each batch before it is sent
and once answered, which is what `resume` relies on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from couchctl.bulk._tasks import Signal, first_error
from couchctl.bulk.body import batch_body, batch_pieces
from couchctl.bulk.documents import InputError
from couchctl.bulk.input import Record
from couchctl.bulk.journal import Journal, JournalError, JournalState
from couchctl.client import DELETED, BadRequest, ClientError, HTTPError

if TYPE_CHECKING:
    from couchctl.client import CouchClient

__all__ = [
    "IN_FLIGHT_BYTES",
    "MAX_BATCH_BYTES",
    "LoadOptions",
    "LoadSummary",
    "Reject",
    "batch_body",
    "load",
]

# A batch is cut once its documents reach this many characters, whatever its
# count: keeps requests well below CouchDB's limits and memory bounded.
MAX_BATCH_BYTES = 4 << 20
# The next batch is read only while the text of the batches in flight is below this
# (so it is passed by one batch at most): each batch in flight holds its text and its body.
IN_FLIGHT_BYTES = 4 << 20


@dataclass
class LoadOptions:
    batch_size: int = 1000
    max_batch_bytes: int = MAX_BATCH_BYTES
    concurrency: int = 8
    in_flight_bytes: int = IN_FLIGHT_BYTES
    new_edits: bool = True
    w: int | None = None  # a cluster's write quorum for each batch (None: the server's)


@dataclass
class LoadSummary:
    written: int = 0
    rejected: int = 0
    skipped: int = 0  # already written by an earlier, interrupted run (--resume)
    batches: int = 0
    elapsed: float = 0.0
    conflicts_with_rev: int = (
        0  # conflicts on documents that carry a _rev (a dump loaded without --no-new-edits?)
    )
    quorum_missed: int = 0  # batches a cluster accepted with fewer copies than the quorum (202)

    @property
    def rate(self) -> float:
        """Documents written a second."""
        return self.written / self.elapsed if self.elapsed > 0 else 0.0

    def as_json(self, db: str) -> dict[str, Any]:
        return {
            "db": db,
            "written": self.written,
            "rejected": self.rejected,
            "skipped": self.skipped,
            "batches": self.batches,
            "quorum_missed": self.quorum_missed,
            "elapsed": round(self.elapsed, 3),
            "docs_per_second": round(self.written / self.elapsed, 1) if self.elapsed > 0 else None,
        }


Reject = Callable[[Record, str, str, dict[str, Any]], None]


def _too_big_or_bad(exc: BaseException) -> bool:
    return isinstance(exc, BadRequest) or (isinstance(exc, ClientError) and exc.status == 413)


def _strip(doc: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in doc.items() if k not in ("_rev", "_revisions", "_attachments")}
    attachments = doc.get("_attachments")
    if isinstance(attachments, dict):
        out["_attachments"] = sorted(attachments)
    return out


class _Loader:
    def __init__(
        self,
        couch: CouchClient,
        db: str,
        options: LoadOptions,
        journal: Journal | None,
        state: JournalState | None,
        reject: Reject,
        progress: Callable[[int], None],
    ) -> None:
        self.couch = couch
        self.db = db
        self.options = options
        self.journal = journal
        self.state = state
        self.reject = reject
        self.progress = progress
        self.summary = LoadSummary()
        self._budget = _Budget(options.in_flight_bytes)
        self._turn = 0  # the batch whose turn it is to take ids
        self._turn_moved = Signal()

    async def run(self, records: Iterator[Record]) -> LoadSummary:
        import anyio

        started = time.monotonic()
        bad_input: InputError | None = None
        send, receive = anyio.create_memory_object_stream[tuple[int, list[Record], int]](0)
        async with anyio.create_task_group() as group:
            for _ in range(max(1, self.options.concurrency)):
                group.start_soon(self._worker, receive.clone())
            receive.close()
            batches = _batches(records, self.options.batch_size, self.options.max_batch_bytes)
            async with send:
                number = 0
                try:
                    while True:
                        # Read the next batch only once the batches in flight leave
                        # room: a batch is never held waiting for it.
                        await self._budget.room()
                        # Read and check the next batch in a thread: a slow pipe or a
                        # large batch does not hold up the answers of those in flight,
                        # and a failed load does not wait for a pipe that stays quiet.
                        cut = await anyio.to_thread.run_sync(
                            next, batches, None, abandon_on_cancel=True
                        )
                        if cut is None:
                            break
                        batch, length = cut
                        self.summary.batches += 1
                        self._budget.used += length
                        await send.send((number, batch, length))
                        del cut, batch  # a worker's now: not kept while the next is read
                        number += 1
                except InputError as exc:
                    # Bad input on stdin: the batches already sent finish, then stop.
                    bad_input = exc
        self.summary.elapsed = time.monotonic() - started
        if bad_input is not None:
            raise bad_input
        return self.summary

    async def _worker(self, receive: Any) -> None:
        async with receive:
            async for number, batch, length in receive:
                try:
                    await self._batch(number, batch)
                finally:
                    del batch  # not kept while this worker waits for the next one
                    self._budget.give(length)

    async def _batch(self, number: int, records: list[Record]) -> None:
        state = self.state
        done = state is not None and number in state.done
        started = state.started.get(number) if state is not None else None
        fresh = not done and started is None
        missing = [r for r in records if not r.has_id] if fresh else []
        new_ids = await self._ids_in_turn(number, len(missing))
        if done:
            self.summary.skipped += len(records)
            self.progress(len(records))
            return
        verify = started is not None
        if started is not None:
            ids = started
        else:
            ids = {r.ordinal: new for r, new in zip(missing, new_ids, strict=True)}
            if self.journal is not None:
                await self.journal.batch_started(number, records, ids)
        for record in records:
            if not record.has_id:
                if record.ordinal not in ids:
                    raise JournalError(
                        f"the journal has no id for the document on line {record.line}: "
                        "the input changed since the interrupted load"
                    )
                record.assign(ids[record.ordinal])
        written, rejected = await self._send(records, verify)
        if self.journal is not None:
            await self.journal.batch_done(number, written, rejected)
        self.summary.written += written
        self.summary.rejected += rejected
        self.progress(len(records))

    async def _ids_in_turn(self, number: int, count: int) -> list[str]:
        """`count` new ids for batch `number`, after those of every batch before it (all
        take their turn): a load's ids sort in input order, however its batches run."""
        while self._turn < number:
            await self._turn_moved.wait()
        try:
            return await self.couch.bulk_ids(count) if count else []
        finally:
            self._turn += 1
            self._turn_moved.fire()

    async def _send(self, records: list[Record], verify: bool) -> tuple[int, int]:
        """Send a batch until answered; returns (written, rejected).

        Every document has its `_id` by now, so the client may send the batch again
        (its retries, backoff and Retry-After); before a resend, and before sending a
        batch that an interrupted run may have sent, the documents the server
        already has are left out, so an applied batch whose answer was lost is not
        turned into conflicts.
        """
        new_edits = self.options.new_edits
        pending = records
        done_before = 0

        async def drop_existing() -> None:
            nonlocal pending, done_before
            if new_edits:  # new_edits=false is idempotent: resent as is
                pending, already = await self._drop_existing(pending)
                done_before += already

        if verify:
            await drop_existing()
        if not pending:
            return done_before, 0
        try:
            results = await self.couch.db_bulk_docs_raw(
                self.db,
                lambda: batch_pieces(pending, new_edits=new_edits),
                retry=True,
                before_retry=drop_existing,
                w=self.options.w,
                all_ok=len(pending) if new_edits else None,  # then only failures are decoded
            )
        except HTTPError as exc:
            if _too_big_or_bad(exc) and pending:
                written, rejected = await self._split(pending, exc)
                return done_before + written, rejected
            raise
        written, rejected = self._results(pending, results)
        return done_before + written, rejected

    async def _split(self, records: list[Record], exc: HTTPError) -> tuple[int, int]:
        """A batch refused as a whole: halve it until the offending documents are alone."""
        if len(records) == 1:
            self.reject(records[0], exc.error or str(exc.status), exc.reason, {})
            return 0, 1
        middle = len(records) // 2
        first = await self._send(records[:middle], verify=False)
        second = await self._send(records[middle:], verify=False)
        return first[0] + second[0], first[1] + second[1]

    def _results(self, records: list[Record], results: list[Any]) -> tuple[int, int]:
        rejected = 0
        if not results:  # no failure (and no id to look up: that may decode a document)
            return len(records), 0
        if len(results) == len(records):
            pairs = list(zip(records, results, strict=True))
        else:
            # Only the failures (usually none): new_edits=false answers only those, and
            # `all_ok` gives [] for an answer of successes only. Matched by id.
            by_id = {r.doc_id: r for r in records}
            pairs = [(by_id[res["id"]], res) for res in results if res.get("id") in by_id]
        for record, result in pairs:
            if isinstance(result, dict) and "error" in result:
                rejected += 1
                error = str(result.get("error"))
                if error == "conflict" and '"_rev"' in record.text:
                    self.summary.conflicts_with_rev += 1
                self.reject(record, error, str(result.get("reason", "")), result)
        return len(records) - rejected, rejected

    async def _drop_existing(self, records: list[Record]) -> tuple[list[Record], int]:
        """Leave out the documents the server already has with the same content."""
        ids = [r.doc_id for r in records if r.doc_id is not None]
        existing = await self.couch.bulk_existing(self.db, ids)
        keep: list[Record] = []
        for record in records:
            current = existing.get(record.doc_id or "")
            doc = record.doc()
            if current is DELETED:
                if doc.get("_deleted"):
                    continue
            elif current is not None and _strip(current) == _strip(doc):
                continue
            keep.append(record)
        return keep, len(records) - len(keep)


class _Budget:
    """The text of the batches in flight (`used`): a batch is read only while it is
    below `limit`, so it passes `limit` by one batch at most (one always goes).
    Only the task that hands out batches waits on it."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._freed = Signal()

    async def room(self) -> None:
        while self.used >= self.limit:
            await self._freed.wait()

    def give(self, length: int) -> None:
        self.used -= length
        self._freed.fire()


def _batches(
    records: Iterator[Record], size: int, max_bytes: int
) -> Iterator[tuple[list[Record], int]]:
    """Batches of `size` records with the length of their text, cut earlier once that
    reaches `max_bytes` (documents with inline attachments); the same input always
    gives the same batches."""
    batch: list[Record] = []
    length = 0
    for record in records:
        batch.append(record)
        length += len(record.text)
        if len(batch) >= size or length >= max_bytes:
            del record  # not held (nor its text) while the next batch is read
            yield batch, length
            batch = []
            length = 0
    if batch:
        yield batch, length


async def load(
    couch: CouchClient,
    db: str,
    records: Iterator[Record],
    options: LoadOptions,
    *,
    journal: Journal | None = None,
    state: JournalState | None = None,
    reject: Reject,
    progress: Callable[[int], None] = lambda n: None,
) -> LoadSummary:
    """Write `records` to `db` in batches; see the module docstring."""
    loader = _Loader(couch, db, options, journal, state, reject, progress)
    with first_error():
        return await loader.run(records)
