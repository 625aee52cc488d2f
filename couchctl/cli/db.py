"""Databases: create, delete, inspect, list, all-docs, changes, compact, security."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Databases: create, delete, inspect, list, all-docs, changes, compact, security.",
    no_args_is_help=True,
)
