"""Compare two databases by merge-joining their `_all_docs` streams, in constant memory.

CouchDB returns `_all_docs` in raw collation: by id in UTF-8 byte order, which is
Python's order of `str` (code points). Both streams are read concurrently, a
received chunk at a time, through bounded buffers; a stream that is not in that
order is reported as such (a merge-join on it would give false differences).
Each side may be on its own server with its own credentials.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from couchctl.client import HTTPError, ProtocolError

if TYPE_CHECKING:
    from anyio.abc import ObjectSendStream

    from couchctl.client import CouchClient

__all__ = ["DiffCounts", "diff_databases", "same_server"]

# Pages of rows read ahead on each side, and the rows in a page.
READ_AHEAD = 8
PAGE_ROWS = 1000

ONLY_IN_DB = "only-in-db"
ONLY_IN_OTHER = "only-in-other"
DIFFERENT_REV = "different-rev"


@dataclass
class DiffCounts:
    only_in_db: int = 0
    only_in_other: int = 0
    different_rev: int = 0
    compared: int = 0

    @property
    def identical(self) -> bool:
        return not (self.only_in_db or self.only_in_other or self.different_rev)


def same_server(url: str, other: str) -> bool:
    """Whether two server URLs name the same server and prefix (credentials aside)."""

    def key(value: str) -> tuple[str, str, int | None, str]:
        parts = urlsplit(value)
        scheme = parts.scheme.lower()
        port = parts.port or (443 if scheme == "https" else 80)
        host = (parts.hostname or "").lower()
        if host in ("localhost", "::1"):
            host = "127.0.0.1"
        return scheme, host, port, parts.path.rstrip("/")

    return key(url) == key(other)


async def _pages(
    couch: CouchClient,
    db: str,
    send: ObjectSendStream[list[tuple[str, str]] | None],
    label: str,
) -> None:
    try:
        await _read(couch, db, send)
    except HTTPError as exc:
        # Say which side failed: the two may be on different servers.
        if not getattr(exc, "what", ""):
            exc.what = f"_all_docs of {label}"  # type: ignore[attr-defined]
        raise


async def _read(
    couch: CouchClient, db: str, send: ObjectSendStream[list[tuple[str, str]] | None]
) -> None:
    async with send:
        last = ""
        first = True
        rows: list[tuple[str, str]] = []
        pages = couch.bulk_iter_ids(db, raw=True)
        async with contextlib.aclosing(pages):
            async for page in pages:
                # CouchDB sends a chunk per row or so: hand rows on PAGE_ROWS at a time.
                start = len(rows)
                rows.extend(_id_rev(text) for text in page)
                for doc_id, _ in rows[start:]:
                    if not first and doc_id <= last:
                        raise ProtocolError(
                            f"_all_docs of {db!r} is not in CouchDB's id order "
                            f"({last!r} before {doc_id!r}): cannot merge-join it"
                        )
                    last, first = doc_id, False
                if len(rows) >= PAGE_ROWS:
                    await send.send(rows)
                    rows = []
        if rows:
            await send.send(rows)
        await send.send(None)


# CouchDB's row of _all_docs, as it sends it; anything else (escapes, other
# spacing) is decoded as JSON.
_ROW = re.compile(r'\{"id":"([^"\\]*)","key":"[^"\\]*","value":\{"rev":"([^"\\]*)"\}\}')


def _id_rev(text: str) -> tuple[str, str]:
    match = _ROW.fullmatch(text)
    if match is not None:
        return match.group(1), match.group(2)
    row = json.loads(text)
    return str(row["id"]), str(row["value"]["rev"])


class _Side:
    def __init__(self, receive: Any) -> None:
        self.receive = receive
        self.rows: list[tuple[str, str]] = []
        self.at = 0
        self.done = False

    async def fill(self) -> None:
        import anyio

        while not self.done and self.at >= len(self.rows):
            try:
                page = await self.receive.receive()
            except anyio.EndOfStream:
                # Its reader failed: wait to be cancelled, so that its error is the one raised.
                await anyio.sleep_forever()
            if page is None:
                self.done = True
            else:
                self.rows, self.at = page, 0


async def diff_databases(
    couch: CouchClient,
    db: str,
    other_couch: CouchClient,
    other_db: str,
    emit: Callable[[dict[str, Any]], None],
) -> DiffCounts:
    """Pass each difference to `emit`: `{"id", "difference", "rev", "other_rev"}`
    where `difference` is only-in-db, only-in-other or different-rev; return the counts."""
    import anyio

    tally = DiffCounts()
    send_a, receive_a = anyio.create_memory_object_stream[list[tuple[str, str]] | None](READ_AHEAD)
    send_b, receive_b = anyio.create_memory_object_stream[list[tuple[str, str]] | None](READ_AHEAD)
    async with anyio.create_task_group() as group:
        far = other_couch is not couch
        group.start_soon(_pages, couch, db, send_a, f"{db} at {couch.base_url}" if far else db)
        group.start_soon(
            _pages,
            other_couch,
            other_db,
            send_b,
            f"{other_db} at {other_couch.base_url}" if far else other_db,
        )
        a, b = _Side(receive_a), _Side(receive_b)
        async with receive_a, receive_b:
            while True:
                await a.fill()
                await b.fill()
                if a.done and b.done:
                    break
                found: list[dict[str, Any]] = []
                # The join itself, synchronous while both buffers hold rows.
                rows_a, rows_b, i, j = a.rows, b.rows, a.at, b.at
                if a.done:
                    found = [_only(ONLY_IN_OTHER, row) for row in rows_b[j:]]
                    j = len(rows_b)
                elif b.done:
                    found = [_only(ONLY_IN_DB, row) for row in rows_a[i:]]
                    i = len(rows_a)
                else:
                    end_a, end_b = len(rows_a), len(rows_b)
                    while i < end_a and j < end_b:
                        id_a, rev_a = rows_a[i]
                        id_b, rev_b = rows_b[j]
                        if id_a == id_b:
                            if rev_a != rev_b:
                                found.append(
                                    {
                                        "id": id_a,
                                        "difference": DIFFERENT_REV,
                                        "rev": rev_a,
                                        "other_rev": rev_b,
                                    }
                                )
                            i += 1
                            j += 1
                            tally.compared += 1
                        elif id_a < id_b:
                            found.append(_only(ONLY_IN_DB, rows_a[i]))
                            i += 1
                        else:
                            found.append(_only(ONLY_IN_OTHER, rows_b[j]))
                            j += 1
                a.at, b.at = i, j
                for difference in found:
                    kind = difference["difference"]
                    if kind == ONLY_IN_DB:
                        tally.only_in_db += 1
                    elif kind == ONLY_IN_OTHER:
                        tally.only_in_other += 1
                    else:
                        tally.different_rev += 1
                    emit(difference)
    return tally


def _only(kind: str, row: tuple[str, str]) -> dict[str, Any]:
    doc_id, rev = row
    if kind == ONLY_IN_DB:
        return {"id": doc_id, "difference": kind, "rev": rev, "other_rev": None}
    return {"id": doc_id, "difference": kind, "rev": None, "other_rev": rev}
