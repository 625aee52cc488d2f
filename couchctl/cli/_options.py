"""Options and arguments shared by the command groups.

- `output_options()`: the one way a command takes --json (and --jsonl) and gets its
  output mode; `JsonFlag` / `JsonlFlag` and `output_mode()` underneath.
- `json_argument()`: a JSON literal, `@path/to/file.json`, or `-` for stdin.
- `YesFlag`: --yes/-y for destructive commands (see `_run.confirm_or_exit`).
- `DbArg`, `DocIdArg`, `DdocArg`, `ViewArg`: names that complete from the server
  (the callbacks are in `_completion`).
- `flag_group()`: one definition of a set of flags that several commands take.
"""

from __future__ import annotations

import functools
import inspect
import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, TypeAlias

import typer

from couchctl._jsontype import json_type_name
from couchctl.cli._completion import complete_db, complete_ddoc, complete_doc_id, complete_view
from couchctl.cli._context import BadInput
from couchctl.render import Mode

__all__ = [
    "DbArg",
    "DdocArg",
    "DocIdArg",
    "JsonFlag",
    "JsonlFlag",
    "NoNewEditsFlag",
    "ViewArg",
    "YesFlag",
    "complete_db",
    "complete_ddoc",
    "complete_doc_id",
    "complete_view",
    "flag_group",
    "json_argument",
    "json_object_argument",
    "output_mode",
    "output_options",
    "read_text_source",
]

JsonFlag = Annotated[
    bool, typer.Option("--json", help="Print the server's JSON response as is (for scripts, jq).")
]
JsonlFlag = Annotated[
    bool, typer.Option("--jsonl", help="Stream rows as JSON Lines: one JSON object a line.")
]
NoNewEditsFlag = Annotated[
    bool,
    typer.Option(
        "--no-new-edits",
        help="new_edits=false: store the given _rev as is (as the replicator does).",
    ),
]
WriteQuorumOpt = Annotated[
    int | None,
    typer.Option(
        "--w",
        min=1,
        help="Write quorum on a cluster: copies that must confirm the write (default: the "
        "server's, a majority of n).",
        show_default=False,
    ),
]
ReadQuorumOpt = Annotated[
    int | None,
    typer.Option(
        "--r",
        min=1,
        help="Read quorum on a cluster: copies that must answer (default: the server's).",
        show_default=False,
    ),
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


# A flag group: parameter name -> (its Annotated type, its default), in help order.
FlagSpecs: TypeAlias = Mapping[str, tuple[Any, Any]]
Command: TypeAlias = Callable[..., Any]


def flag_group(group: str, flags: FlagSpecs) -> Callable[[Command], Command]:
    """Give a command these flags in place of its parameter `group`.

    Typer reads a command's flags from its signature: the decorated command shows
    `flags` (in order, where `group` stood) and receives their parsed values as one
    dict, `group={name: value}`. Commands taking the same flags share one definition.
    """

    def decorate(command: Command) -> Command:
        signature = inspect.signature(command, eval_str=True)
        if group not in signature.parameters:
            raise TypeError(f"{command.__name__} has no parameter {group!r}")
        parameters: list[inspect.Parameter] = []
        for parameter in signature.parameters.values():
            if parameter.name != group:
                parameters.append(parameter)
                continue
            parameters.extend(
                inspect.Parameter(name, parameter.kind, default=default, annotation=annotation)
                for name, (annotation, default) in flags.items()
            )

        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            values = {name: kwargs.pop(name) for name in flags}
            return command(*args, **kwargs, **{group: values})

        setattr(wrapper, "__signature__", signature.replace(parameters=parameters))  # noqa: B010
        return wrapper

    return decorate


def output_options(*, jsonl: bool = False) -> Callable[[Command], Command]:
    """Give a command --json (and, with `jsonl=True`, --jsonl) in place of its
    parameter `mode`, which then receives the output mode: "human", "json" or "jsonl".

    --json with --jsonl is refused (exit 2) before the command body runs. The command
    takes its `ctx` by name (as Typer passes it).

        @app.command("list")
        @output_options(jsonl=True)
        def list_(ctx: typer.Context, db: DbArg, mode: Mode) -> None: ...
    """
    flags: dict[str, tuple[Any, Any]] = {"json_flag": (JsonFlag, False)}
    if jsonl:
        flags["jsonl_flag"] = (JsonlFlag, False)
    group = flag_group("mode", flags)

    def decorate(command: Command) -> Command:
        if "ctx" not in inspect.signature(command).parameters:
            raise TypeError(f"{command.__name__} has no parameter 'ctx'")

        @functools.wraps(command)
        def with_mode(*args: Any, **kwargs: Any) -> Any:
            from couchctl.cli._run import checked

            given = kwargs.pop("mode")
            mode = checked(
                kwargs["ctx"],
                lambda: output_mode(given["json_flag"], given.get("jsonl_flag", False)),
            )
            return command(*args, mode=mode, **kwargs)

        return group(with_mode)

    return decorate


DbArg = Annotated[
    str, typer.Argument(help="Database name.", autocompletion=complete_db, show_default=False)
]
DocIdArg = Annotated[
    str, typer.Argument(help="Document id.", autocompletion=complete_doc_id, show_default=False)
]
DdocArg = Annotated[
    str,
    typer.Argument(
        help="Design document name, with or without '_design/'.",
        autocompletion=complete_ddoc,
        show_default=False,
    ),
]
ViewArg = Annotated[
    str, typer.Argument(help="View name.", autocompletion=complete_view, show_default=False)
]


def read_text_source(source: str, what: str) -> tuple[str, str]:
    """Text from `-` (stdin), `@file`, or a plain file path; returns (text, label)."""
    if source == "-":
        try:
            return sys.stdin.read(), "stdin"
        except UnicodeDecodeError as exc:
            raise BadInput(
                f"{what}: stdin is not UTF-8 text: {exc.reason} at byte {exc.start}"
            ) from None
    path = Path(source[1:] if source.startswith("@") else source)
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except FileNotFoundError:
        raise BadInput(f"{what}: file not found: {path}") from None
    except IsADirectoryError:
        raise BadInput(f"{what}: is a directory: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{what}: cannot read {path}: {exc}") from None


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _parse(text: str, what: str, label: str | None) -> Any:
    where = f" in {label}" if label else ""
    try:
        value = json.loads(text, parse_constant=_not_json)
    except json.JSONDecodeError as exc:
        raise BadInput(
            f"{what} is not valid JSON{where}: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise BadInput(f"{what} is not valid JSON{where}: nested too deeply") from None
    except ValueError as exc:  # NaN, Infinity: Python's extension, not JSON
        raise BadInput(f"{what} is not valid JSON{where}: {exc}") from None
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except RecursionError:
        raise BadInput(f"{what} is not valid JSON{where}: nested too deeply") from None
    except UnicodeEncodeError as exc:
        # A \ud800 escape without its pair: no UTF-8 text can carry it to the server.
        raise BadInput(
            f"{what} is not valid JSON{where}: an unpaired surrogate "
            f"{exc.object[exc.start]!r} is not Unicode text"
        ) from None
    return value


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
        raise BadInput(f"{what} must be a JSON object, got {json_type_name(parsed)}")
    return parsed
