"""Credentials belong to the URL they came with: a profile's secrets and TLS
settings, a URL's user:password, never travel to another server or user."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pytest_httpx import HTTPXMock

from couchctl.client import CouchClient
from couchctl.config import ConfigError, load_settings

PROFILES = """
[default]
url = "https://couch.example.org:6984/"
user = "puser"
password = "ppass"
token = "ptoken"
cacert = "/etc/ca.pem"
timeout = 12

[prod]
url = "https://prod.example.org"
token = "prodtoken"

[lab]
url = "https://lab.example.org"
insecure = true
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    path = tmp_path / "config.toml"
    path.write_text(PROFILES, encoding="utf-8")
    path.chmod(0o600)
    return {"COUCHCTL_CONFIG": str(path)}


def test_profile_secrets_stay_with_the_profile_url(env: dict[str, str]) -> None:
    s = load_settings(url="http://other-host:5984", environ=env)
    assert s.url == "http://other-host:5984"
    assert (s.user, s.password, s.token, s.cacert, s.insecure) == (None, None, None, None, False)
    assert s.timeout == 12  # not a secret: still the profile's


def test_profile_secrets_apply_to_the_profile_url(env: dict[str, str]) -> None:
    for given in (None, "https://couch.example.org:6984", "https://COUCH.example.org:6984/"):
        s = load_settings(url=given, environ=env)
        assert (s.user, s.password, s.token, s.cacert) == (
            "puser",
            "ppass",
            "ptoken",
            "/etc/ca.pem",
        )


def test_profile_secrets_stay_off_an_environment_url(env: dict[str, str]) -> None:
    s = load_settings(environ={**env, "COUCH_URL": "http://elsewhere:5984"})
    assert s.url == "http://elsewhere:5984"
    assert (s.user, s.password, s.token) == (None, None, None)


def test_profile_insecure_does_not_reach_another_url(env: dict[str, str]) -> None:
    assert load_settings(profile="lab", environ=env).insecure is True
    assert load_settings(profile="lab", url="https://bank.example", environ=env).insecure is False


def test_profile_flag_beats_couch_url(env: dict[str, str]) -> None:
    s = load_settings(profile="prod", environ={**env, "COUCH_URL": "http://env-host:5984"})
    assert (s.url, s.token) == ("https://prod.example.org", "prodtoken")


def test_profile_from_environment_and_couch_url_conflict(env: dict[str, str]) -> None:
    environ = {**env, "COUCHCTL_PROFILE": "prod", "COUCH_URL": "http://env-host:5984"}
    with pytest.raises(ConfigError) as info:
        load_settings(environ=environ)
    assert "COUCH_URL" in str(info.value) and "COUCHCTL_PROFILE" in str(info.value)
    # the same server is no conflict; a flag settles it
    same = {**environ, "COUCH_URL": "https://prod.example.org/"}
    assert load_settings(environ=same).token == "prodtoken"
    assert load_settings(url="http://x:1", environ=environ).token is None
    assert load_settings(profile="prod", environ=environ).token == "prodtoken"


def test_url_userinfo_is_a_pair(tmp_path: Path) -> None:
    environ = {
        "COUCHCTL_CONFIG": os.devnull,
        "COUCHDB_USER": "admin",
        "COUCHDB_PASSWORD": "adminpw",
    }
    s = load_settings(url="http://alice@h:5984", environ=environ)
    assert (s.user, s.password) == ("alice", None)
    s = load_settings(url="http://alice:apw@h:5984", environ=environ)
    assert (s.user, s.password) == ("alice", "apw")


def test_cacert_and_insecure_flags_together_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--cacert and --insecure"):
        load_settings(cacert="/ca.pem", insecure=True, environ={})


@pytest.mark.anyio
async def test_no_credentials_on_the_wire_to_another_host(
    httpx_mock: HTTPXMock, env: dict[str, str]
) -> None:
    settings = load_settings(url="http://other-host:5984", environ=env)
    httpx_mock.add_response(url="http://other-host:5984/", json={"couchdb": "Welcome"})
    async with CouchClient.from_settings(settings) as couch:
        await couch.server_info()
    request = httpx_mock.get_request()
    assert request is not None
    assert "authorization" not in {name.lower() for name in request.headers}


def test_a_password_without_a_user_goes_with_the_user_named(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[default]\nurl = "https://h"\npassword = "ppw"\n', encoding="utf-8")
    path.chmod(0o600)
    environ = {"COUCHCTL_CONFIG": str(path)}
    assert load_settings(user="bob", environ=environ).password == "ppw"
    # ... but only to the profile's URL, and never to a user named in a URL
    assert load_settings(user="bob", url="https://other", environ=environ).password is None
    assert load_settings(url="https://carol@h", environ=environ).password is None


def test_profile_values_that_toml_reads_as_numbers_are_text(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[default]\nuser = "u"\npassword = 1234\n', encoding="utf-8")
    path.chmod(0o600)
    environ = {"COUCHCTL_CONFIG": str(path)}
    assert load_settings(environ=environ).password == "1234"
    # a profile without url is the default URL's: COUCHCTL_PROFILE and that URL agree
    same = {**environ, "COUCHCTL_PROFILE": "default", "COUCH_URL": "http://127.0.0.1:5984/"}
    assert load_settings(environ=same).user == "u"
