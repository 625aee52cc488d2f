"""A resumable attachment download: continue FILE.part with a Range request.

The bytes already in FILE.part are hashed, and the rest is asked for with
`Range: bytes=N-`. A partial answer (206) is appended, and the MD5 is checked
over the whole file. CouchDB 3.4.3 ignores `If-Range` (it answers 206 whatever
the validator), so a change of the attachment since FILE.part was written shows
as a digest mismatch: the download then starts over. So does a whole answer (200:
the range was ignored, as for attachments CouchDB stores gzipped) and a 416
(FILE.part is not shorter than the attachment). Each restart is said through `say`.

An interrupted resumable download keeps FILE.part (that is its point); only a
digest mismatch of a whole download removes it. FILE.part is never opened
through a symlink; FILE is replaced only with `force`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from couchctl.client import ClientError, IntegrityError

if TYPE_CHECKING:
    from couchctl.client import CouchClient

__all__ = ["download_resumable"]

WRITE_SIZE = 1024 * 1024
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _part_state(part: str) -> tuple[int, Any]:
    """Length and MD5 of an existing FILE.part (0 and None when there is none)."""
    from couchctl._files import FileRefused

    try:
        info = os.lstat(part)
    except FileNotFoundError:
        return 0, None
    if not stat.S_ISREG(info.st_mode):
        raise FileRefused(f"{part} is not a regular file; couchctl does not write through it")
    digest = hashlib.md5(usedforsecurity=False)
    with open(part, "rb") as handle:
        for block in iter(lambda: handle.read(WRITE_SIZE), b""):
            digest.update(block)
    return info.st_size, digest


def _open_part(part: str, *, append: bool, create: bool) -> IO[bytes]:
    flags = os.O_WRONLY | _NOFOLLOW | (os.O_APPEND if append else os.O_TRUNC)
    if create:
        flags |= os.O_CREAT | os.O_EXCL
    return os.fdopen(os.open(part, flags, 0o666), "ab" if append else "wb")


def _finish(part: str, target: str, force: bool) -> None:
    from couchctl._files import FileRefused

    if force:
        os.replace(part, target)
        return
    try:
        os.link(part, target, follow_symlinks=False)
    except FileExistsError:
        raise FileRefused(f"{target} exists; use --force to replace it") from None
    os.unlink(part)


async def download_resumable(
    couch: CouchClient,
    db: str,
    doc_id: str,
    name: str,
    rev: str | None,
    target: str,
    *,
    force: bool = False,
    say: Callable[[str], None] = lambda message: None,
    advance: Callable[[int], None] = lambda amount: None,
) -> dict[str, Any]:
    """Download into TARGET.part, continuing it if it exists; rename when verified."""
    import anyio

    from couchctl._files import SyncedWrites

    part = target + ".part"
    offset, prefix = await anyio.to_thread.run_sync(_part_state, part)
    exists = prefix is not None
    for attempt in range(2):
        partial = False
        short = [False]  # the body ended before its Content-Length
        try:
            async with couch.attachment_get(
                db, doc_id, name, rev, offset=offset, prefix=prefix, threaded=True
            ) as download:
                partial = download.partial
                if offset and not partial:
                    say(
                        f"the server sent the whole attachment (it ignored the range): {part} starts over"
                    )
                with _open_part(part, append=download.partial, create=not exists) as handle:
                    exists = True
                    try:
                        # each piece is written as it arrives: a cut body leaves a
                        # FILE.part that holds all it got, for the next run to resume
                        await download.save(SyncedWrites(handle).write, advance)
                    finally:
                        expected = download.transfer_length
                        short[0] = expected is not None and download.received < expected
                        handle.flush()
                        os.fsync(handle.fileno())
        except ClientError as exc:
            if exc.status != 416 or attempt:
                raise
            say(f"{part} is not shorter than the attachment: starting over")
            offset, prefix = 0, None
            continue
        except IntegrityError:
            if short[0]:
                raise  # the body ended early: FILE.part holds a good start, kept to resume
            if partial and not attempt:
                say(f"the attachment changed since {part} was written: starting over")
                offset, prefix = 0, None
                continue
            with contextlib.suppress(OSError):
                os.unlink(part)  # bytes that do not match their digest are no use to resume
            raise
        _finish(part, target, force)
        return {
            "file": target,
            "name": name,
            "length": download.offset + download.decoded,
            "resumed_from": download.offset,
            "content_type": download.content_type,
            "digest": download.digest,
            "encoding": download.encoding,
        }
    raise AssertionError("unreachable")  # pragma: no cover
