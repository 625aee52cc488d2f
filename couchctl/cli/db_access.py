"""Database access and placement: grant, revoke, shards, sync-shards (joins the db group)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

import typer

from couchctl.cli._options import DbArg, YesFlag, output_options
from couchctl.cli._run import checked, fail, interactive, run
from couchctl.render import Mode

if TYPE_CHECKING:
    from couchctl.client import CouchClient
    from couchctl.render import Output

app = typer.Typer(no_args_is_help=True)

MemberFlag = Annotated[bool, typer.Option("--member", help="Change the members (readers).")]
AdminFlag = Annotated[bool, typer.Option("--admin", help="Change the database admins.")]
UserOpt = Annotated[
    list[str] | None,
    typer.Option("--user", help="A user name (repeat for more).", show_default=False),
]
RoleOpt = Annotated[
    list[str] | None,
    typer.Option("--role", help="A role (repeat for more).", show_default=False),
]


def _parse(
    member: bool, admin: bool, users: list[str] | None, roles: list[str] | None
) -> tuple[Literal["members", "admins"], list[str], list[str]]:
    from couchctl.client import validate_role, validate_user_name

    if member == admin:
        fail("say which list to change: --member or --admin (one of them)")
    if not users and not roles:
        fail("name at least one --user NAME or --role ROLE")
    try:
        names = [validate_user_name(name) for name in users or []]
        role_list = [validate_role(role) for role in roles or []]
    except ValueError as exc:
        fail(str(exc))
    return ("members" if member else "admins"), names, role_list


def _change(
    ctx: typer.Context,
    db: str,
    grant: bool,
    member: bool,
    admin: bool,
    users: list[str] | None,
    roles: list[str] | None,
    yes: bool,
    mode: Mode,
) -> None:
    section, names, role_list = checked(ctx, lambda: _parse(member, admin, users, roles))

    async def op(couch: CouchClient, out: Output) -> int | None:
        from couchctl.client import is_public, security_change

        before = await couch.security_get(db)
        after = security_change(before, section, grant=grant, names=names, roles=role_list)
        if is_public(after) and not yes:
            # DESIGN section 6: a change that leaves the database readable by anyone asks.
            if not interactive(out):
                fail(
                    f"refusing to leave database {db} public (no members) without confirmation",
                    "pass --yes to confirm, or grant --member first",
                )
            if not out.confirm(f"Database {db} will have no members: anyone can read it. Go on?"):
                out.info(f"not changed: the security object of {db} is unchanged")
                return 1
        if after != before:
            await couch.security_put(db, after)
        out.document(after)
        return None

    run(ctx, op, mode)


@app.command("grant")
@output_options()
def grant(
    ctx: typer.Context,
    db: DbArg,
    member: MemberFlag = False,
    admin: AdminFlag = False,
    user: UserOpt = None,
    role: RoleOpt = None,
    yes: YesFlag = False,
    mode: Mode = "human",
) -> None:
    """Add users or roles to a database's members or admins (_security); prints the result.

    Idempotent; keeps everything it does not touch. A change that leaves the database
    without members (readable by anyone) asks on a terminal and needs --yes elsewhere.

    Example: couchctl db grant orders --member --role readers --user alice
    """
    _change(ctx, db, True, member, admin, user, role, yes, mode)


@app.command("revoke")
@output_options()
def revoke(
    ctx: typer.Context,
    db: DbArg,
    member: MemberFlag = False,
    admin: AdminFlag = False,
    user: UserOpt = None,
    role: RoleOpt = None,
    yes: YesFlag = False,
    mode: Mode = "human",
) -> None:
    """Remove users or roles from a database's members or admins (_security); prints the result.

    Removing the last member makes the database public: that asks on a terminal and
    needs --yes elsewhere.

    Example: couchctl db revoke orders --member --user alice
    """
    _change(ctx, db, False, member, admin, user, role, yes, mode)


@app.command("shards")
@output_options()
def shards(
    ctx: typer.Context,
    db: DbArg,
    doc_id: Annotated[
        str | None,
        typer.Argument(help="Show only the shard holding this document.", show_default=False),
    ] = None,
    mode: Mode = "human",
) -> None:
    """Show where a database's shards live (GET /DB/_shards): range -> nodes.

    Example: couchctl db shards orders order-1001
    """

    async def op(couch: CouchClient, out: Output) -> None:
        from couchctl.render import Column

        result = await couch.db_shards(db, doc_id)
        if doc_id is not None:
            rows = [(result.get("range"), result.get("nodes") or [])]
        else:
            rows = sorted((result.get("shards") or {}).items())
        columns = [
            Column("range", lambda row: row[0]),
            Column("nodes", lambda row: ", ".join(str(n) for n in row[1])),
        ]
        out.rows(rows, columns, whole=result, empty="no shards")

    run(ctx, op, mode)


@app.command("sync-shards")
@output_options()
def sync_shards(ctx: typer.Context, db: DbArg, mode: Mode = "human") -> None:
    """Force the shard copies of a database to synchronise (POST /DB/_sync_shards).

    Example: couchctl db sync-shards orders
    """

    async def op(couch: CouchClient, out: Output) -> None:
        result = await couch.db_sync_shards(db)
        out.result(result, f"shard synchronisation of {db} started")

    run(ctx, op, mode)
