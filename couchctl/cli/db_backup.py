"""db backup and db restore: thin commands over couchctl.workflows."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated, Any

import typer

from couchctl.cli._exit import ExitCode
from couchctl.cli._options import YesFlag, complete_db, output_options
from couchctl.cli._run import checked, confirm_or_exit, fail, run
from couchctl.render import Mode

if TYPE_CHECKING:
    from couchctl.client import CouchClient
    from couchctl.render import Output
    from couchctl.workflows.backup import BackupResult

app = typer.Typer(help="Databases: backup and restore.", no_args_is_help=True)


def _backup_json(result: BackupResult) -> dict[str, Any]:
    return {
        "db": result.db,
        "file": result.path,
        "docs": result.docs,
        "deleted": result.deleted,
        "since": result.since,
        "last_seq": result.last_seq,
        "skipped": result.skipped,
    }


def _backup_line(result: BackupResult) -> str:
    kind = "increment" if result.since is not None else "backup"
    deleted = f", {result.deleted:,} deletions" if result.deleted else ""
    return f"{kind} of {result.db} written to {result.path}: {result.docs:,} documents{deleted}"


@app.command("backup")
@output_options()
def backup(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Argument(
            help="Database to back up (or --all-dbs).",
            autocompletion=complete_db,
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        str,
        typer.Option(
            "--output", "-o", help="Archive file (a directory with --all-dbs).", show_default=False
        ),
    ] = "",
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Previous archive (a directory with --all-dbs): write only what changed since.",
            show_default=False,
        ),
    ] = None,
    conflicts: Annotated[
        bool, typer.Option("--conflicts", help="Keep every leaf revision of conflicted documents.")
    ] = False,
    all_dbs: Annotated[
        bool,
        typer.Option("--all-dbs", help="Every database but _users, _replicator, _global_changes."),
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing archive.")] = False,
    mode: Mode = "human",
) -> None:
    """Back up a database to a JSON Lines archive (documents, attachments, _security).

    The archive is written to FILE.part and renamed only when complete. With
    --since, only the changes (deletions included) after that archive are kept:
    restore the full backup, then each increment in order.

    Example: couchctl db backup mydb -o mydb.jsonl
    Example: couchctl db backup --all-dbs -o backups/ --since backups-monday/
    """

    def parse() -> None:
        if not output:
            fail("no archive given", "pass -o FILE (a directory with --all-dbs)")
        if all_dbs and db is not None:
            fail("give a database or --all-dbs, not both")
        if not all_dbs and db is None:
            fail("no database given", "name one, or pass --all-dbs")
        if not all_dbs:
            from couchctl._files import check_new_file

            if os.path.isdir(output):
                fail(f"{output} is a directory", "pass --all-dbs to back up every database")
            check_new_file(output, force=force)  # and a FILE.part it did not create

    checked(ctx, parse)

    async def op(couch: CouchClient, out: Output) -> None:
        from couchctl.workflows.backup import backup_all, backup_db, plan_all

        if db is not None:
            # an increment's size is unknown until its changes are read
            total = None if since else (await couch.db_info(db)).get("doc_count")
            with out.progress(f"backing up {db}", total, unit="docs") as bar:
                result = await backup_db(
                    couch,
                    db,
                    output,
                    since_archive=since,
                    conflicts=conflicts,
                    force=force,
                    advance=bar.advance,
                )
            out.result(_backup_json(result), _backup_line(result))
            return
        plan = await plan_all(couch, output, since_dir=since, force=force)
        done: list[BackupResult] = []

        def on_done(result: BackupResult) -> None:
            done.append(result)
            if mode == "human":
                out.info(_backup_line(result))

        with out.progress(
            f"backing up {len(plan.targets)} databases", plan.total_docs, unit="docs"
        ) as bar:
            await backup_all(
                couch,
                plan,
                conflicts=conflicts,
                force=force,
                advance=bar.advance,
                on_done=on_done,
                on_gone=lambda name: out.warn(f"database {name} was deleted meanwhile: skipped"),
            )
        out.result(
            [_backup_json(result) for result in done],
            f"backed up {len(done)} databases to {output}",
        )

    run(ctx, op, mode)


@app.command("restore")
@output_options()
def restore(
    ctx: typer.Context,
    db: Annotated[
        str, typer.Argument(help="Database to restore into.", autocompletion=complete_db)
    ],
    files: Annotated[
        list[str],
        typer.Argument(
            help="Archives: the full backup, then its increments in order.", show_default=False
        ),
    ],
    into_existing: Annotated[
        bool,
        typer.Option(
            "--into-existing", help="Restore into a database that already holds documents."
        ),
    ] = False,
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Finish an interrupted restore: send only what is missing."),
    ] = False,
    yes: YesFlag = False,
    mode: Mode = "human",
) -> None:
    """Restore archives written by `db backup` (full backup first, then increments).

    Creates the database like the original (q, partitioned) and writes every
    revision as it was (new_edits=false), _security last, then checks the counts.
    Every file is checked whole (version, order, checksum) before anything is sent.

    Example: couchctl db restore mydb-copy mydb.jsonl mydb-monday.jsonl
    """
    from couchctl.workflows.restore import check_chain

    infos = checked(ctx, lambda: check_chain(list(files)))
    if into_existing:
        confirm_or_exit(
            ctx,
            yes,
            question=f"Restore into database {db}, beside the documents it holds?",
            action=f"restore into the existing database {db}",
            declined=f"not restored: database {db} is unchanged",
        )

    async def op(couch: CouchClient, out: Output) -> int:
        from couchctl.workflows.restore import restore as restore_archives

        total = sum(int(info.trailer["docs"]) for info in infos)
        with out.progress(f"restoring {db}", total, unit="docs") as bar:
            result = await restore_archives(
                couch, db, infos, into_existing=into_existing, resume=resume, advance=bar.advance
            )
        code = ExitCode.OK
        for rejected in result.rejected[:5]:
            out.warn(
                f"rejected {rejected.get('id')}: {rejected.get('reason') or rejected.get('error')}"
            )
        if result.rejected_count:
            out.error(f"{result.rejected_count:,} revisions were rejected by {db}")
            code = ExitCode.FAILURE
        if not result.counts_match:
            message = (
                f"{db} holds {result.doc_count} documents, the source held "
                f"{result.source_doc_count} when the last archive was written"
            )
            if result.counts_exact and result.created and not result.rejected_count:
                out.error(message)
                code = ExitCode.FAILURE
            else:
                out.warn(message)
        summary = {
            "db": db,
            "created": result.created,
            "files": len(infos),
            "docs": result.expected,
            "written": result.written,
            "already_there": result.already_there,
            "rejected": result.rejected_count,
            "doc_count": result.doc_count,
            "source_doc_count": result.source_doc_count,
        }
        resumed = f", {result.already_there:,} already there" if result.already_there else ""
        out.result(
            summary,
            f"restored {len(infos)} archive(s) into {db}: {result.written:,} revisions written"
            f"{resumed}, {result.doc_count} documents",
        )
        return int(code)

    run(ctx, op, mode)
