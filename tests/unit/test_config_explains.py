"""Settings that explain themselves: unknown profiles and keys, a missing
COUCHCTL_CONFIG, and where each setting came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from couchctl.config import ConfigError, load_settings
from tests.conftest import CliRun

PROFILES = """\
[default]
url = "http://127.0.0.1:5984"

[prod]
url = "https://couch.example.org"
usr = "alice"
password = "s3cret"
"""


def _config(tmp_path: Path, text: str = PROFILES) -> dict[str, str]:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return {"COUCHCTL_CONFIG": str(path)}


def test_unknown_profile_lists_the_profiles(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(profile="staging", environ=_config(tmp_path))
    assert "'staging' not found" in str(info.value)
    assert info.value.hint is not None
    assert "default, prod" in info.value.hint


def test_unknown_profile_on_the_command_line(tmp_path: Path, cli_offline: CliRun) -> None:
    result = cli_offline("--profile", "staging", "server", "info", env=_config(tmp_path))
    assert result.exit_code == 2
    assert "profile 'staging' not found" in result.stderr
    assert "default, prod" in result.stderr


def test_unknown_key_warns_with_its_line(tmp_path: Path) -> None:
    env = _config(tmp_path)
    settings = load_settings(profile="prod", environ=env)
    said = [w for w in settings.warnings if "'usr'" in w]
    assert len(said) == 1
    assert "line 6" in said[0] and "profile 'prod'" in said[0]
    assert env["COUCHCTL_CONFIG"] in said[0]


def test_a_key_outside_any_profile_warns(tmp_path: Path) -> None:
    settings = load_settings(environ=_config(tmp_path, 'timeout = 5\n[default]\nuser = "a"\n'))
    assert any("'timeout'" in w and "line 1" in w for w in settings.warnings)


def test_known_keys_do_not_warn(tmp_path: Path) -> None:
    text = '[default]\nurl = "http://h:1"\ntimeout = 5\nretries = 2\ninsecure = false\n'
    assert load_settings(environ=_config(tmp_path, text)).warnings == ()


def test_missing_couchctl_config_is_a_usage_error(tmp_path: Path, cli_offline: CliRun) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="COUCHCTL_CONFIG"):
        load_settings(environ={"COUCHCTL_CONFIG": str(missing)})
    result = cli_offline("server", "info", env={"COUCHCTL_CONFIG": str(missing)})
    assert result.exit_code == 2
    assert f"COUCHCTL_CONFIG names a file that does not exist: {missing}" in result.stderr


def test_sources_name_flag_environment_and_profile(tmp_path: Path) -> None:
    env = _config(tmp_path, PROFILES.replace("usr", "user"))
    path = env["COUCHCTL_CONFIG"]
    settings = load_settings(profile="prod", environ=env)
    assert settings.url_source == f"profile prod in {path}"
    assert settings.source_of("user") == f"profile prod in {path}"
    assert settings.source_of("password") == f"profile prod in {path}"
    assert settings.source_of("profile") == "--profile"
    assert settings.source_of("timeout") == "default"
    settings = load_settings(
        url="http://h:1", environ={**env, "COUCHDB_USER": "bob", "COUCHCTL_TIMEOUT": "7"}
    )
    assert settings.url_source == "--url"
    assert settings.source_of("user") == "COUCHDB_USER"
    assert settings.source_of("timeout") == "COUCHCTL_TIMEOUT"
    settings = load_settings(environ={**env, "COUCH_URL": "http://u:pw@h:1"})
    assert settings.url_source == "COUCH_URL"
    assert settings.source_of("password") == "the URL (COUCH_URL)"


def test_unreachable_hint_names_where_the_url_came_from(
    tmp_path: Path, cli_offline: CliRun
) -> None:
    # Port 9 on loopback: nothing listens there.
    text = '[default]\nurl = "http://127.0.0.1:9"\n'
    env = _config(tmp_path, text)
    result = cli_offline("server", "info", env=env)
    assert result.exit_code == 3
    assert f"the url of profile default in {env['COUCHCTL_CONFIG']}" in result.stderr
    result = cli_offline("server", "info", env={"COUCH_URL": "http://127.0.0.1:9"})
    assert result.exit_code == 3
    assert "that COUCH_URL points to it" in result.stderr
    result = cli_offline("--url", "http://127.0.0.1:9", "server", "info")
    assert "that --url points to it" in result.stderr
