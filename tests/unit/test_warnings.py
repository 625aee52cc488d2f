"""Warnings before a secret goes over plain http to another machine, and on every
run without certificate verification."""

from __future__ import annotations

import pytest

from couchctl.config import Settings, is_loopback
from tests.conftest import CliRun


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("10.0.0.5", False),
        ("0.0.0.0", False),
        ("couch.example.org", False),
        ("localhost.example.org", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (
            Settings(url="http://couch.lan:5984", user="u", password="p"),
            "a password over plain http",
        ),
        (Settings(url="http://couch.lan:5984", token="t"), "a token over plain http"),
        (Settings(url="https://couch.lan", insecure=True), "verification is off"),
    ],
)
def test_warnings(settings: Settings, expected: str) -> None:
    said = settings.send_warnings()
    assert len(said) == 1 and expected in said[0]


@pytest.mark.parametrize(
    "settings",
    [
        Settings(url="http://127.0.0.1:5984", user="u", password="p"),
        Settings(url="http://[::1]:5984", token="t"),
        Settings(url="https://couch.lan", user="u", password="p"),
        Settings(url="http://couch.lan:5984"),
        Settings(url="http://couch.lan:5984", user="u"),
    ],
)
def test_no_warning(settings: Settings) -> None:
    assert settings.send_warnings() == []


def test_cli_warns_before_sending_a_password_over_http(cli_offline: CliRun) -> None:
    env = {"COUCHDB_USER": "admin", "COUCHDB_PASSWORD": "pw-never-shown"}
    result = cli_offline("--url", "http://0.0.0.0:1", "--timeout", "2", "server", "info", env=env)
    assert result.exit_code == 3
    first = result.stderr.splitlines()[0]
    assert first.startswith("couchctl: warning: sending a password over plain http to 0.0.0.0")
    assert "pw-never-shown" not in result.stderr


def test_cli_warns_on_every_insecure_run(cli_offline: CliRun) -> None:
    result = cli_offline("--insecure", "--url", "https://127.0.0.1:1", "server", "info")
    assert result.exit_code == 3
    assert result.stderr.splitlines()[0].startswith(
        "couchctl: warning: TLS certificate verification is off"
    )
