"""Security through the CLI: credentials stay with their URL, secrets from files,
warnings, masked messages, escaped server text, confirmations."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import CliResult, CliRun, Server
from tests.integration.test_auth import parts


def write_config(tmp_path: Path, text: str, mode: int = 0o600) -> dict[str, str]:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return {"COUCHCTL_CONFIG": str(path)}


def session_user(result: CliResult) -> object:
    assert result.exit_code == 0, result.stderr
    return result.json()["userCtx"]["name"]


def test_profile_password_is_not_sent_to_another_url(
    cli_offline: CliRun, server: Server, tmp_path: Path
) -> None:
    bare, user, password = parts(server)
    env = write_config(
        tmp_path,
        f'[default]\nurl = "https://couch.example.invalid:6984"\n'
        f'user = "{user}"\npassword = "{password}"\n',
    )
    result = cli_offline("--url", bare, "server", "session", "--json", env=env)
    assert session_user(result) is None


def test_profile_flag_beats_couch_url(cli: CliRun, server: Server, tmp_path: Path) -> None:
    bare, user, password = parts(server)
    env = write_config(
        tmp_path, f'[mine]\nurl = "{bare}"\nuser = "{user}"\npassword = "{password}"\n'
    )
    # COUCH_URL (the fixture's) names an unreachable server; --profile wins.
    result = cli(
        "--profile", "mine", "server", "session", "--json", url="http://127.0.0.1:9", env=env
    )
    assert session_user(result) == user


def test_url_user_never_gets_the_environment_password(cli_offline: CliRun, server: Server) -> None:
    bare, user, password = parts(server)
    url = bare.replace("://", f"://{user}@", 1)
    env = {"COUCHDB_USER": "someone-else", "COUCHDB_PASSWORD": password}
    result = cli_offline("--url", url, "server", "session", "--json", env=env)
    # No password for the URL's user: nothing authenticated (CouchDB ignores a
    # user without a password, and the environment's belongs to someone else).
    assert result.exit_code in (0, 6), result.stderr
    if result.exit_code == 0:
        assert result.json()["userCtx"]["name"] is None


def test_schemeless_url_error_hides_the_password(cli_offline: CliRun) -> None:
    result = cli_offline("server", "info", env={"COUCH_URL": "admin:S3cret@host:5984"})
    assert result.exit_code == 2
    assert "S3cret" not in result.stderr
    assert result.stderr.startswith("couchctl: error: the server URL must start with http")
    assert "admin:***@host:5984" in result.stderr


def test_url_with_unencoded_slash_in_password(cli_offline: CliRun) -> None:
    result = cli_offline("--url", "http://admin:S3/cret@host:5984", "server", "info")
    assert result.exit_code == 2
    assert "S3" not in result.stderr
    assert "percent-encode" in result.stderr


ESCAPES_ID = "evil\x1b]0;pwned\x07\x1b[2Jid"


def test_server_text_cannot_drive_the_terminal(cli: CliRun, server: Server, db: str) -> None:
    import httpx

    response = httpx.post(f"{server.url}/{db}", json={"_id": ESCAPES_ID, "n": 1})
    assert response.status_code in (201, 202), response.text
    human = cli("db", "all-docs", db)
    assert human.exit_code == 0, human.stderr
    assert "\x1b" not in human.stdout and "\x07" not in human.stdout
    assert "evil\\x1b]0;pwned\\x07\\x1b[2Jid" in human.stdout
    # --json keeps the exact id
    as_json = cli("db", "all-docs", db, "--json")
    assert [row["id"] for row in as_json.json()["rows"]] == [ESCAPES_ID]
    # a document for people is JSON, escaped by JSON itself
    doc = cli("doc", "get", db, ESCAPES_ID)
    assert doc.exit_code == 0, doc.stderr
    assert "\x1b" not in doc.stdout
    # a one-line message and an error
    missing = cli("doc", "get", db, ESCAPES_ID + "-missing")
    assert missing.exit_code == 4
    assert "\x1b" not in missing.stderr


def test_password_from_a_file(cli_offline: CliRun, server: Server, tmp_path: Path) -> None:
    bare, user, password = parts(server)
    path = tmp_path / "pw"
    path.write_text(password + "\n", encoding="utf-8")
    result = cli_offline(
        "--url", bare, "--user", user, "--password-file", str(path), "server", "session", "--json"
    )
    assert session_user(result) == user
    env = {"COUCHDB_USER": user, "COUCHDB_PASSWORD_FILE": str(path)}
    assert session_user(cli_offline("--url", bare, "server", "session", "--json", env=env)) == user


def test_doc_put_deleted_needs_yes(cli: CliRun, server: Server, db: str) -> None:
    import httpx

    assert httpx.put(f"{server.url}/{db}/victim", json={"n": 1}).status_code in (201, 202)
    rev = httpx.get(f"{server.url}/{db}/victim").json()["_rev"]
    body = f'{{"_rev": "{rev}", "_deleted": true}}'
    refused = cli("doc", "put", db, "victim", "--data", body)
    assert refused.exit_code == 2
    assert "--yes" in refused.stderr
    assert httpx.get(f"{server.url}/{db}/victim").status_code == 200
    done = cli("doc", "put", db, "victim", "--data", body, "--yes")
    assert done.exit_code == 0, done.stderr
    assert httpx.get(f"{server.url}/{db}/victim").status_code == 404
    # an ordinary put needs no --yes
    assert cli("doc", "put", db, "other", "--data", '{"n": 2}').exit_code == 0


def test_db_security_making_a_database_public_needs_yes(
    cli: CliRun, server: Server, db: str
) -> None:
    import httpx

    private = {"admins": {"names": [], "roles": []}, "members": {"names": [], "roles": ["staff"]}}
    result = cli("db", "security", db, "--set", '{"admins": {}, "members": {"roles": ["staff"]}}')
    assert result.exit_code == 0, result.stderr
    for public in ('{"admins": {"roles": ["ops"]}, "members": {"names": [], "roles": []}}', "{}"):
        refused = cli("db", "security", db, "--set", public)
        assert refused.exit_code == 2, refused.stderr
        assert "--yes" in refused.stderr
        members = httpx.get(f"{server.url}/{db}/_security").json()["members"]
        assert members.get("roles") == private["members"]["roles"]
    done = cli("db", "security", db, "--set", "{}", "--yes")
    assert done.exit_code == 0, done.stderr
    assert not httpx.get(f"{server.url}/{db}/_security").json().get("members")


def test_att_upload_replacing_other_content_needs_yes(
    cli: CliRun, server: Server, db: str, tmp_path: Path
) -> None:
    import httpx

    first = tmp_path / "notes.txt"
    first.write_text("first version\n" * 50, encoding="utf-8")
    assert cli("att", "upload", db, "doc", str(first)).exit_code == 0
    # the same bytes again: nothing to confirm (a text type: CouchDB stores it gzip'd)
    again = cli("att", "upload", db, "doc", str(first))
    assert again.exit_code == 0, again.stderr
    second = tmp_path / "other" / "notes.txt"
    second.parent.mkdir()
    for content in ("first versioN\n" * 50, "short\n"):  # same size, other size
        second.write_text(content, encoding="utf-8")
        refused = cli("att", "upload", db, "doc", str(second))
        assert refused.exit_code == 2, refused.stderr
        assert "--yes" in refused.stderr
        stored = httpx.get(f"{server.url}/{db}/doc/notes.txt").text
        assert stored == "first version\n" * 50
    done = cli("att", "upload", db, "doc", str(second), "--yes")
    assert done.exit_code == 0, done.stderr
    assert httpx.get(f"{server.url}/{db}/doc/notes.txt").text == "short\n"
