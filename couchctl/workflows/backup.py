"""Back up a database (or every user database) to a JSON Lines archive.

The revisions to keep come from `_all_docs` for a full backup (winning
revisions), else from `_changes` (an increment's changes and deletions; every
leaf with `style=all_docs` when conflicts are kept), in constant memory. They
are fetched in batches, a few in flight, by `_bulk_get` with `revs=true` (their
history, so that a restore with `new_edits=false` recreates the same revisions),
`latest=true` and attachments inline. The archive lands under its final name
only when complete (see `_archive.PartFile`).
"""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import anyio

from couchctl.client import InvalidArgument, NotFound, ProtocolError
from couchctl.workflows._archive import ArchiveWriter, PartFile, check_archive

if TYPE_CHECKING:
    from couchctl.client import CouchClient

__all__ = [
    "BATCH_SIZE",
    "CONCURRENCY",
    "AllDbsPlan",
    "BackupResult",
    "archive_name",
    "backup_all",
    "backup_db",
    "plan_all",
    "user_databases",
]

# Documents per _bulk_get request: large enough to amortise a round trip, small
# enough that documents with inline attachments stay a few megabytes a batch.
BATCH_SIZE = 200
# _bulk_get requests in flight at once (the archive's line order does not matter).
CONCURRENCY = 4

Advance = Callable[[float], None]


@dataclass
class BackupResult:
    db: str
    path: str
    docs: int
    deleted: int
    since: Any
    last_seq: Any
    skipped: int


def archive_name(db: str) -> str:
    """The file name of a database's archive in an --all-dbs directory (`/` encoded)."""
    return quote(db, safe="") + ".jsonl"


def user_databases(names: list[str]) -> list[str]:
    """The databases `--all-dbs` backs up: every one but the system databases
    (`_users`, `_replicator`, `_global_changes`: back them up by name)."""
    return [name for name in names if not name.startswith("_")]


def previous_seq(path: str, db: str) -> Any:
    """The sequence an increment on top of the archive at `path` starts from."""
    info = check_archive(path)
    if info.header.get("db") != db:
        raise InvalidArgument(
            f"--since {path} is a backup of {info.header.get('db')!r}, not of {db!r}"
        )
    return info.trailer.get("last_seq")


async def backup_db(
    couch: CouchClient,
    db: str,
    path: str,
    *,
    since_archive: str | None = None,
    conflicts: bool = False,
    force: bool = False,
    advance: Advance | None = None,
) -> BackupResult:
    """Write an archive of `db` to `path` (an increment after `since_archive`)."""
    since = previous_seq(since_archive, db) if since_archive is not None else None
    part = PartFile(path, force=force)
    try:
        result = await _write(couch, db, part, since, conflicts, advance)
        part.commit()
    finally:
        part.discard()
    return result


async def _write(
    couch: CouchClient,
    db: str,
    part: PartFile,
    since: Any,
    conflicts: bool,
    advance: Advance | None,
) -> BackupResult:
    info = await couch.db_info(db)
    security = await couch.security_get(db)
    cluster = info.get("cluster") if isinstance(info.get("cluster"), dict) else {}
    props = info.get("props") if isinstance(info.get("props"), dict) else {}
    writer = ArchiveWriter(part)
    writer.header(
        {
            "db": db,
            "q": cluster.get("q"),
            "n": cluster.get("n"),
            "partitioned": bool(props.get("partitioned")),
            "update_seq": info.get("update_seq"),
            "since": since,
            "conflicts": conflicts,
            "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        }
    )
    writer.security(security)
    meta: dict[str, Any] = {}
    skipped = [0]
    in_flight = anyio.Semaphore(CONCURRENCY)

    async def fetch(batch: list[dict[str, str]]) -> None:
        try:
            skipped[0] += await _fetch(couch, db, batch, writer, advance)
        finally:
            in_flight.release()

    async with anyio.create_task_group() as group:
        async for batch in _batches(couch, db, since, conflicts, meta, info):
            await in_flight.acquire()
            group.start_soon(fetch, batch)
    end = await couch.db_info(db)
    trailer = writer.trailer(
        last_seq=meta.get("last_seq"),
        doc_count=end.get("doc_count"),
        end_update_seq=end.get("update_seq"),
        skipped=skipped[0],
    )
    return BackupResult(
        db,
        part.target,
        trailer["docs"],
        trailer["deleted"],
        since,
        meta.get("last_seq"),
        skipped[0],
    )


async def _batches(
    couch: CouchClient,
    db: str,
    since: Any,
    conflicts: bool,
    meta: dict[str, Any],
    info: dict[str, Any],
) -> AsyncIterator[list[dict[str, str]]]:
    """The (id, rev) pairs to fetch, BATCH_SIZE at a time; `meta["last_seq"]` is set
    to where the next increment starts.

    A full backup of winning revisions reads the ids and revisions of `_all_docs`
    (the fastest listing); it starts after `update_seq` read before it, so an
    increment may repeat a change, which restores the same revision again (harmless).
    Increments and --conflicts read `_changes` (deletions, every leaf).
    """
    batch: list[dict[str, str]] = []
    if since is None and not conflicts:
        meta["last_seq"] = info.get("update_seq")
        pages = couch.bulk_iter_ids(db)
        async with contextlib.aclosing(pages):
            async for page in pages:
                for row in page:
                    value = row.get("value") if isinstance(row, dict) else None
                    if isinstance(value, dict) and "rev" in value:
                        batch.append({"id": str(row["id"]), "rev": str(value["rev"])})
                        if len(batch) >= BATCH_SIZE:  # a page holds thousands of rows
                            yield batch
                            batch = []
        if batch:
            yield batch
        return
    options: dict[str, Any] = {"style": "all_docs"} if conflicts else {}
    if since is not None:
        options["since"] = since
    async for change in couch.iter_changes(db, meta=meta, **options):
        if not isinstance(change, dict) or "id" not in change:
            continue
        if since is None and change.get("deleted"):
            continue  # a full backup holds what exists
        changes = change.get("changes", [])
        revs = [c["rev"] for c in changes if isinstance(c, dict) and "rev" in c]
        batch.extend({"id": change["id"], "rev": rev} for rev in revs)
        if len(batch) >= BATCH_SIZE:
            yield batch
            batch = []
    if batch:
        yield batch


async def _fetch(
    couch: CouchClient,
    db: str,
    batch: list[dict[str, str]],
    writer: ArchiveWriter,
    advance: Advance | None,
) -> int:
    """Fetch a batch of revisions and write them; the count of those gone meanwhile."""
    answer = await couch.db_bulk_get(db, batch, revs=True, latest=True, attachments=True)
    results = answer.get("results") if isinstance(answer, dict) else None
    if not isinstance(results, list):
        raise ProtocolError(f"_bulk_get of {db!r} did not answer results")
    skipped = 0
    seen: set[tuple[str, str]] = set()
    for result in results:
        for entry in result.get("docs", []) if isinstance(result, dict) else []:
            doc = entry.get("ok") if isinstance(entry, dict) else None
            if not isinstance(doc, dict):
                error = entry.get("error") if isinstance(entry, dict) else None
                if isinstance(error, dict) and error.get("error") == "not_found":
                    skipped += 1  # purged or compacted away since the changes feed
                    continue
                raise ProtocolError(f"_bulk_get of {db!r} failed: {error!r}")
            key = (str(doc.get("_id")), str(doc.get("_rev")))
            if key in seen:  # two leaves whose latest is the same revision
                continue
            seen.add(key)
            writer.doc(doc)
    if advance is not None:
        advance(len(batch))
    return skipped


@dataclass
class AllDbsPlan:
    """What `backup --all-dbs` will write: (database, archive, previous archive or
    None) for each user database, and the documents to expect across them."""

    targets: list[tuple[str, str, str | None]]
    total_docs: int
    directory: str


def _targets(
    names: list[str], directory: str, since_dir: str | None, force: bool
) -> list[tuple[str, str, str | None]]:
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise InvalidArgument(f"{directory} is not a directory")
    if since_dir is not None and not os.path.isdir(since_dir):
        raise InvalidArgument(f"--since {since_dir} is not a directory")
    from couchctl._files import check_new_file

    targets: list[tuple[str, str, str | None]] = []
    for name in names:
        path = os.path.join(directory, archive_name(name))
        if os.path.isdir(directory):
            check_new_file(path, force=force)
        previous = None
        if since_dir is not None:
            candidate = os.path.join(since_dir, archive_name(name))
            previous = candidate if os.path.exists(candidate) else None
        targets.append((name, path, previous))
    return targets


async def plan_all(
    couch: CouchClient, directory: str, *, since_dir: str | None = None, force: bool = False
) -> AllDbsPlan:
    """Check every target file before the first byte is written and count the documents."""
    names = user_databases([str(name) for name in await couch.all_dbs()])
    targets = _targets(names, directory, since_dir, force)
    total = 0
    for name in names:
        info = await couch.db_info(name)
        total += int(info.get("doc_count") or 0) if isinstance(info, dict) else 0
    return AllDbsPlan(targets, total, directory)


async def backup_all(
    couch: CouchClient,
    plan: AllDbsPlan,
    *,
    conflicts: bool = False,
    force: bool = False,
    advance: Advance | None = None,
    on_done: Callable[[BackupResult], None] | None = None,
    on_gone: Callable[[str], None] | None = None,
) -> list[BackupResult]:
    """Back up every database of `plan`, one archive each (an increment where the
    previous directory held the database's archive, a full backup otherwise).
    A database deleted since the plan was made is passed to `on_gone` and skipped."""
    os.makedirs(plan.directory, exist_ok=True)
    results = []
    for name, path, previous in plan.targets:
        try:
            result = await backup_db(
                couch,
                name,
                path,
                since_archive=previous,
                conflicts=conflicts,
                force=force,
                advance=advance,
            )
        except NotFound:
            if on_gone is not None:
                on_gone(name)
            continue
        if on_done is not None:
            on_done(result)
        results.append(result)
    return results
