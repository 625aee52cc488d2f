"""Server information: version, health, databases, tasks, uuids, membership, session."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Server information: version, health, databases, tasks, uuids, membership, session.",
    no_args_is_help=True,
)
