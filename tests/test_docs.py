"""The documentation keeps up with the code: every group and command has help,
every command shows an example, and the README's commands are the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer.main

from couchctl.cli._app import GROUPS, app

ROOT = Path(__file__).resolve().parents[1]


def command_tree() -> tuple[Any, list[tuple[str, Any]]]:
    """The root group and every (path, command) below it."""
    root = typer.main.get_command(app)
    found: list[tuple[str, Any]] = []

    def walk(prefix: str, group: Any) -> None:
        for name, command in group.commands.items():
            path = f"{prefix} {name}"
            found.append((path, command))
            if hasattr(command, "commands"):
                walk(path, command)

    walk("couchctl", root)
    return root, found


def is_group(command: Any) -> bool:
    return hasattr(command, "commands")


def test_every_group_is_registered() -> None:
    _, tree = command_tree()
    groups = [path.split()[1] for path, command in tree if is_group(command)]
    assert groups == list(GROUPS)


def test_every_group_and_command_has_help() -> None:
    root, tree = command_tree()
    assert root.help
    missing = [path for path, command in tree if not (command.help or "").strip()]
    assert not missing, "no help text: " + ", ".join(missing)


def test_every_command_has_an_example() -> None:
    _, tree = command_tree()
    commands = [(path, command) for path, command in tree if not is_group(command)]
    assert commands
    missing = [
        path
        for path, command in commands
        if not re.search(r"^\s*Example:\s*couchctl ", command.help or "", re.MULTILINE)
    ]
    assert not missing, "no 'Example: couchctl ...' line in the help of: " + ", ".join(missing)


def test_every_example_names_its_own_command() -> None:
    _, tree = command_tree()
    wrong = []
    for path, command in tree:
        if is_group(command):
            continue
        for example in re.findall(
            r"^\s*Example:\s*(couchctl .*)$", command.help or "", re.MULTILINE
        ):
            # the command's words appear in order (global options may come between)
            words = iter(example.split())
            if not all(word in words for word in path.split()):
                wrong.append(f"{path}: {example}")
    assert not wrong, "examples that run another command: " + "; ".join(wrong)


def test_every_option_has_help() -> None:
    _, tree = command_tree()
    missing = [
        f"{path} {'/'.join(param.opts)}"
        for path, command in tree
        for param in command.params
        if param.param_type_name == "option" and not (getattr(param, "help", "") or "").strip()
    ]
    assert not missing, "options without help: " + ", ".join(missing)


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```(?:sh|bash|console)\n(.*?)```", text, re.DOTALL)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def ci_test_command() -> str:
    lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if line.startswith("# The README's test command"):
            return lines[number + 1].strip()
    pytest.fail('.ci/run has no line after "# The README\'s test command"')


def test_readme_test_command_is_the_one_ci_runs() -> None:
    commands = readme_commands()
    assert len(commands) >= 2, "the README should start with the tour and the test command"
    assert commands[1] == ci_test_command()
    assert commands[1].endswith("-m pytest")


def test_readme_first_command_takes_the_tour() -> None:
    first = readme_commands()[0]
    assert "tests/tour.py" in first
    assert (ROOT / "tests" / "tour.py").exists()
