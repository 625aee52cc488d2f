"""One `bulk load` from start to end: its input, its journal (resume), its rejects.

`plan_load` checks everything that can be checked before a request: the input
(a file completely), the journal an interrupted load left (refused unless
resumed, and only when it belongs to this load), and settles the batches (a
resumed load cuts its input exactly as the interrupted one did). `run_load`
then writes the documents, keeping the journal up to date; it removes the
journal when the load completes and keeps it (for `--resume`) when it does not.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from couchctl.bulk.check import check_input
from couchctl.bulk.input import Record, iter_records
from couchctl.bulk.journal import Journal, JournalError, JournalState
from couchctl.bulk.loader import MAX_BATCH_BYTES, LoadOptions, LoadSummary, load
from couchctl.client import dumps

if TYPE_CHECKING:
    from couchctl.client import CouchClient

__all__ = ["JOURNAL_SUFFIX", "LoadJob", "RejectLog", "plan_load", "run_load"]

JOURNAL_SUFFIX = ".couchctl-journal"


@dataclass
class LoadJob:
    """A load ready to run: what `plan_load` found and settled."""

    db: str
    path: Path | None  # None: stdin
    options: LoadOptions
    journal_path: Path | None
    header: dict[str, Any]
    state: JournalState | None = None  # the interrupted load being resumed
    documents: int | None = None  # in a file (stdin: unknown)
    deletions: int = 0  # documents of a file with "_deleted": true
    notes: list[str] = field(default_factory=list)  # worth telling the user

    @property
    def previously_written(self) -> int:
        return sum(w for w, _ in self.state.done.values()) if self.state is not None else 0

    @property
    def previously_rejected(self) -> int:
        return sum(r for _, r in self.state.done.values()) if self.state is not None else 0

    def result_json(self, summary: LoadSummary) -> dict[str, Any]:
        """The `--json` summary: `LoadSummary.as_json`, and what an interrupted run wrote."""
        value = summary.as_json(self.db)
        if self.state is not None:
            value["previously_written"] = self.previously_written
            value["previously_rejected"] = self.previously_rejected
        return value


def plan_load(
    db: str,
    path: Path | None,
    *,
    batch_size: int,
    concurrency: int,
    new_edits: bool = True,
    journal: Path | None = None,
    resume: bool = False,
    restart: bool = False,
    w: int | None = None,
) -> LoadJob:
    """Check the input and the journal before anything is sent.

    Raises InputError (bad input, with its line), JournalError (a journal that
    stands in the way or belongs to another load; its `hint` says what to do),
    FileNotFoundError or InvalidArgument (no such input file).

    Large blocks are given back to the system from here on (`_malloc`): what the
    load holds at its peak is a few times its largest batch, and so is its RSS.
    """
    from couchctl._malloc import give_back_large_blocks
    from couchctl.client import InvalidArgument

    give_back_large_blocks()

    journal_path = journal
    if path is not None:
        if not path.is_file():
            what = "not a regular file" if path.exists() else "file not found"
            raise InvalidArgument(f"{what}: {path}")
        if journal_path is None:
            journal_path = path.with_name(path.name + JOURNAL_SUFFIX)
    elif resume and journal_path is None:
        raise JournalError("--resume with stdin needs the --journal of the interrupted load")
    header: dict[str, Any] = {
        "db": db,
        "input": str(path.resolve()) if path is not None else "-",
        "size": path.stat().st_size if path is not None else None,
        "batch_size": batch_size,
        "max_batch_bytes": MAX_BATCH_BYTES,
        "new_edits": new_edits,
    }
    job = LoadJob(db, path, LoadOptions(), journal_path, header)
    if journal_path is not None and journal_path.exists() and not restart:
        # (With --restart the old journal is overwritten once the input passed.)
        if not resume:
            raise JournalError(
                f"an interrupted load left a journal: {journal_path}",
                hint="add --resume to continue it, or --restart to discard it and start over",
            )
        job.state = Journal.read(journal_path)
        _check_journal(job.state.header, header, journal_path)
        # Resume cuts the input into the same batches as the interrupted run.
        for key in ("batch_size", "max_batch_bytes"):
            header[key] = int(job.state.header.get(key) or header[key])
        if header["batch_size"] != batch_size:
            job.notes.append(f"resuming with the journal's batch size, {header['batch_size']}")
    elif resume:
        job.notes.append(f"no journal at {journal_path}: starting from the beginning")
    job.options = LoadOptions(
        batch_size=int(header["batch_size"]),
        max_batch_bytes=int(header["max_batch_bytes"]),
        concurrency=concurrency,
        new_edits=new_edits,
        w=w,
    )
    if path is not None:
        check = check_input(path, new_edits=new_edits)
        job.documents, job.deletions = check.documents, check.deletions
    return job


def _check_journal(found: dict[str, Any], expected: dict[str, Any], path: Path) -> None:
    """Refuse a journal that belongs to another load."""
    for key in ("db", "input", "size", "new_edits"):
        if found.get(key) != expected[key]:
            what = "the input file changed" if key == "size" else f"its {key} is {found.get(key)!r}"
            raise JournalError(
                f"the journal {path} belongs to another load ({what})",
                hint="use --restart to discard it, or --journal to name another one",
            )


class RejectLog:
    """Where rejected documents go: every one to `file` (JSON Lines {line, id, error,
    reason, doc}) when given, the first `keep` as short lines in `shown`."""

    def __init__(self, file: IO[str] | None = None, *, keep: int = 10) -> None:
        self.file = file
        self.keep = keep
        self.shown: list[str] = []
        self.count = 0

    @classmethod
    def to(cls, path: Path | None, *, append: bool, force: bool, keep: int = 10) -> RejectLog:
        """A log writing to `path` (when given): added to with `append`, else a new file
        (an existing one replaced only with `force`); never through a symlink."""
        from couchctl._files import open_output

        file = open_output(path, force=force, append=append) if path is not None else None
        return cls(file, keep=keep)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()

    def __call__(self, record: Record, error: str, reason: str, result: dict[str, Any]) -> None:
        self.count += 1
        if self.file is not None:
            entry = {
                "line": record.line,
                "id": record.doc_id,
                "error": error,
                "reason": reason,
                "doc": record.doc(),
            }
            self.file.write(dumps(entry) + "\n")
            self.file.flush()
        if len(self.shown) < self.keep:
            self.shown.append(f"line {record.line}: {record.doc_id}: {error}: {reason}")

    @property
    def more(self) -> int:
        """Rejects not in `shown`."""
        return self.count - len(self.shown)


async def run_load(
    couch: CouchClient,
    job: LoadJob,
    *,
    reject: Callable[[Record, str, str, dict[str, Any]], None],
    deletions: bool,
    progress: Callable[[int], None] = lambda n: None,
    stdin: IO[bytes] | None = None,
) -> LoadSummary:
    """Write the job's documents; `deletions=False` refuses a `"_deleted": true`
    document of stdin (InputError). The journal is removed when the load completes,
    closed and kept when it fails or is interrupted."""
    journal = None
    if job.journal_path is not None:
        journal = Journal(job.journal_path)
        journal.open(None if job.state is not None else job.header)
    stream = job.path.open("rb") if job.path is not None else (stdin or sys.stdin.buffer)
    try:
        summary = await load(
            couch,
            job.db,
            iter_records(
                stream,
                new_edits=job.options.new_edits,
                checked=job.path is not None,
                deletions=deletions or job.path is not None,  # a file's were confirmed
            ),
            job.options,
            journal=journal,
            state=job.state,
            reject=reject,
            progress=progress,
        )
    except BaseException:
        if journal is not None:
            journal.close()
        raise
    finally:
        if job.path is not None:
            stream.close()
    if journal is not None:
        journal.remove()
    return summary
