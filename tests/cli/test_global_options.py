"""Global options are accepted before or after the command, and durations take units."""

from __future__ import annotations

from typing import Any

import pytest
import typer.main

from couchctl._duration import parse_duration
from couchctl.cli._app import app, hoist_global_options
from tests.conftest import CliRun

INFO = {"db_name": "corpus", "doc_count": 1, "update_seq": "1-x"}


def hoisted(*args: str) -> list[str]:
    return hoist_global_options(list(args), typer.main.get_command(app))


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["db", "info", "d", "--url", "U"], ["--url", "U", "db", "info", "d"]),
        (["db", "info", "--url=U", "d"], ["--url=U", "db", "info", "d"]),
        (["db", "--timeout", "5s", "info", "d"], ["--timeout", "5s", "db", "info", "d"]),
        (["db", "info", "d", "-u", "bob", "-v"], ["-u", "bob", "-v", "db", "info", "d"]),
        (["db", "info", "d", "-ubob"], ["-ubob", "db", "info", "d"]),
        (["--url", "U", "db", "info", "d"], ["--url", "U", "db", "info", "d"]),
        (["--json", "db", "info", "d"], ["db", "info", "--json", "d"]),
        (
            ["db", "info", "d", "--json", "--insecure", "--cacert", "ca.pem", "--profile", "p"],
            ["--insecure", "--cacert", "ca.pem", "--profile", "p", "db", "info", "d", "--json"],
        ),
        (
            ["db", "info", "d", "--password-file", "pw", "--token-file", "t"],
            ["--password-file", "pw", "--token-file", "t", "db", "info", "d"],
        ),
        # A value of the command's own option is never taken for an option.
        (
            ["doc", "put", "d", "x", "--data", "--url", "--debug"],
            ["--debug", "doc", "put", "d", "x", "--data", "--url"],
        ),
        # The command's own option of the same name wins (db grant --user NAME).
        (
            ["db", "grant", "d", "--member", "--user", "bob", "--url", "U"],
            ["--url", "U", "db", "grant", "d", "--member", "--user", "bob"],
        ),
        # Nothing after `--` moves.
        (["doc", "get", "d", "--", "--url"], ["doc", "get", "d", "--", "--url"]),
        # No command, an unknown command, help: unchanged, for click to report.
        (["db", "--url", "U"], ["db", "--url", "U"]),
        (["db", "nope", "--url", "U"], ["db", "nope", "--url", "U"]),
        (["--help"], ["--help"]),
        (["--nope", "db", "info", "d"], ["--nope", "db", "info", "d"]),
    ],
)
def test_hoisting(given: list[str], expected: list[str]) -> None:
    assert hoisted(*given) == expected


def test_url_and_timeout_after_the_command_are_used(cli_offline: CliRun, httpx_mock: Any) -> None:
    httpx_mock.add_response(url="http://after.test/corpus", json=INFO)
    result = cli_offline(
        "db", "info", "corpus", "--json", "--url", "http://after.test", "--timeout", "250ms"
    )
    assert result.exit_code == 0, result.stderr
    assert result.json() == INFO
    request = httpx_mock.get_request()
    assert request.extensions["timeout"]["read"] == 0.25


def test_json_before_the_command(cli_offline: CliRun, httpx_mock: Any) -> None:
    httpx_mock.add_response(url="http://before.test/corpus", json=INFO)
    result = cli_offline("--json", "--url", "http://before.test", "db", "info", "corpus")
    assert result.exit_code == 0, result.stderr
    assert result.json() == INFO


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["db", "info", "corpus", "--url"], "Option '--url' requires an argument."),
        (["db", "info", "corpus", "--timeout", "soon"], "'soon' is not a duration"),
        (["--timeout", "0", "db", "info", "corpus"], "'0' is not a positive duration"),
        (["db", "info", "corpus", "--nope"], "No such option: --nope"),
    ],
)
def test_bad_global_options_are_usage_errors(
    cli_offline: CliRun, httpx_mock: Any, args: list[str], message: str
) -> None:
    result = cli_offline(*args, url="http://never.test")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("couchctl: error: ")
    assert message in result.stderr
    assert httpx_mock.get_requests() == []


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30", 30.0), ("30s", 30.0), ("500ms", 0.5), ("2m", 120.0), ("1h", 3600.0), ("1.5S", 1.5)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text", ["", "s", "ms", "-1", "0", "0ms", "nan", "inf", "5x", "1 d", "0.5ms", "5.7e-133"]
)
def test_not_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_timeout_setting_takes_units(cli_offline: CliRun, httpx_mock: Any) -> None:
    httpx_mock.add_response(url="http://env.test/corpus", json=INFO)
    result = cli_offline(
        "db", "info", "corpus", "--json", url="http://env.test", env={"COUCHCTL_TIMEOUT": "2m"}
    )
    assert result.exit_code == 0, result.stderr
    assert httpx_mock.get_request().extensions["timeout"]["read"] == 120.0


@pytest.mark.parametrize(
    ("flags", "params"),
    [
        (
            ["--longpoll-timeout", "30s", "--heartbeat", "500ms"],
            {"timeout": "30000", "heartbeat": "500"},
        ),
        (
            ["--longpoll-timeout", "2", "--heartbeat", "1.5"],
            {"timeout": "2000", "heartbeat": "1500"},
        ),
    ],
)
def test_changes_durations_in_couchdb_milliseconds(
    cli_offline: CliRun, httpx_mock: Any, flags: list[str], params: dict[str, str]
) -> None:
    httpx_mock.add_response(json={"results": [], "last_seq": "0", "pending": 0})
    result = cli_offline(
        "db", "changes", "corpus", "--feed", "longpoll", *flags, "--json", url="http://couch.test"
    )
    assert result.exit_code == 0, result.stderr
    sent = dict(httpx_mock.get_request().url.params)
    assert {k: sent[k] for k in params} == params


def test_changes_bad_duration_is_refused(cli_offline: CliRun, httpx_mock: Any) -> None:
    result = cli_offline("db", "changes", "corpus", "--heartbeat", "often", url="http://couch.test")
    assert result.exit_code == 2
    assert "--heartbeat" in result.stderr and "not a duration" in result.stderr
    assert httpx_mock.get_requests() == []
