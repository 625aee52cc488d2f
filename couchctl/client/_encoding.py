"""How names and parameters reach the wire.

CouchDB decodes a literal `+` in a path as a space and reads an unencoded `/` in a
document id as the start of an attachment name, so every path segment is fully
percent-encoded; only the `/` after `_design` and `_local` stays literal (an
encoded `_design%2F` answers with a redirect).

A name made only of dots is sent as `%2E`s. `quote()` leaves dots alone, and httpx
(like any URL normaliser, RFC 3986 section 5.2.4) removes `.` and `..` path
segments, so a document id `..` would otherwise address the database itself.
CouchDB decodes `%2E` back to `.`, and httpx keeps `%2E` on the wire. Since `/` is
always encoded too, a name can never be a dot segment or leave its place; a dot
inside a longer name (`photo.jpg`, `./x` as `.%2Fx`) cannot be one and stays as is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from couchctl.client._errors import InvalidArgument

__all__ = [
    "DB_NAME_RE",
    "att_path",
    "db_path",
    "doc_path",
    "dumps",
    "query",
    "quorum",
    "segment",
    "validate_db_name",
]

# CouchDB's rule for database names (system databases start with `_`).
DB_NAME_RE = re.compile(r"^[a-z][a-z0-9_$()+/-]*$")
_SYSTEM_DBS = frozenset({"_users", "_replicator", "_global_changes"})
_PREFIXED = ("_design/", "_local/")
_MAX_DB_NAME = 238


def validate_db_name(name: str) -> str:
    """Return `name` when CouchDB would accept it, else raise InvalidArgument."""
    if len(name) > _MAX_DB_NAME:
        raise InvalidArgument(
            f"invalid database name {name[:40]!r}...: longer than {_MAX_DB_NAME} characters"
        )
    if name in _SYSTEM_DBS or DB_NAME_RE.fullmatch(name):
        return name
    raise InvalidArgument(
        f"invalid database name {name!r}: it must start with a lowercase letter "
        "and contain only a-z, 0-9 and _ $ ( ) + - /"
    )


def segment(value: str, what: str = "name") -> str:
    """One path segment: every reserved character percent-encoded, and a name made
    only of dots sent as `%2E`s so that it is never a dot segment."""
    if not value:
        raise InvalidArgument(f"the {what} is empty")
    if value.strip(".") == "":
        return "%2E" * len(value)
    try:
        return quote(value, safe="")
    except UnicodeEncodeError as exc:
        # A lone surrogate (an undecodable byte of the command line): not Unicode text.
        raise InvalidArgument(
            f"the {what} {value!r} is not valid Unicode text "
            f"({exc.object[exc.start]!r} at position {exc.start})"
        ) from None


def db_path(db: str) -> str:
    """`/{db}` with every reserved character encoded."""
    if not db:
        raise InvalidArgument("the database name is empty")
    return "/" + segment(db)


def _doc_id_segment(doc_id: str) -> str:
    if not doc_id:
        raise InvalidArgument("the document id is empty")
    if doc_id in _PREFIXED:
        # Illegal in CouchDB; `/db/_design%2F` would only get a 301 redirect.
        raise InvalidArgument(f"invalid document id {doc_id!r}: the name after the prefix is empty")
    for prefix in _PREFIXED:
        if doc_id.startswith(prefix) and len(doc_id) > len(prefix):
            return prefix + segment(doc_id[len(prefix) :])
    return segment(doc_id)


def doc_path(db: str, doc_id: str) -> str:
    """`/{db}/{docid}`, keeping `_design/` and `_local/` literal."""
    return f"{db_path(db)}/{_doc_id_segment(doc_id)}"


def att_path(db: str, doc_id: str, name: str) -> str:
    """`/{db}/{docid}/{attname}`."""
    if not name:
        raise InvalidArgument("the attachment name is empty")
    return f"{doc_path(db, doc_id)}/{segment(name)}"


def dumps(value: Any) -> str:
    """Compact JSON as CouchDB expects it in bodies and query parameters."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def query(
    params: Mapping[str, Any] | None = None,
    *,
    json_params: Iterable[str] = (),
) -> list[tuple[str, str]]:
    """Query parameters for httpx: None dropped, booleans as true/false, the
    names in `json_params` JSON-encoded (keys, open_revs, ...)."""
    if not params:
        return []
    as_json = set(json_params)
    out: list[tuple[str, str]] = []
    for name, value in params.items():
        if value is None:
            continue
        if name in as_json or isinstance(value, list | tuple | dict):
            # JSON-valued: a Python repr would never be what CouchDB reads.
            out.append((name, dumps(value)))
        elif isinstance(value, bool):
            out.append((name, "true" if value else "false"))
        else:
            out.append((name, str(value)))
    return out


def quorum(value: int | None, name: str) -> int | None:
    """A read or write quorum (`r`, `w`): a whole number of copies, at least 1."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgument(f"{name} must be a whole number of copies, at least 1")
    return value
