"""Documents: get, put, create, delete, copy, exists."""

from __future__ import annotations

import typer

app = typer.Typer(help="Documents: get, put, create, delete, copy, exists.", no_args_is_help=True)
