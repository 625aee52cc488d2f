"""Settings: flags > environment > profile file > defaults; passwords never shown."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from couchctl.config import (
    DEFAULT_URL,
    ConfigError,
    Settings,
    config_path,
    load_settings,
    mask_url,
)

PROFILE = """
[default]
url = "http://profile-host:5984"
user = "puser"
password = "ppass"
token = "ptoken"
timeout = 12
cacert = "~/ca.pem"
retries = 5

[prod]
url = "https://prod.example:6984/couch/"
insecure = true
timeout = 60

[bad]
insecure = "yes"
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    path = tmp_path / "config.toml"
    path.write_text(PROFILE, encoding="utf-8")
    return {"COUCHCTL_CONFIG": str(path)}


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings(environ={"COUCHCTL_CONFIG": os.devnull})
    assert settings == Settings()
    assert settings.url == DEFAULT_URL == "http://127.0.0.1:5984"
    assert settings.timeout == 30.0
    assert settings.user is None and settings.password is None and settings.token is None


def test_profile_default_table(env: dict[str, str]) -> None:
    s = load_settings(environ=env)
    assert (s.url, s.user, s.password, s.token, s.timeout, s.retries, s.profile) == (
        "http://profile-host:5984",
        "puser",
        "ppass",
        "ptoken",
        12.0,
        5,
        "default",
    )
    assert s.cacert == str(Path("~/ca.pem").expanduser())


def test_named_profile_by_flag_and_env(env: dict[str, str]) -> None:
    s = load_settings(profile="prod", environ=env)
    assert s.url == "https://prod.example:6984/couch"
    assert s.insecure is True
    assert s.timeout == 60
    assert s.user is None
    assert load_settings(environ={**env, "COUCHCTL_PROFILE": "prod"}).profile == "prod"
    # the flag beats the environment
    assert (
        load_settings(profile="default", environ={**env, "COUCHCTL_PROFILE": "prod"}).profile
        == "default"
    )


def test_environment_beats_profile(env: dict[str, str]) -> None:
    s = load_settings(
        environ={
            **env,
            "COUCHDB_URL": "http://env2:5984",
            "COUCHDB_USER": "euser",
            "COUCHDB_PASSWORD": "epass",
            "COUCHDB_TOKEN": "etoken",
            "COUCHCTL_TIMEOUT": "3.5",
        }
    )
    assert (s.url, s.user, s.password, s.token, s.timeout) == (
        "http://env2:5984",
        "euser",
        "epass",
        "etoken",
        3.5,
    )
    both = load_settings(
        environ={**env, "COUCH_URL": "http://env1:5984", "COUCHDB_URL": "http://env2:5984"}
    )
    assert both.url == "http://env1:5984"


def test_flags_beat_environment(env: dict[str, str]) -> None:
    s = load_settings(
        url="http://flag:1/",
        user="fuser",
        token="ftoken",
        timeout=1.25,
        cacert="/ca.pem",
        environ={
            **env,
            "COUCH_URL": "http://env1:5984",
            "COUCHDB_USER": "euser",
            "COUCHDB_TOKEN": "etoken",
            "COUCHCTL_TIMEOUT": "3",
        },
    )
    assert (s.url, s.user, s.token, s.timeout, s.cacert, s.insecure) == (
        "http://flag:1",
        "fuser",
        "ftoken",
        1.25,
        "/ca.pem",
        False,
    )
    assert load_settings(url="https://flag:1", insecure=True, environ=env).insecure is True


def test_url_userinfo(tmp_path: Path) -> None:
    none = {"COUCHCTL_CONFIG": os.devnull}
    s = load_settings(url="http://ad%40min:p%3Aw%40d@h:5984/pre/", environ=none)
    assert (s.url, s.user, s.password) == ("http://h:5984/pre", "ad@min", "p:w@d")


def test_url_userinfo_ranks_with_its_source(tmp_path: Path) -> None:
    none = {"COUCHCTL_CONFIG": os.devnull}
    env = {**none, "COUCHDB_USER": "euser", "COUCHDB_PASSWORD": "epass"}
    # --url with credentials beats COUCHDB_USER / COUCHDB_PASSWORD
    s = load_settings(url="http://bob:bobpw@h:1", environ=env)
    assert (s.user, s.password) == ("bob", "bobpw")
    # so does COUCH_URL: the URL's user and password are a pair
    s = load_settings(environ={**env, "COUCH_URL": "http://bob:bobpw@h:1"})
    assert (s.user, s.password) == ("bob", "bobpw")
    # --user beats the URL's user; the URL's password does not go to another user
    s = load_settings(url="http://bob:bobpw@h:1", user="carol", environ=none)
    assert (s.user, s.password) == ("carol", None)
    # ... but does when the user is the same
    s = load_settings(url="http://bob:bobpw@h:1", user="bob", environ=none)
    assert (s.user, s.password) == ("bob", "bobpw")
    # a URL with only a user never takes another user's password from the environment
    s = load_settings(url="http://bob@h:1", environ={**none, "COUCHDB_PASSWORD": "epass"})
    assert (s.user, s.password) == ("bob", None)
    s = load_settings(url="http://alice@h:1", environ=env)
    assert (s.user, s.password) == ("alice", None)
    # ... but does take COUCHDB_PASSWORD when COUCHDB_USER names the same user
    s = load_settings(url="http://euser@h:1", environ=env)
    assert (s.user, s.password) == ("euser", "epass")


@pytest.mark.parametrize(
    ("kwargs", "environ", "message"),
    [
        ({"url": "ftp://h"}, {}, "must start with http"),
        ({"url": "http://"}, {}, "has no host"),
        ({}, {"COUCHCTL_TIMEOUT": "soon"}, "timeout must be a number"),
        ({}, {"COUCHCTL_TIMEOUT": "-1"}, "must be positive"),
        ({"profile": "nope"}, {}, "profile 'nope' not found"),
        ({"profile": "bad"}, {}, "insecure must be true or false"),
    ],
)
def test_bad_settings(
    env: dict[str, str], kwargs: dict[str, str], environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(environ={**env, **environ}, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("nan", "must be a finite number of seconds, got nan"),
        ("inf", "must be a finite number of seconds, got inf"),
        ("-inf", "must be a finite number of seconds"),
        ("0.0001", "shorter than a millisecond"),
        ("0", "must be positive"),
    ],
)
def test_a_profile_number_timeout_is_checked_like_text(
    tmp_path: Path, value: str, message: str
) -> None:
    """TOML numbers (nan and inf included) are refused as the same text would be."""
    path = tmp_path / "c.toml"
    path.write_text(f"[default]\ntimeout = {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_settings(environ={"COUCHCTL_CONFIG": str(path)})


def test_missing_named_profile_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(profile="x", environ={"COUCHCTL_CONFIG": str(tmp_path / "no.toml")})


def test_unreadable_profile_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[default\nurl=", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(environ={"COUCHCTL_CONFIG": str(path)})


def test_bad_url_message_masks_the_password() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(url="ftp://u:hunter2@h", environ={})
    assert "hunter2" not in str(info.value)


def test_config_path() -> None:
    assert config_path({"COUCHCTL_CONFIG": "/x/c.toml"}) == Path("/x/c.toml")
    assert config_path({"XDG_CONFIG_HOME": "/xdg"}) == Path("/xdg/couchctl/config.toml")
    assert config_path({}) == Path.home() / ".config" / "couchctl" / "config.toml"


def test_password_never_in_repr_or_url() -> None:
    s = load_settings(url="http://admin:hunter2@h:5984", token="tok-secret", environ={})
    for text in (repr(s), str(s), s.url, s.display_url):
        assert "hunter2" not in text
        assert "tok-secret" not in text
    assert "password='***'" not in repr(s) and "password=***" in repr(s)


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("http://u:p@h:5984/x", "http://u:***@h:5984/x"),
        ("http://h:5984", "http://h:5984"),
        ("http://u@h", "http://u@h"),
        ("http://u:p@[::1]:5984/", "http://u:***@[::1]:5984/"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_a_profile_without_a_url_says_the_url_is_the_default(tmp_path: Path) -> None:
    """`--profile local` (no url) uses the default URL, even with COUCH_URL set, and
    says so: the URL is not the profile's."""
    path = tmp_path / "config.toml"
    path.write_text('[local]\nretries = 1\n\n[prod]\nurl = "http://prod:5984"\n')
    env = {"COUCHCTL_CONFIG": str(path)}
    for s in (
        load_settings(profile="local", environ={**env, "COUCH_URL": "http://env:5984"}),
        load_settings(environ={**env, "COUCHCTL_PROFILE": "local"}),
    ):
        assert s.url == DEFAULT_URL
        assert s.retries == 1
        assert s.url_source == f"default: profile local in {path} has no url"
    assert load_settings(profile="prod", environ=env).url_source == f"profile prod in {path}"


def test_the_unreachable_hint_names_a_profile_without_a_url() -> None:
    from couchctl.cli._execute import describe_error
    from couchctl.client import ConnectionFailed

    _, _, hint = describe_error(
        ConnectionFailed("GET http://127.0.0.1:5984/x: connection refused"),
        DEFAULT_URL,
        url_source="default: profile bad in /c.toml has no url",
    )
    assert hint == (
        "check that CouchDB is running and that the URL (the default: profile bad in "
        "/c.toml has no url; set --url or the profile's url) points to it"
    )
