"""Views and design documents: query, info, list."""

from __future__ import annotations

import typer

app = typer.Typer(help="Views and design documents: query, info, list.", no_args_is_help=True)
