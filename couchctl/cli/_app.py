"""The Typer app: global options, the command groups, and usage-error formatting.

The groups and their commands are loaded lazily: `couchctl db info ...` imports
only the `db` module and builds only the `info` command (Typer turns every command
function into a click command when the app starts, and that costs more with every
command added). Help, completion and tests that walk the tree build them all.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from couchctl import __version__
from couchctl._duration import parse_duration
from couchctl.cli._context import BadInput, GlobalOptions
from couchctl.cli._exit import ExitCode

if TYPE_CHECKING:
    from _collections_abc import dict_items, dict_values
    from collections.abc import MutableMapping

    from typer._click import Command, Context, Parameter

__all__ = ["GROUPS", "MORE_COMMANDS", "app"]

# Group name -> the module whose `app` (a typer.Typer) holds its commands, in help order.
GROUPS: dict[str, str] = {
    "server": "couchctl.cli.server",
    "db": "couchctl.cli.db",
    "doc": "couchctl.cli.doc",
    "att": "couchctl.cli.att",
    "view": "couchctl.cli.view",
    "find": "couchctl.cli.find",
    "bulk": "couchctl.cli.bulk",
    "repl": "couchctl.cli.repl",
    "user": "couchctl.cli.user",
    "config": "couchctl.cli.config_cmd",
    "cluster": "couchctl.cli.cluster",
}

# Group name -> further modules whose `app` commands join that group (a group whose
# commands would not fit one module of readable size). Loaded with the group.
MORE_COMMANDS: dict[str, tuple[str, ...]] = {
    "db": (
        "couchctl.cli.db_docs",
        "couchctl.cli.db_changes",
        "couchctl.cli.db_access",
        "couchctl.cli.db_backup",
        "couchctl.cli.db_diff",
    ),
    "doc": ("couchctl.cli.doc_flows",),
    "server": ("couchctl.cli.server_admin",),
}


class _Pending:
    """A command not built yet: `build()` imports and builds it."""

    def __init__(self, build: Callable[[], Command]) -> None:
        self.build = build


def _load_group(name: str) -> Command:
    """Import a group's module and build the group, its commands still pending."""
    import copy
    import importlib
    from functools import partial

    from typer.main import get_command_from_info, get_command_name, get_group

    sub: typer.Typer = importlib.import_module(GROUPS[name]).app
    bare = copy.copy(sub)
    bare.registered_commands = []
    group = get_group(bare)
    group.name = name
    commands = _LazyCommands()
    infos = list(sub.registered_commands)
    for module in MORE_COMMANDS.get(name, ()):
        infos.extend(importlib.import_module(module).app.registered_commands)
    for info in infos:
        assert info.callback is not None
        command_name = info.name or get_command_name(info.callback.__name__)
        commands[command_name] = _Pending(
            partial(
                get_command_from_info,
                info,
                pretty_exceptions_short=sub.pretty_exceptions_short,
                rich_markup_mode=sub.rich_markup_mode,
            )
        )
    dict.update(commands, group.commands)  # sub-groups of the group, already built
    group.commands = commands
    return group


class _LazyCommands(dict[str, Any]):
    """Commands built on first access (Typer turns a function into a click command
    by inspecting its signature, which adds up over dozens of commands).

    Membership and key listing (used for "did you mean" suggestions) build nothing;
    `items()` and `values()` (help, completion) build everything.
    """

    def _load(self, name: str) -> Any:
        value = dict.__getitem__(self, name)
        if isinstance(value, _Pending):
            value = value.build()
            dict.__setitem__(self, name, value)
        return value

    def __getitem__(self, name: str) -> Any:
        return self._load(name)

    def get(self, name: str, default: Any = None) -> Any:
        return self._load(name) if name in self else default

    def items(self) -> dict_items[str, Any]:
        for name in self:
            self._load(name)
        return dict.items(self)

    def values(self) -> dict_values[str, Any]:
        for name in self:
            self._load(name)
        return dict.values(self)


class CouchctlGroup(TyperGroup):
    """Loads command groups lazily; reports usage errors as one line,
    `couchctl: error: ...`, with exit code 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from functools import partial

        super().__init__(*args, **kwargs)
        lazy = _LazyCommands({name: _Pending(partial(_load_group, name)) for name in GROUPS})
        dict.update(lazy, self.commands)  # anything registered directly on the app
        self.commands: MutableMapping[str, Command] = lazy

    def _main_shell_completion(
        self,
        ctx_args: MutableMapping[str, Any],
        prog_name: str,
        complete_var: str | None = None,
    ) -> None:
        # The app is built without Typer's --install-completion option (it costs
        # start-up time), so register Typer's shell classes here, and only when a
        # shell asks for completions; the scripts are in completions/.
        import os

        var = complete_var or f"_{prog_name}_COMPLETE".replace("-", "_").upper()
        if not os.environ.get(var):
            return
        from typer._completion_classes import completion_init

        from couchctl.cli._completion import finish

        completion_init()
        try:
            super()._main_shell_completion(ctx_args, prog_name, complete_var)
        except SystemExit as exc:
            finish(exc.code if isinstance(exc.code, int) else 1)
            raise

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        return self.commands.get(cmd_name)

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

        if args is None:
            args = sys.argv[1:]
        try:
            args = hoist_global_options(list(args), self)
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
                _error(" ".join(message.split()), f"see '{command} --help'")
        except typer.Abort:
            _error("interrupted")
            code = int(ExitCode.INTERRUPTED)
        except click_exceptions.ClickException as exc:
            _error(" ".join(exc.format_message().split()))
            # An unreadable file argument is a usage error (DESIGN section 5).
            is_file = isinstance(exc, click_exceptions.FileError)
            code = int(ExitCode.USAGE) if is_file else exc.exit_code
        except KeyboardInterrupt:
            _error("interrupted")
            code = int(ExitCode.INTERRUPTED)
        except BadInput as exc:  # raised while parsing flags, outside run()
            _error(str(exc), exc.hint)
            code = int(ExitCode.USAGE)
        if standalone_mode:
            sys.exit(code)
        return code


def _takes(params: Sequence[Parameter]) -> dict[str, int]:
    """Option name (long, short, --no-x) -> the number of values it takes (0 for a flag)."""
    table: dict[str, int] = {}
    for param in params:
        if param.param_type_name != "option":
            continue
        count = (
            0 if getattr(param, "is_flag", False) or getattr(param, "count", False) else param.nargs
        )
        for name in (*param.opts, *param.secondary_opts):
            table[name] = count
    return table


def _option_name(token: str) -> tuple[str, bool] | None:
    """The option a token names and whether it carries its value (`--url=U`, `-uadmin`);
    None for a token that is not an option (an argument, `-`)."""
    if token.startswith("--") and len(token) > 2:
        name, sep, _ = token.partition("=")
        return name, bool(sep)
    if token.startswith("-") and len(token) > 1 and token != "--":
        return token[:2], len(token) > 2
    return None


def hoist_global_options(args: list[str], root: Command) -> list[str]:
    """The command line with the global options given after the command moved in
    front of it, so that `couchctl db info mydb --url U` means `couchctl --url U db
    info mydb`; and the command's own options given before it (`couchctl --json db
    info mydb`) moved after it.

    The command's own options win over global ones of the same name (`db grant
    --user`); values of options are never taken for options; nothing after `--`
    moves. A command line that names no command comes back unchanged, for click to
    report."""
    from typer.core import TyperGroup as Group

    globals_ = _takes(root.params)
    front: list[str] = []  # global options, in the order given
    early: list[str] = []  # options before the command that are not global
    path: list[str] = []
    command: Command = root
    i = 0
    # The root's options and the group and command names, up to the command.
    while i < len(args) and isinstance(command, Group):
        token = args[i]
        option = _option_name(token)
        if token == "--" or (option is None and token.startswith("-") and token != "-"):
            return args
        if option is not None:
            name, inline = option
            size = 0 if inline else globals_.get(name, 0)
            if name in globals_:
                front += args[i : i + 1 + size]
            elif name in ("-h", "--help"):
                return args
            else:
                early.append(token)
            i += 1 + size
            continue
        sub = command.commands.get(token) if hasattr(command, "commands") else None
        if sub is None:
            return args
        path.append(token)
        command = sub
        i += 1
    if isinstance(command, Group):
        return args  # no command given: click shows the help or the error
    own = _takes(command.params)
    if any((_option_name(t) or ("",))[0] not in own for t in early):
        return args  # an option that neither the root nor the command has: click says so
    rest: list[str] = list(early)
    while i < len(args):
        token = args[i]
        if token == "--":
            rest += args[i:]
            break
        option = _option_name(token)
        if option is None:
            rest.append(token)
            i += 1
            continue
        name, inline = option
        if name in own:
            size = 0 if inline else own[name]
            rest += args[i : i + 1 + size]
        elif name in globals_:
            size = 0 if inline else globals_[name]
            if i + size >= len(args):
                from typer._click.exceptions import BadOptionUsage

                raise BadOptionUsage(name, f"Option '{name}' requires an argument.")
            front += args[i : i + 1 + size]
        else:
            size = 0
            rest.append(token)
        i += 1 + size
    return front + path + rest


def _error(message: str, hint: str | None = None) -> None:
    """The one-line error of a failure outside run() (usage errors), through render.Output."""
    from couchctl.render import Output

    Output().error(message, hint)


app = typer.Typer(
    cls=CouchctlGroup,
    name="couchctl",
    help="Administer Apache CouchDB 3.x servers, databases, documents and attachments.",
    epilog="Example: COUCHDB_USER=admin COUCHDB_PASSWORD_FILE=~/.couch-pw "
    "couchctl --url https://couch.example.org db list",
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _duration_option(value: str | None) -> str | None:
    """Refuses a --timeout that is not a duration, as a usage error naming the option."""
    if value is not None:
        try:
            parse_duration(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    return value


def _version(value: bool) -> None:
    if value:
        from couchctl.render import Output

        Output().text(f"couchctl {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help="Server URL, may carry a path prefix "
            "(env: COUCH_URL, COUCHDB_URL; default: http://127.0.0.1:5984). "
            "Give credentials with --user and COUCHDB_PASSWORD or --password-file, "
            "not on the command line.",
            show_default=False,
        ),
    ] = None,
    user: Annotated[
        str | None,
        typer.Option(
            "--user",
            "-u",
            help="User name; the password comes from --password-file, COUCHDB_PASSWORD, "
            "COUCHDB_PASSWORD_FILE or a prompt (env: COUCHDB_USER).",
            show_default=False,
        ),
    ] = None,
    password_file: Annotated[
        str | None,
        typer.Option(
            "--password-file",
            help="Read the password from the first line of FILE (env: COUCHDB_PASSWORD_FILE).",
            show_default=False,
            metavar="FILE",
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            help="Bearer token (JWT); prefer --token-file or the environment (env: COUCHDB_TOKEN).",
            show_default=False,
        ),
    ] = None,
    token_file: Annotated[
        str | None,
        typer.Option(
            "--token-file",
            help="Read the bearer token from the first line of FILE (env: COUCHDB_TOKEN_FILE).",
            show_default=False,
            metavar="FILE",
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
        str | None,
        typer.Option(
            "--timeout",
            help="How long to wait for the server: seconds, or with a unit: 500ms, 30s, 2m "
            "(env: COUCHCTL_TIMEOUT; default: 30s).",
            show_default=False,
            metavar="DURATION",
            callback=_duration_option,
        ),
    ] = None,
    cacert: Annotated[
        str | None,
        typer.Option(
            "--cacert", help="CA certificate file (PEM) to verify the server.", show_default=False
        ),
    ] = None,
    insecure: Annotated[
        bool,
        typer.Option(
            "--insecure", help="Do not verify the server's TLS certificate (warns on every run)."
        ),
    ] = False,
    retries: Annotated[
        int | None,
        typer.Option(
            "--retries",
            help="Retries of a request that may be repeated, after 429, 502-504, a reset or "
            "a refused connection; waits grow from 0.5 s to 5 s, about 15 s in all "
            "(env: COUCHCTL_RETRIES; default: 6).",
            show_default=False,
            min=0,
        ),
    ] = None,
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
        password_file=password_file,
        token_file=token_file,
        profile=profile,
        timeout=None if timeout is None else parse_duration(timeout),
        cacert=cacert,
        insecure=insecure,
        retries=retries,
        verbose=verbose,
        debug=debug,
    )
