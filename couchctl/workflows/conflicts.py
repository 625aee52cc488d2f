"""Find and resolve conflicted documents.

`iter_conflicted` streams `_all_docs?include_docs=true&conflicts=true` in
constant memory and yields the documents that have `_conflicts`. `leaves` lists
every leaf revision of one document (`open_revs=all`) and how each differs from
the winner. `resolve` keeps one leaf (or writes a merged body on the winning
branch first) and deletes every other leaf in one `_bulk_docs`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from couchctl.client import CouchError, InvalidArgument, ProtocolError
from couchctl.workflows.edit import changed_keys

if TYPE_CHECKING:
    from couchctl.client import CouchClient

__all__ = ["Leaf", "ResolveResult", "iter_conflicted", "leaves", "resolve"]


async def iter_conflicted(couch: CouchClient, db: str) -> AsyncIterator[dict[str, Any]]:
    """`{"id", "rev", "conflicts"}` for each document with conflicting leaves, in id order."""
    async for row in couch.iter_all_docs(db, include_docs=True, conflicts=True):
        doc = row.get("doc") if isinstance(row, dict) else None
        if isinstance(doc, dict) and doc.get("_conflicts"):
            yield {"id": doc.get("_id"), "rev": doc.get("_rev"), "conflicts": doc["_conflicts"]}


@dataclass
class Leaf:
    rev: str
    winner: bool
    deleted: bool
    differs: list[str]  # top-level keys whose values differ from the winner's
    doc: dict[str, Any] = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "rev": self.rev,
            "winner": self.winner,
            "deleted": self.deleted,
            "differs": self.differs,
        }


async def leaves(couch: CouchClient, db: str, doc_id: str) -> list[Leaf]:
    """Every leaf revision of a document, the winner first."""
    winner: dict[str, Any] = await couch.doc_get(db, doc_id)
    answer = await couch.doc_get(db, doc_id, open_revs="all")
    if not isinstance(answer, list):
        raise ProtocolError(f"open_revs=all of {doc_id!r} did not answer a list")
    found = [entry["ok"] for entry in answer if isinstance(entry, dict) and "ok" in entry]
    found.sort(key=lambda doc: (doc.get("_rev") != winner.get("_rev"), _rev_order(doc)))
    return [
        Leaf(
            rev=str(doc.get("_rev")),
            winner=doc.get("_rev") == winner.get("_rev"),
            deleted=bool(doc.get("_deleted")),
            differs=changed_keys(winner, doc),
            doc=doc,
        )
        for doc in found
    ]


def _rev_order(doc: Mapping[str, Any]) -> tuple[int, str]:
    rev = str(doc.get("_rev", "0-"))
    number, _, digest = rev.partition("-")
    return (-int(number) if number.isdigit() else 0, digest)


@dataclass
class ResolveResult:
    kept: str  # the revision that now wins
    deleted: list[str]
    remaining: list[str]  # _conflicts left afterwards (empty when resolved)
    merged: bool = False


async def resolve(
    couch: CouchClient,
    db: str,
    doc_id: str,
    *,
    keep: str | None = None,
    merged: Mapping[str, Any] | None = None,
) -> ResolveResult:
    """Keep one leaf (`keep`) or write `merged` on the winning branch, then delete
    every other leaf in one `_bulk_docs`; check with `conflicts=true` afterwards.

    A `keep` that is not a live leaf is refused (InvalidArgument) before any write.
    """
    if (keep is None) == (merged is None):
        raise InvalidArgument("give either a revision to keep or a merged document")
    # On a cluster, write to and read from every copy (`w`/`r` = n): a copy that has
    # not caught up yet would show leaves that are already deleted.
    copies = (await couch.db_info(db)).get("cluster", {}).get("n")
    current: dict[str, Any] = await couch.doc_get(db, doc_id, conflicts=True, r=copies)
    winner = str(current["_rev"])
    live = [winner, *[str(rev) for rev in current.get("_conflicts", [])]]
    if keep is not None and keep not in live:
        raise InvalidArgument(
            f"{keep} is not a live leaf revision of {doc_id} (leaves: {', '.join(live)})"
        )
    kept = keep if keep is not None else winner
    if merged is not None:
        body = {**merged, "_id": doc_id, "_rev": winner}
        answer = await couch.doc_create_or_update(db, doc_id, body)
        kept = str(answer["rev"])
    losers = [rev for rev in live if rev not in (keep, winner if merged is not None else None)]
    if losers:
        results = await couch.db_bulk_docs(
            db, [{"_id": doc_id, "_rev": rev, "_deleted": True} for rev in losers], w=copies
        )
        failed = [r for r in results if isinstance(r, dict) and "error" in r]
        if failed:
            first = failed[0]
            raise CouchError(
                f"could not delete revision {first.get('rev', '?')} of {doc_id}: "
                f"{first.get('reason') or first.get('error')}"
            )
    after = await _settled(couch, db, doc_id, copies)
    return ResolveResult(
        kept=str(after.get("_rev", kept)),
        deleted=losers,
        remaining=[str(rev) for rev in after.get("_conflicts", [])],
        merged=merged is not None,
    )


async def _settled(couch: CouchClient, db: str, doc_id: str, copies: int | None) -> dict[str, Any]:
    """The document with `conflicts=true` once the deletions reached the copies read
    (eventual consistency: a few seconds at most), or as it is after that."""
    import anyio

    after: dict[str, Any] = {}
    for attempt in range(10):
        after = await couch.doc_get(db, doc_id, conflicts=True, r=copies)
        if not after.get("_conflicts"):
            break
        await anyio.sleep(0.1 * (attempt + 1))
    return after
