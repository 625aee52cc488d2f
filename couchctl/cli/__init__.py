"""The couchctl command line (Typer). Heavy imports happen inside the commands.

`--version` and the read-only commands of the fast path (`_fast`: `db info DB
--json`, ...) run without importing Typer at all."""

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
    if "--json" in sys.argv[1:]:
        from couchctl.cli._fast import run_fast

        code = run_fast(sys.argv[1:])
        if code is not None:
            sys.exit(code)
    from couchctl.cli._app import app

    app()
