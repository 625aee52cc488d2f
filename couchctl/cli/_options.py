"""Options and arguments shared by the command groups.

- `JsonFlag` / `JsonlFlag` and `output_mode()`: the one definition of --json/--jsonl.
- `json_argument()`: a JSON literal, `@path/to/file.json`, or `-` for stdin.
- `YesFlag`: --yes/-y for destructive commands (see `_run.confirm_or_exit`).
- `DbArg`: a database name that completes from the server.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from couchctl.cli._context import BadInput, global_options
from couchctl.render import Mode

__all__ = [
    "DbArg",
    "DocIdArg",
    "JsonFlag",
    "JsonlFlag",
    "YesFlag",
    "complete_db",
    "json_argument",
    "json_object_argument",
    "output_mode",
    "read_text_source",
]

JsonFlag = Annotated[
    bool, typer.Option("--json", help="Print the server's JSON response as is (for scripts, jq).")
]
JsonlFlag = Annotated[
    bool, typer.Option("--jsonl", help="Stream rows as JSON Lines: one JSON object a line.")
]
YesFlag = Annotated[
    bool,
    typer.Option("--yes", "-y", help="Do not ask for confirmation (needed off a terminal)."),
]


def output_mode(json_flag: bool = False, jsonl_flag: bool = False) -> Mode:
    if json_flag and jsonl_flag:
        raise BadInput("--json and --jsonl cannot be used together")
    if jsonl_flag:
        return "jsonl"
    return "json" if json_flag else "human"


def complete_db(ctx: typer.Context, incomplete: str) -> list[str]:
    """Database names from the server (short timeout, no retries; nothing on any failure)."""
    try:
        from dataclasses import replace

        import anyio

        from couchctl.client import CouchClient

        settings = replace(global_options(ctx).settings_quiet(), timeout=1.0, retries=0)

        async def names() -> list[str]:
            async with CouchClient.from_settings(settings) as couch:
                return await couch.all_dbs()

        found = anyio.run(names)
        return [n for n in found if isinstance(n, str) and n.startswith(incomplete)]
    except Exception:
        return []


DbArg = Annotated[
    str, typer.Argument(help="Database name.", autocompletion=complete_db, show_default=False)
]
DocIdArg = Annotated[str, typer.Argument(help="Document id.", show_default=False)]


def read_text_source(source: str, what: str) -> tuple[str, str]:
    """Text from `-` (stdin), `@file`, or a plain file path; returns (text, label)."""
    if source == "-":
        return sys.stdin.read(), "stdin"
    path = Path(source[1:] if source.startswith("@") else source)
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except FileNotFoundError:
        raise BadInput(f"{what}: file not found: {path}") from None
    except IsADirectoryError:
        raise BadInput(f"{what}: is a directory: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{what}: cannot read {path}: {exc}") from None


def _parse(text: str, what: str, label: str | None) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = f" in {label}" if label else ""
        raise BadInput(
            f"{what} is not valid JSON{where}: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None


def json_argument(value: str, what: str) -> Any:
    """Parse a JSON-valued argument: a JSON literal, `@file`, or `-` for stdin."""
    if value == "-" or value.startswith("@"):
        text, label = read_text_source(value, what)
        return _parse(text, what, label)
    return _parse(value, what, None)


def json_object_argument(value: str, what: str) -> dict[str, Any]:
    """Like json_argument, but the value must be a JSON object."""
    parsed = json_argument(value, what)
    if not isinstance(parsed, dict):
        raise BadInput(f"{what} must be a JSON object, got {_json_type(parsed)}")
    return parsed


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "null" if value is None else type(value).__name__
