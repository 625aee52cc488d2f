"""Data workflows over the client: backup and restore, diff, conflicts, edit.

Engines only: no typer, no rich, no printing. The commands in `couchctl.cli`
are thin layers over these functions, which scripts can call as well.
"""
