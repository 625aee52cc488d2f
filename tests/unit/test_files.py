"""couchctl._files: FILE.part created exclusively, renamed when whole, only ours deleted."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from couchctl._files import (
    FileRefused,
    PartFile,
    SyncedWrites,
    check_new_file,
    open_appending,
    open_new,
)


def test_written_through_part_and_renamed(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    with PartFile(target).open("w", encoding="utf-8") as handle:
        handle.write("hello")
        handle.flush()
        assert (tmp_path / "out.txt.part").read_text() == "hello"
        assert not target.exists()
    assert target.read_text() == "hello"
    assert not (tmp_path / "out.txt.part").exists()


def test_symlink_planted_at_part_is_never_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    target = tmp_path / "out.txt"
    (tmp_path / "out.txt.part").symlink_to(victim)
    refused = pytest.raises(FileRefused, match=r"out\.txt\.part already exists")
    with refused, PartFile(target).open("w") as handle:
        handle.write("evil")
    assert victim.read_text() == "precious"
    assert (tmp_path / "out.txt.part").is_symlink()  # not ours: left alone
    assert not os.path.lexists(target)


def test_existing_part_is_refused_and_kept(tmp_path: Path) -> None:
    part = tmp_path / "out.txt.part"
    part.write_text("someone else's")
    with pytest.raises(FileRefused, match="does not delete or reuse it"):
        check_new_file(tmp_path / "out.txt")
    with pytest.raises(FileRefused):
        PartFile(tmp_path / "out.txt").create()
    assert part.read_text() == "someone else's"


def test_failure_removes_only_our_part(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with pytest.raises(RuntimeError), PartFile(target).open() as handle:
        handle.write(b"half")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_a_part_swapped_while_writing_is_not_deleted(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    writer = PartFile(target)
    with pytest.raises(RuntimeError), writer.open() as handle:
        handle.write(b"ours")
        os.rename(writer.part, tmp_path / "moved")
        Path(writer.part).write_bytes(b"theirs")
        raise RuntimeError("failed")
    assert Path(writer.part).read_bytes() == b"theirs"
    assert not target.exists()


def test_existing_target_needs_force(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(FileRefused, match="exists; use --force"):
        check_new_file(target)
    refused = pytest.raises(FileRefused, match="exists; use --force")
    with refused, PartFile(target).open("w") as handle:
        handle.write("new")
    assert target.read_text() == "old"
    assert not (tmp_path / "out.txt.part").exists()
    with PartFile(target, force=True).open("w") as handle:
        handle.write("new")
    assert target.read_text() == "new"


def test_target_appearing_meanwhile_is_not_replaced(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    with pytest.raises(FileRefused), PartFile(target).open("w") as handle:
        handle.write("new")
        target.write_text("arrived meanwhile")
    assert target.read_text() == "arrived meanwhile"
    assert not (tmp_path / "out.txt.part").exists()


def test_forced_replace_of_a_symlink_replaces_the_link_not_its_target(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    target = tmp_path / "out.txt"
    target.symlink_to(victim)
    with PartFile(target, force=True).open("w") as handle:
        handle.write("new")
    assert not target.is_symlink() and target.read_text() == "new"
    assert victim.read_text() == "precious"


def test_part_file_mode_follows_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        with PartFile(tmp_path / "f").open() as handle:
            handle.write(b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "f").stat().st_mode & 0o777 == 0o600


def test_open_new_and_open_appending(tmp_path: Path) -> None:
    path = tmp_path / "rejects.jsonl"
    with open_new(path) as handle:
        handle.write("1\n")
    with pytest.raises(FileRefused, match="exists; use --force"):
        open_new(path)
    with open_appending(path) as handle:
        handle.write("2\n")
    assert path.read_text() == "1\n2\n"
    with open_new(path, force=True) as handle:
        handle.write("3\n")
    assert path.read_text() == "3\n"


def test_open_new_and_appending_never_write_through_a_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    link = tmp_path / "rejects.jsonl"
    link.symlink_to(victim)
    with pytest.raises(FileRefused, match="symbolic link"):
        open_appending(link)
    with pytest.raises(FileRefused):
        open_new(link)
    with open_new(link, force=True) as handle:
        handle.write("mine\n")
    assert victim.read_text() == "precious"
    assert not link.is_symlink() and link.read_text() == "mine\n"


def test_a_missing_directory_or_a_directory_target_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileRefused, match="no such directory"):
        check_new_file(tmp_path / "nope" / "out.txt")
    with pytest.raises(FileRefused, match="is a directory"):
        check_new_file(tmp_path, force=True)


def test_synced_writes_sync_every_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    monkeypatch.setattr(SyncedWrites, "STEP", 100)
    monkeypatch.setattr(os, "fdatasync", lambda fd: synced.append(os.fstat(fd).st_size))
    with (tmp_path / "f.bin").open("wb") as handle:
        writes = SyncedWrites(handle)
        for _ in range(5):
            writes.write(b"x" * 60)
    assert synced == [120, 240]  # flushed to the file before each sync
    assert (tmp_path / "f.bin").read_bytes() == b"x" * 300
