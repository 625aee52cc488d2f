"""Where a Typer command's work runs: the global options of its context, its output
mode, and `typer.Exit` with the exit code.

run(ctx, operation, mode)   enters the event loop once, opens one client,
                            awaits `operation(couch, out)`, maps failures
                            (through `_execute`, which the fast path shares).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import typer

from couchctl.cli._context import BadInput, global_options
from couchctl.cli._execute import (
    STALE_REV_HINT,
    Missing,
    Operation,
    PlainHTTPServer,
    credentials_hint,
    describe_error,
    execute,
    plain_http_probe,
    quorum_warning,
    report,
)
from couchctl.cli._exit import ExitCode
from couchctl.render import Mode, Output

__all__ = [
    "STALE_REV_HINT",
    "Missing",
    "Operation",
    "PlainHTTPServer",
    "checked",
    "confirm_or_exit",
    "credentials_hint",
    "describe_error",
    "execute",
    "fail",
    "interactive",
    "plain_http_probe",
    "quorum_warning",
    "run",
    "run_local",
]

T = TypeVar("T")


def fail(message: str, hint: str | None = None) -> NoReturn:
    """Refuse bad input: exit 2 with a one-line error (raised inside or outside `run`)."""
    raise BadInput(message, hint)


def run(
    ctx: typer.Context,
    operation: Operation,
    mode: Mode = "human",
    *,
    conflict_hint: str | None = None,
) -> None:
    """Run `operation` with a client built from the global options; exit with its code.

    `conflict_hint`: what a 409 means for what this command sends."""
    options = global_options(ctx)
    out = Output(mode)
    code = execute(options, out, operation, conflict_hint=conflict_hint)
    if code:
        raise typer.Exit(code)


def run_local(ctx: typer.Context, work: Callable[[Output], Any], mode: Mode = "human") -> None:
    """Run work that needs no server (file checks, completions) under the same error mapping."""
    options = global_options(ctx)
    out = Output(mode)
    try:
        code = work(out) or 0
    except (typer.Exit, typer.Abort):
        raise
    except BaseException as exc:
        if isinstance(exc, SystemExit):
            raise
        code = report(exc, out, options)
    if code:
        raise typer.Exit(code)


def checked(ctx: typer.Context, parse: Callable[[], T]) -> T:
    """Check flags under the CLI's error mapping: bad input exits 2 before any request."""
    results: list[T] = []
    run_local(ctx, lambda out: results.append(parse()))
    return results[0]


def interactive(out: Output) -> bool:
    """Whether a person can answer a question: stdin and stderr are terminals."""
    import sys

    try:
        return sys.stdin.isatty() and out.stderr_tty
    except (AttributeError, ValueError):
        return False


def confirm_or_exit(
    ctx: typer.Context, yes: bool, *, question: str, action: str, declined: str
) -> None:
    """Go on with --yes or a 'y' on a terminal. Off a terminal without --yes: exit 2;
    a declined question: exit 1. Both before any request."""

    def ask(out: Output) -> int:
        if yes:
            return 0
        if not interactive(out):
            fail(f"refusing to {action} without confirmation", "pass --yes to confirm")
        if out.confirm(question):
            return 0
        out.info(declined)
        return int(ExitCode.FAILURE)

    run_local(ctx, ask)
