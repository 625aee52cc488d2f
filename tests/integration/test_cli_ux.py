"""Answers that fit what was sent: uploads against a stale revision, conflicts in
sight, 409 hints, what `db create` did not apply, where the URL came from, TLS to a
plain-HTTP server, and `server whoami`."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest

from tests.conftest import CliRun, Server

JSON = {"Accept": "application/json"}
BIG = 20 * 1024 * 1024


def put(server: Server, db: str, doc_id: str, doc: dict[str, Any]) -> str:
    response = httpx.put(
        f"{server.url}/{db}/{quote(doc_id, safe='')}",
        json=doc,
        params=server.all_copies(db),
        headers=JSON,
    )
    assert response.status_code in (201, 202), response.text
    rev: str = response.json()["rev"]
    return rev


def get(server: Server, db: str, doc_id: str, **params: str) -> Any:
    response = httpx.get(f"{server.url}/{db}/{quote(doc_id, safe='')}", params=params, headers=JSON)
    assert response.status_code == 200, response.text
    return response.json()


def make_conflict(server: Server, db: str, doc_id: str) -> list[str]:
    """Three leaves written with new_edits=false; their revisions, winner first."""
    docs = [
        {"_id": doc_id, "_rev": "1-aaaa", "side": "a"},
        {"_id": doc_id, "_rev": "1-bbbb", "side": "b"},
        {"_id": doc_id, "_rev": "1-cccc", "side": "c"},
    ]
    response = httpx.post(
        f"{server.url}/{db}/_bulk_docs",
        json={"docs": docs, "new_edits": False},
        params=server.all_copies(db),
        headers=JSON,
    )
    assert response.status_code == 201, response.text
    doc = get(server, db, doc_id, conflicts="true")
    return [doc["_rev"], *doc["_conflicts"]]


def leaks_password(server: Server, text: str) -> bool:
    """Whether `text` shows the server's admin password (a short one, like "pw", is
    looked for as a whole word: a random temp file name may hold its letters)."""
    password = urlsplit(server.url).password
    if not password:
        return False
    if len(password) >= 8:
        return password in text
    return re.search(rf"(?<![\w/.-]){re.escape(password)}(?![\w/.-])", text) is not None


# -- uploads ---------------------------------------------------------------------------


def test_upload_with_a_stale_rev_of_20_mib_fails_fast_as_a_conflict(
    cli: CliRun, server: Server, db: str, tmp_path: Path
) -> None:
    stale = put(server, db, "big", {"v": 1})
    put(server, db, "big", {"v": 2, "_rev": stale})
    big = tmp_path / "big.bin"
    with big.open("wb") as handle:
        handle.truncate(BIG)
    started = time.monotonic()
    result = cli("--verbose", "att", "upload", db, "big", str(big), "--rev", stale, "--yes")
    assert result.exit_code == 5, result.stderr
    assert "conflict" in result.stderr
    assert "not the current one" in result.stderr
    assert "cannot reach" not in result.stderr
    # The revision was checked first: the 20 MiB body was never sent.
    assert "> PUT" not in result.stderr
    assert time.monotonic() - started < 20
    assert "_attachments" not in get(server, db, "big")


@pytest.mark.couchdb_only
def test_upload_streamed_against_a_stale_rev_reports_the_409(
    cli: CliRun, server: Server, db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the check before sending, CouchDB answers 409 mid-upload and closes the
    connection: the answer (or, when the reset loses it, the revision checked after)
    is what is reported, never "cannot reach the server"."""
    import couchctl.client._attachments as attachments

    monkeypatch.setattr(attachments, "REV_CHECK_SIZE", 1 << 40)
    stale = put(server, db, "big", {"v": 1})
    put(server, db, "big", {"v": 2, "_rev": stale})
    big = tmp_path / "big.bin"
    with big.open("wb") as handle:
        handle.truncate(BIG)
    result = cli("--verbose", "att", "upload", db, "big", str(big), "--rev", stale, "--yes")
    assert "> PUT" in result.stderr  # the body was streamed this time
    assert result.exit_code == 5, result.stderr
    assert "conflict" in result.stderr
    assert "cannot reach" not in result.stderr


def test_upload_with_the_current_rev_of_20_mib_succeeds(
    cli: CliRun, server: Server, db: str, tmp_path: Path
) -> None:
    rev = put(server, db, "big", {"v": 1})
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * BIG)
    result = cli("att", "upload", db, "big", str(big), "--rev", rev)
    assert result.exit_code == 0, result.stderr
    assert get(server, db, "big")["_attachments"]["big.bin"]["length"] == BIG


def test_upload_from_stdin(cli: CliRun, server: Server, db: str) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB of every byte value
    result = cli("att", "upload", db, "piped", "-", "--name", "data.bin", input=data)
    assert result.exit_code == 0, result.stderr
    assert "uploaded data.bin (1.0 MiB" in result.stdout or "uploaded data.bin" in result.stdout
    response = httpx.get(f"{server.url}/{db}/piped/data.bin")
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"].startswith("application/octet-stream")
    # Replacing it from stdin needs --yes: stdin cannot be compared before it is read.
    again = cli("att", "upload", db, "piped", "-", "--name", "data.bin", input=b"other")
    assert again.exit_code == 2
    assert "pass --yes" in again.stderr
    assert httpx.get(f"{server.url}/{db}/piped/data.bin").content == data


def test_upload_from_stdin_needs_a_name(cli_offline: CliRun) -> None:
    result = cli_offline("att", "upload", "mydb", "doc", "-", input=b"data")
    assert result.exit_code == 2
    assert "--name is required" in result.stderr


# -- conflicts in sight ----------------------------------------------------------------


def test_get_says_a_document_is_conflicted(cli: CliRun, server: Server, db: str) -> None:
    winner, *losers = make_conflict(server, db, "x")
    result = cli("doc", "get", db, "x", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["_rev"] == winner
    assert "_conflicts" not in result.json()  # not asked for: not printed
    for loser in losers:
        assert loser in result.stderr
    assert f"couchctl doc resolve {db} x --keep REV" in result.stderr
    assert f"couchctl doc conflicts {db} x" in result.stderr
    human = cli("doc", "get", db, "x")
    assert human.exit_code == 0
    assert "2 conflicting revisions" in human.stderr
    asked = cli("doc", "get", db, "x", "--json", "--conflicts")
    assert sorted(asked.json()["_conflicts"]) == sorted(losers)


def test_get_of_a_plain_document_says_nothing(cli: CliRun, server: Server, db: str) -> None:
    put(server, db, "plain", {"v": 1})
    result = cli("doc", "get", db, "plain", "--json")
    assert result.exit_code == 0
    assert result.stderr == ""
    assert "_conflicts" not in result.json()


def test_delete_of_a_conflicted_document_needs_yes(cli: CliRun, server: Server, db: str) -> None:
    winner, *losers = make_conflict(server, db, "x")
    refused = cli("doc", "delete", db, "x")
    assert refused.exit_code == 2
    assert "refusing to delete conflicted document x" in refused.stderr
    assert "becomes the winner" in refused.stderr or "the winner" in refused.stderr
    assert get(server, db, "x")["_rev"] == winner  # nothing was deleted
    done = cli("doc", "delete", db, "x", "--yes")
    assert done.exit_code == 0, done.stderr
    assert "is conflicted" in done.stderr
    assert get(server, db, "x")["_rev"] in losers


def test_delete_of_a_losing_leaf_needs_no_yes(cli: CliRun, server: Server, db: str) -> None:
    winner, *losers = make_conflict(server, db, "x")
    result = cli("doc", "delete", db, "x", "--rev", losers[0])
    assert result.exit_code == 0, result.stderr
    assert get(server, db, "x")["_rev"] == winner


# -- 409 hints that fit what was sent --------------------------------------------------


def test_put_onto_an_existing_document_without_rev(cli: CliRun, server: Server, db: str) -> None:
    put(server, db, "a", {"v": 1})
    result = cli("doc", "put", db, "a", "--data", '{"v": 2}')
    assert result.exit_code == 5
    assert "document a already exists: pass --rev" in result.stderr
    assert f"couchctl doc edit {db} a" in result.stderr
    assert "not the current one" not in result.stderr


def test_put_with_a_stale_rev(cli: CliRun, server: Server, db: str) -> None:
    stale = put(server, db, "a", {"v": 1})
    put(server, db, "a", {"v": 2, "_rev": stale})
    result = cli("doc", "put", db, "a", "--data", '{"v": 3}', "--rev", stale)
    assert result.exit_code == 5
    assert "the revision is not the current one" in result.stderr
    assert "already exists" not in result.stderr


def test_copy_onto_an_existing_document(cli: CliRun, server: Server, db: str) -> None:
    put(server, db, "a", {"v": 1})
    put(server, db, "b", {"v": 2})
    result = cli("doc", "copy", db, "a", "b")
    assert result.exit_code == 5
    assert "document b already exists" in result.stderr
    assert "--destination-rev" in result.stderr


# -- db create says what the server did not apply --------------------------------------


@pytest.mark.couchdb_only
def test_create_says_n_was_not_applied(cli: CliRun, server: Server) -> None:
    name = server.new_db_name()
    try:
        result = cli("db", "create", name, "--n", "3", "--q", "2")
        assert result.exit_code == 0, result.stderr
        n = httpx.get(f"{server.url}/{name}", headers=JSON).json()["cluster"]["n"]
        if n != 3:
            assert f"has n={n}, not the n=3 asked" in result.stderr
        else:  # a cluster of three or more nodes applies it
            assert "not the n=3" not in result.stderr
        assert "q=" not in result.stderr
    finally:
        httpx.delete(f"{server.url}/{name}", headers=JSON)


def test_create_help_states_no_server_default(cli_offline: CliRun) -> None:
    result = cli_offline("db", "create", "--help")
    assert result.exit_code == 0
    assert "default (2)" not in result.stdout and "default (3)" not in result.stdout


# -- where the URL came from, prefixes, TLS --------------------------------------------


def test_a_wrong_path_prefix_is_shown_in_errors(cli: CliRun, server: Server, db: str) -> None:
    result = cli("db", "info", db, url=server.url + "/wrong-prefix")
    assert result.exit_code != 0
    assert f"/wrong-prefix/{db}" in result.stderr
    if server.couchdb:  # CouchDB reads the prefix as a database name
        assert result.exit_code == 4
        assert "the server URL has the path prefix /wrong-prefix (COUCH_URL)" in result.stderr


def test_https_to_a_plain_http_server_is_a_prompt_clear_error(cli: CliRun, server: Server) -> None:
    parts = urlsplit(server.url)
    https = f"https://{parts.hostname}:{parts.port}"
    started = time.monotonic()
    result = cli("server", "info", url=https)
    assert result.exit_code == 3
    assert "plain HTTP, not TLS" in result.stderr
    assert f"use http://{parts.hostname}:{parts.port}" in result.stderr
    assert time.monotonic() - started < 15


# -- server whoami ---------------------------------------------------------------------


def test_whoami_names_sources_and_masks_secrets(cli: CliRun, server: Server) -> None:
    result = cli("server", "whoami", "--json")
    assert result.exit_code == 0, result.stderr
    body = result.json()
    settings = body["settings"]
    assert settings["url"]["source"] == "COUCH_URL"
    assert "@" not in settings["url"]["value"]
    assert settings["timeout"] == {"value": "30s", "source": "default"}
    if urlsplit(server.url).password:
        assert settings["password"] == {"value": "***", "source": "the URL (COUCH_URL)"}
        assert body["session"]["name"] == urlsplit(server.url).username
        assert "_admin" in body["session"]["roles"]
    assert not leaks_password(server, result.stdout + result.stderr)
    human = cli("--timeout", "12", "server", "whoami")
    assert human.exit_code == 0, human.stderr
    assert "--timeout" in human.stdout
    assert "session user" in human.stdout
    assert not leaks_password(server, human.stdout + human.stderr)


def test_whoami_password_file(cli: CliRun, server: Server, tmp_path: Path) -> None:
    parts = urlsplit(server.url)
    if not parts.password:
        pytest.skip("the test server has no admin password")
    secret = tmp_path / "pw"
    secret.write_text(parts.password + "\n", encoding="utf-8")
    bare = f"{parts.scheme}://{parts.hostname}:{parts.port}"
    result = cli(
        "server",
        "whoami",
        "--json",
        url=bare,
        env={"COUCHDB_USER": parts.username or "", "COUCHDB_PASSWORD_FILE": str(secret)},
    )
    assert result.exit_code == 0, result.stderr
    settings = result.json()["settings"]
    assert settings["password"]["value"] == "(from COUCHDB_PASSWORD_FILE)"
    assert settings["user"]["source"] == "COUCHDB_USER"
    assert not leaks_password(server, result.stdout)


def test_whoami_names_the_profile_and_its_file(
    cli_offline: CliRun, server: Server, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[ops]\nurl = "{server.url}"\ntimeout = 9\n', encoding="utf-8")
    config.chmod(0o600)
    result = cli_offline(
        "--profile", "ops", "server", "whoami", "--json", env={"COUCHCTL_CONFIG": str(config)}
    )
    assert result.exit_code == 0, result.stderr
    settings = result.json()["settings"]
    where = f"profile ops in {config}"
    assert settings["url"]["source"] == where
    assert settings["timeout"] == {"value": "9s", "source": where}
    assert settings["profile"] == {"value": "ops", "source": "--profile"}
    assert settings["config file"] == {"value": str(config), "source": "COUCHCTL_CONFIG"}
    assert not leaks_password(server, result.stdout + result.stderr)


def test_a_401_hint_names_where_the_credentials_came_from(cli: CliRun, server: Server) -> None:
    import uuid

    parts = urlsplit(server.url)
    bare = f"{parts.scheme}://{parts.hostname}:{parts.port}"
    # A user that does not exist: a failed login never counts against a real account.
    user = f"nobody-{uuid.uuid4().hex[:10]}"
    result = cli(
        "server", "session", url=bare, env={"COUCHDB_USER": user, "COUCHDB_PASSWORD": "x1"}
    )
    assert result.exit_code == 6, result.stderr
    assert f"check the user {user} (from COUCHDB_USER)" in result.stderr
    assert "its password (from COUCHDB_PASSWORD)" in result.stderr
