"""Replication: start, list, follow and stop `_replicator` jobs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from couchctl.cli._admin import IntervalOption, comma_list, parse_duration
from couchctl.cli._exit import ExitCode
from couchctl.cli._options import json_object_argument, output_options
from couchctl.cli._run import checked, run
from couchctl.render import Mode

if TYPE_CHECKING:
    from couchctl.client import CouchClient
    from couchctl.render import Column, Output

app = typer.Typer(
    help="Replication: start, list, follow and stop _replicator jobs.",
    no_args_is_help=True,
)

# A one-shot job that keeps crashing this many times is given up by --wait, and at
# once when the error is one that retrying does not cure (a missing database,
# refused credentials).
_CRASHES_TO_GIVE_UP = 3
_PERMANENT_ERRORS = ("db_not_found", "unauthorized", "forbidden", "invalid")


def _info(doc: dict[str, Any], key: str) -> Any:
    info = doc.get("info")
    return info.get(key) if isinstance(info, dict) else None


def _columns() -> list[Column]:
    from couchctl.client import mask_endpoint
    from couchctl.render import Column

    return [
        Column("id", lambda doc: doc.get("doc_id")),
        Column("source", lambda doc: mask_endpoint(doc.get("source"))),
        Column("target", lambda doc: mask_endpoint(doc.get("target"))),
        Column("state", lambda doc: doc.get("state")),
        Column("docs written", lambda doc: _info(doc, "docs_written"), "right"),
        Column("changes pending", lambda doc: _info(doc, "changes_pending"), "right"),
        Column("updated", lambda doc: doc.get("last_updated")),
    ]


def _error_of(doc: dict[str, Any]) -> str:
    info = doc.get("info")
    if isinstance(info, dict) and info.get("error"):
        return str(info["error"])
    if isinstance(info, str):
        return info
    return str(doc.get("state"))


@app.command("start")
@output_options()
def start(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="Source: a database name or a full URL.")],
    target: Annotated[str, typer.Argument(help="Target: a database name or a full URL.")],
    doc_id: Annotated[
        str | None,
        typer.Option(
            "--id", help="Id of the _replicator document (default: generated).", show_default=False
        ),
    ] = None,
    continuous: Annotated[
        bool, typer.Option("--continuous", help="Keep replicating new changes.")
    ] = False,
    create_target: Annotated[
        bool, typer.Option("--create-target", help="Create the target database if missing.")
    ] = False,
    doc_ids: Annotated[
        str | None,
        typer.Option(
            "--doc-ids", help="Replicate only these documents: ID,ID,...", show_default=False
        ),
    ] = None,
    selector: Annotated[
        str | None,
        typer.Option(
            "--selector",
            help="Replicate documents matching this Mango selector (JSON object, @file or -).",
            show_default=False,
        ),
    ] = None,
    filter_: Annotated[
        str | None,
        typer.Option("--filter", help="A filter function: DDOC/NAME.", show_default=False),
    ] = None,
    since_seq: Annotated[
        str | None,
        typer.Option("--since-seq", help="Start from this source sequence.", show_default=False),
    ] = None,
    winning_revs_only: Annotated[
        bool,
        typer.Option(
            "--winning-revs-only", help="Replicate winning revisions only (no conflicts)."
        ),
    ] = False,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait",
            help="Follow a one-shot replication until it completes (exit 0) or fails (exit 1).",
        ),
    ] = False,
    mode: Mode = "human",
) -> None:
    """Start a replication: write a _replicator document; print its id.

    Credentials go into the document's auth object, never into its URLs.

    Example: couchctl repl start orders http://backup.example:5984/orders --create-target --wait
    """

    async def op(couch: CouchClient, out: Output) -> int | None:
        # Built (and checked: a database onto itself) before any request is sent.
        doc = couch.replication_doc(
            source,
            target,
            continuous=continuous,
            create_target=create_target,
            doc_ids=ids,
            selector=parsed_selector,
            filter=filter_,
            since_seq=since_seq,
            winning_revs_only=winning_revs_only,
        )
        result = await couch.replication_start(doc, doc_id)
        new_id = str(result.get("id"))
        out.result(result, new_id)
        if wait:
            return await _wait(couch, out, new_id)
        return None

    def parse() -> Any:
        from couchctl.cli._run import fail

        if wait and continuous:
            fail("--wait follows a one-shot replication: it cannot be used with --continuous")
        parsed_selector = json_object_argument(selector, "--selector") if selector else None
        ids = comma_list(doc_ids, "--doc-ids") if doc_ids is not None else None
        return parsed_selector, ids

    parsed_selector, ids = checked(ctx, parse)
    run(ctx, op, mode)


async def _wait(couch: CouchClient, out: Output, doc_id: str) -> int:
    """Follow the scheduler until the job completes (0) or fails (1)."""
    import anyio

    from couchctl.client import NotFound

    written = 0
    with out.progress(f"replicating {doc_id}", None, unit="docs") as bar:
        while True:
            try:
                doc = await couch.scheduler_doc(doc_id)
            except NotFound:  # not picked up by the scheduler yet
                await anyio.sleep(0.5)
                continue
            now = _info(doc, "docs_written")
            if isinstance(now, int) and now > written:
                bar.advance(now - written)
                written = now
            state = doc.get("state")
            if state == "completed":
                out.info(f"completed: {written} documents written")
                return 0
            crashes = int(doc.get("error_count") or 0)
            permanent = any(word in _error_of(doc) for word in _PERMANENT_ERRORS)
            failed = state == "failed" or (
                state == "crashing" and (permanent or crashes >= _CRASHES_TO_GIVE_UP)
            )
            if failed:
                out.error(f"replication {doc_id} {state}: {_error_of(doc)}")
                return int(ExitCode.FAILURE)
            await anyio.sleep(1.0)


@app.command("list")
@output_options()
def list_(ctx: typer.Context, mode: Mode = "human") -> None:
    """List the replications (GET /_scheduler/docs), passwords masked.

    A _replicator document the answering node leaves out (a cluster lists a finished
    job only on the node that ran it) is added from /_scheduler/docs/_replicator/ID.

    Example: couchctl repl list
    """

    async def op(couch: CouchClient, out: Output) -> None:
        from couchctl.client import mask_replication

        result = await couch.replication_list()
        docs = [mask_replication(doc) for doc in result.get("docs", [])]
        if mode == "human":
            jobs = await couch.scheduler_jobs()
            running = {job.get("doc_id"): job for job in jobs.get("jobs", [])}
            for doc in docs:
                job = running.get(doc.get("doc_id"))
                if job and not doc.get("last_updated") and job.get("history"):
                    doc["last_updated"] = job["history"][0].get("timestamp")
        out.rows(docs, _columns(), whole={**result, "docs": docs}, empty="no replications")

    run(ctx, op, mode)


def _status_pairs(doc: dict[str, Any]) -> list[tuple[str, Any]]:
    from couchctl.client import mask_endpoint

    pairs: list[tuple[str, Any]] = [
        ("id", doc.get("doc_id")),
        ("source", mask_endpoint(doc.get("source"))),
        ("target", mask_endpoint(doc.get("target"))),
        ("state", doc.get("state")),
        ("node", doc.get("node")),
        ("errors", doc.get("error_count")),
        ("started", doc.get("start_time")),
        ("updated", doc.get("last_updated")),
    ]
    info = doc.get("info")
    if isinstance(info, dict):
        pairs += [(key, value) for key, value in info.items() if value is not None]
    elif info:
        pairs.append(("info", info))
    return pairs


@app.command("status")
@output_options()
def status(
    ctx: typer.Context,
    doc_id: Annotated[str, typer.Argument(help="Id of the _replicator document.")],
    watch: Annotated[
        bool, typer.Option("--watch", help="Redraw until it completes, fails, or Ctrl-C.")
    ] = False,
    interval: IntervalOption = "2s",
    mode: Mode = "human",
) -> None:
    """Show one replication (GET /_scheduler/docs/_replicator/ID).

    Example: couchctl repl status nightly-backup --watch
    """
    seconds = checked(ctx, lambda: parse_duration(interval, "--interval"))

    async def op(couch: CouchClient, out: Output) -> int | None:
        import anyio

        from couchctl.client import mask_replication
        from couchctl.render import Column

        if not watch or mode != "human":
            doc = mask_replication(await couch.scheduler_doc(doc_id))
            out.fields(_status_pairs(doc), whole=doc)
            return None
        columns = [Column("field", lambda p: p[0]), Column("value", lambda p: p[1])]
        with out.live_table() as draw:
            while True:
                doc = mask_replication(await couch.scheduler_doc(doc_id))
                draw(_status_pairs(doc), columns, None)
                if doc.get("state") == "completed":
                    return None
                if doc.get("state") == "failed":
                    return int(ExitCode.FAILURE)
                await anyio.sleep(seconds)

    run(ctx, op, mode)


@app.command("stop")
@output_options()
def stop(
    ctx: typer.Context,
    doc_id: Annotated[str, typer.Argument(help="Id of the _replicator document.")],
    mode: Mode = "human",
) -> None:
    """Stop a replication: delete its _replicator document at its current revision.

    Example: couchctl repl stop nightly-backup
    """

    async def op(couch: CouchClient, out: Output) -> None:
        result = await couch.replication_stop(doc_id)
        out.result(result, f"stopped replication {doc_id}")

    run(ctx, op, mode)
