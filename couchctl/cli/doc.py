"""Documents: get, put, create, delete, copy, exists."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from couchctl.cli._exit import ExitCode
from couchctl.cli._options import (
    DbArg,
    DocIdArg,
    NoNewEditsFlag,
    ReadQuorumOpt,
    WriteQuorumOpt,
    YesFlag,
    json_argument,
    json_object_argument,
    output_options,
)
from couchctl.cli._reads import command_line
from couchctl.cli._reads import doc_get as doc_get_op
from couchctl.cli._run import Missing, checked, confirm_or_exit, fail, interactive, run
from couchctl.render import Mode

if TYPE_CHECKING:
    from couchctl.client import CouchClient
    from couchctl.render import Output

app = typer.Typer(help="Documents: get, put, create, delete, copy, exists.", no_args_is_help=True)

SourceArg = Annotated[
    str | None,
    typer.Argument(
        help="JSON file with the document, or - for stdin (or use --data).",
        metavar="FILE|-",
        show_default=False,
    ),
]
DataOpt = Annotated[
    str | None,
    typer.Option(
        "--data", "-d", help="The document as JSON (a literal, @file or -).", show_default=False
    ),
]
BatchOpt = Annotated[
    bool,
    typer.Option("--batch", help="Batch mode (batch=ok): faster, 202 without a revision."),
]


def read_document(source: str | None, data: str | None) -> dict[str, Any]:
    """The document from FILE, `-` (stdin) or --data; it must be a JSON object."""
    if source is not None and data is not None:
        fail("give the document either as FILE (or -) or with --data, not both")
    if data is not None:
        return json_object_argument(data, "--data")
    if source is None:
        fail("no document given", "pass a JSON file, - to read stdin, or --data '{...}'")
    return json_object_argument(source if source == "-" else "@" + source, "the document")


def _rev_key(rev: str) -> tuple[int, str]:
    number, _, digest = rev.partition("-")
    return (int(number), digest) if number.isdigit() else (0, rev)


def exists_hint(db: str, doc_id: str) -> str:
    return (
        f"document {doc_id} already exists: pass --rev with its current revision "
        f"({command_line('doc', 'exists', db, doc_id)} prints it), "
        f"or change it with {command_line('doc', 'edit', db, doc_id)}"
    )


def _rev_of(result: Any) -> str:
    rev = result.get("rev") if isinstance(result, dict) else None
    return str(rev) if rev else "(no revision yet: batch mode)"


@app.command("get")
@output_options()
def get(
    ctx: typer.Context,
    db: DbArg,
    doc_id: DocIdArg,
    rev: Annotated[
        str | None, typer.Option("--rev", help="Get this revision.", show_default=False)
    ] = None,
    revs: Annotated[bool, typer.Option("--revs", help="Include _revisions (the history).")] = False,
    revs_info: Annotated[
        bool, typer.Option("--revs-info", help="Include _revs_info (each revision's status).")
    ] = False,
    conflicts: Annotated[
        bool,
        typer.Option(
            "--conflicts",
            help="Include _conflicts (conflicting leaves) in the output. Without it, "
            "conflicts are still asked for and said on stderr, not printed.",
        ),
    ] = False,
    deleted_conflicts: Annotated[
        bool, typer.Option("--deleted-conflicts", help="Include _deleted_conflicts.")
    ] = False,
    open_revs: Annotated[
        str | None,
        typer.Option(
            "--open-revs",
            help='"all", or a JSON array of revisions: list each as {"ok": doc} or {"missing": rev}.',
            show_default=False,
        ),
    ] = None,
    latest: Annotated[
        bool, typer.Option("--latest", help="With --rev/--open-revs: the latest leaf revisions.")
    ] = False,
    local_seq: Annotated[bool, typer.Option("--local-seq", help="Include _local_seq.")] = False,
    meta: Annotated[
        bool, typer.Option("--meta", help="Include _conflicts, _deleted_conflicts and _revs_info.")
    ] = False,
    attachments: Annotated[
        bool, typer.Option("--attachments", help="Include attachment data (base64).")
    ] = False,
    r: ReadQuorumOpt = None,
    att_encoding_info: Annotated[
        bool,
        typer.Option("--att-encoding-info", help="Include the encoding of compressed attachments."),
    ] = False,
    atts_since: Annotated[
        str | None,
        typer.Option(
            "--atts-since",
            help="With --attachments: only attachments newer than these revisions (JSON array).",
            show_default=False,
        ),
    ] = None,
    mode: Mode = "human",
) -> None:
    """Get a document, highlighted (or as the server's JSON with --json).

    A document with conflicting revisions is said on stderr, with the losing
    revisions and the command that resolves them (conflicts=true is always asked;
    _conflicts is printed only with --conflicts or --meta).

    Example: couchctl doc get mydb doc-1 --revs-info
    """

    def parse() -> tuple[Any, Any]:  # checked by the client's rules, before any request
        from couchctl.client import InvalidArgument, check_revisions

        parsed_open: Any = None
        parsed_since: Any = None
        try:
            if open_revs is not None:
                parsed_open = (
                    "all" if open_revs == "all" else json_argument(open_revs, "--open-revs")
                )
                check_revisions(parsed_open, "--open-revs", allow_all=True)
            if atts_since is not None:
                parsed_since = json_argument(atts_since, "--atts-since")
                check_revisions(parsed_since, "--atts-since")
        except InvalidArgument as exc:
            fail(str(exc))
        return parsed_open, parsed_since

    parsed_open, parsed_since = checked(ctx, parse)

    def flag(value: bool) -> bool | None:
        return True if value else None

    operation = doc_get_op(
        db,
        doc_id,
        show_conflicts=conflicts or meta,
        attachments=flag(attachments),
        r=r,
        att_encoding_info=flag(att_encoding_info),
        attributes_since=parsed_since,
        conflicts=True if parsed_open is None else flag(conflicts),
        deleted_conflicts=flag(deleted_conflicts),
        latest=flag(latest),
        local_seq=flag(local_seq),
        meta=flag(meta),
        open_revs=parsed_open,
        rev=rev,
        revs=flag(revs),
        revs_info=flag(revs_info),
    )
    run(ctx, operation, mode)


@app.command("put")
@output_options()
def put(
    ctx: typer.Context,
    db: DbArg,
    doc_id: DocIdArg,
    source: SourceArg = None,
    data: DataOpt = None,
    rev: Annotated[
        str | None,
        typer.Option(
            "--rev", help="The current revision (or _rev in the document).", show_default=False
        ),
    ] = None,
    batch: BatchOpt = False,
    no_new_edits: NoNewEditsFlag = False,
    attach: Annotated[
        list[str] | None,
        typer.Option(
            "--attach",
            help="Attach this file (repeatable); sends multipart/related, streamed.",
            show_default=False,
        ),
    ] = None,
    w: WriteQuorumOpt = None,
    yes: YesFlag = False,
    mode: Mode = "human",
) -> None:
    """Create or update a document from a JSON file, stdin or --data.

    A body with "_deleted": true deletes the document: it asks on a terminal and
    needs --yes elsewhere.

    Example: couchctl doc put mydb doc-1 doc.json --attach photo.png
    """

    def parse() -> tuple[dict[str, Any], list[Any]]:
        doc = read_document(source, data)
        files: list[Any] = []
        if attach:
            from couchctl.client import file_attachment

            for path in attach:
                try:
                    files.append(file_attachment(path))
                except FileNotFoundError:
                    fail(f"--attach: file not found: {path}")
                except IsADirectoryError:
                    fail(f"--attach: is a directory: {path}")
                except PermissionError:
                    fail(f"--attach: permission denied: {path}")
        return doc, files

    doc, files = checked(ctx, parse)
    if doc.get("_deleted") is True:
        confirm_or_exit(
            ctx,
            yes,
            question=f"Delete document {doc_id} in {db} (the body has _deleted: true)?",
            action=f"delete document {doc_id} (_deleted: true)",
            declined=f"not saved: document {doc_id} in {db} is unchanged",
        )

    async def op(couch: CouchClient, out: Output) -> None:
        result = await couch.doc_create_or_update(
            db,
            doc_id,
            doc,
            rev=rev,
            batch=batch,
            w=w,
            new_edits=False if no_new_edits else None,
            attachments=files or None,
        )
        if isinstance(result, dict) and "id" in result:
            message = f"saved document {result['id']} rev {_rev_of(result)}"
        else:  # new_edits=false answers without a revision on some servers
            message = f"saved document {doc_id}"
        out.result(result, message)

    sent_rev = rev is not None or doc.get("_rev") is not None
    run(ctx, op, mode, conflict_hint=None if sent_rev else exists_hint(db, doc_id))


@app.command("create")
@output_options()
def create(
    ctx: typer.Context,
    db: DbArg,
    source: SourceArg = None,
    data: DataOpt = None,
    batch: BatchOpt = False,
    mode: Mode = "human",
) -> None:
    """Create a document (POST): the server generates the id unless it has _id.

    Example: couchctl doc create mydb --data '{"type": "note"}'
    """
    doc = checked(ctx, lambda: read_document(source, data))

    async def op(couch: CouchClient, out: Output) -> None:
        result = await couch.db_create_doc(db, doc, batch=batch)
        out.result(result, f"created document {result.get('id')} rev {_rev_of(result)}")

    run(ctx, op, mode)


@app.command("delete")
@output_options()
def delete(
    ctx: typer.Context,
    db: DbArg,
    doc_id: DocIdArg,
    rev: Annotated[
        str | None,
        typer.Option(
            "--rev", help="The revision to delete (default: the current one).", show_default=False
        ),
    ] = None,
    batch: BatchOpt = False,
    w: WriteQuorumOpt = None,
    yes: YesFlag = False,
    mode: Mode = "human",
) -> None:
    """Delete a document (its current revision unless --rev is given).

    The revision is the safety: a stale --rev is refused by the server (exit 5).
    Deleting the winner of a conflicted document makes another leaf the winner:
    that asks on a terminal and needs --yes elsewhere.

    Example: couchctl doc delete mydb doc-1 --rev 2-7051cbe5c8faecd085a3fa619e6e6337
    """

    async def op(couch: CouchClient, out: Output) -> int | None:
        from couchctl.client import NotFound

        try:
            current = await couch.doc_get(db, doc_id, conflicts=True)
        except NotFound:
            if rev is None:
                raise Missing(f"document {doc_id} in {db}") from None
            current = {}
        winner = current.get("_rev") if isinstance(current, dict) else None
        losers = [str(leaf) for leaf in (current.get("_conflicts") or [])] if winner else []
        target = rev if rev is not None else winner
        if target is None:
            raise Missing(f"document {doc_id} in {db}")
        if losers and target == winner:
            successor = max(losers, key=_rev_key)
            out.warn(
                f"document {doc_id} is conflicted: deleting its winner {winner} makes "
                f"{successor} the winner (losing revisions: {', '.join(losers)})"
            )
            if not yes:
                if not interactive(out):
                    fail(
                        f"refusing to delete conflicted document {doc_id} without confirmation",
                        "pass --yes to confirm, or keep one leaf with "
                        + command_line("doc", "resolve", db, doc_id, "--keep", "REV"),
                    )
                if not out.confirm(f"Delete {winner} of {doc_id} and let {successor} win?"):
                    out.info(f"not deleted: document {doc_id} in {db} is unchanged")
                    return int(ExitCode.FAILURE)
        if rev is None:
            out.info(f"deleting the current revision {target}")
        result = await couch.doc_delete(db, doc_id, target, batch=batch, w=w)
        out.result(
            result, f"deleted document {doc_id} rev {target} (tombstone rev {_rev_of(result)})"
        )
        return None

    run(ctx, op, mode)


@app.command("exists")
@output_options()
def exists(
    ctx: typer.Context,
    db: DbArg,
    doc_id: DocIdArg,
    mode: Mode = "human",
) -> None:
    """Print the current revision of a document; exit 0 if it exists, 4 if not.

    --json prints {"id": ID, "rev": REV or null, "exists": true/false}.

    Example: couchctl doc exists mydb doc-1
    """

    async def op(couch: CouchClient, out: Output) -> int:
        found = await couch.doc_exists(db, doc_id)
        if mode == "json":
            out.json({"id": doc_id, "rev": found, "exists": found is not None})
        elif found is not None:
            out.text(found)
        else:
            out.info(f"document {doc_id} does not exist in {db}")
        return int(ExitCode.OK if found is not None else ExitCode.NOT_FOUND)

    run(ctx, op, mode)


@app.command("copy")
@output_options()
def copy(
    ctx: typer.Context,
    db: DbArg,
    doc_id: DocIdArg,
    destination: Annotated[str, typer.Argument(help="Id of the copy.", show_default=False)],
    rev: Annotated[
        str | None,
        typer.Option("--rev", help="Copy this revision of the source.", show_default=False),
    ] = None,
    destination_rev: Annotated[
        str | None,
        typer.Option(
            "--destination-rev",
            help="Current revision of an existing destination, to overwrite it.",
            show_default=False,
        ),
    ] = None,
    batch: BatchOpt = False,
    mode: Mode = "human",
) -> None:
    """Copy a document to another id in the same database (COPY).

    Example: couchctl doc copy mydb doc-1 doc-1-backup
    """

    def parse() -> None:  # the client's rule, before any request
        from couchctl.client import InvalidArgument, check_copy_destination

        try:
            check_copy_destination(destination)
        except InvalidArgument as exc:
            fail(str(exc))

    checked(ctx, parse)

    async def op(couch: CouchClient, out: Output) -> None:
        result = await couch.doc_copy(
            db, doc_id, destination, rev=rev, destination_rev=destination_rev, batch=batch
        )
        target_rev = result.get("rev") if isinstance(result, dict) else None
        suffix = f" rev {target_rev}" if target_rev else ""
        out.result(result, f"copied document {doc_id} to {destination}{suffix}")

    if destination_rev is None:
        hint = (
            f"document {destination} already exists: to overwrite it, pass "
            f"--destination-rev with its current revision "
            f"({command_line('doc', 'exists', db, destination)} prints it)"
        )
    else:
        hint = (
            f"--destination-rev {destination_rev} is not the current revision of "
            f"{destination}: {command_line('doc', 'exists', db, destination)} prints it"
        )
    run(ctx, op, mode, conflict_hint=hint)
