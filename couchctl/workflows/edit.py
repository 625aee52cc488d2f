"""Edit a document in the user's editor, safely.

The document is written as pretty JSON to a 0600 temporary file and opened in
`$VISUAL`, else `$EDITOR`, else `vi`. Nothing is sent when the body is
unchanged. `_id` stays the id given and `_rev` the revision fetched, whatever
the file says. A write refused with 409 never overwrites: on a terminal the
file is reopened on the server's new revision with the user's changes applied
to it (so the other write survives unless the user changes the same keys);
elsewhere the edit stops and the file is kept. The file is removed once saved.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from couchctl.client import Conflict, CouchError, NotFound

if TYPE_CHECKING:
    from couchctl.client import CouchClient

__all__ = [
    "EditAbandoned",
    "EditConflict",
    "EditInvalid",
    "EditResult",
    "changed_keys",
    "edit_document",
    "editor_command",
    "merge_edit",
]

META = ("_id", "_rev")


class EditAbandoned(CouchError):
    """The edit stopped; `path` (if any) holds the user's text."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class EditInvalid(EditAbandoned):
    """The edited file is not a JSON object (off a terminal)."""


class EditConflict(EditAbandoned):
    """The document changed on the server meanwhile (off a terminal)."""

    def __init__(self, message: str, path: str, keys: list[str]) -> None:
        super().__init__(message, path)
        self.keys = keys


@dataclass
class EditResult:
    saved: bool
    rev: str | None
    created: bool = False


def editor_command(environ: Mapping[str, str] | None = None) -> list[str]:
    """`$VISUAL`, else `$EDITOR`, else `vi`, split like a shell would."""
    env = os.environ if environ is None else environ
    for name in ("VISUAL", "EDITOR"):
        value = env.get(name, "").strip()
        if value:
            return shlex.split(value)
    return ["vi"]


def changed_keys(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """The top-level keys whose values differ (`_rev` aside), sorted."""
    keys = (set(before) | set(after)) - {"_rev"}
    return sorted(k for k in keys if before.get(k, _MISSING) != after.get(k, _MISSING))


_MISSING = object()


def merge_edit(
    base: Mapping[str, Any], mine: Mapping[str, Any], theirs: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """The server's new document (`theirs`) with the user's changes from `base`
    applied on top; also the keys both changed (the user's value is kept)."""
    merged = dict(theirs)
    both = []
    changed_on_server = set(changed_keys(base, theirs))
    for key in changed_keys(base, mine):
        if key in META:
            continue
        if key in changed_on_server:
            both.append(key)
        if key in mine:
            merged[key] = mine[key]
        else:
            merged.pop(key, None)
    return merged, sorted(both)


def _pretty(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def _write_temp(text: str, doc_id: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in doc_id)[:40]
    fd, path = tempfile.mkstemp(prefix=f"couchctl-edit-{safe}-", suffix=".json")  # 0600
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def _rewrite(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _run_editor(command: list[str], path: str) -> int:
    try:
        return subprocess.run([*command, path], check=False).returncode
    except FileNotFoundError:
        raise EditAbandoned(f"editor not found: {command[0]}", path) from None


def _parse(text: str) -> tuple[dict[str, Any] | None, str]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        return None, f"not valid JSON: {exc}"
    if not isinstance(value, dict):
        return None, f"a document must be a JSON object, not {type(value).__name__}"
    return value, ""


def _body(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "_rev"}


async def edit_document(
    couch: CouchClient,
    db: str,
    doc_id: str,
    *,
    create: bool = False,
    editor: list[str] | None = None,
    interactive: bool = False,
    say: Callable[[str], None] = lambda message: None,
) -> EditResult:
    """Fetch, edit, save; see the module's docstring for the rules."""
    import anyio

    command = editor or editor_command()
    try:
        base: dict[str, Any] = await couch.doc_get(db, doc_id)
    except NotFound:
        if not create:
            raise
        base = {"_id": doc_id}
    created = "_rev" not in base
    path = _write_temp(_pretty(base), doc_id)
    conflict: list[str] | None = None  # the keys changed on the server, after a 409

    def abandon(reason: str) -> EditAbandoned:
        if conflict is not None:  # abandoned after a 409: it stays a conflict (exit 5)
            return EditConflict(
                f"{reason} after the document changed on the server", path, conflict
            )
        return EditAbandoned(reason, path)

    while True:
        code = await anyio.to_thread.run_sync(_run_editor, command, path)
        if code != 0:
            raise abandon(f"the editor exited with status {code}: nothing saved")
        text = _read(path)
        if not text.strip():
            raise abandon("the file is empty: edit abandoned, nothing saved")
        mine, problem = _parse(text)
        if mine is None:
            if not interactive:
                raise EditInvalid(f"the edited document is {problem}", path)
            say(
                f"the edited document is {problem}: reopening the editor (empty the file to give up)"
            )
            continue
        if mine.get("_id", doc_id) != doc_id:
            say(f"_id cannot be changed here: keeping {doc_id}")
        mine["_id"] = doc_id
        mine.pop("_rev", None)
        if "_rev" in base:
            mine["_rev"] = base["_rev"]
        if _body(mine) == _body(base):
            with contextlib.suppress(OSError):
                os.unlink(path)
            return EditResult(False, base.get("_rev"))
        try:
            result = await couch.doc_create_or_update(db, doc_id, mine)
        except Conflict:
            try:
                theirs: dict[str, Any] = await couch.doc_get(db, doc_id)
            except NotFound:
                theirs = {"_id": doc_id}
            keys = changed_keys(base, theirs)
            if not interactive:
                raise EditConflict(
                    f"document {doc_id} changed on the server meanwhile "
                    f"({', '.join(keys) or 'its revision'}): nothing saved",
                    path,
                    keys,
                ) from None
            merged, both = merge_edit(base, mine, theirs)
            say(f"document {doc_id} changed on the server meanwhile: {', '.join(keys) or '-'}")
            if both:
                say(f"you changed the same keys: {', '.join(both)} (your values are in the file)")
            say("reopening on the new revision with your changes applied")
            base = theirs
            conflict = keys
            created = "_rev" not in base
            _rewrite(path, _pretty(merged))
            continue
        with contextlib.suppress(OSError):
            os.unlink(path)
        rev = result.get("rev") if isinstance(result, dict) else None
        return EditResult(True, rev, created)
