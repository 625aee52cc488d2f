"""The operations of the read-only commands that the fast path (`_fast`) runs too.

`db info`, `db exists`, `db list`, `server info` and `doc get` build their operation here, and
both their Typer command and the fast path hand it to `_execute.execute`: one
body, so the two print the same bytes and exit alike. Typer-free, and cheap to
import (the client and rich load only when an operation runs or draws).

    db_info(db)                     GET /{db}: its fields, or the JSON with --json
    db_exists(db, mode)             HEAD /{db}: exit 0 if it exists, 4 if not
    db_list(mode)                   every database with its counts and sizes
    server_info()                   GET /: the server's welcome
    doc_get(db, doc_id, ...)        a document, its conflicts said on stderr
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from couchctl.cli._execute import CoreOperation
    from couchctl.client import CoreClient
    from couchctl.render import Mode, Output

__all__ = [
    "command_line",
    "conflict_note",
    "db_exists",
    "db_info",
    "db_list",
    "doc_get",
    "server_info",
    "size_of",
]


# -- db info, db list --------------------------------------------------------------------------


def size_of(sizes: Any, name: str) -> str | None:
    """One size of a database (`sizes.active`, `.file`, ...) for people, if the server sent it."""
    from couchctl.render import format_size

    if isinstance(sizes, dict) and isinstance(sizes.get(name), int | float):
        return format_size(sizes[name])
    return None


def _info_rows(info: dict[str, Any]) -> list[tuple[str, Any]]:
    """The fields of GET /{db} worth reading, skipping those the server did not send."""
    sizes = info.get("sizes")
    props = info.get("props")
    cluster = info.get("cluster")
    candidates: list[tuple[str, Any]] = [
        ("name", info.get("db_name")),
        ("documents", info.get("doc_count")),
        ("deleted documents", info.get("doc_del_count")),
        ("size (active)", size_of(sizes, "active")),
        ("size (external)", size_of(sizes, "external")),
        ("size (file)", size_of(sizes, "file")),
        ("update_seq", info.get("update_seq")),
        ("purge_seq", info.get("purge_seq")),
        ("compact running", info.get("compact_running")),
        (
            "partitioned",
            bool(props.get("partitioned")) if isinstance(props, dict) else None,
        ),
        ("shards (q)", cluster.get("q") if isinstance(cluster, dict) else None),
        ("replicas (n)", cluster.get("n") if isinstance(cluster, dict) else None),
        ("disk format", info.get("disk_format_version")),
    ]
    return [(name, value) for name, value in candidates if value is not None]


def db_info(db: str) -> CoreOperation:
    """`db info DB`: the database's counts, sizes, sequence and cluster settings."""

    async def op(couch: CoreClient, out: Output) -> None:
        result = await couch.db_info(db)
        out.fields(_info_rows(result), whole=result)

    return op


def db_exists(db: str, mode: Mode) -> CoreOperation:
    """`db exists DB`: exit 0 if the database exists, 4 if not; with --json
    {"db": NAME, "exists": true|false}."""

    async def op(couch: CoreClient, out: Output) -> int:
        from couchctl.cli._exit import ExitCode

        found = await couch.db_exists(db)
        if mode != "human":
            out.json({"db": db, "exists": found})
        elif found:
            out.text(f"database {db} exists")
        else:
            out.info(f"database {db} does not exist")
        return 0 if found else int(ExitCode.NOT_FOUND)

    return op


def _entry_info(entry: dict[str, Any]) -> dict[str, Any]:
    info = entry.get("info")
    return info if isinstance(info, dict) else {}


def db_list(mode: Mode) -> CoreOperation:
    """`db list`: every database (`/_dbs_info` entries; people see only those that
    still exist)."""

    async def op(couch: CoreClient, out: Output) -> None:
        from couchctl.render import Column

        entries = await couch.databases_info()
        if mode == "human":
            entries = [entry for entry in entries if "info" in entry]
        columns = [
            Column("name", lambda entry: entry.get("key")),
            Column("docs", lambda entry: _entry_info(entry).get("doc_count"), "right"),
            Column("deleted", lambda entry: _entry_info(entry).get("doc_del_count"), "right"),
            Column(
                "active", lambda entry: size_of(_entry_info(entry).get("sizes"), "active"), "right"
            ),
            Column("file", lambda entry: size_of(_entry_info(entry).get("sizes"), "file"), "right"),
        ]
        out.rows(entries, columns, whole=None, empty="no databases")

    return op


# -- server info -------------------------------------------------------------------------------


def _flat(value: Any) -> Any:
    """A value for one table cell: lists joined, objects as name=value pairs."""
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return ", ".join(value)
    if isinstance(value, dict):
        return ", ".join(f"{key}={_flat(item)}" for key, item in value.items())
    return value


def server_info() -> CoreOperation:
    """`server info`: the server's welcome (version, git sha, uuid, vendor, features)."""

    async def op(couch: CoreClient, out: Output) -> None:
        result = await couch.server_info()
        out.fields([(name, _flat(value)) for name, value in result.items()], whole=result)

    return op


# -- doc get -----------------------------------------------------------------------------------


def command_line(*words: str) -> str:
    """A couchctl command line a user can paste (names quoted for the shell)."""
    import shlex

    return "couchctl " + " ".join(shlex.quote(word) for word in words)


def conflict_note(db: str, doc_id: str, winner: str, losers: list[str]) -> str:
    """What to say about a document that has conflicting leaf revisions."""
    count = len(losers)
    leaves = "revision" if count == 1 else "revisions"
    return (
        f"document {doc_id} has {count} conflicting {leaves} beside the winner {winner}: "
        f"{', '.join(losers)}; list them with {command_line('doc', 'conflicts', db, doc_id)}, "
        f"keep one with {command_line('doc', 'resolve', db, doc_id, '--keep', 'REV')}"
    )


def doc_get(db: str, doc_id: str, *, show_conflicts: bool = False, **params: Any) -> CoreOperation:
    """`doc get DB ID`: `params` go to `CouchClient.doc_get` as they are (the command
    asks conflicts=true unless --open-revs is given). Conflicting revisions are said
    on stderr; `_conflicts` stays in the document only with `show_conflicts`."""

    async def op(couch: CoreClient, out: Output) -> None:
        doc = await couch.doc_get(db, doc_id, **params)
        if isinstance(doc, dict) and isinstance(doc.get("_conflicts"), list):
            losers = [str(leaf) for leaf in doc["_conflicts"]]
            if losers:
                out.warn(conflict_note(db, doc_id, str(doc.get("_rev")), losers))
            if not show_conflicts:
                doc = {key: value for key, value in doc.items() if key != "_conflicts"}
        out.document(doc)

    return op
