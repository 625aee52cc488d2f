"""The view-style query parameters, built in one place.

`_all_docs`, `_design_docs`, `_local_docs`, views and their `_partition/{p}`
variants share CouchDB's view query parameters (`couch_mrview_http:parse_param`).
`view_query` turns the client's options into the query string and, for `keys`,
the POST body `{"keys": [...]}`: only the options that were set are sent, the
keys (`key`, `start_key`, `end_key`) JSON-encoded, and values CouchDB would
refuse with 400 are refused before any request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

from couchctl.client._base import JSON_NULL
from couchctl.client._encoding import dumps
from couchctl.client._errors import InvalidArgument

__all__ = [
    "STALE_VALUES",
    "VIEW_PARAMS",
    "IndexQueryOptions",
    "RowQueryOptions",
    "check_count",
    "view_query",
]


class RowQueryOptions(TypedDict, total=False):
    """The view parameters of every row endpoint (`_all_docs`, `_design_docs`,
    `_local_docs`, views). None, or left out, lets the server apply its default;
    the keys are any JSON value (`JSON_NULL` for the JSON `null`)."""

    conflicts: bool | None
    descending: bool | None
    end_key: Any
    end_key_doc_id: str | None
    include_docs: bool | None
    inclusive_end: bool | None
    key: Any
    keys: Sequence[Any] | None
    limit: int | None
    skip: int | None
    start_key: Any
    start_key_doc_id: str | None
    update_seq: bool | None


class IndexQueryOptions(RowQueryOptions, total=False):
    """`RowQueryOptions` and those of a query of an index (`_all_docs`, views)."""

    group: bool | None
    group_level: int | None
    attachments: bool | None
    att_encoding_info: bool | None
    reduce: bool | None
    stable: bool | None
    stale: str | None
    update: bool | str | None


# The client's option name -> CouchDB's query parameter. CouchDB reads `startkey`
# and `start_key` alike; the short names are understood by every 2.x/3.x release.
VIEW_PARAMS: dict[str, str] = {
    "conflicts": "conflicts",
    "descending": "descending",
    "end_key": "endkey",
    "end_key_doc_id": "endkey_docid",
    "group": "group",
    "group_level": "group_level",
    "include_docs": "include_docs",
    "attachments": "attachments",
    "att_encoding_info": "att_encoding_info",
    "inclusive_end": "inclusive_end",
    "key": "key",
    "limit": "limit",
    "reduce": "reduce",
    "skip": "skip",
    "sorted": "sorted",
    "sort": "sorted",  # the reference API's name on `_all_docs`
    "stable": "stable",
    "stale": "stale",
    "start_key": "startkey",
    "start_key_doc_id": "startkey_docid",
    "update": "update",
    "update_seq": "update_seq",
}
_JSON_KEYS = frozenset({"key", "start_key", "end_key"})
# `stale` takes only these two in CouchDB 3.x; anything else is 400 "Invalid value for `stale`".
STALE_VALUES = frozenset({"ok", "update_after"})
_UPDATE_VALUES = frozenset({"true", "false", "lazy"})


def check_count(name: str, value: Any) -> None:
    """InvalidArgument unless `value` is None or a whole number >= 0 (limit, skip, ...)."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise InvalidArgument(f"{name} must be a whole number >= 0, got {value!r}")


def _check(options: Mapping[str, Any]) -> None:
    for name in ("limit", "skip", "group_level"):
        check_count(name, options.get(name))
    update = options.get("update")
    if update is not None and not isinstance(update, bool) and update not in _UPDATE_VALUES:
        raise InvalidArgument(f"update must be true, false or 'lazy', got {update!r}")
    stale = options.get("stale")
    if stale is not None and stale not in STALE_VALUES:
        raise InvalidArgument(f"stale must be 'ok' or 'update_after', got {stale!r}")
    keys = options.get("keys")
    if keys is not None and (
        isinstance(keys, str | bytes | Mapping) or not isinstance(keys, Sequence)
    ):
        raise InvalidArgument("keys must be a JSON array (a list)")
    sort, sorted_ = options.get("sort"), options.get("sorted")
    if sort is not None and sorted_ is not None and sort != sorted_:
        raise InvalidArgument("sort and sorted are the same parameter: give one of them")


def view_query(
    options: Mapping[str, Any],
) -> tuple[list[tuple[str, str]], dict[str, Any] | None]:
    """The query string and (when `keys` is set) the POST body of a view-style request.

    Parameters go out in the order of `options`. Names outside `VIEW_PARAMS` and
    `keys` are ignored: the callers' typed options decide which apply. `JSON_NULL`
    as a key sends the JSON `null`.
    """
    _check(options)
    params: list[tuple[str, str]] = []
    sent: set[str] = set()
    for name, value in options.items():  # in the caller's order
        wire = VIEW_PARAMS.get(name)
        if wire is None or value is None or wire in sent:
            continue
        sent.add(wire)
        if name in _JSON_KEYS:
            params.append((wire, "null" if value is JSON_NULL else dumps(value)))
        elif isinstance(value, bool):
            params.append((wire, "true" if value else "false"))
        else:
            params.append((wire, str(value)))
    keys = options.get("keys")
    return params, (None if keys is None else {"keys": list(keys)})
