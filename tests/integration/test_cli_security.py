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
