"""What `_bulk_docs` takes: the checks that keep CouchDB from refusing a whole batch.

CouchDB fails a whole `_bulk_docs` request (400) for one document with an illegal
`_id` or an unknown `_name` member (recorded: 162-bulk-docs-invalid-id,
164-bulk-docs-underscore-field), so such a document is refused here, with its line,
before anything is sent.
"""

from __future__ import annotations

import re
from typing import Any

from couchctl._jsontype import json_type_name
from couchctl.client import InvalidArgument

__all__ = [
    "SPECIAL_MEMBERS",
    "InputError",
    "bulk_docs_request",
    "bulk_get_rows",
    "check_document",
    "parse_doc_ref",
]

# Members CouchDB accepts at the top level of a document (`couch_doc:transfer_fields`);
# any other `_name` makes `_bulk_docs` fail the whole request with 400 doc_validation.
# The `_replication_*` ones are kept in `_replicator` documents by the replicator.
SPECIAL_MEMBERS = frozenset(
    {
        "_id",
        "_rev",
        "_deleted",
        "_attachments",
        "_revisions",
        "_revs_info",
        "_conflicts",
        "_deleted_conflicts",
        "_local_seq",
        "_access",
        "_replication_state",
        "_replication_state_time",
        "_replication_state_reason",
        "_replication_id",
        "_replication_stats",
    }
)


class InputError(InvalidArgument):
    """Bad load input, with the line it was found on (a usage error: exit 2)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.detail = message


def _may_have_special_members(text: str) -> bool:
    """False when no member name in the text can start with an underscore (no `"_`
    and no escape that could spell one)."""
    # (A one-character search first: many times faster than a two-character one.)
    return ("_" in text and '"_' in text) or ("\\" in text and "\\u" in text)


def check_document(
    value: Any,
    line: int,
    *,
    new_edits: bool = True,
    text: str | None = None,
    special: bool | None = None,
) -> str | None:
    """Raise InputError unless `value` is a document `_bulk_docs` would take; return its `_id`.

    `text`, the value's JSON text when known, lets the member check be skipped
    when no member can start with an underscore; `special=False` says so directly
    (`_may_have_special_members` of that text already answered).
    """
    if not isinstance(value, dict):
        raise InputError(line, f"a document must be a JSON object, not {json_type_name(value)}")
    doc_id = value.get("_id")
    if doc_id is not None or "_id" in value:
        if not isinstance(doc_id, str) or not doc_id:
            raise InputError(line, "_id must be a non-empty string")
        if doc_id.startswith("_") and not doc_id.startswith(("_design/", "_local/")):
            raise InputError(
                line,
                f"illegal _id {doc_id!r}: only _design/ and _local/ ids may start with an underscore",
            )
        if doc_id in ("_design/", "_local/"):
            raise InputError(line, f"illegal _id {doc_id!r}: the name after the prefix is empty")
    if special is None:
        special = text is None or _may_have_special_members(text)
    if special:
        for name in value:
            if name[:1] == "_" and name not in SPECIAL_MEMBERS:
                raise InputError(line, f"bad special document member {name!r}")
        _check_special_values(value, line)
    rev = value.get("_rev")
    if rev is not None and not isinstance(rev, str):
        raise InputError(line, "_rev must be a string")
    if not new_edits and (doc_id is None or rev is None):
        raise InputError(line, "with --no-new-edits every document needs an _id and a _rev")
    return doc_id


def _check_special_values(doc: dict[str, Any], line: int) -> None:
    """The special members whose type CouchDB checks (a wrong one fails the whole batch)."""
    deleted = doc.get("_deleted")
    if deleted is not None and not isinstance(deleted, bool):
        raise InputError(line, "_deleted must be true or false")
    attachments = doc.get("_attachments")
    if attachments is not None and not isinstance(attachments, dict):
        raise InputError(line, "_attachments must be a JSON object")
    revisions = doc.get("_revisions")
    if revisions is not None and (
        not isinstance(revisions, dict)
        or isinstance(revisions.get("start"), bool)
        or not isinstance(revisions.get("start"), int)
        or not isinstance(revisions.get("ids"), list)
    ):
        raise InputError(line, '_revisions must be {"start": <integer>, "ids": [...]}')


def bulk_docs_request(value: Any, *, new_edits: bool | None) -> tuple[list[Any], bool | None]:
    """The documents and `new_edits` of a `_bulk_docs` body given as `{"docs": [...]}`
    (its `new_edits` counts unless `new_edits` is given) or as an array of documents.

    Raises InvalidArgument for what CouchDB would refuse as a whole.
    """
    if isinstance(value, dict):
        if "docs" not in value:
            raise InvalidArgument('the documents: an object must have a "docs" member')
        docs = value["docs"]
        if new_edits is None and isinstance(value.get("new_edits"), bool):
            new_edits = value["new_edits"]
    else:
        docs = value
    if not isinstance(docs, list):
        raise InvalidArgument("the documents must be a JSON array (or an object with a docs array)")
    for index, doc in enumerate(docs):
        try:
            check_document(doc, index, new_edits=new_edits is not False)
        except InputError as exc:
            raise InvalidArgument(f"the documents: element {index}: {exc.detail}") from None
    return docs, new_edits


_REV = re.compile(r"^\d+-[0-9a-fA-F]+$")


def parse_doc_ref(value: str) -> dict[str, str]:
    """`ID` or `ID@REV` as a `_bulk_get` entry (only a well-formed rev after the last @
    counts as one)."""
    doc_id, at, rev = value.rpartition("@")
    if at and doc_id and _REV.fullmatch(rev):
        return {"id": doc_id, "rev": rev}
    if not value:
        raise InvalidArgument("empty document id")
    return {"id": value}


def bulk_get_rows(answer: Any) -> tuple[list[Any], list[dict[str, Any]]]:
    """The `results` of a `_bulk_get` answer, and one row per document or revision
    asked for: {"id", "rev", "error" ("" when found), "doc"}."""
    results = answer.get("results", []) if isinstance(answer, dict) else []
    rows = [_bulk_get_row(result, entry) for result in results for entry in result.get("docs", [])]
    return results, rows


def _bulk_get_row(result: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    ok = entry.get("ok")
    if isinstance(ok, dict):
        return {"id": ok.get("_id"), "rev": ok.get("_rev"), "error": "", "doc": ok}
    raw = entry.get("error")
    error: dict[str, Any] = raw if isinstance(raw, dict) else {}
    return {
        "id": result.get("id"),
        "rev": error.get("rev") if error.get("rev") != "undefined" else None,
        "error": f"{error.get('error', 'not_found')}: {error.get('reason', 'missing')}",
        "doc": None,
    }
