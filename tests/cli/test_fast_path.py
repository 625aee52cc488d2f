"""The fast path (cli/_fast.py) answers exactly as the Typer commands do.

Each command line runs twice on pytest-httpx's mocked transport, with recorded
CouchDB 3.4.3 answers: through the fast path and through the Typer app. stdout,
stderr and the exit code must be the same, on success and on every failure. A
command line the fast path does not recognise must give None (the Typer app runs).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
import typer.main
from pytest_httpx import HTTPXMock
from typer.testing import CliRunner

from couchctl.cli._app import app
from couchctl.cli._fast import COMMANDS, FLAGS, VALUED, parse, run_fast
from tests.conftest import CliResult, recorded_response

URL = "http://127.0.0.1:5984"
AUTH_URL = "http://admin:pw@127.0.0.1:5984"


def typer_path(args: list[str]) -> CliResult:
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    return CliResult(result.exit_code, result.stdout, result.stderr)


def fast_path(args: list[str]) -> CliResult:
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = run_fast(args)
    assert code is not None, f"the fast path did not take {args}"
    return CliResult(code, stdout.getvalue(), stderr.getvalue())


def _frames_left_out(result: CliResult) -> CliResult:
    """`result` with the frames of a --debug traceback left out: the two paths reach
    the operation through different callers (no event loop on the fast path)."""
    if "Traceback (most recent call last):" not in result.stderr:
        return result
    return CliResult(result.exit_code, result.stdout, re.sub(r"(?m)^ .*\n", "", result.stderr))


def both(*args: str) -> CliResult:
    """Run `args` both ways; they must agree (a traceback's frames aside). Returns the
    fast path's result."""
    fast = fast_path(list(args))
    slow = typer_path(list(args))
    assert _frames_left_out(fast) == _frames_left_out(slow)
    return fast


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Credentials in COUCH_URL, no config file of the user's; no waits between
    retries, and the longest of each jittered wait (the waits are said on stderr)."""
    config = tmp_path / "config.toml"
    config.write_text('[default]\nurl = "http://127.0.0.1:5984"\n\n[other]\nretries = 1\n')
    monkeypatch.setenv("COUCHCTL_CONFIG", str(config))
    monkeypatch.setenv("COUCH_URL", AUTH_URL)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setattr("random.uniform", lambda low, high: high)
    checkpoint = anyio.lowlevel.checkpoint
    monkeypatch.setattr(anyio, "sleep", lambda delay: checkpoint())
    monkeypatch.setattr("couchctl.client._base.time.sleep", lambda delay: None)  # fast path
    yield


def answer(httpx_mock: HTTPXMock, name: str, **match: str) -> None:
    httpx_mock.add_response(**recorded_response(name), is_reusable=True, **match)  # type: ignore[arg-type]


# -- the same answer both ways ---------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["db", "info", "corpus", "--json"],
        ["--json", "db", "info", "corpus"],
        ["db", "--json", "info", "corpus"],
        ["db", "info", "--json", "corpus"],
        ["db", "info", "corpus", "--json", "--url", AUTH_URL],
        ["--url=" + AUTH_URL, "db", "info", "corpus", "--json", "--timeout", "5s"],
        ["db", "--retries", "0", "info", "corpus", "--json", "--debug", "--insecure"],
        ["db", "info", "corpus", "--json", "-u", "admin", "--verbose"],
        ["db", "info", "corpus", "--json", "-v", "--profile", "default", "--user", "admin"],
    ],
)
def test_db_info(httpx_mock: HTTPXMock, args: list[str]) -> None:
    answer(httpx_mock, "037-db-info", url=f"{URL}/corpus")
    result = both(*args)
    assert result.exit_code == 0
    assert result.stdout.startswith('{"instance_start_time":')


def test_db_info_verbose_traces_the_same(httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "037-db-info")
    result = both("db", "info", "corpus", "--json", "--verbose")
    assert "GET http://127.0.0.1:5984/corpus" in result.stderr
    assert "authorization: [redacted]" in result.stderr.lower()


def test_server_info(httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "001-server-root", url=f"{URL}/")
    assert both("server", "info", "--json").stdout.startswith('{"couchdb":"Welcome"')


@pytest.mark.parametrize(
    ("name", "recorded", "code", "found"),
    [("corpus", "035-db-head", 0, "true"), ("missing", "036-db-head-missing-404", 4, "false")],
)
def test_db_exists(httpx_mock: HTTPXMock, name: str, recorded: str, code: int, found: str) -> None:
    answer(httpx_mock, recorded, url=f"{URL}/{name}", method="HEAD")
    result = both("db", "exists", name, "--json")
    assert result.exit_code == code
    assert result.stdout == f'{{"db":"{name}","exists":{found}}}\n'


def test_db_list(httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "005-all-dbs", method="GET")
    answer(httpx_mock, "042-dbs-info-post", method="POST")
    assert both("db", "list", "--json").stdout.startswith('[{"key":')


def test_doc_get(httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "071-doc-get", url=f"{URL}/corpus/doc-1?conflicts=true")
    result = both("doc", "get", "corpus", "doc-1", "--json")
    assert result.stdout.startswith('{"_id":"doc-1"')
    assert result.stderr == ""


def test_doc_get_says_conflicts_on_stderr(httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "083-doc-get-conflicts")
    result = both("doc", "get", "corpus", "doc-c", "--json")
    assert '"_conflicts"' not in result.stdout
    assert "conflicting revision" in result.stderr


# -- failures ------------------------------------------------------------------------------


def test_missing_database(httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "039-db-get-missing-404")
    result = both("db", "info", "missing", "--json")
    assert result.exit_code == 4
    assert result.stdout == ""
    assert result.stderr == (
        "couchctl: error: GET /missing: Database does not exist. (404 not_found)\n"
    )


def test_missing_database_with_a_path_prefix_and_debug(httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "039-db-get-missing-404")
    result = both("db", "info", "missing", "--json", "--url", URL + "/couch", "--debug")
    assert result.exit_code == 4
    assert "Traceback" in result.stderr
    assert "couchctl/client/_base.py" in result.stderr  # frames are shown
    assert "hint: the server URL has the path prefix /couch (--url)" in result.stderr


@pytest.mark.parametrize("env_user", [None, "admin"])
def test_wrong_password(
    httpx_mock: HTTPXMock, monkeypatch: pytest.MonkeyPatch, env_user: str | None
) -> None:
    answer(httpx_mock, "007-all-dbs-wrong-password-401")
    if env_user:
        monkeypatch.setenv("COUCH_URL", URL)
        monkeypatch.setenv("COUCHDB_USER", env_user)
        monkeypatch.setenv("COUCHDB_PASSWORD", "wrong-pw")
    result = both("db", "info", "corpus", "--json")
    assert result.exit_code == 6
    assert "Name or password is incorrect." in result.stderr
    assert "hint: check the user admin" in result.stderr


def test_unreachable_server_waits_as_the_typer_command_does(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.ConnectError("[Errno 111] Connection refused"), is_reusable=True)
    result = both("db", "info", "corpus", "--json", "--retries", "2")
    assert result.exit_code == 3
    assert result.stderr.splitlines() == [
        "couchctl: server unreachable (connection refused), retrying in 0.5 s (attempt 2 of 3)",
        "couchctl: server unreachable (connection refused), retrying in 1.0 s (attempt 3 of 3)",
        f"couchctl: error: cannot reach the server at {URL}: connection refused",
        "hint: check that CouchDB is running and that COUCH_URL points to it",
    ]


def test_timeout(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_exception(httpx.ReadTimeout("timed out"), is_reusable=True)
    result = both("server", "info", "--json", "--timeout", "250ms")
    assert result.exit_code == 3


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--url", "ftp://couch.example", "db", "info", "corpus", "--json"], 2),
        (["--url", "http://admin:pa/ss@couch.example", "db", "info", "corpus", "--json"], 2),
        (["--profile", "nope", "db", "info", "corpus", "--json"], 2),
        (["--cacert", "ca.pem", "--insecure", "db", "info", "corpus", "--json"], 2),
        (["--password-file", "/nonexistent/pw", "db", "info", "corpus", "--json"], 2),
        (["--token", "t", "--token-file", "t.txt", "server", "info", "--json"], 2),
    ],
)
def test_bad_settings_fail_before_any_request(args: list[str], code: int) -> None:
    result = both(*args)
    assert result.exit_code == code
    assert result.stdout == ""
    assert result.stderr.startswith("couchctl: error: ")


def test_environment_that_names_two_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COUCHCTL_PROFILE", "default")
    monkeypatch.setenv("COUCH_URL", "http://other.example:5984")
    result = both("db", "info", "corpus", "--json")
    assert result.exit_code == 2
    assert "name different servers" in result.stderr


def test_bad_database_name_is_a_usage_error() -> None:
    result = both("doc", "get", "", "doc-1", "--json")
    assert result.exit_code == 2


def test_password_over_plain_http_warns(httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "037-db-info")
    url = "http://admin:pw@couch.example:5984"
    result = both("db", "info", "corpus", "--json", "--url", url, "--insecure")
    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        "couchctl: warning: sending a password over plain http to couch.example: anyone on "
        "the network can read it (use https://)",
        "couchctl: warning: TLS certificate verification is off (--insecure): the server is "
        "not authenticated",
    ]


def test_config_file_warnings(httpx_mock: HTTPXMock, tmp_path: Path) -> None:
    answer(httpx_mock, "037-db-info")
    config = Path(os.environ["COUCHCTL_CONFIG"])
    config.write_text('[default]\nurl = "http://127.0.0.1:5984"\ncolour = "blue"\n')
    result = both("db", "info", "corpus", "--json")
    assert "unknown key 'colour'" in result.stderr


# -- what the fast path leaves to Typer --------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["db", "info", "corpus"],
        ["db", "info", "corpus", "--jsonl"],
        ["db", "info", "--json"],
        ["db", "info", "a", "b", "--json"],
        ["db", "info", "corpus", "--json", "--json"],
        ["db", "info", "corpus", "--json=1"],
        ["db", "exists", "corpus"],
        ["db", "corpus", "--json"],
        ["info", "db", "corpus", "--json"],
        ["db", "info", "corpus", "--json", "--url"],
        ["db", "info", "corpus", "--json", "--url", ""],
        ["db", "info", "corpus", "--json", "--url="],
        ["db", "info", "corpus", "--json", "--url", "-v"],
        ["db", "info", "corpus", "--json", "--url", "U", "--url", "V"],
        ["db", "info", "corpus", "--json", "-u", "a", "--user", "b"],
        ["db", "info", "corpus", "--json", "-uadmin"],
        ["db", "info", "corpus", "--json", "-vu", "admin"],
        ["db", "info", "corpus", "--json", "--insecure=yes"],
        ["db", "info", "corpus", "--json", "--verbose", "-v"],
        ["db", "info", "corpus", "--json", "--timeout", "soon"],
        ["db", "info", "corpus", "--json", "--timeout", "0"],
        ["db", "info", "corpus", "--json", "--retries", "-1"],
        ["db", "info", "corpus", "--json", "--retries", "two"],
        ["db", "info", "corpus", "--json", "--retries", "\uff11"],
        ["db", "info", "corpus", "--json", "--help"],
        ["-h", "db", "info", "corpus", "--json"],
        ["--version", "db", "info", "corpus", "--json"],
        ["db", "info", "corpus", "--json", "--"],
        ["db", "info", "-", "--json"],
        ["db", "info", "corpus", "--json", "--nope"],
        ["doc", "get", "corpus", "doc-1", "--json", "--rev", "1-abc"],
        ["doc", "get", "corpus", "doc-1", "--json", "--conflicts"],
        ["doc", "get", "corpus", "--json", "--", "-doc"],
        ["doc", "get", "corpus", "-doc", "--json"],
        ["db", "list", "--json", "--jsonl"],
        ["db", "info", "bad\udcffname", "--json"],
        ["server", "info", "--json", "--token", "\udcff"],
    ],
)
def test_left_to_typer(args: list[str]) -> None:
    assert parse(args) is None


def test_shell_completion_is_left_to_typer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_COUCHCTL_COMPLETE", "complete_bash")
    assert run_fast(["db", "info", "corpus", "--json"]) is None


@pytest.mark.parametrize(
    "args",
    [
        ["db", "info", "corpus", "--json", "--url"],
        ["db", "info", "corpus", "--json", "--timeout", "soon"],
        ["db", "info", "corpus", "--json", "--retries", "-1"],
        ["db", "info", "a", "b", "--json"],
    ],
)
def test_the_entry_point_falls_back_to_typer(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from couchctl.cli import main

    monkeypatch.setattr("sys.argv", ["couchctl", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    captured = capsys.readouterr()
    assert exited.value.code == 2
    assert captured.err.startswith("couchctl: error: ")
    assert CliResult(2, captured.out, captured.err) == typer_path(args)


def test_the_entry_point_takes_the_fast_path(
    httpx_mock: HTTPXMock, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from couchctl.cli import main

    answer(httpx_mock, "039-db-get-missing-404")
    monkeypatch.setitem(sys.modules, "couchctl.cli._app", None)  # importing the app fails
    monkeypatch.setattr("sys.argv", ["couchctl", "db", "info", "missing", "--json"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 4
    assert capsys.readouterr().err.startswith("couchctl: error: GET /missing: ")


# -- the fast path knows what the Typer app defines ---------------------------------------------


def test_global_options_are_the_apps() -> None:
    root = typer.main.get_command(app)
    takes = {}
    for param in root.params:
        for name in (*param.opts, *param.secondary_opts):
            takes[name] = getattr(param, "is_flag", False)
    del takes["--version"]
    assert {name for name, flag in takes.items() if flag} == set(FLAGS)
    assert {name for name, flag in takes.items() if not flag} == set(VALUED)


@pytest.mark.parametrize("words", sorted(COMMANDS))
def test_commands_take_what_the_fast_path_expects(words: tuple[str, str]) -> None:
    root = typer.main.get_command(app)
    group = root.commands[words[0]]  # type: ignore[attr-defined]
    command = group.commands[words[1]]
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    options = {name for p in command.params if p.param_type_name == "option" for name in p.opts}
    assert len(arguments) == COMMANDS[words][0]
    assert "--json" in options
