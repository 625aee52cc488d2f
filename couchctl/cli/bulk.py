"""Bulk data: _bulk_docs, _bulk_get, and fast streaming load and dump."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from couchctl.cli._options import (
    DbArg,
    NoNewEditsFlag,
    WriteQuorumOpt,
    output_mode,
    output_options,
    read_text_source,
)
from couchctl.cli._run import checked, fail, interactive, run
from couchctl.render import Mode

if TYPE_CHECKING:
    from collections.abc import Callable

    from couchctl.bulk import LoadJob, LoadSummary, RejectLog
    from couchctl.client import CouchClient
    from couchctl.render import Output

app = typer.Typer(
    help="Bulk data: _bulk_docs, _bulk_get, and fast streaming load and dump.", no_args_is_help=True
)

# Chosen by measurement (bench/README.md): 500 to 2000 documents of ~300 bytes load
# alike, 5000 is no faster and needs more memory; smaller batches retry cheaper.
DEFAULT_LOAD_BATCH = 1000
DEFAULT_DUMP_BATCH = 2000
DEFAULT_DUMP_BATCH_ATTACHMENTS = 100  # pages hold whole attachments in memory
DEFAULT_LOAD_CONCURRENCY = 8  # loads faster than 4 on CouchDB (bench/README.md)
DEFAULT_DUMP_CONCURRENCY = 1  # one resumable stream beats ranges (bench/README.md)
JOURNAL_SUFFIX = ".couchctl-journal"  # couchctl.bulk.JOURNAL_SUFFIX (not imported: start-up)
YesFlag = Annotated[
    bool,
    typer.Option(
        "--yes",
        "-y",
        help='Allow deleting documents ("_deleted": true) without asking (needed off a terminal).',
    ),
]
_SHOWN_REJECTS = 10


def _columns(*keys: str) -> list[Any]:
    """Table columns showing these members of each row (`doc` headed "document")."""
    from operator import methodcaller

    from couchctl.render import Column

    return [Column("document" if k == "doc" else k, methodcaller("get", k)) for k in keys]


@app.command("docs")
@output_options(jsonl=True)
def docs_command(
    ctx: typer.Context,
    db: DbArg,
    source: Annotated[
        str,
        typer.Argument(
            help='JSON file (`{"docs": [...]}` or an array of documents), or - for stdin.',
            metavar="FILE|-",
            show_default=False,
        ),
    ],
    no_new_edits: NoNewEditsFlag = False,
    w: WriteQuorumOpt = None,
    yes: YesFlag = False,
    mode: Mode = "human",
) -> None:
    """Create, update or delete documents in one _bulk_docs request; exit 1 if any was rejected.

    Deletions ("_deleted": true) are confirmed on a terminal; elsewhere --yes is needed.
    --json prints the server's answer, --jsonl one result ({"id", "rev"} or "error") a line.

    Example: couchctl bulk docs mydb changes.json
    """

    async def op(couch: CouchClient, out: Output) -> int:
        from couchctl.bulk import bulk_docs_request
        from couchctl.cli._options import json_argument
        from couchctl.client import InvalidArgument, validate_db_name

        validate_db_name(db)
        value = json_argument(source if source == "-" else "@" + source, "the documents")
        try:  # what would make CouchDB refuse the whole request, refused here
            docs, new_edits = bulk_docs_request(value, new_edits=False if no_new_edits else None)
        except InvalidArgument as exc:
            fail(str(exc), "nothing was sent")
        deletions = sum(1 for doc in docs if doc.get("_deleted") is True)
        if not _deletions_allowed(out, yes, deletions, db, stdin_is_data=source == "-"):
            return 1
        results = await couch.db_bulk_docs(db, docs, new_edits=new_edits, w=w)
        rejected = sum(1 for r in results if isinstance(r, dict) and "error" in r)
        if mode == "json":
            out.json(results)
        elif mode == "jsonl":
            for result in results:
                out.jsonl(result)
        elif results:
            out.table(results, _columns("id", "rev", "error", "reason"))
        else:
            out.info(
                f"sent {len(docs)} documents to {db} (new_edits=false: no per-document answer)"
            )
        if rejected:
            out.warn(f"{rejected} of {len(docs)} documents were rejected")
            return 1
        return 0

    run(ctx, op, mode)


@app.command("get")
@output_options(jsonl=True)
def get_command(
    ctx: typer.Context,
    db: DbArg,
    refs: Annotated[
        list[str] | None,
        typer.Argument(
            help="Document ids, each optionally ID@REV.", metavar="ID[@REV]...", show_default=False
        ),
    ] = None,
    ids_file: Annotated[
        str | None,
        typer.Option(
            "--ids-file",
            help="Read more ids from a file (one ID or ID@REV a line; - for stdin).",
            show_default=False,
        ),
    ] = None,
    revs: Annotated[
        bool, typer.Option("--revs", help="Include each document's _revisions.")
    ] = False,
    latest: Annotated[
        bool,
        typer.Option("--latest", help="Return the latest leaf revision instead of the given one."),
    ] = False,
    mode: Mode = "human",
) -> None:
    """Fetch many documents (or given revisions) in one _bulk_get request; exit 1 if any is missing.

    Example: couchctl bulk get mydb doc-1 doc-2@1-967a00dff5e02add41819138abb3284d --revs
    """

    async def op(couch: CouchClient, out: Output) -> int:
        from couchctl.bulk import bulk_get_rows, parse_doc_ref
        from couchctl.client import validate_db_name

        validate_db_name(db)
        wanted = [parse_doc_ref(ref) for ref in refs or []]
        if ids_file is not None:
            text, _ = read_text_source(ids_file, "--ids-file")
            wanted += [parse_doc_ref(line.strip()) for line in text.splitlines() if line.strip()]
        if not wanted:
            fail("no document ids given", "name them as arguments or with --ids-file")
        answer = await couch.db_bulk_get(db, wanted, revs=revs or None, latest=latest or None)
        results, rows = bulk_get_rows(answer)
        missing = sum(1 for row in rows if row["error"])
        if mode == "json":
            out.json(answer)
        elif mode == "jsonl":
            for result in results:
                out.jsonl(result)
            out.flush()
        else:
            # id, rev and status a row: the documents are --json's and --jsonl's.
            status = ({**row, "status": row["error"] or "ok"} for row in rows)
            out.table(status, _columns("id", "rev", "status"))
        if missing:
            out.warn(f"{missing} of {len(rows)} requested documents or revisions were not found")
            return 1
        return 0

    run(ctx, op, mode)


@app.command("load")
def load_command(
    ctx: typer.Context,
    db: DbArg,
    source: Annotated[
        str,
        typer.Argument(
            help="JSON Lines (one document a line) or a JSON array of documents; - for stdin.",
            metavar="FILE|-",
            show_default=False,
        ),
    ],
    batch_size: Annotated[
        int,
        typer.Option("--batch-size", help="Documents per _bulk_docs request.", min=1, max=100_000),
    ] = DEFAULT_LOAD_BATCH,
    concurrency: Annotated[
        int, typer.Option("--concurrency", help="Batches in flight at once.", min=1, max=64)
    ] = DEFAULT_LOAD_CONCURRENCY,
    rejects: Annotated[
        Path | None,
        typer.Option(
            "--rejects",
            help="Write rejected documents here as JSON Lines {line, id, error, reason, doc}. "
            "An existing FILE is refused unless --force or --append (implied by --resume).",
            show_default=False,
            dir_okay=False,
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing --rejects FILE.")
    ] = False,
    append: Annotated[
        bool, typer.Option("--append", help="Add to an existing --rejects FILE.")
    ] = False,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume", help="Continue an interrupted load from its journal, writing nothing twice."
        ),
    ] = False,
    restart: Annotated[
        bool,
        typer.Option(
            "--restart",
            help="Discard the journal of an interrupted load and start over "
            "(documents without _id may then be written twice).",
        ),
    ] = False,
    journal: Annotated[
        Path | None,
        typer.Option(
            "--journal",
            help=f"Journal file (default: FILE{JOURNAL_SUFFIX}; stdin needs one to be resumable).",
            show_default=False,
            dir_okay=False,
        ),
    ] = None,
    no_new_edits: Annotated[
        bool,
        typer.Option(
            "--no-new-edits",
            help="Store each document's _rev as is (new_edits=false): restores a `bulk dump` "
            "with its revision numbers. Every document needs _id and _rev.",
        ),
    ] = False,
    w: WriteQuorumOpt = None,
    yes: YesFlag = False,
    json_flag: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print a summary object on stdout: {db, written, rejected, skipped, batches, "
            "quorum_missed, elapsed, docs_per_second}.",
        ),
    ] = False,
) -> None:
    """Load documents from JSON Lines or a JSON array, in concurrent retried batches; resumable.

    The input is checked completely before anything is sent (stdin: each batch
    before it is sent). Documents without _id get an id first, in the server's
    form, so a retried or resumed batch never writes a document twice. Exit 1 if
    any document was rejected (see --rejects). Deletions ("_deleted": true) are
    confirmed on a terminal; elsewhere (and always for stdin) --yes is needed.

    Example: couchctl bulk load mydb docs.jsonl --rejects rejects.jsonl
    """
    mode = output_mode(json_flag)

    def parse() -> None:
        if resume and restart:
            fail("--resume and --restart cannot be used together")
        if force and append:
            fail("--force and --append cannot be used together")
        if rejects is not None:
            from couchctl._files import check_output

            check_output(rejects, force=force, append=append or resume)

    checked(ctx, parse)

    async def op(couch: CouchClient, out: Output) -> int:
        from couchctl.bulk import InputError, JournalError, RejectLog, plan_load, run_load
        from couchctl.client import validate_db_name

        validate_db_name(db)
        path = None if source == "-" else Path(source)
        try:
            job = plan_load(
                db,
                path,
                batch_size=batch_size,
                concurrency=concurrency,
                new_edits=not no_new_edits,
                journal=journal,
                resume=resume,
                restart=restart,
                w=w,
            )
        except InputError as exc:
            fail(f"{path}: {exc}", "nothing was sent")
        except JournalError as exc:
            fail(str(exc), exc.hint)
        for note in job.notes:
            out.info(note)
        if not _deletions_allowed(out, yes, job.deletions, db, stdin_is_data=False):
            return 1
        await couch.db_info(db)  # a missing database fails here, before any write

        log = RejectLog.to(rejects, append=append or resume, force=force, keep=_SHOWN_REJECTS)
        try:
            with out.progress(f"loading {db}", total=job.documents, unit="docs") as bar:
                summary = await run_load(
                    couch, job, reject=log, deletions=yes, progress=bar.advance
                )
        except BaseException as exc:
            if isinstance(exc, InputError):
                exc.args = (f"{source if path is not None else 'stdin'}: {exc}",)
                out.info(f"the batches before line {exc.line} were sent; nothing from there on")
            if job.journal_path is not None:
                out.info(
                    "hint: to continue, run the same command with --resume "
                    f"(journal: {job.journal_path})"
                )
            raise
        finally:
            log.close()
        summary.quorum_missed = couch.quorum_missed
        return _load_report(out, mode, job, summary, log, rejects)

    run(ctx, op, mode)


def _deletions_allowed(
    out: Output, yes: bool, deletions: int, db: str, *, stdin_is_data: bool
) -> bool:
    """Deleting documents needs --yes, or a 'y' on a terminal (exit 2 off a terminal)."""
    if not deletions or yes:
        return True
    what = f"{deletions} document{'s' if deletions != 1 else ''}"
    if stdin_is_data or not interactive(out):
        fail(
            f'refusing to delete {what} ("_deleted": true) in {db} without confirmation',
            "pass --yes to confirm",
        )
    if out.confirm(f"Delete {what} in {db}?"):
        return True
    out.info("nothing was sent")
    return False


def _load_report(
    out: Output,
    mode: Mode,
    job: LoadJob,
    summary: LoadSummary,
    log: RejectLog,
    rejects: Path | None,
) -> int:
    rejected = summary.rejected + job.previously_rejected
    for line in log.shown:
        out.warn(f"rejected: {line}")
    if rejects is None and log.more:
        out.warn(f"... and {log.more} more; use --rejects FILE to keep them all")
    if summary.conflicts_with_rev:
        out.info(
            "hint: documents with a _rev conflict on a new database; to restore a dump use --no-new-edits"
        )
    resumed = (
        f", {summary.skipped} already written before the interruption" if summary.skipped else ""
    )
    degraded = (
        f", {summary.quorum_missed} batches below the write quorum" if summary.quorum_missed else ""
    )
    out.info(
        f"loaded {job.db}: {summary.written} written, {summary.rejected} rejected{resumed}"
        f"{degraded} in {summary.elapsed:.1f} s ({summary.rate:,.0f} docs/s)"
        + (f"; rejects in {rejects}" if rejects is not None and rejected else "")
    )
    if mode == "json":
        out.json(job.result_json(summary))
    return 1 if rejected else 0


@app.command("dump")
def dump_command(
    ctx: typer.Context,
    db: DbArg,
    output: Annotated[
        str,
        typer.Option(
            "--output",
            "-o",
            help="Write to FILE (via FILE.part, renamed when complete), or - for stdout.",
            metavar="FILE|-",
        ),
    ] = "-",
    include_design: Annotated[
        bool, typer.Option("--include-design", help="Include design documents.")
    ] = False,
    attachments: Annotated[
        bool,
        typer.Option(
            "--attachments",
            help="Include attachments inline (base64). Without it, attachment stubs are left out.",
        ),
    ] = False,
    batch_size: Annotated[
        int | None,
        typer.Option(
            "--batch-size",
            help=f"Documents per _all_docs page (default: {DEFAULT_DUMP_BATCH}, "
            f"{DEFAULT_DUMP_BATCH_ATTACHMENTS} with --attachments).",
            min=1,
            max=100_000,
            show_default=False,
        ),
    ] = None,
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency",
            help="1: one streamed request (resumed after a failure); N: key ranges, N at once.",
            min=1,
            max=64,
        ),
    ] = DEFAULT_DUMP_CONCURRENCY,
    jsonl_flag: Annotated[
        bool, typer.Option("--jsonl", help="JSON Lines: the output format, always (accepted).")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing output FILE.")
    ] = False,
) -> None:
    """Write every document as JSON Lines in id order, in constant memory (restore: bulk load --no-new-edits).

    Documents keep their _rev; only each document's winning revision is written
    (not its conflicts), _local documents are not. One streamed _all_docs request
    reads them, resumed from the last id after a failure; --concurrency N fetches
    key ranges of --batch-size documents instead, N at a time, in order.

    Example: couchctl bulk dump mydb -o mydb.jsonl --attachments
    """

    def parse() -> Path | None:
        if output == "-":
            return None
        from couchctl._files import check_new_file

        check_new_file(output, force=force)
        return Path(output)

    target = checked(ctx, parse)

    async def op(couch: CouchClient, out: Output) -> int:
        from couchctl import bulk
        from couchctl._files import PartFile
        from couchctl.client import validate_db_name

        validate_db_name(db)
        info = await couch.db_info(db)
        total = info.get("doc_count") if isinstance(info, dict) else None
        options = bulk.DumpOptions(
            include_design=include_design,
            attachments=attachments,
            batch_size=batch_size
            or (DEFAULT_DUMP_BATCH_ATTACHMENTS if attachments else DEFAULT_DUMP_BATCH),
            concurrency=concurrency,
        )
        with contextlib.ExitStack() as stack:
            write: Callable[[str], object] = out.jsonl_text
            if target is not None:
                write = stack.enter_context(PartFile(target, force=force).open("w")).write
            bar = stack.enter_context(out.progress(f"dumping {db}", total=total, unit="docs"))

            def emit(text: str, count: int) -> None:
                write(text)
                bar.advance(count)

            summary = await bulk.dump(couch, db, options, emit)
        if summary.stripped_attachments:
            out.warn(
                f"{summary.stripped_attachments} documents have attachments that were left out; "
                "use --attachments to include them"
            )
        where = f" to {target}" if target is not None else ""
        out.info(
            f"dumped {summary.documents} documents from {db}{where} in {summary.elapsed:.1f} s "
            f"({summary.rate:,.0f} docs/s)"
        )
        return 0

    run(ctx, op)
