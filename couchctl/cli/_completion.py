"""Shell completion scripts for bash, zsh and fish, generated with Typer's machinery.

The scripts ask the program itself for completions (`_COUCHCTL_COMPLETE=complete_bash
couchctl ...`), so they only change when Typer's templates do. Regenerate the
committed copies in `completions/` with:

    python -m couchctl.cli._completion            # write completions/
    python -m couchctl.cli._completion --check    # exit 1 when they are stale
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["PROG_NAME", "SCRIPTS", "completion_script", "main"]

PROG_NAME = "couchctl"
COMPLETE_VAR = "_COUCHCTL_COMPLETE"
# shell -> file name, as each shell's completion loader expects it
SCRIPTS = {"bash": "couchctl.bash", "zsh": "_couchctl", "fish": "couchctl.fish"}


def completion_script(shell: str) -> str:
    """The completion script for `shell` (bash, zsh or fish)."""
    from typer._completion_shared import get_completion_script

    return get_completion_script(prog_name=PROG_NAME, complete_var=COMPLETE_VAR, shell=shell) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    check = "--check" in args
    rest = [a for a in args if a != "--check"]
    target = Path(rest[0]) if rest else Path(__file__).resolve().parents[2] / "completions"
    stale = []
    for shell, name in SCRIPTS.items():
        path = target / name
        text = completion_script(shell)
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(str(path))
        if not check:
            target.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if check and stale:
        sys.stderr.write("stale completion scripts: " + ", ".join(stale) + "\n")
        return 1
    for written in stale:
        sys.stderr.write(f"wrote {written}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
