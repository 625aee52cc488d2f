"""Passwords and tokens from files (--password-file, --token-file and the
COUCHDB_*_FILE variables), and a warning for a config file others can read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from couchctl.config import ConfigError, load_settings
from tests.conftest import CliRun


@pytest.fixture
def none(tmp_path: Path) -> dict[str, str]:
    return {"COUCHCTL_CONFIG": os.devnull}


def secret_file(tmp_path: Path, text: str, name: str = "secret") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return str(path)


def test_password_file_first_line_without_its_newline(tmp_path: Path, none: dict[str, str]) -> None:
    path = secret_file(tmp_path, "p@ss word\nsecond line\n")
    s = load_settings(user="admin", password_file=path, environ=none)
    assert (s.user, s.password) == ("admin", "p@ss word")
    crlf = secret_file(tmp_path, "pw\r\n", "crlf")
    assert load_settings(user="admin", password_file=crlf, environ=none).password == "pw"


def test_password_file_from_the_environment(tmp_path: Path, none: dict[str, str]) -> None:
    path = secret_file(tmp_path, "envfilepw\n")
    env = {**none, "COUCHDB_USER": "admin", "COUCHDB_PASSWORD_FILE": path}
    assert load_settings(environ=env).password == "envfilepw"
    with pytest.raises(ConfigError, match="both COUCHDB_PASSWORD and COUCHDB_PASSWORD_FILE"):
        load_settings(environ={**env, "COUCHDB_PASSWORD": "x"})


def test_password_file_flag_goes_with_a_url_user(tmp_path: Path, none: dict[str, str]) -> None:
    path = secret_file(tmp_path, "alicepw\n")
    s = load_settings(url="http://alice@h:5984", password_file=path, environ=none)
    assert (s.user, s.password) == ("alice", "alicepw")


def test_token_file(tmp_path: Path, none: dict[str, str]) -> None:
    path = secret_file(tmp_path, "tok-123\n")
    assert load_settings(token_file=path, environ=none).token == "tok-123"
    assert load_settings(environ={**none, "COUCHDB_TOKEN_FILE": path}).token == "tok-123"
    with pytest.raises(ConfigError, match="--token and --token-file"):
        load_settings(token="t", token_file=path, environ=none)


@pytest.mark.parametrize("flag", ["--password-file", "--token-file"])
def test_missing_secret_file_is_a_usage_error_naming_it(
    cli_offline: CliRun, tmp_path: Path, flag: str
) -> None:
    missing = tmp_path / "no-such-file"
    result = cli_offline(flag, str(missing), "--user", "admin", "server", "info")
    assert result.exit_code == 2
    assert result.stderr.startswith("couchctl: error: ")
    assert str(missing) in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_secret_file_from_the_environment(cli_offline: CliRun, tmp_path: Path) -> None:
    missing = str(tmp_path / "gone")
    result = cli_offline("server", "info", env={"COUCHDB_TOKEN_FILE": missing})
    assert result.exit_code == 2
    assert missing in result.stderr and "COUCHDB_TOKEN_FILE" in result.stderr


PROFILE_WITH_PASSWORD = '[default]\nurl = "http://127.0.0.1:1"\nuser = "a"\npassword = "pw"\n'


@pytest.mark.parametrize(("mode", "warns"), [(0o644, True), (0o640, True), (0o600, False)])
def test_config_file_readable_by_others_warns(
    tmp_path: Path, mode: int, warns: bool, cli_offline: CliRun
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(PROFILE_WITH_PASSWORD, encoding="utf-8")
    path.chmod(mode)
    s = load_settings(environ={"COUCHCTL_CONFIG": str(path)})
    assert bool(s.warnings) is warns
    result = cli_offline("server", "info", env={"COUCHCTL_CONFIG": str(path)})
    assert result.exit_code == 3
    warned = [line for line in result.stderr.splitlines() if "chmod 600" in line]
    if warns:
        assert warned and warned[0].startswith("couchctl: warning: ")
        assert str(path) in warned[0]
    else:
        assert warned == []


def test_config_file_without_secrets_does_not_warn(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[default]\nurl = "http://h:5984"\nuser = "a"\n', encoding="utf-8")
    path.chmod(0o644)
    assert load_settings(environ={"COUCHCTL_CONFIG": str(path)}).warnings == ()
