"""Bulk data: _bulk_docs, _bulk_get, and fast streaming load and dump."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Bulk data: _bulk_docs, _bulk_get, and fast streaming load and dump.", no_args_is_help=True
)
