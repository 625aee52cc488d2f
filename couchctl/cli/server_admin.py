"""Server administration: the security audit (joins the server group)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from couchctl.cli._exit import ExitCode
from couchctl.cli._options import output_options
from couchctl.cli._run import run
from couchctl.render import Mode

if TYPE_CHECKING:
    from couchctl.client import CouchClient
    from couchctl.render import Output

app = typer.Typer(no_args_is_help=True)


@app.command("audit")
@output_options()
def audit(ctx: typer.Context, mode: Mode = "human") -> None:
    """Check the server's security: admin party, public databases, require_valid_user,
    CORS, plain http on a public address, cookie lifetime, guessable admin names.

    Prints check / ok|warn|fail / detail; exit 1 when any check fails.

    Example: couchctl server audit --json | jq '.[] | select(.status != "ok")'
    """

    async def op(couch: CouchClient, out: Output) -> int | None:
        from couchctl.render import Column

        checks = await couch.security_audit()
        columns = [
            Column("check", lambda check: check.check),
            Column("status", lambda check: check.status),
            Column("detail", lambda check: check.detail),
        ]
        if mode == "human":
            out.table(checks, columns)
        else:
            out.json([check.as_dict() for check in checks])
        return int(ExitCode.FAILURE) if any(c.status == "fail" for c in checks) else None

    run(ctx, op, mode)
