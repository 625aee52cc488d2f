"""Shell completion: the scripts for bash, zsh and fish, and the completions that
come from the server (database names, document ids, design documents, views).

The scripts ask the program itself for completions (`_COUCHCTL_COMPLETE=complete_bash
couchctl ...`). zsh and fish use Typer's scripts as they are; the bash script is
couchctl's own, because bash splits words at the characters of `COMP_WORDBREAKS`
(`:` and `=` among them), which cuts `--url http://host:5984` and ids such as
`org.couchdb.user:bob` into pieces. Regenerate the committed copies in
`completions/` with:

    python -m couchctl.cli._completion            # write completions/
    python -m couchctl.cli._completion --check    # exit 1 when they are stale

A completion that asks the server answers within `DEADLINE` seconds, or with
nothing: a shell must never hang on a TAB, whatever the server (or DNS) does.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from couchctl.client import CouchClient

__all__ = [
    "DEADLINE",
    "PROG_NAME",
    "SCRIPTS",
    "ask_server",
    "complete_db",
    "complete_ddoc",
    "complete_doc_id",
    "complete_view",
    "completion_script",
    "finish",
    "main",
]

PROG_NAME = "couchctl"
COMPLETE_VAR = "_COUCHCTL_COMPLETE"
# shell -> file name, as each shell's completion loader expects it
SCRIPTS = {"bash": "couchctl.bash", "zsh": "_couchctl", "fish": "couchctl.fish"}
# Seconds a completion may wait for the server, all requests included.
DEADLINE = 1.0
# Document ids offered at most (one request, one page).
ID_LIMIT = 50
_DESIGN = "_design/"
# Sorts after every character an id continues with: PREFIX..PREFIX\ufff0 is the prefix range.
_HIGH = "\ufff0"

BASH_SCRIPT = r"""# bash completion for couchctl (written by python -m couchctl.cli._completion)
_couchctl_completion() {
    local IFS=$'\n'
    # bash splits the line at every character of COMP_WORDBREAKS (':' and '=' among
    # them), so `http://host:5984` or the id `user:bob` arrives in pieces. Join the
    # pieces that no blank separates back into the words couchctl sees (this needs
    # no bash-completion package, and works with it).
    local -a words=() replies=()
    local rest=$COMP_LINE piece n=-1 i
    for (( i = 0; i <= COMP_CWORD; i++ )); do
        piece=${COMP_WORDS[i]}
        if (( n < 0 )) || [[ $rest == [[:space:]]* ]]; then
            rest=${rest#"${rest%%[![:space:]]*}"}
            words[++n]=
        fi
        words[n]+=$piece
        rest=${rest#"$piece"}
    done
    # bash replaces only its last piece of the word: take off each completion what
    # the earlier pieces already say (in --opt=value, couchctl completes the value).
    local word=${words[n]} cur=${COMP_WORDS[COMP_CWORD]} lead=
    if [[ $word == --*=* ]]; then
        word=${word#*=}
        [[ $cur == "=" ]] && lead="="
    fi
    local before=${word%"$cur"} quote= reply
    [[ $word == *"$cur" ]] || before=
    [[ $word == [\"\']* ]] && quote=${word:0:1} before=${before#"$quote"}
    mapfile -t replies < <(env COMP_WORDS="${words[*]}" COMP_CWORD=$n \
                               _COUCHCTL_COMPLETE=complete_bash "$1" 2>/dev/null)
    COMPREPLY=()
    for reply in "${replies[@]}"; do
        [[ -n $reply ]] || continue
        reply=${reply#"$before"}
        # ids may hold blanks, quotes, $ ...: quote them as the word was begun
        if [[ $quote == "'" ]]; then
            reply="'${reply//\'/\'\\\'\'}'"
        elif [[ $quote == '"' ]]; then
            reply=${reply//\\/\\\\} reply=${reply//\$/\\\$}
            reply=${reply//\`/\\\`} reply=\"${reply//\"/\\\"}\"
        else
            printf -v reply '%q' "$reply"
        fi
        COMPREPLY+=( "$lead$reply" )
    done
    return 0
}

complete -o default -F _couchctl_completion couchctl
"""


def completion_script(shell: str) -> str:
    """The completion script for `shell` (bash, zsh or fish)."""
    if shell == "bash":
        return BASH_SCRIPT
    from typer._completion_shared import get_completion_script

    return get_completion_script(prog_name=PROG_NAME, complete_var=COMPLETE_VAR, shell=shell) + "\n"


# -- completions from the server ---------------------------------------------------------

_pending: list[threading.Thread] = []


def ask_server(
    ctx: typer.Context, fetch: Callable[[CouchClient], Awaitable[list[str]]]
) -> list[str]:
    """What `fetch` finds on the server of the command line, or [] on any failure.

    The settings are the command's (flags already typed, environment, profile), never
    prompting. The work runs in a daemon thread that the caller waits for at most
    `DEADLINE` seconds: a timeout inside the event loop cannot cut short a host name
    lookup, which runs in a worker thread of its own.
    """
    try:
        # Imported and resolved before the clock starts: the deadline is the server's.
        from dataclasses import replace

        import anyio

        from couchctl.cli._context import global_options
        from couchctl.client import CouchClient

        settings = global_options(ctx).settings_quiet()
    except Exception:  # an unusable profile or environment: nothing to offer
        return []
    # The work ends a little before the caller stops waiting, so that only a hanging
    # host name lookup is ever left behind.
    budget = DEADLINE * 0.9
    settings = replace(settings, timeout=min(settings.timeout, budget), retries=0)
    found: list[str] = []

    async def run() -> list[str]:
        with anyio.fail_after(budget):
            async with CouchClient.from_settings(settings) as couch:
                return await fetch(couch)

    def work() -> None:
        try:
            found.extend(anyio.run(run))
        except BaseException:  # a completion fails silently, whatever failed
            found.clear()

    thread = threading.Thread(target=work, name="couchctl-completion", daemon=True)
    thread.start()
    thread.join(DEADLINE)
    if thread.is_alive():
        _pending.append(thread)
        return []
    return list(found)


def finish(code: int) -> None:
    """End a completion process: at once (output flushed) when a server request was
    abandoned, since interpreter shutdown would wait for its host name lookup."""
    if any(thread.is_alive() for thread in _pending):
        import os

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _param(ctx: typer.Context, name: str) -> str | None:
    value = ctx.params.get(name)
    return value if isinstance(value, str) and value else None


def _ids(answer: Any) -> list[str]:
    rows = answer.get("rows", []) if isinstance(answer, dict) else []
    return [row["id"] for row in rows if isinstance(row, dict) and isinstance(row.get("id"), str)]


def complete_db(ctx: typer.Context, incomplete: str) -> list[str]:
    """Database names from the server."""

    async def fetch(couch: CouchClient) -> list[str]:
        names = await couch.all_dbs(start_key=incomplete, end_key=incomplete + _HIGH)
        return names if isinstance(names, list) else []

    names = ask_server(ctx, fetch)
    return [n for n in names if isinstance(n, str) and n.startswith(incomplete)]


def complete_doc_id(ctx: typer.Context, incomplete: str) -> list[str]:
    """Document ids of the command's database (`db`) that start with what is typed."""
    db = _param(ctx, "db")
    if db is None:
        return []

    async def fetch(couch: CouchClient) -> list[str]:
        answer = await couch.db_all_docs(
            db, start_key=incomplete, end_key=incomplete + _HIGH, limit=ID_LIMIT
        )
        return _ids(answer)

    return [i for i in ask_server(ctx, fetch) if i.startswith(incomplete)]


def complete_ddoc(ctx: typer.Context, incomplete: str) -> list[str]:
    """Design documents of the command's database, named as typed: bare
    (`myddoc`) unless what is typed starts with `_`, then `_design/myddoc`."""
    db = _param(ctx, "db")
    if db is None:
        return []
    full = incomplete.startswith("_")  # `_des` completes to `_design/...`
    if not full:
        start = _DESIGN + incomplete
    elif incomplete.startswith(_DESIGN):
        start = incomplete
    elif _DESIGN.startswith(incomplete):
        start = _DESIGN
    else:
        return []

    async def fetch(couch: CouchClient) -> list[str]:
        from couchctl.client import NotFound

        try:
            answer = await couch.db_design_docs(db, start_key=start, end_key=start + _HIGH)
        except NotFound as exc:
            # A server without _design_docs: the same ids from _all_docs.
            if "does not exist" in exc.reason.lower():
                return []
            answer = await couch.db_all_docs(db, start_key=start, end_key=start + _HIGH)
        return _ids(answer)

    ids = [i for i in ask_server(ctx, fetch) if i.startswith(_DESIGN)]
    names = ids if full else [i.removeprefix(_DESIGN) for i in ids]
    return [n for n in names if n.startswith(incomplete)]


def complete_view(ctx: typer.Context, incomplete: str) -> list[str]:
    """View names of the command's design document (`ddoc`)."""
    db, ddoc = _param(ctx, "db"), _param(ctx, "ddoc")
    if db is None or ddoc is None:
        return []

    async def fetch(couch: CouchClient) -> list[str]:
        doc = await couch.doc_get(db, _DESIGN + ddoc.removeprefix(_DESIGN))
        views = doc.get("views") if isinstance(doc, dict) else None
        return sorted(views) if isinstance(views, dict) else []

    return [v for v in ask_server(ctx, fetch) if v.startswith(incomplete)]


# -- the committed scripts ---------------------------------------------------------------


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
