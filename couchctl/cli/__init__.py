"""The couchctl command line (Typer). Heavy imports happen inside the commands."""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> None:
    """Console-script entry point."""
    if sys.argv[1:] == ["--version"]:
        # The answer needs no command tree: skip importing typer, and render too
        # (importing it would double this path's ~35 ms).
        from couchctl import __version__

        sys.stdout.write(f"couchctl {__version__}\n")
        return
    from couchctl.cli._app import app

    app()
