"""Bulk data: _bulk_docs, _bulk_get, and fast streaming load and dump."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from couchctl.cli._options import (
    DbArg,
    JsonFlag,
    JsonlFlag,
    NoNewEditsFlag,
    output_mode,
    read_text_source,
)
from couchctl.cli._run import checked, fail, interactive, run

if TYPE_CHECKING:
    from couchctl.bulkio import Record
    from couchctl.client import CouchClient
    from couchctl.render import Mode, Output

app = typer.Typer(
    help="Bulk data: _bulk_docs, _bulk_get, and fast streaming load and dump.", no_args_is_help=True
)

# Chosen by measurement (bench/README.md): 500 to 2000 documents of ~300 bytes
# load alike, 5000 is no faster and needs more memory; smaller batches also
# make a retry cheaper.
DEFAULT_LOAD_BATCH = 1000
DEFAULT_DUMP_BATCH = 2000
DEFAULT_DUMP_BATCH_ATTACHMENTS = 100  # pages hold whole attachments in memory
DEFAULT_CONCURRENCY = 4
JOURNAL_SUFFIX = ".couchctl-journal"
_REV_RE = re.compile(r"^\d+-[0-9a-fA-F]+$")
YesFlag = Annotated[
    bool,
    typer.Option(
        "--yes",
        "-y",
        help='Allow deleting documents ("_deleted": true) without asking (needed off a terminal).',
    ),
]
_SHOWN_REJECTS = 10


def _columns() -> list[Any]:
    from couchctl.render import Column

    return [
        Column("id", lambda r: r.get("id")),
        Column("rev", lambda r: r.get("rev")),
        Column("error", lambda r: r.get("error")),
        Column("reason", lambda r: r.get("reason")),
    ]


@app.command("docs")
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
    yes: YesFlag = False,
    json_flag: JsonFlag = False,
    jsonl_flag: JsonlFlag = False,
) -> None:
    """Create, update or delete documents in one _bulk_docs request; exit 1 if any was rejected.

    Deletions ("_deleted": true) are confirmed on a terminal; elsewhere --yes is needed.
    --json prints the server's answer, --jsonl one result ({"id", "rev"} or "error") a line.

    Example: couchctl bulk docs mydb changes.json
    """
    mode = checked(ctx, lambda: output_mode(json_flag, jsonl_flag))

    async def op(couch: CouchClient, out: Output) -> int:
        from couchctl.cli._options import json_argument
        from couchctl.client import validate_db_name

        validate_db_name(db)
        value = json_argument(source if source == "-" else "@" + source, "the documents")
        new_edits: bool | None = False if no_new_edits else None
        if isinstance(value, dict):
            if "docs" not in value:
                fail('the documents: an object must have a "docs" member')
            docs = value["docs"]
            if new_edits is None and isinstance(value.get("new_edits"), bool):
                new_edits = value["new_edits"]
        else:
            docs = value
        if not isinstance(docs, list):
            fail("the documents must be a JSON array (or an object with a docs array)")
        from couchctl.bulkio import InputError, check_document

        for index, doc in enumerate(docs):
            try:
                # What would make CouchDB refuse the whole request, refused here.
                check_document(doc, index, new_edits=new_edits is not False)
            except InputError as exc:
                fail(f"the documents: element {index}: {exc.detail}", "nothing was sent")
        deletions = sum(1 for doc in docs if doc.get("_deleted") is True)
        if not _deletions_allowed(out, yes, deletions, db, stdin_is_data=source == "-"):
            return 1
        results = await couch.db_bulk_docs(db, docs, new_edits=new_edits)
        rejected = sum(1 for r in results if isinstance(r, dict) and "error" in r)
        if mode == "json":
            out.json(results)
        elif mode == "jsonl":
            for result in results:
                out.jsonl(result)
        elif results:
            out.table(results, _columns())
        else:
            out.info(
                f"sent {len(docs)} documents to {db} (new_edits=false: no per-document answer)"
            )
        if rejected:
            out.warn(f"{rejected} of {len(docs)} documents were rejected")
            return 1
        return 0

    run(ctx, op, mode)


def _parse_ref(value: str) -> dict[str, str]:
    """`ID` or `ID@REV` (only a well-formed rev after the last @ counts as one)."""
    doc_id, at, rev = value.rpartition("@")
    if at and doc_id and _REV_RE.fullmatch(rev):
        return {"id": doc_id, "rev": rev}
    if not value:
        fail("empty document id")
    return {"id": value}


@app.command("get")
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
    json_flag: JsonFlag = False,
    jsonl_flag: JsonlFlag = False,
) -> None:
    """Fetch many documents (or given revisions) in one _bulk_get request; exit 1 if any is missing.

    Example: couchctl bulk get mydb doc-1 doc-2@1-967a00dff5e02add41819138abb3284d --revs
    """
    mode = output_mode(json_flag, jsonl_flag)

    async def op(couch: CouchClient, out: Output) -> int:
        from couchctl.client import validate_db_name

        validate_db_name(db)
        wanted = [_parse_ref(ref) for ref in refs or []]
        if ids_file is not None:
            text, _ = read_text_source(ids_file, "--ids-file")
            wanted += [_parse_ref(line.strip()) for line in text.splitlines() if line.strip()]
        if not wanted:
            fail("no document ids given", "name them as arguments or with --ids-file")
        answer = await couch.db_bulk_get(db, wanted, revs=revs or None, latest=latest or None)
        results = answer.get("results", []) if isinstance(answer, dict) else []
        rows = [
            _bulk_get_row(result, entry) for result in results for entry in result.get("docs", [])
        ]
        missing = sum(1 for row in rows if row["error"])
        if mode == "json":
            out.json(answer)
        elif mode == "jsonl":
            for result in results:
                out.jsonl(result)
            out.flush()
        else:
            from couchctl.render import Column

            out.table(
                rows,
                [
                    Column("id", lambda r: r["id"]),
                    Column("rev", lambda r: r["rev"]),
                    Column("error", lambda r: r["error"]),
                    Column("document", lambda r: r["doc"]),
                ],
            )
        if missing:
            out.warn(f"{missing} of {len(rows)} requested documents or revisions were not found")
            return 1
        return 0

    run(ctx, op, mode)


def _bulk_get_row(result: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    ok = entry.get("ok")
    if isinstance(ok, dict):
        return {"id": ok.get("_id"), "rev": ok.get("_rev"), "error": "", "doc": ok}
    raw = entry.get("error")
    error: dict[str, Any] = raw if isinstance(raw, dict) else {}
    return {
        "id": result.get("id"),
        "rev": error.get("rev") if error.get("rev") != "undefined" else None,
        "error": f"{error.get('error', 'not_found')}: {error.get('reason', 'missing')}",
        "doc": None,
    }


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
    ] = DEFAULT_CONCURRENCY,
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
    yes: YesFlag = False,
    json_flag: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print a summary object on stdout: {db, written, rejected, skipped, batches, "
            "elapsed, docs_per_second}.",
        ),
    ] = False,
) -> None:
    """Load documents from JSON Lines or a JSON array, in concurrent retried batches; resumable.

    The input is checked completely before anything is sent (stdin: each batch
    before it is sent). Documents without _id get one from the server first, so a
    retried or resumed batch never writes a document twice. Exit 1 if any document
    was rejected (see --rejects). Deletions ("_deleted": true) are confirmed on a
    terminal; elsewhere (and always for stdin) --yes is needed.

    Example: couchctl bulk load mydb docs.jsonl --rejects rejects.jsonl
    """
    mode = output_mode(json_flag)

    def parse() -> None:
        if resume and restart:
            fail("--resume and --restart cannot be used together")
        if force and append:
            fail("--force and --append cannot be used together")
        if rejects is not None and not (append or resume):
            from couchctl._files import check_new_file

            check_new_file(rejects, force=force, part=False)
        elif rejects is not None and rejects.is_symlink():
            fail(f"{rejects} is a symbolic link; couchctl does not write through it")

    checked(ctx, parse)

    async def op(couch: CouchClient, out: Output) -> int:
        import sys

        from couchctl import bulkio
        from couchctl.client import validate_db_name

        validate_db_name(db)
        new_edits = not no_new_edits
        path = None if source == "-" else Path(source)
        journal_path = journal
        if path is not None:
            if not path.is_file():
                fail(f"{'not a regular file' if path.exists() else 'file not found'}: {path}")
            if journal_path is None:
                journal_path = path.with_name(path.name + JOURNAL_SUFFIX)
        elif resume and journal_path is None:
            fail("--resume with stdin needs the --journal of the interrupted load")

        header: dict[str, Any] = {
            "db": db,
            "input": str(path.resolve()) if path is not None else "-",
            "size": path.stat().st_size if path is not None else None,
            "batch_size": batch_size,
            "max_batch_bytes": bulkio.MAX_BATCH_BYTES,
            "new_edits": new_edits,
        }
        state = None
        if journal_path is not None and journal_path.exists() and not restart:
            # (With --restart the old journal is overwritten once the input passed.)
            if not resume:
                fail(
                    f"an interrupted load left a journal: {journal_path}",
                    "add --resume to continue it, or --restart to discard it and start over",
                )
            else:
                state = bulkio.Journal.read(journal_path)
                _check_journal(state.header, header, journal_path)
                # Resume cuts the input into the same batches as the interrupted run.
                for key in ("batch_size", "max_batch_bytes"):
                    header[key] = int(state.header.get(key) or header[key])
                if header["batch_size"] != batch_size:
                    out.info(f"resuming with the journal's batch size, {header['batch_size']}")
        elif resume:
            out.info(f"no journal at {journal_path}: starting from the beginning")

        total = None
        if path is not None:
            try:
                check = bulkio.check_input(path, new_edits=new_edits)
            except bulkio.InputError as exc:
                fail(f"{path}: {exc}", "nothing was sent")
            total = check.documents
            if not _deletions_allowed(out, yes, check.deletions, db, stdin_is_data=False):
                return 1
        await couch.db_info(db)  # a missing database fails here, before any write

        from couchctl._files import open_appending, open_new

        reject_file = None
        if rejects is not None:
            adding = append or resume
            reject_file = open_appending(rejects) if adding else open_new(rejects, force=force)
        shown: list[str] = []
        journal_file = None
        if journal_path is not None:
            journal_file = bulkio.Journal(journal_path)
            journal_file.open(None if state is not None else header)

        def reject(record: Record, error: str, reason: str, result: dict[str, Any]) -> None:
            entry = {
                "line": record.line,
                "id": record.doc_id,
                "error": error,
                "reason": reason,
                "doc": record.doc(),
            }
            if reject_file is not None:
                from couchctl.client._encoding import dumps

                reject_file.write(dumps(entry) + "\n")
                reject_file.flush()
            if len(shown) < _SHOWN_REJECTS:
                shown.append(f"line {record.line}: {record.doc_id}: {error}: {reason}")
            else:
                shown.append("")

        stream = path.open("rb") if path is not None else sys.stdin.buffer
        options = bulkio.LoadOptions(
            batch_size=int(header["batch_size"]),
            max_batch_bytes=int(header["max_batch_bytes"]),
            concurrency=concurrency,
            new_edits=new_edits,
        )
        try:
            with out.progress(f"loading {db}", total=total, unit="docs") as bar:
                summary = await bulkio.load(
                    couch,
                    db,
                    bulkio.iter_records(
                        stream,
                        new_edits=new_edits,
                        checked=path is not None,
                        deletions=yes or path is not None,  # a file's were confirmed above
                    ),
                    options,
                    journal=journal_file,
                    state=state,
                    reject=reject,
                    progress=bar.advance,
                )
        except BaseException as exc:
            if isinstance(exc, bulkio.InputError):
                exc.args = (f"{source if path is not None else 'stdin'}: {exc}",)
                out.info(f"the batches before line {exc.line} were sent; nothing from there on")
            if journal_file is not None:
                journal_file.close()
                out.info(
                    f"hint: to continue, run the same command with --resume (journal: {journal_path})"
                )
            raise
        finally:
            if path is not None:
                stream.close()
            if reject_file is not None:
                reject_file.close()
        if journal_file is not None:
            journal_file.remove()
        return _load_report(out, mode, db, summary, state, shown, rejects)

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


def _check_journal(found: dict[str, Any], expected: dict[str, Any], path: Path) -> None:
    """Refuse a journal that belongs to another load."""
    for key in ("db", "input", "size", "new_edits"):
        if found.get(key) != expected[key]:
            what = "the input file changed" if key == "size" else f"its {key} is {found.get(key)!r}"
            fail(
                f"the journal {path} belongs to another load ({what})",
                "use --restart to discard it, or --journal to name another one",
            )


def _load_report(
    out: Output,
    mode: Mode,
    db: str,
    summary: Any,
    state: Any,
    shown: list[str],
    rejects: Path | None,
) -> int:
    previous_written = sum(w for w, _ in state.done.values()) if state is not None else 0
    previous_rejected = sum(r for _, r in state.done.values()) if state is not None else 0
    rejected = summary.rejected + previous_rejected
    for line in shown[:_SHOWN_REJECTS]:
        out.warn(f"rejected: {line}")
    if rejects is None and len(shown) > _SHOWN_REJECTS:
        out.warn(f"... and {len(shown) - _SHOWN_REJECTS} more; use --rejects FILE to keep them all")
    if summary.conflicts_with_rev:
        out.info(
            "hint: documents with a _rev conflict on a new database; to restore a dump use --no-new-edits"
        )
    rate = summary.written / summary.elapsed if summary.elapsed > 0 else 0.0
    resumed = (
        f", {summary.skipped} already written before the interruption" if summary.skipped else ""
    )
    out.info(
        f"loaded {db}: {summary.written} written, {summary.rejected} rejected{resumed} "
        f"in {summary.elapsed:.1f} s ({rate:,.0f} docs/s)"
        + (f"; rejects in {rejects}" if rejects is not None and rejected else "")
    )
    if mode == "json":
        value = summary.as_json(db)
        if state is not None:
            value["previously_written"] = previous_written
            value["previously_rejected"] = previous_rejected
        out.json(value)
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
            help="Pages in flight at once (1: a single streamed _all_docs request).",
            min=1,
            max=64,
        ),
    ] = DEFAULT_CONCURRENCY,
    jsonl_flag: Annotated[
        bool, typer.Option("--jsonl", help="JSON Lines: the output format, always (accepted).")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing output FILE.")
    ] = False,
) -> None:
    """Write every document as JSON Lines in id order, in constant memory (restore: bulk load --no-new-edits).

    Documents keep their _rev; only each document's winning revision is written
    (not its conflicts), _local documents are not. Pages of --batch-size documents
    are fetched by key range, --concurrency at a time, and written in order.

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
        from couchctl import bulkio
        from couchctl._files import PartFile
        from couchctl.client import validate_db_name

        validate_db_name(db)
        info = await couch.db_info(db)
        total = info.get("doc_count") if isinstance(info, dict) else None
        options = bulkio.DumpOptions(
            include_design=include_design,
            attachments=attachments,
            batch_size=batch_size
            or (DEFAULT_DUMP_BATCH_ATTACHMENTS if attachments else DEFAULT_DUMP_BATCH),
            concurrency=concurrency,
        )
        with contextlib.ExitStack() as stack:
            handle = None
            if target is not None:
                handle = stack.enter_context(
                    PartFile(target, force=force).open("w", encoding="utf-8")
                )
            bar = stack.enter_context(out.progress(f"dumping {db}", total=total, unit="docs"))

            def emit(text: str, count: int) -> None:
                if handle is not None:
                    handle.write(text)
                else:
                    out.jsonl_text(text)
                bar.advance(count)

            summary = await bulkio.dump(couch, db, options, emit)
        if summary.stripped_attachments:
            out.warn(
                f"{summary.stripped_attachments} documents have attachments that were left out; "
                "use --attachments to include them"
            )
        rate = summary.documents / summary.elapsed if summary.elapsed > 0 else 0.0
        where = f" to {target}" if target is not None else ""
        out.info(
            f"dumped {summary.documents} documents from {db}{where} in {summary.elapsed:.1f} s "
            f"({rate:,.0f} docs/s)"
        )
        return 0

    run(ctx, op)
