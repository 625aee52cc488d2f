"""`couchctl att download --resume` against the real server."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests.conftest import CliRun, Server

JSON = {"Accept": "application/json"}
DATA = os.urandom(300_000)
TEXT = b"a line of text that CouchDB stores gzipped\n" * 2000


def upload(server: Server, db: str, doc_id: str, name: str, data: bytes, content_type: str) -> str:
    current = httpx.get(f"{server.url}/{db}/{doc_id}", headers=JSON)
    params = {**server.all_copies(db)}
    if current.status_code == 200:
        params["rev"] = current.json()["_rev"]
    response = httpx.put(
        f"{server.url}/{db}/{doc_id}/{name}",
        params=params,
        content=data,
        headers={**JSON, "Content-Type": content_type},
    )
    assert response.status_code == 201, response.text
    rev: str = response.json()["rev"]
    return rev


@pytest.mark.couchdb_only
def test_resumed_download_is_byte_equal(
    cli: CliRun, server: Server, db: str, tmp_path: Path
) -> None:
    upload(server, db, "d", "a.bin", DATA, "application/octet-stream")
    target = tmp_path / "a.bin"
    (tmp_path / "a.bin.part").write_bytes(DATA[:100_000])
    result = cli("att", "download", db, "d", "a.bin", "-o", str(target), "--resume")
    assert result.exit_code == 0, result.stderr
    assert target.read_bytes() == DATA
    assert not (tmp_path / "a.bin.part").exists()
    assert "resumed at byte 100000" in result.stdout
    assert "starting over" not in result.stderr and "starts over" not in result.stderr


@pytest.mark.couchdb_only
def test_a_part_of_another_version_starts_over(
    cli: CliRun, server: Server, db: str, tmp_path: Path
) -> None:
    upload(server, db, "d", "a.bin", DATA, "application/octet-stream")
    target = tmp_path / "a.bin"
    # as long as a real prefix, but other bytes: the whole-file MD5 finds it
    (tmp_path / "a.bin.part").write_bytes(bytes(100_000))
    result = cli("att", "download", db, "d", "a.bin", "-o", str(target), "--resume", "--json")
    assert result.exit_code == 0, result.stderr
    assert "changed since" in result.stderr
    assert target.read_bytes() == DATA
    assert result.json()["resumed_from"] == 0
    # a .part longer than the attachment: 416, then a whole download
    target.unlink()
    (tmp_path / "a.bin.part").write_bytes(DATA + b"more")
    result = cli("att", "download", db, "d", "a.bin", "-o", str(target), "--resume")
    assert result.exit_code == 0, result.stderr
    assert "not shorter" in result.stderr
    assert target.read_bytes() == DATA


def test_a_range_the_server_ignores_starts_over(
    cli: CliRun, server: Server, db: str, tmp_path: Path
) -> None:
    # CouchDB answers a range of a gzip-stored (text) attachment with the whole of it;
    # the stand-in ignores every range.
    upload(server, db, "t", "notes.txt", TEXT, "text/plain")
    target = tmp_path / "notes.txt"
    (tmp_path / "notes.txt.part").write_bytes(TEXT[:10])
    result = cli("att", "download", db, "t", "notes.txt", "-o", str(target), "--resume")
    assert result.exit_code == 0, result.stderr
    assert "ignored the range" in result.stderr
    assert target.read_bytes() == TEXT
    assert not (tmp_path / "notes.txt.part").exists()


def test_resume_without_a_part_downloads_whole(
    cli: CliRun, server: Server, db: str, tmp_path: Path
) -> None:
    upload(server, db, "t", "notes.txt", TEXT, "text/plain")
    target = tmp_path / "notes.txt"
    result = cli("att", "download", db, "t", "notes.txt", "-o", str(target), "--resume")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert target.read_bytes() == TEXT
    # an existing FILE still needs --force
    result = cli("att", "download", db, "t", "notes.txt", "-o", str(target), "--resume")
    assert result.exit_code == 2


def test_resume_never_follows_a_symlinked_part(
    cli: CliRun, server: Server, db: str, tmp_path: Path
) -> None:
    upload(server, db, "t", "notes.txt", TEXT, "text/plain")
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    (tmp_path / "notes.txt.part").symlink_to(victim)
    result = cli(
        "att", "download", db, "t", "notes.txt", "-o", str(tmp_path / "notes.txt"), "--resume"
    )
    assert result.exit_code == 2
    assert "not a regular file" in result.stderr
    assert victim.read_bytes() == b"precious"
    assert not (tmp_path / "notes.txt").exists()


def test_resume_to_stdout_is_refused(cli_offline: CliRun) -> None:
    result = cli_offline(
        "att", "download", "db", "d", "a", "-o", "-", "--resume", url="http://127.0.0.1:9"
    )
    assert result.exit_code == 2
