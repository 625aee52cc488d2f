"""Attachments: upload, download (streamed), info, delete, list."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated, Any

import typer

from couchctl.cli._exit import ExitCode
from couchctl.cli._options import DbArg, DocIdArg, YesFlag, output_options
from couchctl.cli._run import Missing, checked, fail, interactive, run
from couchctl.render import Mode

if TYPE_CHECKING:
    from couchctl.client import AttachmentInfo, CouchClient
    from couchctl.render import Output

app = typer.Typer(
    help="Attachments: upload, download (streamed), info, delete, list.", no_args_is_help=True
)

WRITE_SIZE = 1024 * 1024

NameArg = Annotated[
    str, typer.Argument(help="Attachment name (may contain /).", show_default=False)
]
RevOpt = Annotated[
    str | None,
    typer.Option("--rev", help="Document revision (default: the current one).", show_default=False),
]
ReadRevOpt = Annotated[
    str | None, typer.Option("--rev", help="Document revision.", show_default=False)
]


async def _current_rev(couch: CouchClient, db: str, doc_id: str, rev: str | None) -> str | None:
    return rev if rev is not None else await couch.doc_exists(db, doc_id)


@app.command("upload")
@output_options()
def upload(
    ctx: typer.Context,
    db: DbArg,
    doc_id: DocIdArg,
    file: Annotated[
        str,
        typer.Argument(
            help="File to upload, or - for stdin (then --name is required).",
            metavar="FILE|-",
            show_default=False,
        ),
    ],
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            help="Attachment name (default: the file's name; required with -).",
            show_default=False,
        ),
    ] = None,
    content_type: Annotated[
        str | None,
        typer.Option(
            "--content-type",
            help="Media type (default: guessed from the file name; "
            "application/octet-stream for stdin).",
            show_default=False,
        ),
    ] = None,
    rev: RevOpt = None,
    yes: YesFlag = False,
    mode: Mode = "human",
) -> None:
    """Upload a file as an attachment, streamed (creates the document if missing).

    Replacing an attachment of another size or content asks on a terminal and needs
    --yes elsewhere; re-uploading the same bytes does not. From stdin (-), replacing
    always needs --yes. A large upload with a --rev that is not the current one
    fails (exit 5) before any byte is sent.

    Example: couchctl att upload mydb doc-1 photo.png --content-type image/png
    Example: pg_dump mydb | couchctl att upload backups night-1 - --name dump.sql
    """
    from_stdin = file == "-"

    def parse() -> tuple[str, str, int | None]:
        if from_stdin:
            if not name:
                fail("--name is required when the attachment comes from stdin (-)")
            return name, content_type or "application/octet-stream", None
        if not os.path.exists(file):
            fail(f"file not found: {file}")
        if not os.path.isfile(file):
            fail(f"not a regular file: {file}")
        if not os.access(file, os.R_OK):
            fail(f"permission denied: {file}")
        from couchctl.client import guess_content_type

        att_name = name or os.path.basename(file)
        return att_name, content_type or guess_content_type(file), os.path.getsize(file)

    att_name, media_type, size = checked(ctx, parse)

    async def op(couch: CouchClient, out: Output) -> int | None:
        from couchctl.render import format_size

        target = await _current_rev(couch, db, doc_id, rev)
        existing = None
        if target is not None:
            existing = await couch.attachment_exists(db, doc_id, att_name, rev=target)
        where = (db, doc_id, att_name, target)
        if existing is not None and not yes and size is None:
            fail(
                f"refusing to replace attachment {att_name} of {doc_id} from stdin "
                "without confirmation",
                "pass --yes to confirm",
            )
        if (
            existing is not None
            and not yes
            and size is not None
            and not await _same_content(couch, where, existing, file, size)
        ):
            if not interactive(out):
                fail(
                    f"refusing to replace attachment {att_name} of {doc_id} "
                    "(other content) without confirmation",
                    "pass --yes to confirm",
                )
            shown = format_size(existing.length) if existing.length is not None else "?"
            question = (
                f"Replace attachment {att_name} of {doc_id} ({shown}) "
                f"with {file} ({format_size(size)})?"
            )
            if not out.confirm(question):
                out.info(f"not uploaded: attachment {att_name} of {doc_id} is unchanged")
                return int(ExitCode.FAILURE)
        sent = [0]
        with out.progress(f"uploading {att_name}", total=size) as bar:

            def advance(amount: int) -> None:
                sent[0] += amount
                bar.advance(amount)

            result = await couch.attachment_upload(
                db,
                doc_id,
                attachment_id=att_name,
                content_type=media_type,
                data=_stdin_source() if from_stdin else file,
                rev=target,
                progress=advance,
            )
        created = " (new document)" if target is None else ""
        shown = format_size(size if size is not None else sent[0])
        out.result(
            result,
            f"uploaded {att_name} ({shown}, {media_type}) to {doc_id}{created} "
            f"rev {result.get('rev')}",
        )
        return None

    run(ctx, op, mode)


def _stdin_source() -> Any:
    """A one-shot async byte stream of stdin, read in a worker thread."""
    import sys

    async def read() -> Any:
        import anyio

        stream = sys.stdin.buffer
        while chunk := await anyio.to_thread.run_sync(stream.read, WRITE_SIZE):
            yield chunk

    return read


async def _same_content(
    couch: CouchClient,
    where: tuple[str, str, str, str | None],
    existing: AttachmentInfo,
    file: str,
    size: int,
) -> bool:
    """Whether the attachment already holds the file's bytes: same length, and the
    same MD5 (CouchDB's digest covers the gzip bytes of a compressible type, so
    then the attachment is read and compared)."""
    import base64
    import hashlib

    import anyio

    if existing.length is not None and existing.length != size:
        return False
    mine = await anyio.to_thread.run_sync(_file_md5, file)
    if existing.digest == "md5-" + base64.b64encode(mine).decode("ascii"):
        return True
    db, doc_id, name, rev = where
    theirs = hashlib.md5(usedforsecurity=False)
    length = 0
    async with couch.attachment_get(db, doc_id, name, rev) as download:
        async for chunk in download:
            length += len(chunk)
            if length > size:
                return False
            theirs.update(chunk)
    return length == size and theirs.digest() == mine


def _file_md5(file: str) -> bytes:
    import hashlib

    md5 = hashlib.md5(usedforsecurity=False)
    with open(file, "rb") as handle:
        while chunk := handle.read(WRITE_SIZE):
            md5.update(chunk)
    return md5.digest()


def _default_output(name: str) -> str:
    base = name.rstrip("/").rsplit("/", 1)[-1]
    if not base or base in (".", ".."):
        fail(f"cannot derive a file name from {name!r}", "give one with -o FILE")
    return base


@app.command("download")
@output_options()
def download(
    ctx: typer.Context,
    db: DbArg,
    doc_id: DocIdArg,
    name: NameArg,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="File to write, or - for stdout (default: the attachment's base name).",
            show_default=False,
        ),
    ] = None,
    rev: ReadRevOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Continue FILE.part with a Range request (kept if interrupted); "
            "the MD5 check covers the whole file.",
        ),
    ] = False,
    mode: Mode = "human",
) -> None:
    """Download an attachment, streamed, MD5 and length checked.

    Written to FILE.part and renamed to FILE only when complete and verified.
    With --resume, an existing FILE.part is continued from its end (the whole
    download starts over, said on stderr, when the server sends everything or
    the attachment changed), and an interrupted download keeps its FILE.part.

    Example: couchctl att download mydb doc-1 photo.png -o /tmp/photo.png
    """

    def parse() -> str:
        if output == "-":
            if resume:
                fail("--resume needs a file to continue (-o FILE), not stdout")
            if mode == "json":
                fail("-o - writes the attachment itself to stdout: drop --json")
            return "-"
        target = output if output is not None else _default_output(name)
        if os.path.isdir(target):
            target = os.path.join(target, _default_output(name))
        if os.path.lexists(target) and not force:
            fail(f"{target} already exists", "use --force to overwrite it")
        parent = os.path.dirname(os.path.abspath(target))
        if not os.path.isdir(parent):
            fail(f"no such directory: {parent}")
        from couchctl._files import check_new_file

        # and a FILE.part it did not create, unless asked to continue it
        check_new_file(target, force=force, part=not resume)
        return target

    target = checked(ctx, parse)

    async def op(couch: CouchClient, out: Output) -> None:
        from couchctl.render import format_size

        if target == "-":
            async with couch.attachment_get(db, doc_id, name, rev, threaded=True) as download:
                await download.save(out.raw)
            return
        if resume:
            from couchctl.workflows.download import download_resumable

            with out.progress(f"downloading {name}") as bar:
                result = await download_resumable(
                    couch,
                    db,
                    doc_id,
                    name,
                    rev,
                    target,
                    force=force,
                    say=out.info,
                    advance=bar.advance,
                )
        else:
            result = await _download_to_file(couch, out, db, doc_id, name, rev, target, force)
        out.result(
            result,
            f"downloaded {name} to {target} ({format_size(result['length'])}, "
            + (f"resumed at byte {result['resumed_from']}, " if result.get("resumed_from") else "")
            + f"{'digest verified' if result['digest'] else 'no digest to verify'})",
        )

    run(ctx, op, mode)


async def _download_to_file(
    couch: CouchClient,
    out: Output,
    db: str,
    doc_id: str,
    name: str,
    rev: str | None,
    target: str,
    force: bool,
) -> dict[str, Any]:
    """Stream into TARGET.part (created exclusively), renamed only when complete and
    verified; only the .part this download created is removed on failure."""
    from couchctl._files import PartFile, SyncedWrites

    async with couch.attachment_get(db, doc_id, name, rev, threaded=True) as download:
        with (
            out.progress(f"downloading {name}", total=download.transfer_length) as bar,
            PartFile(target, force=force).open("wb") as raw,
        ):
            # read, hashed and written in one worker thread, a network read at a time
            await download.save(SyncedWrites(raw).write, bar.advance)
        return {
            "file": target,
            "name": name,
            "length": download.decoded,
            "content_type": download.content_type,
            "digest": download.digest,
            "encoding": download.encoding,
        }


@app.command("info")
@output_options()
def info(
    ctx: typer.Context,
    db: DbArg,
    doc_id: DocIdArg,
    name: NameArg,
    rev: ReadRevOpt = None,
    mode: Mode = "human",
) -> None:
    """Show an attachment's length, content type and digest (HEAD); exit 4 if missing.

    --json prints {"db", "id", "name", "content_type", "length", "digest", "etag",
    "encoding"}: digest is md5-<base64> of the bytes as stored (gzip for text).

    Example: couchctl att info mydb doc-1 photo.png
    """

    async def op(couch: CouchClient, out: Output) -> None:
        found = await couch.attachment_exists(db, doc_id, name, rev)
        if found is None:
            raise Missing(f"attachment {name} of {doc_id} in {db}")
        from couchctl.render import format_size

        length = "" if found.length is None else f"{found.length} ({format_size(found.length)})"
        fields = [
            ("name", name),
            ("content type", found.content_type or ""),
            ("length", length),
            ("digest", found.digest or ""),
            ("encoding", found.encoding or "identity"),
        ]
        out.fields(fields, whole={"db": db, "id": doc_id, "name": name, **found.to_json()})

    run(ctx, op, mode)


@app.command("delete")
@output_options()
def delete(
    ctx: typer.Context,
    db: DbArg,
    doc_id: DocIdArg,
    name: NameArg,
    rev: RevOpt = None,
    mode: Mode = "human",
) -> None:
    """Delete an attachment (from the document's current revision unless --rev).

    Example: couchctl att delete mydb doc-1 photo.png
    """

    async def op(couch: CouchClient, out: Output) -> None:
        target = await _current_rev(couch, db, doc_id, rev)
        if target is None:
            raise Missing(f"document {doc_id} in {db}")
        result = await couch.attachment_delete(db, doc_id, name, target)
        out.result(result, f"deleted attachment {name} of {doc_id} rev {result.get('rev')}")

    run(ctx, op, mode)


@app.command("list")
@output_options(jsonl=True)
def list_(
    ctx: typer.Context,
    db: DbArg,
    doc_id: DocIdArg,
    rev: ReadRevOpt = None,
    mode: Mode = "human",
) -> None:
    """List a document's attachments: name, content type, size, digest.

    --json prints the document's _attachments object; --jsonl one
    {"name", ...stub} object a line.

    Example: couchctl att list mydb doc-1
    """

    async def op(couch: CouchClient, out: Output) -> None:
        from couchctl.render import Column, format_size

        doc = await couch.doc_get(db, doc_id, rev=rev)
        stubs = doc.get("_attachments") or {} if isinstance(doc, dict) else {}
        rows = [{"name": att_name, **stub} for att_name, stub in stubs.items()]
        out.rows(
            rows,
            [
                Column("name", lambda r: r["name"]),
                Column("content type", lambda r: r.get("content_type")),
                Column("size", lambda r: format_size(r.get("length")), justify="right"),
                Column("digest", lambda r: r.get("digest")),
            ],
            whole=stubs,
            empty=f"{doc_id} has no attachments",
        )

    run(ctx, op, mode)
