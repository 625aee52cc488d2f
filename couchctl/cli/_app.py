"""The Typer app: global options, the command groups, and usage-error formatting."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from couchctl import __version__
from couchctl.cli import att, bulk, db, doc, find, server, view
from couchctl.cli._context import GlobalOptions
from couchctl.cli._exit import ExitCode

__all__ = ["app"]


class CouchctlGroup(TyperGroup):
    """Reports usage errors as one line, `couchctl: error: ...`, with exit code 2."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        from typer._click import exceptions as click_exceptions

        try:
            code = super().main(
                args,
                prog_name or "couchctl",
                complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
            code = code if isinstance(code, int) else 0
        except click_exceptions.UsageError as exc:
            code = int(ExitCode.USAGE)
            message = exc.format_message()
            if message:  # empty when a group was called without a command: help was shown
                command = exc.ctx.command_path if exc.ctx is not None else "couchctl"
                sys.stderr.write(f"couchctl: error: {message}\n")
                sys.stderr.write(f"hint: see '{command} --help'\n")
        except typer.Abort:
            sys.stderr.write("couchctl: error: interrupted\n")
            code = int(ExitCode.INTERRUPTED)
        except click_exceptions.ClickException as exc:
            sys.stderr.write(f"couchctl: error: {exc.format_message()}\n")
            code = exc.exit_code
        except KeyboardInterrupt:
            sys.stderr.write("couchctl: error: interrupted\n")
            code = int(ExitCode.INTERRUPTED)
        if standalone_mode:
            sys.exit(code)
        return code


app = typer.Typer(
    cls=CouchctlGroup,
    name="couchctl",
    help="Administer Apache CouchDB 3.x servers, databases, documents and attachments.",
    epilog="Example: couchctl --url http://admin:secret@127.0.0.1:5984 db list",
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"couchctl {__version__}\n")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help="Server URL, may carry a path prefix and user:password "
            "[env: COUCH_URL, COUCHDB_URL; default: http://127.0.0.1:5984].",
            show_default=False,
        ),
    ] = None,
    user: Annotated[
        str | None,
        typer.Option(
            "--user",
            "-u",
            help="User name; the password comes from COUCHDB_PASSWORD or a prompt (env: COUCHDB_USER).",
            show_default=False,
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token", help="Bearer token (JWT) (env: COUCHDB_TOKEN).", show_default=False
        ),
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            help="Profile (table) of the config file to use (env: COUCHCTL_PROFILE).",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            help="Seconds to wait for the server (env: COUCHCTL_TIMEOUT; default: 30).",
            show_default=False,
            min=0.001,
        ),
    ] = None,
    cacert: Annotated[
        str | None,
        typer.Option(
            "--cacert", help="CA certificate file (PEM) to verify the server.", show_default=False
        ),
    ] = None,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Do not verify the server's TLS certificate.")
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="Trace HTTP requests on stderr (credentials redacted)."
        ),
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_version, is_eager=True
        ),
    ] = False,
) -> None:
    """Administer Apache CouchDB 3.x servers, databases, documents and attachments."""
    ctx.obj = GlobalOptions(
        url=url,
        user=user,
        token=token,
        profile=profile,
        timeout=timeout,
        cacert=cacert,
        insecure=insecure,
        verbose=verbose,
        debug=debug,
    )


app.add_typer(server.app, name="server")
app.add_typer(db.app, name="db")
app.add_typer(doc.app, name="doc")
app.add_typer(att.app, name="att")
app.add_typer(view.app, name="view")
app.add_typer(find.app, name="find")
app.add_typer(bulk.app, name="bulk")
