"""Shell completion: the committed scripts match what the app generates, and
database names complete from the server (and fail silently without one)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from couchctl.cli._app import app
from couchctl.cli._completion import SCRIPTS, completion_script
from tests.conftest import Server
from tests.standin import free_port

COMPLETIONS = Path(__file__).resolve().parents[1] / "completions"


@pytest.mark.parametrize(("shell", "name"), SCRIPTS.items())
def test_committed_scripts_are_current(shell: str, name: str) -> None:
    path = COMPLETIONS / name
    assert path.exists(), f"{path} is missing: run python -m couchctl.cli._completion"
    assert path.read_text(encoding="utf-8") == completion_script(shell), (
        f"{path} is stale: run python -m couchctl.cli._completion"
    )


def test_scripts_call_the_program() -> None:
    assert "_COUCHCTL_COMPLETE=complete_bash" in completion_script("bash")
    assert completion_script("zsh").startswith("#compdef couchctl")
    assert "complete --command couchctl" in completion_script("fish")


def complete(words: str, url: str | None = None) -> list[str]:
    """Ask the app for bash completions of the command line `words` (cursor at the end)."""
    env = {
        "_COUCHCTL_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split(" ")) - 1),
    }
    if url is not None:
        env["COUCH_URL"] = url
    result = CliRunner().invoke(app, [], env=env, prog_name="couchctl")
    assert result.exit_code == 0, result.output
    return result.stdout.split()


def test_group_and_command_names_complete() -> None:
    assert complete("couchctl d") == ["db", "doc"]
    assert "info" in complete("couchctl server ")


def test_database_names_complete_from_the_server(server: Server, db: str) -> None:
    names = complete(f"couchctl att list {db[:4]}", url=server.url)
    assert db in names
    assert all(name.startswith(db[:4]) for name in names)
    assert complete(f"couchctl att list {db}", url=server.url) == [db]
    assert complete("couchctl att list zz-no-such-prefix", url=server.url) == []


def test_the_url_flag_is_used_for_completion(server: Server, db: str) -> None:
    assert db in complete(f"couchctl --url {server.url} att list {db[:6]}")


def test_database_completion_without_a_server_is_silent_and_quick() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    started = time.monotonic()
    assert complete("couchctl att list ", url=url) == []
    assert time.monotonic() - started < 5


def test_completion_in_a_real_shell_process(server: Server, db: str) -> None:
    env = {
        **os.environ,
        "COUCH_URL": server.url,
        "_COUCHCTL_COMPLETE": "complete_bash",
        "COMP_WORDS": f"couchctl att list {db}",
        "COMP_CWORD": "3",
    }
    code = "import sys; sys.argv[0] = 'couchctl'; from couchctl.cli import main; main()"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [db]


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_use_typers_protocol(server: Server, db: str, shell: str) -> None:
    # These shells pass the command line in _TYPER_COMPLETE_ARGS, which only Typer's
    # completion classes read: this checks that they are registered on demand.
    env = {
        "_COUCHCTL_COMPLETE": f"complete_{shell}",
        "_TYPER_COMPLETE_ARGS": f"couchctl att list {db}",
        "COUCH_URL": server.url,
    }
    if shell == "fish":
        env["_TYPER_COMPLETE_FISH_ACTION"] = "get-args"
    result = CliRunner().invoke(app, [], env=env, prog_name="couchctl")
    assert result.exit_code == 0, result.output
    assert db in result.stdout
