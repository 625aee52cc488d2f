"""Files couchctl writes: whole files through `FILE.part`, and files it appends to.

The rules (DESIGN section 6, "Files"):

- `FILE.part` is created exclusively (`O_CREAT | O_EXCL | O_NOFOLLOW`): a symlink
  or any other file already at that name is never followed, truncated, reused or
  deleted. It is refused with an error that names it.
- `FILE.part` becomes `FILE` (a rename) only once it is complete.
- couchctl deletes only what it created: on failure it removes its own `.part`
  (checked by device and inode), never a file someone else put there.
- An existing `FILE` is replaced only with `force`.

No printing here; a refusal is `FileRefused`, a usage error (exit 2).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import IO, Any

from couchctl.client import InvalidArgument

__all__ = [
    "FileRefused",
    "PartFile",
    "SyncedWrites",
    "check_new_file",
    "check_output",
    "open_appending",
    "open_new",
    "open_output",
    "part_path",
]

PART_SUFFIX = ".part"
_NEW_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


class FileRefused(InvalidArgument):
    """A file couchctl will not write or replace (a usage error: exit 2)."""


def part_path(target: str | os.PathLike[str]) -> str:
    return os.fspath(target) + PART_SUFFIX


def _exists_error(path: str) -> FileRefused:
    return FileRefused(f"{path} exists; use --force to replace it")


def _part_error(part: str) -> FileRefused:
    return FileRefused(
        f"{part} already exists and was not created by this run; couchctl does not "
        "delete or reuse it: remove it yourself, or write to another file"
    )


def check_new_file(
    target: str | os.PathLike[str], *, force: bool = False, part: bool = True
) -> None:
    """Refuse, before anything is sent, what `PartFile` (`part=True`) or `open_new` would refuse."""
    path = os.fspath(target)
    if os.path.isdir(path):
        raise FileRefused(f"{path} is a directory")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise FileRefused(f"no such directory: {parent}")
    if not force and os.path.lexists(path):
        raise _exists_error(path)
    if part and os.path.lexists(part_path(path)):
        raise _part_error(part_path(path))


class PartFile:
    """`target` written through `target.part`: `create`, write, then `commit` or `discard`."""

    def __init__(self, target: str | os.PathLike[str], *, force: bool = False) -> None:
        self.target = os.fspath(target)
        self.part = part_path(self.target)
        self.force = force
        self._identity: tuple[int, int] | None = None

    def create(self) -> int:
        """Create `target.part` exclusively (never through a symlink); return its descriptor."""
        check_new_file(self.target, force=self.force, part=False)
        try:
            fd = os.open(self.part, _NEW_FLAGS, 0o666)  # the umask applies
        except FileExistsError:
            raise _part_error(self.part) from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # a symlink, on systems where O_EXCL does not say so
                raise _part_error(self.part) from None
            raise
        stat = os.fstat(fd)
        self._identity = (stat.st_dev, stat.st_ino)
        return fd

    def _ours(self) -> bool:
        try:
            stat = os.lstat(self.part)
        except OSError:
            return False
        return self._identity == (stat.st_dev, stat.st_ino)

    def commit(self) -> None:
        """Rename the complete `.part` to the target (replacing it only with `force`)."""
        if not self._ours():
            raise FileRefused(f"{self.part} was replaced while it was being written")
        if self.force:
            os.replace(self.part, self.target)
        else:
            try:
                # A hard link never replaces what another process created meanwhile.
                os.link(self.part, self.target, follow_symlinks=False)
            except FileExistsError:
                raise _exists_error(self.target) from None
            except OSError:
                # A file system without hard links: check, then rename.
                if os.path.lexists(self.target):
                    raise _exists_error(self.target) from None
                os.replace(self.part, self.target)
            else:
                os.unlink(self.part)
        self._identity = None

    def discard(self) -> None:
        """Remove the `.part` if it is still the one this object created."""
        if self._identity is not None and self._ours():
            with suppress(OSError):
                os.unlink(self.part)
        self._identity = None

    @contextmanager
    def open(self, mode: str = "wb", **kwargs: Any) -> Iterator[IO[Any]]:
        """The `.part` as a file object (text in UTF-8 unless `mode` is binary):
        committed (fsynced, renamed) when the block ends normally, discarded when it
        raises (an interrupt included)."""
        fd = self.create()
        if "b" not in mode:
            kwargs.setdefault("encoding", "utf-8")
        try:
            handle = os.fdopen(fd, mode, **kwargs)
        except BaseException:
            os.close(fd)
            self.discard()
            raise
        try:
            with handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            self.commit()
        except BaseException:
            self.discard()
            raise


class SyncedWrites:
    """`write` for a long download into a binary file: every STEP bytes the file is
    flushed and its data synced (fdatasync), so that the fsync before the rename
    has only the last few MiB to wait for, not the whole file (about 100 ms for
    256 MiB here). Called in the thread that reads the network, which has time to
    spare while the server sends."""

    STEP = 16 * 1024 * 1024

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self._sync = getattr(os, "fdatasync", os.fsync)
        self._unsynced = 0

    def write(self, data: bytes) -> None:
        self._handle.write(data)
        self._unsynced += len(data)
        if self._unsynced >= self.STEP:
            self._handle.flush()
            self._sync(self._handle.fileno())
            self._unsynced = 0


def open_new(path: str | os.PathLike[str], *, force: bool = False) -> IO[str]:
    """A text file to write from its start: a new file, or (with `force`) a fresh one in
    place of an existing file. Never written through a symlink."""
    name = os.fspath(path)
    check_new_file(name, force=force, part=False)
    if force and os.path.lexists(name):
        os.unlink(name)  # replace the entry itself (a symlink's target stays untouched)
    try:
        fd = os.open(name, _NEW_FLAGS, 0o666)
    except FileExistsError:
        raise _exists_error(name) from None
    return os.fdopen(fd, "w", encoding="utf-8")


def open_appending(path: str | os.PathLike[str]) -> IO[str]:
    """A text file to add to (created if missing). Never written through a symlink."""
    name = os.fspath(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(name, flags, 0o666)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise FileRefused(
                f"{name} is a symbolic link; couchctl does not write through it"
            ) from None
        raise
    return os.fdopen(fd, "a", encoding="utf-8")


def check_output(
    path: str | os.PathLike[str], *, force: bool = False, append: bool = False
) -> None:
    """Refuse, before anything is sent, what `open_output` would refuse."""
    if not append:
        check_new_file(path, force=force, part=False)
    elif os.path.islink(path):
        raise FileRefused(
            f"{os.fspath(path)} is a symbolic link; couchctl does not write through it"
        )


def open_output(
    path: str | os.PathLike[str], *, force: bool = False, append: bool = False
) -> IO[str]:
    """`open_appending` with `append`, else `open_new`."""
    return open_appending(path) if append else open_new(path, force=force)
