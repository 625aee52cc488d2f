"""`couchctl att ...` against the real server (and a local trickling server for Ctrl-C)."""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import CliRun, Server


def put_doc(server: Server, db: str, doc_id: str) -> str:
    response = httpx.put(
        f"{server.url}/{db}/{quote(doc_id, safe='')}",
        json={},
        params=server.all_copies(db),  # on every copy of a cluster
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 201, response.text
    rev: str = response.json()["rev"]
    return rev


def stubs(server: Server, db: str, doc_id: str) -> dict[str, dict[str, object]]:
    response = httpx.get(
        f"{server.url}/{db}/{quote(doc_id, safe='')}", headers={"Accept": "application/json"}
    )
    assert response.status_code == 200, response.text
    found: dict[str, dict[str, object]] = response.json().get("_attachments", {})
    return found


def md5_digest(data: bytes) -> str:
    return "md5-" + base64.b64encode(hashlib.md5(data).digest()).decode()


TEXT = b"first line\nsecond line\n" * 40  # compressible: gzip-stored on CouchDB


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


# -- upload ----------------------------------------------------------------------------------


def test_upload_guesses_the_type_and_uses_the_current_rev(
    cli: CliRun, server: Server, db: str, in_tmp: Path
) -> None:
    put_doc(server, db, "a/b c+d")
    (in_tmp / "notes.txt").write_bytes(TEXT)
    result = cli("att", "upload", db, "a/b c+d", "notes.txt")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("uploaded notes.txt (")
    assert "text/plain" in result.stdout
    stub = stubs(server, db, "a/b c+d")["notes.txt"]
    assert (stub["content_type"], stub["length"]) == ("text/plain", len(TEXT))


def test_upload_creates_a_missing_document(
    cli: CliRun, server: Server, db: str, in_tmp: Path
) -> None:
    (in_tmp / "data.bin").write_bytes(b"\x00\x01\r\n--x\r\n")
    result = cli(
        "att", "upload", db, "new", "data.bin", "--name", "dir/x y.bin",
        "--content-type", "application/x-thing", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.json()["ok"] is True
    assert result.json()["id"] == "new"
    stub = stubs(server, db, "new")["dir/x y.bin"]
    assert stub["content_type"] == "application/x-thing"
    raw = httpx.get(f"{server.url}/{db}/new/dir%2Fx%20y.bin")
    assert raw.content == b"\x00\x01\r\n--x\r\n"


def test_upload_with_a_stale_rev_exits_5(
    cli: CliRun, server: Server, db: str, in_tmp: Path
) -> None:
    first = put_doc(server, db, "d")
    httpx.put(f"{server.url}/{db}/d", json={"_rev": first, "v": 2}, params=server.all_copies(db))
    (in_tmp / "a.txt").write_text("x")
    result = cli("att", "upload", db, "d", "a.txt", "--rev", first)
    assert result.exit_code == 5
    assert "conflict" in result.stderr


def test_upload_file_not_found_exits_2(cli: CliRun, server: Server, db: str, in_tmp: Path) -> None:
    result = cli("att", "upload", db, "d", "missing.png")
    assert result.exit_code == 2
    assert result.stderr == "couchctl: error: file not found: missing.png\n"
    missing = httpx.get(f"{server.url}/{db}/d", headers={"Accept": "application/json"})
    assert missing.status_code == 404


def test_upload_directory_exits_2(cli: CliRun, db: str, in_tmp: Path) -> None:
    result = cli("att", "upload", db, "d", str(in_tmp))
    assert result.exit_code == 2
    assert "not a regular file" in result.stderr


# -- list and info ------------------------------------------------------------------------------


def test_list(cli: CliRun, server: Server, db: str, in_tmp: Path) -> None:
    (in_tmp / "a.txt").write_bytes(TEXT)
    (in_tmp / "b.json").write_text('{"k": 1}')
    assert cli("att", "upload", db, "d", "a.txt").exit_code == 0
    assert cli("att", "upload", db, "d", "b.json").exit_code == 0
    table = cli("att", "list", db, "d")
    assert table.exit_code == 0, table.stderr
    lines = table.stdout.strip().splitlines()
    assert lines[0].split() == ["name", "content", "type", "size", "digest"]
    assert any(line.split()[:4] == ["a.txt", "text/plain", str(len(TEXT)), "B"] for line in lines)
    as_json = cli("att", "list", db, "d", "--json")
    assert set(as_json.json()) == {"a.txt", "b.json"}
    assert as_json.json() == stubs(server, db, "d")
    lines_json = cli("att", "list", db, "d", "--jsonl").jsonl()
    assert sorted(row["name"] for row in lines_json) == ["a.txt", "b.json"]


def test_list_without_attachments(cli: CliRun, server: Server, db: str) -> None:
    put_doc(server, db, "d")
    result = cli("att", "list", db, "d")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "no attachments" in result.stderr


def test_list_missing_document_exits_4(cli: CliRun, db: str) -> None:
    assert cli("att", "list", db, "nope").exit_code == 4


def test_info(cli: CliRun, server: Server, db: str, in_tmp: Path) -> None:
    data = b"plain bytes \x00\x01\x02"
    (in_tmp / "x.bin").write_bytes(data)
    assert cli("att", "upload", db, "d", "x.bin", "--name", "dir/x.bin").exit_code == 0
    result = cli("att", "info", db, "d", "dir/x.bin")
    assert result.exit_code == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    assert rows[0] == ["field", "value"]  # the field/value table of every info command
    assert ["digest", md5_digest(data)] in rows
    assert ["length", str(len(data)), f"({len(data)}", "B)"] in rows
    assert ["content", "type", "application/octet-stream"] in rows
    as_json = cli("att", "info", db, "d", "dir/x.bin", "--json").json()
    assert as_json["name"] == "dir/x.bin"
    assert as_json["length"] == len(data)
    assert as_json["digest"] == md5_digest(data)
    assert as_json["digest"] == stubs(server, db, "d")["dir/x.bin"]["digest"]


def test_info_missing_attachment_exits_4(cli: CliRun, server: Server, db: str) -> None:
    put_doc(server, db, "d")
    result = cli("att", "info", db, "d", "nope.txt")
    assert result.exit_code == 4
    assert result.stdout == ""
    assert result.stderr.startswith("couchctl: error: attachment nope.txt of d")


# -- download -------------------------------------------------------------------------------


def test_download_to_the_default_name(cli: CliRun, server: Server, db: str, in_tmp: Path) -> None:
    (in_tmp / "src.txt").write_bytes(TEXT)
    assert cli("att", "upload", db, "d", "src.txt", "--name", "dir/notes.txt").exit_code == 0
    result = cli("att", "download", db, "d", "dir/notes.txt")
    assert result.exit_code == 0, result.stderr
    assert (in_tmp / "notes.txt").read_bytes() == TEXT
    assert not (in_tmp / "notes.txt.part").exists()
    assert "digest verified" in result.stdout


def test_download_json_summary(cli: CliRun, server: Server, db: str, in_tmp: Path) -> None:
    (in_tmp / "src.bin").write_bytes(b"abc" * 1000)
    assert cli("att", "upload", db, "d", "src.bin").exit_code == 0
    result = cli("att", "download", db, "d", "src.bin", "-o", "out.bin", "--json")
    assert result.exit_code == 0, result.stderr
    summary = result.json()
    assert summary["file"] == "out.bin"
    assert summary["length"] == 3000
    assert summary["digest"] == stubs(server, db, "d")["src.bin"]["digest"]


def test_download_refuses_to_overwrite_without_force(
    cli: CliRun, server: Server, db: str, in_tmp: Path
) -> None:
    (in_tmp / "a.txt").write_bytes(TEXT)
    assert cli("att", "upload", db, "d", "a.txt").exit_code == 0
    (in_tmp / "a.txt").write_bytes(b"local")
    refused = cli("att", "download", db, "d", "a.txt")
    assert refused.exit_code == 2
    assert "already exists" in refused.stderr
    assert "--force" in refused.stderr
    assert (in_tmp / "a.txt").read_bytes() == b"local"
    forced = cli("att", "download", db, "d", "a.txt", "--force")
    assert forced.exit_code == 0, forced.stderr
    assert (in_tmp / "a.txt").read_bytes() == TEXT


def test_download_to_stdout(cli: CliRun, server: Server, db: str, in_tmp: Path) -> None:
    (in_tmp / "a.txt").write_bytes(TEXT)
    assert cli("att", "upload", db, "d", "a.txt").exit_code == 0
    result = cli("att", "download", db, "d", "a.txt", "-o", "-")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.encode() == TEXT
    assert not list(in_tmp.glob("*.part"))


def test_download_binary_to_stdout_subprocess(server: Server, db: str, tmp_path: Path) -> None:
    data = bytes(range(128)) * 8 + b"\r\n\x00"
    rev = put_doc(server, db, "d")
    httpx.put(
        f"{server.url}/{db}/d/blob.bin?rev={rev}",
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    env = {**os.environ, "NO_COLOR": "1", "COUCH_URL": server.url}
    done = subprocess.run(
        [sys.executable, "-m", "couchctl", "att", "download", db, "d", "blob.bin", "-o", "-"],
        capture_output=True, env=env, cwd=tmp_path, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == data
    assert done.stderr == b""


def test_download_missing_attachment_exits_4_and_leaves_nothing(
    cli: CliRun, server: Server, db: str, in_tmp: Path
) -> None:
    put_doc(server, db, "d")
    result = cli("att", "download", db, "d", "nope.txt")
    assert result.exit_code == 4
    assert "nope.txt" in result.stderr
    assert list(in_tmp.iterdir()) == []


def test_download_into_a_directory(cli: CliRun, server: Server, db: str, in_tmp: Path) -> None:
    (in_tmp / "a.txt").write_bytes(TEXT)
    assert cli("att", "upload", db, "d", "a.txt").exit_code == 0
    (in_tmp / "out").mkdir()
    result = cli("att", "download", db, "d", "a.txt", "-o", "out")
    assert result.exit_code == 0, result.stderr
    assert (in_tmp / "out" / "a.txt").read_bytes() == TEXT


# -- delete ---------------------------------------------------------------------------------


def test_delete_current_rev(cli: CliRun, server: Server, db: str, in_tmp: Path) -> None:
    (in_tmp / "a.txt").write_bytes(TEXT)
    assert cli("att", "upload", db, "a/b", "a.txt", "--name", "dir/a.txt").exit_code == 0
    result = cli("att", "delete", db, "a/b", "dir/a.txt")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("deleted attachment dir/a.txt of a/b")
    assert stubs(server, db, "a/b") == {}
    assert cli("att", "info", db, "a/b", "dir/a.txt").exit_code == 4


def test_delete_on_a_missing_document_exits_4(cli: CliRun, db: str) -> None:
    result = cli("att", "delete", db, "nope", "a.txt")
    assert result.exit_code == 4


@pytest.mark.couchdb_only
def test_delete_missing_attachment_exits_4(cli: CliRun, server: Server, db: str) -> None:
    put_doc(server, db, "d")
    assert cli("att", "delete", db, "d", "nope.txt").exit_code == 4


@pytest.mark.couchdb_only
def test_text_attachment_is_verified_through_gzip(
    cli: CliRun, server: Server, db: str, in_tmp: Path
) -> None:
    (in_tmp / "a.txt").write_bytes(TEXT)
    assert cli("att", "upload", db, "d", "a.txt").exit_code == 0
    info = cli("att", "info", db, "d", "a.txt", "--json").json()
    assert info["digest"] != md5_digest(TEXT)  # the digest of the stored gzip bytes
    (in_tmp / "a.txt").unlink()
    result = cli("att", "download", db, "d", "a.txt", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["encoding"] == "gzip"
    assert (in_tmp / "a.txt").read_bytes() == TEXT


def test_every_command_has_help_with_an_example(cli_offline: CliRun) -> None:
    for command in ("upload", "download", "info", "delete", "list"):
        result = cli_offline("att", command, "--help")
        assert result.exit_code == 0
        assert "Example: couchctl att " + command in result.stdout


# -- a local server that misbehaves: Ctrl-C and corruption ------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    mode = "trickle"

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        if self.mode == "corrupt":
            body = b"these bytes do not match the digest"
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.send_header(
                "ETag", '"' + base64.b64encode(hashlib.md5(b"other").digest()).decode() + '"'
            )
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(50 * 1024 * 1024))
        self.send_header("ETag", '"AAAAAAAAAAAAAAAAAAAAAA=="')
        self.end_headers()
        deadline = time.monotonic() + 30  # bounded even if nobody interrupts
        try:
            while time.monotonic() < deadline:
                self.wfile.write(b"x" * 4096)
                self.wfile.flush()
                time.sleep(0.02)
        except OSError:
            pass


@pytest.fixture
def misbehaving(request: pytest.FixtureRequest) -> Iterator[str]:
    handler = type("Handler", (_Handler,), {"mode": request.param})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _couchctl(url: str, *args: str, cwd: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "couchctl", "--url", url, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
    )


@pytest.mark.parametrize("misbehaving", ["trickle"], indirect=True)
def test_ctrl_c_during_a_download_leaves_nothing(misbehaving: str, tmp_path: Path) -> None:
    process = _couchctl(misbehaving, "att", "download", "db", "doc", "big.bin", cwd=tmp_path)
    part = tmp_path / "big.bin.part"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if part.exists() and part.stat().st_size > 0:
                break
            assert process.poll() is None, process.communicate()
            time.sleep(0.05)
        assert part.exists(), "the download never started"
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, stderr
    assert b"Traceback" not in stderr
    assert stderr.decode().strip().splitlines()[-1] == "couchctl: error: interrupted"
    assert stdout == b""
    assert not (tmp_path / "big.bin").exists()
    assert not part.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("misbehaving", ["corrupt"], indirect=True)
def test_digest_mismatch_exits_1_and_leaves_nothing(misbehaving: str, tmp_path: Path) -> None:
    process = _couchctl(misbehaving, "att", "download", "db", "doc", "f.bin", cwd=tmp_path)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 1, stderr
    assert b"digest mismatch" in stderr
    assert b"Traceback" not in stderr
    assert stdout == b""
    assert list(tmp_path.iterdir()) == []


# -- the .part file -------------------------------------------------------------------------


def test_download_never_follows_a_symlink_planted_at_part(
    cli: CliRun, server: Server, db: str, in_tmp: Path
) -> None:
    (in_tmp / "src.txt").write_bytes(TEXT)
    assert cli("att", "upload", db, "d", "src.txt", "--name", "a.txt").exit_code == 0
    victim = in_tmp / "victim"
    victim.write_bytes(b"precious")
    (in_tmp / "a.txt.part").symlink_to(victim)
    for extra in ([], ["--force"]):
        result = cli("att", "download", db, "d", "a.txt", *extra)
        assert result.exit_code == 2, result.stderr
        assert "a.txt.part already exists" in result.stderr
        assert victim.read_bytes() == b"precious"
        assert (in_tmp / "a.txt.part").is_symlink()
        assert not os.path.lexists(in_tmp / "a.txt")


def test_download_keeps_a_part_it_did_not_create(
    cli: CliRun, server: Server, db: str, in_tmp: Path
) -> None:
    put_doc(server, db, "d")
    (in_tmp / "nope.txt.part").write_bytes(b"an earlier download")
    result = cli("att", "download", db, "d", "nope.txt")
    assert result.exit_code == 2
    assert "nope.txt.part" in result.stderr and "does not delete" in result.stderr
    assert (in_tmp / "nope.txt.part").read_bytes() == b"an earlier download"
    assert not (in_tmp / "nope.txt").exists()
