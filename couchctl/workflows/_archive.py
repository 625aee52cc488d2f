"""The backup archive: a self-describing JSON Lines file, written whole or not at all.

    {"format": "couchctl-backup", "version": 1, "db": ..., "q": ..., "n": ...,
     "partitioned": ..., "update_seq": ..., "since": null | SEQ, "conflicts": bool}
    {"security": {...}}
    {"doc": {...}}            one line per document (or leaf revision), with
                              _revisions and attachments inline; deletions too
    {"trailer": {"docs": N, "deleted": D, "last_seq": SEQ, "doc_count": C,
                 "end_update_seq": SEQ, "sha256": HEX}}

`sha256` covers every byte before the trailer line, so a truncated or altered
file is detected before anything is restored. `last_seq` is where the next
increment starts (its header's `since`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from couchctl.client import CouchError, InvalidArgument

__all__ = [
    "FORMAT",
    "VERSION",
    "ArchiveError",
    "ArchiveInfo",
    "ArchiveWriter",
    "PartFile",
    "check_archive",
    "iter_records",
]

FORMAT = "couchctl-backup"
VERSION = 1


class ArchiveError(CouchError):
    """An archive that is truncated, corrupted or not an archive at all (exit 1)."""


class PartFile:
    """An archive written through `couchctl._files.PartFile` (TARGET.part created
    exclusively, never through a symlink, renamed only by `commit()`, removed on
    failure if still ours). The archive is made private (0600): it holds every
    document and the `_security` object."""

    def __init__(self, target: str, *, force: bool = False) -> None:
        from couchctl._files import PartFile as SharedPartFile

        self.target = target
        self._file = SharedPartFile(target, force=force)
        fd = self._file.create()
        try:
            os.fchmod(fd, 0o600)
            self.handle: IO[bytes] = os.fdopen(fd, "wb")
        except BaseException:
            os.close(fd)
            self._file.discard()
            raise
        self.done = False

    def write(self, data: bytes) -> None:
        self.handle.write(data)

    def commit(self) -> None:
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        self._file.commit()
        self.done = True

    def discard(self) -> None:
        if self.done:
            return
        self.handle.close()
        self._file.discard()
        self.done = True


def _line(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


class ArchiveWriter:
    """Writes the records of one archive into a PartFile, hashing as it goes."""

    def __init__(self, part: PartFile) -> None:
        self.part = part
        self.hash = hashlib.sha256()
        self.docs = 0
        self.deleted = 0

    def _put(self, data: bytes) -> None:
        self.hash.update(data)
        self.part.write(data)

    def header(self, header: dict[str, Any]) -> None:
        self._put(_line({"format": FORMAT, "version": VERSION, **header}))

    def security(self, security: Any) -> None:
        self._put(_line({"security": security}))

    def doc(self, doc: dict[str, Any]) -> None:
        self._put(_line({"doc": doc}))
        self.docs += 1
        if doc.get("_deleted"):
            self.deleted += 1

    def trailer(self, **fields: Any) -> dict[str, Any]:
        trailer = {"docs": self.docs, "deleted": self.deleted, **fields}
        trailer["sha256"] = self.hash.hexdigest()
        self.part.write(_line({"trailer": trailer}))
        return trailer


@dataclass
class ArchiveInfo:
    """What `check_archive` found: the header, the security object and the trailer."""

    path: str
    header: dict[str, Any]
    trailer: dict[str, Any]
    security: Any = field(default=None)


def iter_records(path: str) -> Iterator[tuple[str, Any]]:
    """(kind, value) for each line: header, security, doc, trailer. Not checked."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            try:
                record = json.loads(raw)
            except ValueError:
                raise ArchiveError(f"{path}: line {number} is not JSON (corrupted)") from None
            yield _kind(record, path, number), record


def _kind(record: Any, path: str, number: int) -> str:
    if isinstance(record, dict):
        if "format" in record:
            return "header"
        for kind in ("security", "doc", "trailer"):
            if kind in record:
                return kind
    raise ArchiveError(f"{path}: line {number} is not an archive record (corrupted)")


def check_archive(path: str) -> ArchiveInfo:
    """Read a whole archive once (constant memory) and check it: its format and
    version (a newer version: InvalidArgument, exit 2), the order of its records,
    the trailer's counts and SHA-256 (truncated or corrupted: ArchiveError)."""
    digest = hashlib.sha256()
    header: dict[str, Any] | None = None
    trailer: dict[str, Any] | None = None
    security: Any = None
    docs = deleted = 0
    try:
        handle = open(path, "rb")  # noqa: SIM115 (closed by the with below)
    except FileNotFoundError:
        raise InvalidArgument(f"archive not found: {path}") from None
    except IsADirectoryError:
        raise InvalidArgument(f"{path} is a directory, not an archive") from None
    with handle:
        for number, raw in enumerate(handle, 1):
            if trailer is not None:
                raise ArchiveError(f"{path}: data after the trailer (line {number})")
            try:
                record = json.loads(raw)
            except ValueError:
                raise ArchiveError(f"{path}: line {number} is not JSON (truncated?)") from None
            kind = _kind(record, path, number)
            if number == 1:
                if kind != "header" or record.get("format") != FORMAT:
                    raise ArchiveError(f"{path} is not a couchctl backup (no header)")
                version = record.get("version")
                if not isinstance(version, int) or version > VERSION:
                    raise InvalidArgument(
                        f"{path} is a version {version} archive; this couchctl reads "
                        f"version {VERSION} and older: upgrade couchctl"
                    )
                header = record
            elif kind == "trailer":
                trailer = record["trailer"]
                if not isinstance(trailer, dict):
                    raise ArchiveError(f"{path}: the trailer is not an object")
                continue
            elif kind == "security" and number == 2:
                security = record["security"]
            elif kind == "doc" and number > 2 and isinstance(record["doc"], dict):
                docs += 1
                deleted += 1 if record["doc"].get("_deleted") else 0
            else:
                raise ArchiveError(f"{path}: unexpected {kind} record at line {number}")
            digest.update(raw)
    if header is None:
        raise ArchiveError(f"{path} is empty")
    if trailer is None:
        raise ArchiveError(f"{path} has no trailer: the archive is truncated")
    if trailer.get("sha256") != digest.hexdigest():
        raise ArchiveError(f"{path}: checksum mismatch: the archive is corrupted")
    if trailer.get("docs") != docs or trailer.get("deleted") != deleted:
        raise ArchiveError(f"{path}: the trailer's counts do not match the documents")
    return ArchiveInfo(path, header, trailer, security)
