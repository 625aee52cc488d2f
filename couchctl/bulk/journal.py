"""The load journal: what `bulk load --resume` needs to write nothing twice."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from couchctl.client import InvalidArgument, dumps

if TYPE_CHECKING:
    from couchctl.bulk.input import Record

__all__ = ["Journal", "JournalError", "JournalState"]


class JournalError(InvalidArgument):
    """The journal cannot be used for this load (a usage error: exit 2); `hint` says
    what to do."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


@dataclass
class JournalState:
    header: dict[str, Any]
    done: dict[int, tuple[int, int]] = field(default_factory=dict)  # batch -> (written, rejected)
    # Batches recorded as started but not done: batch -> ordinal -> assigned id.
    started: dict[int, dict[int, str]] = field(default_factory=dict)


class Journal:
    """An append-only JSON Lines record of a load, flushed and fsynced per record.

        {"couchctl_journal": 1, "db": ..., "input": ..., "size": ..., "batch_size": N, ...}
        {"batch": k, "first": ordinal, "count": n, "lines": [a, b], "ids": {"ordinal": "id"}}
        {"done": k, "written": w, "rejected": r}

    A batch with a `batch` record but no `done` record may or may not have reached
    the server; `resume` checks its documents before sending them again. Each
    `batch` record is fsynced before its batch is sent (with it, every record
    before it); `done` records are flushed and ride on the next fsync.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None

    @staticmethod
    def read(path: Path) -> JournalState:
        """Parse an existing journal (a torn last line, from a kill, is ignored)."""
        state: JournalState | None = None
        with path.open(encoding="utf-8") as stream:
            for raw in stream:
                try:
                    record = json.loads(raw)
                except (json.JSONDecodeError, RecursionError):
                    continue
                if not isinstance(record, dict):
                    continue
                if state is None:
                    if record.get("couchctl_journal") != 1:
                        raise JournalError(f"{path} is not a couchctl load journal")
                    state = JournalState(record)
                elif "done" in record:
                    number = int(record["done"])
                    state.done[number] = (
                        int(record.get("written", 0)),
                        int(record.get("rejected", 0)),
                    )
                    state.started.pop(number, None)  # only unfinished batches keep their ids
                elif "batch" in record:
                    ids = {int(k): str(v) for k, v in dict(record.get("ids", {})).items()}
                    if int(record["batch"]) not in state.done:
                        state.started[int(record["batch"])] = ids
        if state is None:
            raise JournalError(f"{path} is empty: not a couchctl load journal")
        return state

    def open(self, header: dict[str, Any] | None) -> None:
        """Start a new journal with `header` (in place of an old one: the load was told
        to restart), or append to the existing one (None); never through a symlink."""
        from couchctl._files import open_appending, open_new

        if header is not None:
            self._file = open_new(self.path, force=True)
            self._append({"couchctl_journal": 1, **header})
        else:
            self._file = open_appending(self.path)

    def _write(self, record: dict[str, Any]) -> None:
        assert self._file is not None
        self._file.write(dumps(record) + "\n")
        self._file.flush()

    def _append(self, record: dict[str, Any]) -> None:
        self._write(record)
        assert self._file is not None
        os.fsync(self._file.fileno())

    async def _append_async(self, record: dict[str, Any]) -> None:
        # fsync in a worker thread: the other batches in flight go on meanwhile.
        import anyio

        self._write(record)
        assert self._file is not None
        await anyio.to_thread.run_sync(os.fsync, self._file.fileno())

    async def batch_started(self, batch: int, records: list[Record], ids: dict[int, str]) -> None:
        """Record a batch and the ids given to it; durable before the batch is sent."""
        await self._append_async(
            {
                "batch": batch,
                "first": records[0].ordinal,
                "count": len(records),
                "lines": [records[0].line, records[-1].line],
                "ids": {str(k): v for k, v in ids.items()},
            }
        )

    async def batch_done(self, batch: int, written: int, rejected: int) -> None:
        """Record that a batch was answered. Flushed, and made durable by the next
        `batch_started` fsync (or `close`): losing it can only make `resume` check
        that batch again, never write a document twice."""
        self._write({"done": batch, "written": written, "rejected": rejected})

    def close(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None

    def remove(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self.path.unlink(missing_ok=True)
