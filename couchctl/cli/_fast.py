"""The fast path: a few read-only commands with --json, run without Typer.

    couchctl db info DB --json
    couchctl db exists DB --json
    couchctl db list --json
    couchctl server info --json
    couchctl doc get DB ID --json

Typer, click and the option helpers cost more start-up time than the one request
these commands make. When the command line is exactly one of them, with any of the
global options (`--url U`, `--url=U`, `-u NAME`, `--insecure`, ...) before, between
or after the words, it runs here, through what its Typer command runs too: the
same global options and settings (`GlobalOptions`), the same operation (`_reads`),
the same output (`render.Output`) and the same error mapping (`_execute.execute`).
So stdout, stderr and the exit code are the Typer command's, byte for byte.

Anything else, or anything in doubt, gives None, and the Typer app runs and says
what it says: an option it does not know, an option given twice, `--`, `-h`, an
option's value that is empty or starts with `-`, a `--timeout` or `--retries` that
the app would refuse, a word or argument that is not UTF-8, shell completion.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from couchctl.cli._context import GlobalOptions
    from couchctl.cli._execute import CoreOperation

__all__ = ["COMMANDS", "FLAGS", "VALUED", "parse", "run_fast"]

# Global options that take a value -> the GlobalOptions field (cli/_app.py's callback).
VALUED = {
    "--url": "url",
    "--user": "user",
    "-u": "user",
    "--password-file": "password_file",
    "--token": "token",
    "--token-file": "token_file",
    "--profile": "profile",
    "--timeout": "timeout",
    "--cacert": "cacert",
    "--retries": "retries",
}
# Global flags -> the GlobalOptions field.
FLAGS = {"--insecure": "insecure", "--verbose": "verbose", "-v": "verbose", "--debug": "debug"}


def _db_info(db: str) -> CoreOperation:
    from couchctl.cli._reads import db_info

    return db_info(db)


def _db_exists(db: str) -> CoreOperation:
    from couchctl.cli._reads import db_exists

    return db_exists(db, "json")


def _db_list() -> CoreOperation:
    from couchctl.cli._reads import db_list

    return db_list("json")


def _server_info() -> CoreOperation:
    from couchctl.cli._reads import server_info

    return server_info()


def _doc_get(db: str, doc_id: str) -> CoreOperation:
    from couchctl.cli._reads import doc_get

    # What `doc get` sends without flags: conflicts=true (said on stderr, not printed).
    return doc_get(db, doc_id, show_conflicts=False, conflicts=True)


# Group and command -> (how many arguments it takes, its operation built from them).
COMMANDS: dict[tuple[str, str], tuple[int, Callable[..., CoreOperation]]] = {
    ("db", "info"): (1, _db_info),
    ("db", "exists"): (1, _db_exists),
    ("db", "list"): (0, _db_list),
    ("server", "info"): (0, _server_info),
    ("doc", "get"): (2, _doc_get),
}

# Set by a shell asking for completions (cli/_app.py): Typer's business.
_COMPLETE_VAR = "_COUCHCTL_COMPLETE"


def _value(name: str, text: str) -> Any:
    """A global option's value as the app's callback makes it; None when the app
    would refuse it (the Typer path then says so)."""
    if name == "--timeout":
        from couchctl._duration import parse_duration

        try:
            return parse_duration(text)
        except ValueError:
            return None
    if name == "--retries":
        return int(text) if text.isascii() and text.isdigit() else None
    return text


def parse(args: list[str]) -> tuple[GlobalOptions, CoreOperation] | None:
    """The global options and the operation of a command line the fast path runs,
    else None."""
    try:
        "".join(args).encode("utf-8")
    except UnicodeEncodeError:  # bytes that are not UTF-8 (surrogate escapes)
        return None
    words: list[str] = []
    given: dict[str, Any] = {}
    json_flag = False
    i = 0
    while i < len(args):
        token = args[i]
        i += 1
        if not token.startswith("-"):
            words.append(token)
            continue
        name, equals, inline = token.partition("=") if token.startswith("--") else (token, "", "")
        if name == "--json" and not equals and not json_flag:
            json_flag = True
            continue
        field = FLAGS.get(name) if not equals else None
        if field is not None and field not in given:
            given[field] = True
            continue
        field = VALUED.get(name)
        if field is None or field in given:
            return None
        if not equals:
            if i == len(args):
                return None
            inline = args[i]
            i += 1
        if not inline or inline.startswith("-"):
            return None
        value = _value(name, inline)
        if value is None:
            return None
        given[field] = value
    if not json_flag or len(words) < 2:
        return None
    command = COMMANDS.get((words[0], words[1]))
    if command is None or len(words) - 2 != command[0]:
        return None
    from couchctl.cli._context import GlobalOptions

    return GlobalOptions(**given), command[1](*words[2:])


def run_fast(args: list[str]) -> int | None:
    """Run `args` on the fast path and give the exit code, or None when the Typer
    app must run them."""
    if _COMPLETE_VAR in os.environ:
        return None
    parsed = parse(args)
    if parsed is None:
        return None
    options, operation = parsed
    from couchctl.cli._execute import execute_core
    from couchctl.render import Output

    return execute_core(options, Output("json"), operation)
