"""db diff: a thin command over couchctl.workflows.diff."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from couchctl.cli._exit import ExitCode
from couchctl.cli._options import DbArg, JsonlFlag, output_mode
from couchctl.cli._run import checked, fail, run

if TYPE_CHECKING:
    from couchctl.client import CouchClient
    from couchctl.render import Output

app = typer.Typer(help="Databases: diff.", no_args_is_help=True)

# Differences shown in a table; --jsonl gives every one.
TABLE_LIMIT = 100


@app.command("diff")
def diff(
    ctx: typer.Context,
    db: DbArg,
    other: Annotated[str, typer.Argument(help="The database to compare with.")],
    other_url: Annotated[
        str | None,
        typer.Option(
            "--other-url",
            help="Server of OTHER (its credentials from this URL only; default: this server).",
            show_default=False,
        ),
    ] = None,
    jsonl_flag: JsonlFlag = False,
) -> None:
    """Compare two databases' ids and winning revisions: exit 0 identical, 1 different.

    Both _all_docs streams are merge-joined in id order, in constant memory.
    Lists what is only in DB, only in OTHER, and ids whose winning revisions
    differ. OTHER may be on another server (--other-url); this connection's
    credentials are never sent there.

    Example: couchctl db diff mydb mydb-copy --other-url https://backup.example.com:6984
    """
    from couchctl.render import Column

    mode = checked(ctx, lambda: output_mode(False, jsonl_flag))

    def parse() -> None:
        if other_url is None and other == db:
            fail("cannot compare a database with itself", "name another database or --other-url")
        if other_url is not None and not other_url.startswith(("http://", "https://")):
            fail(f"--other-url must be an http:// or https:// URL, not {other_url!r}")

    checked(ctx, parse)

    async def op(couch: CouchClient, out: Output) -> int:
        from couchctl.client import CouchClient, HTTPError, TransportError
        from couchctl.workflows.diff import diff_databases, same_server

        if other_url is not None and other == db and same_server(couch.base_url, other_url):
            fail("cannot compare a database with itself", "name another database or server")
        shown: list[dict[str, Any]] = []
        extra = [0]

        def emit(difference: dict[str, Any]) -> None:
            if mode == "jsonl":
                out.jsonl(difference)
            elif len(shown) < TABLE_LIMIT:
                shown.append(difference)
            else:
                extra[0] += 1

        if other_url is None:
            counts = await diff_databases(couch, db, couch, other, emit)
        else:
            timeout = couch.http.timeout.read
            async with CouchClient(other_url, timeout=timeout, retries=couch.retries) as far:
                try:
                    await far.server_info()
                except TransportError as exc:
                    out.error(
                        f"cannot reach the other server at {far.base_url}: {exc}",
                        "check --other-url",
                    )
                    return int(ExitCode.UNREACHABLE)
                except HTTPError as exc:
                    exc.what = f"the other server {far.base_url}"  # type: ignore[attr-defined]
                    raise
                counts = await diff_databases(couch, db, far, other, emit)
        if mode == "human":
            columns = [
                Column("id", lambda d: d["id"]),
                Column("difference", lambda d: d["difference"]),
                Column(db, lambda d: d["rev"]),
                Column(other, lambda d: d["other_rev"]),
            ]
            if shown:
                out.table(shown, columns)
            if extra[0]:
                out.info(f"{len(shown)} of {len(shown) + extra[0]:,} differences: --jsonl for all")
        summary = (
            f"{counts.compared:,} ids in both, {counts.different_rev:,} with different revisions; "
            f"{counts.only_in_db:,} only in {db}, {counts.only_in_other:,} only in {other}"
        )
        out.info(("identical: " if counts.identical else "different: ") + summary)
        return int(ExitCode.OK if counts.identical else ExitCode.FAILURE)

    run(ctx, op, mode)
