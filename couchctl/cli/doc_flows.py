"""doc edit, doc conflicts and doc resolve: thin commands over couchctl.workflows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from couchctl.cli._exit import ExitCode
from couchctl.cli._options import DbArg, DocIdArg, json_object_argument, output_options
from couchctl.cli._run import checked, fail, interactive, run
from couchctl.render import Mode

if TYPE_CHECKING:
    from couchctl.client import CouchClient
    from couchctl.render import Output

app = typer.Typer(help="Documents: edit, conflicts, resolve.", no_args_is_help=True)

# Rows of `doc conflicts DB` shown in a table; --jsonl gives every one.
TABLE_LIMIT = 100


@app.command("edit")
@output_options()
def edit(
    ctx: typer.Context,
    db: DbArg,
    doc_id: DocIdArg,
    create: Annotated[
        bool, typer.Option("--create", help='A missing document starts as {"_id": ID}.')
    ] = False,
    mode: Mode = "human",
) -> None:
    """Edit a document in $VISUAL / $EDITOR (else vi) and save it if it changed.

    The pretty JSON goes to a 0600 temporary file, removed once saved. Invalid
    JSON reopens the editor on a terminal; elsewhere it exits 2 and keeps the
    file. If the document changed on the server meanwhile (409), nothing is
    overwritten: on a terminal the changes are shown and the editor reopens on
    the new revision with your edit applied; elsewhere it exits 5 keeping the file.

    Example: couchctl doc edit mydb doc-1 --create
    """

    async def op(couch: CouchClient, out: Output) -> int:
        from couchctl.workflows.edit import (
            EditAbandoned,
            EditConflict,
            EditInvalid,
            edit_document,
        )

        try:
            result = await edit_document(
                couch, db, doc_id, create=create, interactive=interactive(out), say=out.info
            )
        except EditAbandoned as exc:
            kept = f" (your text is kept in {exc.path})" if exc.path else ""
            out.error(f"{exc}{kept}")
            if isinstance(exc, EditInvalid):
                return int(ExitCode.USAGE)
            if isinstance(exc, EditConflict):
                return int(ExitCode.CONFLICT)
            return int(ExitCode.FAILURE)
        summary = {"id": doc_id, "rev": result.rev, "saved": result.saved}
        if not result.saved:
            out.result(summary, f"document {doc_id} unchanged: nothing sent")
        else:
            verb = "created" if result.created else "saved"
            out.result(summary, f"{verb} document {doc_id} rev {result.rev}")
        return 0

    run(ctx, op, mode)


@app.command("conflicts")
@output_options(jsonl=True)
def conflicts(
    ctx: typer.Context,
    db: DbArg,
    doc_id: Annotated[
        str | None,
        typer.Argument(help="One document: list its leaf revisions.", show_default=False),
    ] = None,
    mode: Mode = "human",
) -> None:
    """List conflicted documents (id, winning rev, losing revs), or one document's leaves.

    Without ID every document is read (_all_docs with conflicts=true), streamed
    in constant memory; --jsonl gives one JSON object a line. With ID, each
    leaf revision is listed with the keys in which it differs from the winner.

    Example: couchctl doc conflicts mydb --jsonl
    """
    from couchctl.render import Column

    async def op(couch: CouchClient, out: Output) -> int:
        from couchctl.workflows.conflicts import iter_conflicted, leaves

        if doc_id is not None:
            found = await leaves(couch, db, doc_id)
            rows = [leaf.to_json() for leaf in found]
            columns = [
                Column("rev", lambda r: r["rev"]),
                Column("winner", lambda r: "yes" if r["winner"] else ""),
                Column("deleted", lambda r: "yes" if r["deleted"] else ""),
                Column("differs from the winner in", lambda r: ", ".join(r["differs"])),
            ]
            out.rows(rows, columns, whole={"id": doc_id, "leaves": rows})
            return 0
        if mode == "jsonl":
            async for row in iter_conflicted(couch, db):
                out.jsonl(row)
            out.flush()
            return 0
        shown: list[dict[str, Any]] = []
        total = 0
        async for row in iter_conflicted(couch, db):
            total += 1
            if mode == "json" or len(shown) < TABLE_LIMIT:
                shown.append(row)
        if mode == "json":
            out.json(shown)
            return 0
        columns = [
            Column("id", lambda r: r["id"]),
            Column("winning rev", lambda r: r["rev"]),
            Column("losing revs", lambda r: ", ".join(r["conflicts"])),
        ]
        out.table(shown, columns, empty=f"no conflicted documents in {db}")
        if total > len(shown):
            out.info(f"{len(shown)} of {total:,} conflicted documents: --jsonl for everything")
        return 0

    run(ctx, op, mode)


@app.command("resolve")
@output_options()
def resolve(
    ctx: typer.Context,
    db: DbArg,
    doc_id: DocIdArg,
    keep: Annotated[
        str | None,
        typer.Option("--keep", help="The leaf revision to keep.", show_default=False),
    ] = None,
    merge: Annotated[
        str | None,
        typer.Option(
            "--merge",
            help="JSON file (or - for stdin) with the merged document: it becomes the winner.",
            show_default=False,
        ),
    ] = None,
    mode: Mode = "human",
) -> None:
    """Resolve a conflict: keep one leaf (or a merged body) and delete every other leaf.

    The deletions go in one _bulk_docs; afterwards the document is read again
    with conflicts=true to confirm none is left. It names what it keeps, so it
    needs no --yes.

    Example: couchctl doc resolve mydb doc-1 --keep 2-7051cbe5c8faecd085a3fa619e6e6337
    """

    def parse() -> dict[str, Any] | None:
        if (keep is None) == (merge is None):
            fail("give exactly one of --keep REV and --merge FILE")
        if merge is None:
            return None
        return json_object_argument(merge if merge == "-" else "@" + merge, "--merge")

    merged = checked(ctx, parse)

    async def op(couch: CouchClient, out: Output) -> int:
        from couchctl.workflows.conflicts import resolve as resolve_conflict

        result = await resolve_conflict(couch, db, doc_id, keep=keep, merged=merged)
        summary = {
            "id": doc_id,
            "rev": result.kept,
            "deleted": result.deleted,
            "conflicts": result.remaining,
        }
        head = f"wrote the merged document as {result.kept}" if result.merged else f"kept {keep}"
        if not result.deleted:
            message = f"{doc_id} has no conflicting leaves: nothing deleted"
        else:
            message = f"{head}; deleted {len(result.deleted)} other leaves of {doc_id}"
        if result.remaining:
            out.result(summary, message)
            out.error(f"{doc_id} still has conflicts: {', '.join(result.remaining)}")
            return int(ExitCode.FAILURE)
        out.result(summary, message + "; no conflicts left")
        return 0

    run(ctx, op, mode)
