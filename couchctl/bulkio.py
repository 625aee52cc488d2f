"""The engines of `couchctl bulk load` and `couchctl bulk dump`. No printing here.

Load
    Input is JSON Lines (one document a line) or one JSON array (told apart by the
    first non-space character), read in constant memory. A file is checked
    completely first (`check_input`), so bad input never reaches the server half
    sent; stdin is checked a batch at a time, before that batch is sent. Each
    document without `_id` gets one from `GET /_uuids` before its batch is sent,
    so a retried or resumed batch can never create a second copy. The body of a
    batch is built from the input text (`{"docs":[` + documents + `]}`); only the
    documents that need an `_id` are touched. Batches run `concurrency` at a time;
    a batch failing with 429, 5xx, a timeout or a connection reset is sent again by
    the client (its one retry layer: `retries`, backoff, `Retry-After`), leaving out
    the documents the server already has. A batch
    refused as a whole with 400/413 is split in halves until the offending document
    is found. The journal (`Journal`) records each batch before it is sent and once
    answered, which is what `resume` relies on.

Dump
    One cheap streamed pass over `_all_docs` (ids only) cuts the key space into
    ranges of `batch_size` documents; `concurrency` workers fetch the ranges with
    `_all_docs?include_docs=true&startkey=..&endkey=..&inclusive_end=false`, each
    read whole and retried by the client, and the ranges are handed on in key order through a bounded
    reorder window. With `concurrency=1` a single streamed `_all_docs` request is
    used instead (no second pass). Documents are passed on as the JSON text the
    server sent (CouchDB's one-row-a-line bodies are cut at newlines, not decoded);
    only a document whose attachment stubs must go is decoded and encoded again.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from couchctl._jsontype import json_type_name
from couchctl.client._encoding import dumps
from couchctl.client._errors import (
    BadRequest,
    ClientError,
    HTTPError,
    InvalidArgument,
    ProtocolError,
)

if TYPE_CHECKING:
    from couchctl.client import CouchClient

__all__ = [
    "DumpOptions",
    "DumpSummary",
    "InputCheck",
    "InputError",
    "Journal",
    "JournalError",
    "LoadOptions",
    "LoadSummary",
    "Record",
    "check_input",
    "dump",
    "iter_records",
    "load",
]

# Members CouchDB accepts at the top level of a document (`couch_doc:transfer_fields`);
# any other `_name` makes `_bulk_docs` fail the whole request with 400 doc_validation.
# The `_replication_*` ones are kept in `_replicator` documents by the replicator.
SPECIAL_MEMBERS = frozenset(
    {
        "_id",
        "_rev",
        "_deleted",
        "_attachments",
        "_revisions",
        "_revs_info",
        "_conflicts",
        "_deleted_conflicts",
        "_local_seq",
        "_access",
        "_replication_state",
        "_replication_state_time",
        "_replication_state_reason",
        "_replication_id",
        "_replication_stats",
    }
)
_READ_SIZE = 1 << 16
# A batch is cut once its documents reach this many characters, whatever its
# count: keeps requests well below CouchDB's limits and memory bounded.
MAX_BATCH_BYTES = 8 << 20
_WS = " \t\r\n"


class InputError(InvalidArgument):
    """Bad load input, with the line it was found on (a usage error: exit 2)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.detail = message


class JournalError(InvalidArgument):
    """The journal cannot be used for this load (a usage error: exit 2)."""


# -- reading and checking the input ---------------------------------------------------


@dataclass(slots=True)
class Record:
    """One input document: its ordinal (0-based), its line, its text and whether it has an `_id`.

    `doc_id` is the input's `_id` (parsed from the text only when needed) or the
    one assigned from /_uuids.
    """

    ordinal: int
    line: int
    text: str
    has_id: bool
    known_id: str | None = None
    assigned: bool = False  # the id came from /_uuids, not from the input

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


def _may_have_special_members(text: str) -> bool:
    """False when no member name in the text can start with an underscore (no `"_`
    and no escape that could spell one)."""
    return '"_' in text or "\\u" in text


def check_document(
    value: Any, line: int, *, new_edits: bool = True, text: str | None = None
) -> str | None:
    """Raise InputError unless `value` is a document `_bulk_docs` would take; return its `_id`.

    `text`, the value's JSON text when known, lets the member check be skipped
    when no member can start with an underscore.
    """
    if not isinstance(value, dict):
        raise InputError(line, f"a document must be a JSON object, not {json_type_name(value)}")
    doc_id = value.get("_id")
    if doc_id is not None or "_id" in value:
        if not isinstance(doc_id, str) or not doc_id:
            raise InputError(line, "_id must be a non-empty string")
        if doc_id.startswith("_") and not doc_id.startswith(("_design/", "_local/")):
            raise InputError(
                line,
                f"illegal _id {doc_id!r}: only _design/ and _local/ ids may start with an underscore",
            )
        if doc_id in ("_design/", "_local/"):
            raise InputError(line, f"illegal _id {doc_id!r}: the name after the prefix is empty")
    if text is None or _may_have_special_members(text):
        for name in value:
            if name[:1] == "_" and name not in SPECIAL_MEMBERS:
                raise InputError(line, f"bad special document member {name!r}")
        _check_special_values(value, line)
    rev = value.get("_rev")
    if rev is not None and not isinstance(rev, str):
        raise InputError(line, "_rev must be a string")
    if not new_edits and (doc_id is None or rev is None):
        raise InputError(line, "with --no-new-edits every document needs an _id and a _rev")
    return doc_id


def _check_special_values(doc: dict[str, Any], line: int) -> None:
    """The special members whose type CouchDB checks (a wrong one fails the whole batch)."""
    deleted = doc.get("_deleted")
    if deleted is not None and not isinstance(deleted, bool):
        raise InputError(line, "_deleted must be true or false")
    attachments = doc.get("_attachments")
    if attachments is not None and not isinstance(attachments, dict):
        raise InputError(line, "_attachments must be a JSON object")
    revisions = doc.get("_revisions")
    if revisions is not None and (
        not isinstance(revisions, dict)
        or isinstance(revisions.get("start"), bool)
        or not isinstance(revisions.get("start"), int)
        or not isinstance(revisions.get("ids"), list)
    ):
        raise InputError(line, '_revisions must be {"start": <integer>, "ids": [...]}')


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
            if stripped:
                yield number, stripped
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
        buf = buf[pos:]
        pos = 0
        try:
            if chunk:
                buf += decoder.decode(chunk)
            else:
                buf += decoder.decode(b"", final=True)
                eof = True
        except UnicodeDecodeError:
            raise InputError(line + buf.count("\n"), "not UTF-8 text") from None
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
                    # Grow the reads with the element so a large one costs linear time.
                    read_size = max(read_size, len(buf) - pos)
                    fill()
                    continue
                break
            yield start_line, buf[pos:end], value
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
            yield Record(ordinal, line, text, doc_id is not None, doc_id)
            ordinal += 1
        return
    for line, text in _lines(head, stream):
        if checked and '"_id"' not in text and "\\u" not in text:
            yield Record(ordinal, line, text, False)
        elif checked and text.startswith('{"_id":'):
            yield Record(ordinal, line, text, True)
        else:
            value = _parse(text, line)
            doc_id = check_document(value, line, new_edits=new_edits, text=text)
            if not deletions and value.get("_deleted") is True:
                raise InputError(line, _DELETION)
            yield Record(ordinal, line, text, doc_id is not None, doc_id)
        ordinal += 1


_DELETION = 'deletes a document ("_deleted": true): pass --yes to allow deletions'


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
            return _check_lines(stream, new_edits)
        check = InputCheck()
        for line, text, value in _array_elements(head, stream):
            check_document(value, line, new_edits=new_edits, text=text)
            check.documents += 1
            check.deletions += value.get("_deleted") is True
    return check


def _check_lines(stream: IO[bytes], new_edits: bool) -> InputCheck:
    """The hot loop of `check_input` for JSON Lines: one decode per line."""
    check = InputCheck()
    decode = _decoder.decode
    for number, raw in enumerate(stream, 1):
        try:
            text = raw.decode("utf-8")
            if number == 1 and text.startswith("\ufeff"):
                text = text[1:]
            value = decode(text)
        except UnicodeDecodeError:
            raise InputError(number, "not UTF-8 text") from None
        except RecursionError:
            raise InputError(number, _TOO_DEEP) from None
        except json.JSONDecodeError as exc:
            if not text.strip():
                continue
            raise InputError(number, f"not valid JSON: {exc.msg} (column {exc.colno})") from None
        check_document(value, number, new_edits=new_edits, text=text)
        check.documents += 1
        check.deletions += value.get("_deleted") is True
    return check


# -- the journal ------------------------------------------------------------------------


@dataclass
class JournalState:
    header: dict[str, Any]
    done: dict[int, tuple[int, int]] = field(default_factory=dict)  # batch -> (written, rejected)
    # Batches recorded as started but not done: batch -> ordinal -> assigned id.
    started: dict[int, dict[int, str]] = field(default_factory=dict)


class Journal:
    """An append-only JSON Lines record of a load, flushed and fsynced per record.

        {"couchctl_journal": 1, "db": ..., "input": ..., "size": ..., "batch_size": N, ...}
        {"batch": k, "first": ordinal, "count": n, "lines": [a, b], "ids": {"ordinal": "id"}}
        {"done": k, "written": w, "rejected": r}

    A batch with a `batch` record but no `done` record may or may not have reached
    the server; `resume` checks its documents before sending them again. Each
    `batch` record is fsynced before its batch is sent (with it, every record
    before it); `done` records are flushed and ride on the next fsync.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    @staticmethod
    def read(path: Path) -> JournalState:
        """Parse an existing journal (a torn last line, from a kill, is ignored)."""
        state: JournalState | None = None
        with path.open(encoding="utf-8") as stream:
            for raw in stream:
                try:
                    record = json.loads(raw)
                except (json.JSONDecodeError, RecursionError):
                    continue
                if not isinstance(record, dict):
                    continue
                if state is None:
                    if record.get("couchctl_journal") != 1:
                        raise JournalError(f"{path} is not a couchctl load journal")
                    state = JournalState(record)
                elif "done" in record:
                    number = int(record["done"])
                    state.done[number] = (
                        int(record.get("written", 0)),
                        int(record.get("rejected", 0)),
                    )
                    state.started.pop(number, None)  # only unfinished batches keep their ids
                elif "batch" in record:
                    ids = {int(k): str(v) for k, v in dict(record.get("ids", {})).items()}
                    if int(record["batch"]) not in state.done:
                        state.started[int(record["batch"])] = ids
        if state is None:
            raise JournalError(f"{path} is empty: not a couchctl load journal")
        return state

    def open(self, header: dict[str, Any] | None) -> None:
        """Start a new journal with `header`, or append to the existing one (None)."""
        if header is not None:
            self._file = self.path.open("w", encoding="utf-8")
            self._append({"couchctl_journal": 1, **header})
        else:
            self._file = self.path.open("a", encoding="utf-8")

    def _write(self, record: dict[str, Any]) -> None:
        assert self._file is not None
        self._file.write(dumps(record) + "\n")
        self._file.flush()

    def _append(self, record: dict[str, Any]) -> None:
        self._write(record)
        assert self._file is not None
        os.fsync(self._file.fileno())

    async def _append_async(self, record: dict[str, Any]) -> None:
        # fsync in a worker thread: the other batches in flight go on meanwhile.
        import anyio

        self._write(record)
        assert self._file is not None
        await anyio.to_thread.run_sync(os.fsync, self._file.fileno())

    async def batch_started(self, batch: int, records: list[Record], ids: dict[int, str]) -> None:
        """Record a batch and the ids given to it; durable before the batch is sent."""
        await self._append_async(
            {
                "batch": batch,
                "first": records[0].ordinal,
                "count": len(records),
                "lines": [records[0].line, records[-1].line],
                "ids": {str(k): v for k, v in ids.items()},
            }
        )

    async def batch_done(self, batch: int, written: int, rejected: int) -> None:
        """Record that a batch was answered. Flushed, and made durable by the next
        `batch_started` fsync (or `close`): losing it can only make `resume` check
        that batch again, never write a document twice."""
        self._write({"done": batch, "written": written, "rejected": rejected})

    def close(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None

    def remove(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self.path.unlink(missing_ok=True)


# -- load ---------------------------------------------------------------------------------


@dataclass
class LoadOptions:
    batch_size: int = 1000
    max_batch_bytes: int = MAX_BATCH_BYTES
    concurrency: int = 4
    new_edits: bool = True


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

    def as_json(self, db: str) -> dict[str, Any]:
        return {
            "db": db,
            "written": self.written,
            "rejected": self.rejected,
            "skipped": self.skipped,
            "batches": self.batches,
            "elapsed": round(self.elapsed, 3),
            "docs_per_second": round(self.written / self.elapsed, 1) if self.elapsed > 0 else None,
        }


Reject = Callable[[Record, str, str, dict[str, Any]], None]


def _too_big_or_bad(exc: BaseException) -> bool:
    return isinstance(exc, BadRequest) or (isinstance(exc, ClientError) and exc.status == 413)


_PLAIN_ID = re.compile(r"[0-9A-Za-z_-]+")


def batch_body(records: list[Record], *, new_edits: bool = True) -> bytes:
    """`{"docs":[...]}` from the records' text; an `_id` is written into those without one."""
    parts: list[str] = []
    for record in records:
        text = record.text
        if record.assigned:
            doc_id = record.known_id or ""
            quoted = f'"{doc_id}"' if _PLAIN_ID.fullmatch(doc_id) else dumps(doc_id)
            rest = text[1:].lstrip()
            text = '{"_id":' + quoted + ("" if rest[:1] == "}" else ",") + rest
        parts.append(text)
    head = '{"new_edits":false,"docs":[' if not new_edits else '{"docs":['
    return (head + ",".join(parts) + "]}").encode()


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

    async def run(self, records: Iterator[Record]) -> LoadSummary:
        import anyio

        started = time.monotonic()
        bad_input: InputError | None = None
        send, receive = anyio.create_memory_object_stream[tuple[int, list[Record]]](0)
        async with anyio.create_task_group() as group:
            for _ in range(max(1, self.options.concurrency)):
                group.start_soon(self._worker, receive.clone())
            receive.close()
            batches = _batches(records, self.options.batch_size, self.options.max_batch_bytes)
            async with send:
                number = 0
                try:
                    while True:
                        # Read and check the next batch in a thread: a slow pipe or a
                        # large batch does not hold up the answers of those in flight,
                        # and a failed load does not wait for a pipe that stays quiet.
                        batch = await anyio.to_thread.run_sync(
                            next, batches, None, abandon_on_cancel=True
                        )
                        if batch is None:
                            break
                        self.summary.batches += 1
                        await send.send((number, batch))
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
            async for number, batch in receive:
                await self._batch(number, batch)

    async def _batch(self, number: int, records: list[Record]) -> None:
        state = self.state
        if state is not None and number in state.done:
            self.summary.skipped += len(records)
            self.progress(len(records))
            return
        verify = False
        if state is not None and number in state.started:
            ids = state.started[number]
            verify = True
        else:
            missing = [r for r in records if not r.has_id]
            fresh = await self.couch.bulk_new_ids(len(missing)) if missing else []
            ids = {r.ordinal: new for r, new in zip(missing, fresh, strict=True)}
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
                lambda: batch_body(pending, new_edits=new_edits),
                retry=True,
                before_retry=drop_existing,
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
        if len(results) == len(records):
            pairs = list(zip(records, results, strict=True))
        else:
            # new_edits=false answers only the failures (usually []): match by id.
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
        from couchctl.client._bulk import DELETED

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


@contextmanager
def _first_error() -> Iterator[None]:
    """Raise the error that stopped a task group rather than the group."""
    try:
        yield
    except BaseExceptionGroup as group:
        error: BaseException = group
        while isinstance(error, BaseExceptionGroup):
            error = error.exceptions[0]
        raise error from None


def _batches(records: Iterator[Record], size: int, max_bytes: int) -> Iterator[list[Record]]:
    """Batches of `size` records, cut earlier once their text reaches `max_bytes`
    (documents with inline attachments); the same input always gives the same batches."""
    batch: list[Record] = []
    length = 0
    for record in records:
        batch.append(record)
        length += len(record.text)
        if len(batch) >= size or length >= max_bytes:
            yield batch
            batch = []
            length = 0
    if batch:
        yield batch


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
    with _first_error():
        return await loader.run(records)


# -- dump ---------------------------------------------------------------------------------

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
# The head of an `_all_docs?include_docs=true` row, up to its document:
# {"id":ID,"key":ID,"value":{"rev":...},"doc":
_JSON_STRING = r'"(?:[^"\\]|\\.)*"'
_ROW_HEAD = re.compile(r'\{"id":(' + _JSON_STRING + r'),"key":\1,"value":\{[^{}]*\},"doc":')
_ROW_ID = re.compile(r'\{"id":(' + _JSON_STRING + r")")
Emit = Callable[[str, int], Awaitable[None] | None]


@dataclass
class DumpOptions:
    include_design: bool = False
    attachments: bool = False
    batch_size: int = 2000
    concurrency: int = 4


@dataclass
class DumpSummary:
    documents: int = 0
    design: int = 0  # design documents left out
    stripped_attachments: int = 0  # documents whose attachment stubs were left out
    ranges: int = 0
    elapsed: float = 0.0


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
            raise ProtocolError(f"the server answered a row with an error: {_ENCODER.encode(row)}")
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
        out.append(_ENCODER.encode(doc))

    def _keep_raw(self, row: str, out: list[str]) -> None:
        """`_keep` for a row's JSON text: the document's text is cut out as the server
        sent it, decoded only when its attachment stubs must go."""
        head = _ROW_HEAD.match(row)
        if head is None or not row.endswith("}") or row[head.end()] != "{":
            self._keep(json.loads(row), out)  # another shape (an error row): decode
            return
        if head.group(1).startswith('"_design/') and not self.options.include_design:
            self.summary.design += 1
            return
        text = row[head.end() : -1]
        if not self.options.attachments and '"_attachments":' in text:
            self._keep({"id": json.loads(head.group(1)), "doc": json.loads(text)}, out)
            return
        out.append(text)

    async def _emit(self, lines: list[str]) -> None:
        if not lines:
            return
        self.summary.documents += len(lines)
        lines.append("")
        result = self.emit("\n".join(lines), len(lines) - 1)
        if result is not None:
            await result

    async def single(self) -> None:
        """One streamed `_all_docs?include_docs=true` request."""
        chunk: list[str] = []
        pages = self.couch.bulk_iter_range(
            self.db, attachments=self.options.attachments or None, raw=True
        )
        keep = self._keep_raw
        async for page in pages:
            for row in page:
                keep(row, chunk)
            if len(chunk) >= self.options.batch_size:
                await self._emit(chunk)
                chunk = []
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
                async for page in self.couch.bulk_iter_ids(self.db, raw=True):
                    for row in page:
                        if count and count % options.batch_size == 0:
                            end = _row_id(row)
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


def _row_id(row: str) -> str | None:
    """The id of an `_all_docs` row given as JSON text."""
    match = _ROW_ID.match(row)
    value = json.loads(match.group(1)) if match else json.loads(row).get("id")
    return value if isinstance(value, str) else None


async def dump(
    couch: CouchClient,
    db: str,
    options: DumpOptions,
    emit: Emit,
) -> DumpSummary:
    """Hand every document of `db` to `emit` as JSON Lines text, in key order, a range
    at a time: `emit(text, number_of_documents)`."""
    dumper = _Dumper(couch, db, options, emit)
    started = time.monotonic()
    with _first_error():
        if options.concurrency <= 1:
            await dumper.single()
        else:
            await dumper.ranges()
    dumper.summary.elapsed = time.monotonic() - started
    return dumper.summary
