"""What the administration groups (repl, user, config, cluster, db grant) share:
comma-separated lists, durations, passwords read without a flag value, and
the `--watch` / `--interval` options."""

from __future__ import annotations

import re
import sys
from typing import Annotated

import typer

from couchctl.cli._context import BadInput

__all__ = [
    "IntervalOption",
    "comma_list",
    "parse_duration",
    "read_password",
]

IntervalOption = Annotated[
    str,
    typer.Option("--interval", help="Time between redraws with --watch, with a unit (2s, 500ms)."),
]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(value: str, what: str) -> float:
    """Seconds from `30s`, `500ms`, `2m`, `1h` (a bare number is seconds)."""
    match = _DURATION.match(value)
    if not match or float(match.group(1)) <= 0:
        raise BadInput(f"{what}: not a positive duration: {value!r} (e.g. 2s, 500ms)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def comma_list(value: str | None, what: str) -> list[str]:
    """`a,b,c` as a list; an empty item (`a,,b`, ``) is refused."""
    if value is None:
        return []
    items = [item.strip() for item in value.split(",")]
    if any(not item for item in items):
        raise BadInput(f"{what}: empty name in {value!r}", "names are separated by commas: a,b,c")
    return items


def read_password(from_stdin: bool, who: str) -> str:
    """A password: the first line of stdin with --password-stdin, else asked twice
    on a terminal (it must match). Never from a flag value."""
    if from_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        password = password.removesuffix("\r")
        if not password:
            raise BadInput("--password-stdin: the first line of stdin is empty")
        return password
    if not sys.stdin.isatty():
        raise BadInput(
            "no terminal to ask for the password",
            "pipe it in with --password-stdin (first line of stdin)",
        )
    import getpass

    first = getpass.getpass(f"New password for {who}: ")
    if not first:
        raise BadInput("the password cannot be empty")
    second = getpass.getpass(f"Repeat the password for {who}: ")
    if first != second:
        raise BadInput("the passwords do not match")
    return first
