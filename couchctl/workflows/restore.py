"""Restore archives (a full backup, then its increments in order) into a database.

Every file is checked whole before anything is sent: format and version, the
trailer's counts and checksum, and that each increment starts where the file
before it ended. Documents are written with `new_edits=false` (their revisions
and history as they were), which is idempotent: a resumed restore (`resume`)
asks `_revs_diff` what is missing and sends only that. `_security` is set last,
so that a restricted database stays writable until the documents are in.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from couchctl.client import InvalidArgument
from couchctl.workflows._archive import ArchiveInfo, check_archive, iter_records

if TYPE_CHECKING:
    from couchctl.client import CouchClient

__all__ = ["BATCH_BYTES", "BATCH_DOCS", "CONCURRENCY", "RestoreResult", "check_chain", "restore"]

BATCH_DOCS = 500
BATCH_BYTES = 8 * 1024 * 1024
# Rejected documents kept for the report (all are counted).
REJECTS_KEPT = 20
# _bulk_docs requests in flight at once within one archive.
CONCURRENCY = 4

Advance = Callable[[float], None]


@dataclass
class RestoreResult:
    db: str
    created: bool
    expected: int  # document records in the archives
    written: int
    already_there: int  # skipped by --resume
    rejected: list[dict[str, Any]] = field(default_factory=list)  # the first REJECTS_KEPT
    rejected_count: int = 0
    doc_count: int | None = None
    source_doc_count: int | None = None
    counts_exact: bool = False  # the source did not change while the last file was written

    @property
    def counts_match(self) -> bool:
        return self.doc_count == self.source_doc_count


def check_chain(paths: list[str]) -> list[ArchiveInfo]:
    """Check every archive and that they follow each other: one database, a full
    backup first, each increment's `since` the `last_seq` of the file before."""
    if not paths:
        raise InvalidArgument("no archive given")
    infos = [check_archive(path) for path in paths]
    first = infos[0]
    if first.header.get("since") is not None:
        raise InvalidArgument(
            f"{first.path} is an increment: give the full backup first, then the increments"
        )
    for before, after in itertools.pairwise(infos):
        if after.header.get("db") != first.header.get("db"):
            raise InvalidArgument(
                f"{after.path} is a backup of {after.header.get('db')!r}, "
                f"{first.path} of {first.header.get('db')!r}"
            )
        if after.header.get("since") is None:
            raise InvalidArgument(
                f"{after.path} is a full backup, not an increment of {before.path}"
            )
        if after.header.get("since") != before.trailer.get("last_seq"):
            raise InvalidArgument(
                f"{after.path} does not follow {before.path} "
                "(its since is not where that backup ended)"
            )
    return infos


async def restore(
    couch: CouchClient,
    db: str,
    infos: list[ArchiveInfo],
    *,
    into_existing: bool = False,
    resume: bool = False,
    advance: Advance | None = None,
) -> RestoreResult:
    """Restore archives checked by `check_chain` into `db`, creating it like the original."""
    header = infos[0].header
    created = False
    if await couch.db_exists(db):
        info = await couch.db_info(db)
        used = int(info.get("doc_count") or 0) + int(info.get("doc_del_count") or 0)
        if used and not (into_existing or resume):
            raise InvalidArgument(
                f"database {db} is not empty: pass --into-existing to restore into it "
                "(or --resume to finish an interrupted restore)"
            )
    else:
        q = header.get("q")
        await couch.db_create(
            db,
            q=q if isinstance(q, int) else None,
            partitioned=bool(header.get("partitioned")) or None,
        )
        created = True
    result = RestoreResult(db, created, sum(int(i.trailer["docs"]) for i in infos), 0, 0)
    in_flight = anyio.Semaphore(CONCURRENCY)

    async def apply(batch: list[dict[str, Any]]) -> None:
        try:
            await _apply(couch, db, batch, resume, result)
            if advance is not None:
                advance(len(batch))
        finally:
            in_flight.release()

    for info in infos:
        # Each file whole before the next: an increment's revisions extend the
        # full backup's, and its deletions must come after what they delete.
        async with anyio.create_task_group() as group:
            for batch in _batches(info.path):
                await in_flight.acquire()
                group.start_soon(apply, batch)
    security = infos[-1].security
    if isinstance(security, dict) and security:
        await couch.security_put(db, security)
    last = infos[-1]
    end = await couch.db_info(db)
    result.doc_count = end.get("doc_count")
    result.source_doc_count = last.trailer.get("doc_count")
    result.counts_exact = last.header.get("update_seq") == last.trailer.get("end_update_seq")
    return result


def _batches(path: str) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    size = 0
    for kind, record in iter_records(path):
        if kind != "doc":
            continue
        batch.append(record["doc"])
        size += len(record["doc"].get("_attachments") or ()) * 1024 + 512
        for att in (record["doc"].get("_attachments") or {}).values():
            if isinstance(att, dict) and isinstance(att.get("data"), str):
                size += len(att["data"])
        if len(batch) >= BATCH_DOCS or size >= BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


async def _apply(
    couch: CouchClient,
    db: str,
    batch: list[dict[str, Any]],
    resume: bool,
    result: RestoreResult,
) -> None:
    if resume:
        wanted: dict[str, list[str]] = {}
        for doc in batch:
            wanted.setdefault(str(doc["_id"]), []).append(str(doc["_rev"]))
        missing = await couch.db_revs_diff(db, wanted)
        todo = [
            doc
            for doc in batch
            if doc["_rev"] in (missing.get(doc["_id"]) or {}).get("missing", ())
        ]
        result.already_there += len(batch) - len(todo)
        batch = todo
    if not batch:
        return
    body = json.dumps({"docs": batch, "new_edits": False}, ensure_ascii=False).encode()
    # new_edits=false is idempotent: a batch sent twice stores the same revisions.
    answers = await couch.db_bulk_docs_raw(db, body, retry=True)
    rejected = [a for a in answers if isinstance(a, dict) and "error" in a]
    result.rejected.extend(rejected[: max(0, REJECTS_KEPT - len(result.rejected))])
    result.rejected_count += len(rejected)
    result.written += len(batch) - len(rejected)
