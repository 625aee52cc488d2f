"""Attachments: upload, download (streamed), info, delete, list."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Attachments: upload, download (streamed), info, delete, list.", no_args_is_help=True
)
