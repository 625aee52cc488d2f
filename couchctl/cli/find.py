"""Mango queries and indexes: query, explain, index-list, index-create, index-delete."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Mango queries and indexes: query, explain, index-list, index-create, index-delete.",
    no_args_is_help=True,
)
