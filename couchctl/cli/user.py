"""Users: _users documents and server admins."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from couchctl.cli._admin import comma_list, read_password
from couchctl.cli._options import YesFlag, output_options
from couchctl.cli._run import checked, confirm_or_exit, fail, run
from couchctl.render import Mode

if TYPE_CHECKING:
    from couchctl.client import CouchClient
    from couchctl.render import Output

app = typer.Typer(
    help="Users: _users documents (org.couchdb.user:NAME) and server admins.",
    no_args_is_help=True,
)

NameArg = Annotated[str, typer.Argument(help="User name.", show_default=False)]
PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin", help="Read the password from the first line of stdin (no prompt)."
    ),
]


def _name(name: str) -> str:
    from couchctl.client import validate_user_name

    try:
        return validate_user_name(name)
    except ValueError as exc:
        fail(str(exc))


def _roles(value: str | None, what: str) -> list[str]:
    return comma_list(value, what)


@app.command("create")
@output_options()
def create(
    ctx: typer.Context,
    name: NameArg,
    roles: Annotated[
        str | None,
        typer.Option("--roles", help="Roles of the user: R,R,...", show_default=False),
    ] = None,
    password_stdin: PasswordStdin = False,
    admin: Annotated[
        bool,
        typer.Option(
            "--admin", help="Create a server admin on every node (not a _users document)."
        ),
    ] = False,
    mode: Mode = "human",
) -> None:
    """Create a user; the password is asked twice on a terminal, or read with --password-stdin.

    Example: couchctl user create alice --roles ops,reports --password-stdin < alice.pw
    """

    def parse() -> tuple[list[str], str]:
        _name(name)
        role_list = _roles(roles, "--roles")
        if admin and role_list:
            fail("--roles does not apply to a server admin (--admin)")
        return role_list, read_password(password_stdin, name)

    role_list, password = checked(ctx, parse)

    async def op(couch: CouchClient, out: Output) -> None:
        if admin:
            old = await couch.admin_create(name, password)
            nodes = ", ".join(old)
            out.result(
                {"ok": True, "name": name, "nodes": list(old)},
                f"created server admin {name} on {nodes}",
            )
            return
        result = await couch.user_create(name, password, roles=role_list)
        out.result(result, f"created user {name}")

    run(ctx, op, mode)


@app.command("passwd")
@output_options()
def passwd(
    ctx: typer.Context,
    name: NameArg,
    password_stdin: PasswordStdin = False,
    mode: Mode = "human",
) -> None:
    """Change a user's password (asked twice on a terminal, or --password-stdin).

    Example: couchctl user passwd alice
    """

    def parse() -> str:
        _name(name)
        return read_password(password_stdin, name)

    password = checked(ctx, parse)

    async def op(couch: CouchClient, out: Output) -> None:
        result = await couch.user_set_password(name, password)
        out.result(result, f"changed the password of {name}")

    run(ctx, op, mode)


@app.command("list")
@output_options()
def list_(ctx: typer.Context, mode: Mode = "human") -> None:
    """List the users of _users: name, roles, type (never a password hash).

    Example: couchctl user list
    """

    async def op(couch: CouchClient, out: Output) -> None:
        from couchctl.render import Column

        users = await couch.user_list()
        columns = [
            Column("name", lambda doc: doc.get("name")),
            Column("roles", lambda doc: ", ".join(str(r) for r in doc.get("roles") or [])),
            Column("type", lambda doc: doc.get("type")),
            Column("rev", lambda doc: doc.get("_rev")),
        ]
        out.rows(users, columns, whole=None, empty="no users")

    run(ctx, op, mode)


@app.command("info")
@output_options()
def info(ctx: typer.Context, name: NameArg, mode: Mode = "human") -> None:
    """Show a user's document without its password hash, salt and hashing parameters.

    Example: couchctl user info alice --json
    """
    checked(ctx, lambda: _name(name))

    async def op(couch: CouchClient, out: Output) -> None:
        from couchctl.client import without_secrets

        doc = without_secrets(await couch.user_get(name))
        pairs = [
            (key, ", ".join(map(str, value)) if isinstance(value, list) else value)
            for key, value in doc.items()
        ]
        out.fields(pairs, whole=doc)

    run(ctx, op, mode)


@app.command("delete")
@output_options()
def delete(ctx: typer.Context, name: NameArg, yes: YesFlag = False, mode: Mode = "human") -> None:
    """Delete a user (asks on a terminal; --yes elsewhere).

    Example: couchctl user delete alice --yes
    """
    checked(ctx, lambda: _name(name))
    confirm_or_exit(
        ctx,
        yes,
        question=f"Delete user {name}?",
        action=f"delete user {name}",
        declined=f"not deleted: user {name} is unchanged",
    )

    async def op(couch: CouchClient, out: Output) -> None:
        result = await couch.user_delete(name)
        out.result(result, f"deleted user {name}")

    run(ctx, op, mode)


@app.command("roles")
@output_options()
def roles(
    ctx: typer.Context,
    name: NameArg,
    add: Annotated[
        str | None, typer.Option("--add", help="Roles to add: R,R,...", show_default=False)
    ] = None,
    remove: Annotated[
        str | None, typer.Option("--remove", help="Roles to remove: R,R,...", show_default=False)
    ] = None,
    mode: Mode = "human",
) -> None:
    """Show a user's roles, or add and remove some; prints the resulting roles.

    Example: couchctl user roles alice --add reports --remove ops
    """

    def parse() -> tuple[list[str], list[str]]:
        _name(name)
        return _roles(add, "--add"), _roles(remove, "--remove")

    to_add, to_remove = checked(ctx, parse)

    async def op(couch: CouchClient, out: Output) -> None:
        result = await couch.user_roles(name, add=to_add, remove=to_remove)
        if mode == "human":
            for role in result:
                out.text(role)
            if not result:
                out.info(f"{name} has no roles")
        else:
            out.json(result)

    run(ctx, op, mode)
