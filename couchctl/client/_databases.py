"""The database operations (create, delete, info, _all_docs, _changes, _compact, _security, ...).

Row endpoints (`_all_docs`, `_design_docs`, `_local_docs`, `_changes`) come in two
forms: one that returns the parsed JSON answer, and an `iter_*` form that yields
the rows as they arrive, in constant memory. Every parameter is sent only when the
caller set it (None means "not set"): CouchDB's own defaults apply otherwise.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, TypedDict, Unpack

import httpx

from couchctl.client._base import BaseClient
from couchctl.client._encoding import db_path, query, segment, validate_db_name
from couchctl.client._errors import InvalidArgument, NotFound, ProtocolError
from couchctl.client._view_query import (
    IndexQueryOptions,
    RowQueryOptions,
    check_count,
    view_query,
)

__all__ = [
    "AllDocsOptions",
    "ChangesOptions",
    "DatabaseMixin",
    "DesignDocsOptions",
    "check_changes",
]


class DesignDocsOptions(RowQueryOptions, total=False):
    """The parameters of `_design_docs` and `_local_docs` (see `db_design_docs`)."""


class AllDocsOptions(IndexQueryOptions, total=False):
    """The parameters of `_all_docs` (see `db_all_docs`); `sort` is sent as `sorted`."""

    sort: bool | None


class ChangesOptions(TypedDict, total=False):
    """The parameters of `_changes` (see `changes`)."""

    since: str | int | None
    limit: int | None
    include_docs: bool | None
    descending: bool | None
    filter: str | None
    doc_ids: Sequence[str] | None
    selector: Mapping[str, Any] | None
    view: str | None
    timeout: int | None
    heartbeat: int | None
    style: str | None
    conflicts: bool | None
    attachments: bool | None
    att_encoding_info: bool | None
    seq_interval: int | None
    filter_params: Mapping[str, Any] | None


# The options of `_design_docs` and `_local_docs` (a subset of `_all_docs`').
_DESIGN_DOCS_OPTIONS = tuple(DesignDocsOptions.__annotations__)
_ALL_DOCS_OPTIONS = tuple(AllDocsOptions.__annotations__)
_CHANGES_OPTIONS = tuple(ChangesOptions.__annotations__)


def _given(arguments: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The arguments among `names` that were set (`locals()` at the top of an
    operation whose keyword arguments are spelled out for the reader and mypy)."""
    return {name: arguments[name] for name in names if arguments[name] is not None}


def _rows_request(
    options: Mapping[str, Any], *, all_docs: bool
) -> tuple[str, list[tuple[str, str]], Any]:
    """Method, query and body of a `_all_docs`-style request: POST {"keys"} when keys are given."""
    if not all_docs:
        options = {name: value for name, value in options.items() if name in _DESIGN_DOCS_OPTIONS}
    params, body = view_query(options)
    return ("GET" if body is None else "POST"), params, body


_CHANGES_PARAMS = frozenset(
    {
        "feed", "since", "limit", "include_docs", "descending", "filter", "view", "timeout",
        "heartbeat", "style", "conflicts", "attachments", "att_encoding_info", "seq_interval",
        "doc_ids", "selector", "last-event-id",
    }
)  # fmt: skip


_FEEDS = frozenset({"normal", "longpoll", "continuous"})
_STYLES = frozenset({"main_only", "all_docs"})


def check_changes(feed: str | None = None, **options: Unpack[ChangesOptions]) -> None:
    """Refuse (InvalidArgument) what `changes`, `iter_changes` and `changes_continuous`
    would refuse, without sending anything: for callers that check input first."""
    _changes_request(feed, options)


def _changes_request(
    feed: str | None, options: Mapping[str, Any]
) -> tuple[str, list[tuple[str, str]], Any]:
    """Method, query and body of a `_changes` request, every option checked first.

    `doc_ids` and `selector` travel in a POST body with `filter=_doc_ids` /
    `filter=_selector`, and `view` goes with `filter=_view` (each set here when the
    caller gave no filter).
    """
    if feed is not None and feed not in _FEEDS:
        raise InvalidArgument(f"feed must be normal, longpoll or continuous, not {feed!r}")
    for name in ("limit", "timeout", "heartbeat", "seq_interval"):
        check_count(name, options.get(name))
    style = options.get("style")
    if style is not None and style not in _STYLES:
        raise InvalidArgument(f"style must be main_only or all_docs, not {style!r}")
    filter_name = options.get("filter")
    doc_ids = options.get("doc_ids")
    selector = options.get("selector")
    view = options.get("view")
    body: dict[str, Any] = {}
    if doc_ids is not None and selector is not None:
        raise InvalidArgument("doc_ids and selector cannot be used together")
    if doc_ids is not None:
        if isinstance(doc_ids, str | bytes | Mapping) or not isinstance(doc_ids, Sequence):
            raise InvalidArgument('doc_ids must be a JSON array of document ids, e.g. ["a", "b"]')
        if not all(isinstance(doc_id, str) for doc_id in doc_ids):
            raise InvalidArgument("doc_ids must hold document ids (strings)")
        if filter_name not in (None, "_doc_ids"):
            raise InvalidArgument(
                f"doc_ids already filters (filter=_doc_ids): drop filter {filter_name!r}"
            )
        filter_name = "_doc_ids"
        body["doc_ids"] = list(doc_ids)
    if selector is not None:
        if not isinstance(selector, Mapping):
            raise InvalidArgument("selector must be a JSON object (a Mango selector)")
        if filter_name not in (None, "_selector"):
            raise InvalidArgument(
                f"selector already filters (filter=_selector): drop filter {filter_name!r}"
            )
        filter_name = "_selector"
        body["selector"] = dict(selector)
    if view is not None:
        if filter_name not in (None, "_view"):
            raise InvalidArgument(f"view goes with filter=_view, not {filter_name!r}")
        filter_name = "_view"
    params = query(
        {
            "feed": feed,
            "since": options.get("since"),
            "limit": options.get("limit"),
            "include_docs": options.get("include_docs"),
            "descending": options.get("descending"),
            "filter": filter_name,
            "view": view,
            "timeout": options.get("timeout"),
            "heartbeat": options.get("heartbeat"),
            "style": style,
            "conflicts": options.get("conflicts"),
            "attachments": options.get("attachments"),
            "att_encoding_info": options.get("att_encoding_info"),
            "seq_interval": options.get("seq_interval"),
        }
    )
    extra = options.get("filter_params") or {}
    for name, value in query(extra):
        if name in _CHANGES_PARAMS:
            raise InvalidArgument(f"filter parameter {name!r} clashes with a _changes parameter")
        params.append((name, value))
    if body:
        return "POST", params, body
    return "GET", params, None


def _ddoc_name(ddoc: str) -> str:
    """`_design/name` or `name` -> the encoded `name` used by `_compact/{ddoc}`."""
    name = ddoc.removeprefix("_design/")
    return segment(name, "design document name")


_EMPTY_JSON_POST = {"Content-Type": "application/json"}
# A compressing server or proxy holds back a continuous feed until its buffer fills:
# ask for the changes as they are written.
_UNCOMPRESSED = {"Accept-Encoding": "identity"}


class DatabaseMixin(BaseClient):
    """The database operations (create, delete, info, _all_docs, _changes, _compact, _security, ...)."""

    def _streaming_timeout(self) -> httpx.Timeout:
        """The client's timeouts without the read timeout (for feeds that wait)."""
        current = self.http.timeout
        return httpx.Timeout(
            connect=current.connect, read=None, write=current.write, pool=current.pool
        )

    # -- the database itself -----------------------------------------------------------

    async def db_create(
        self,
        db: str,
        q: int | None = None,
        n: int | None = None,
        partitioned: bool | None = None,
    ) -> Any:
        """Create a database (`PUT /{db}`); `q` shards, `n` replicas, `partitioned`.

        The name is checked against CouchDB's rule before any request; `q` and
        `n` are sent only when given, so the cluster's defaults apply otherwise.
        412 PreconditionFailed when it exists already.
        """
        validate_db_name(db)
        params = query({"q": q, "n": n, "partitioned": partitioned})
        return await self.request_json("PUT", db_path(db), params=params)

    async def db_delete(self, db: str) -> Any:
        """Delete a database and every document in it (`DELETE /{db}`)."""
        return await self.request_json("DELETE", db_path(db))

    async def db_exists(self, db: str) -> bool:
        """Whether the database exists (`HEAD /{db}`: 200 yes, 404 no)."""
        try:
            await self.request("HEAD", db_path(db))
        except NotFound:
            return False
        return True

    async def db_info(self, db: str) -> Any:
        """Information about a database (`GET /{db}`): doc_count, sizes, update_seq, ..."""
        return await self.request_json("GET", db_path(db))

    # -- _all_docs, _design_docs, _local_docs ----------------------------------------------

    async def db_all_docs(
        self,
        db: str,
        conflicts: bool | None = None,
        descending: bool | None = None,
        end_key: Any = None,
        end_key_doc_id: str | None = None,
        group: bool | None = None,
        group_level: int | None = None,
        include_docs: bool | None = None,
        attachments: bool | None = None,
        att_encoding_info: bool | None = None,
        inclusive_end: bool | None = None,
        key: Any = None,
        keys: Sequence[Any] | None = None,
        limit: int | None = None,
        reduce: bool | None = None,
        skip: int | None = None,
        sort: bool | None = None,
        stable: bool | None = None,
        stale: str | None = None,
        start_key: Any = None,
        start_key_doc_id: str | None = None,
        update: bool | str | None = None,
        update_seq: bool | None = None,
    ) -> Any:
        """Every document's id and rev (`GET /{db}/_all_docs`), or only `keys` (POST).

        `key`, `start_key`, `end_key` are JSON-encoded (`key`, `startkey`,
        `endkey`; pass `JSON_NULL` for a literal null); `start_key_doc_id` / `end_key_doc_id` are sent as
        `startkey_docid` / `endkey_docid`, `sort` as `sorted`; `update` may be
        True, False or "lazy". With `keys`, the request is `POST {"keys": [...]}`
        (a read, so it is retried). For large databases use `iter_all_docs`.
        """
        options = _given(locals(), _ALL_DOCS_OPTIONS)
        method, params, body = _rows_request(options, all_docs=True)
        return await self.request_json(
            method, f"{db_path(db)}/_all_docs", params=params, json=body, retry=True
        )

    async def iter_all_docs(
        self,
        db: str,
        *,
        meta: dict[str, Any] | None = None,
        **options: Unpack[AllDocsOptions],
    ) -> AsyncIterator[Any]:
        """Stream the rows of `_all_docs` in constant memory (same options as `db_all_docs`).

        `total_rows`, `offset` and `update_seq` land in `meta` when the rows are done.
        """
        method, params, body = _rows_request(options, all_docs=True)
        async for row in self.iter_rows(
            method, f"{db_path(db)}/_all_docs", params=params, json=body, retry=True, meta=meta
        ):
            yield row

    async def db_design_docs(
        self,
        db: str,
        conflicts: bool | None = None,
        descending: bool | None = None,
        end_key: Any = None,
        end_key_doc_id: str | None = None,
        include_docs: bool | None = None,
        inclusive_end: bool | None = None,
        key: Any = None,
        keys: Sequence[Any] | None = None,
        limit: int | None = None,
        skip: int | None = None,
        start_key: Any = None,
        start_key_doc_id: str | None = None,
        update_seq: bool | None = None,
    ) -> Any:
        """The design documents of a database (`GET /{db}/_design_docs`), or only `keys` (POST).

        Keys are design document ids (`"_design/name"`), JSON-encoded like `_all_docs`.
        """
        options = _given(locals(), _DESIGN_DOCS_OPTIONS)
        method, params, body = _rows_request(options, all_docs=False)
        return await self.request_json(
            method, f"{db_path(db)}/_design_docs", params=params, json=body, retry=True
        )

    async def iter_design_docs(
        self,
        db: str,
        *,
        meta: dict[str, Any] | None = None,
        **options: Unpack[DesignDocsOptions],
    ) -> AsyncIterator[Any]:
        """Stream the rows of `_design_docs` (same options as `db_design_docs`)."""
        method, params, body = _rows_request(options, all_docs=False)
        async for row in self.iter_rows(
            method, f"{db_path(db)}/_design_docs", params=params, json=body, retry=True, meta=meta
        ):
            yield row

    async def local_docs(self, db: str, **options: Unpack[DesignDocsOptions]) -> Any:
        """The local (non-replicated) documents (`GET /{db}/_local_docs`), or only `keys` (POST).

        Same options as `db_design_docs`; CouchDB reports `total_rows` as null here.
        """
        method, params, body = _rows_request(options, all_docs=False)
        return await self.request_json(
            method, f"{db_path(db)}/_local_docs", params=params, json=body, retry=True
        )

    # -- _changes ------------------------------------------------------------------------

    async def changes(
        self,
        db: str,
        *,
        feed: str | None = None,
        since: str | int | None = None,
        limit: int | None = None,
        include_docs: bool | None = None,
        descending: bool | None = None,
        filter: str | None = None,
        doc_ids: Sequence[str] | None = None,
        selector: Mapping[str, Any] | None = None,
        view: str | None = None,
        timeout: int | None = None,
        heartbeat: int | None = None,
        style: str | None = None,
        conflicts: bool | None = None,
        attachments: bool | None = None,
        att_encoding_info: bool | None = None,
        seq_interval: int | None = None,
        filter_params: Mapping[str, Any] | None = None,
    ) -> Any:
        """The changes of a database (`GET /{db}/_changes`): `{"results", "last_seq", "pending"}`.

        `feed` is "normal" (the default) or "longpoll" (waits up to `timeout` ms
        for a first change; the HTTP read timeout is lifted for it). `doc_ids` and
        `selector` are sent in a POST body with `filter=_doc_ids` / `_selector`;
        `filter_params` are extra query parameters for a design-document filter.
        `timeout` and `heartbeat` are CouchDB's, in milliseconds. For a
        continuous feed use `changes_continuous`.
        """
        if feed not in (None, "normal", "longpoll"):
            raise InvalidArgument(
                f"feed must be 'normal' or 'longpoll', not {feed!r} (use changes_continuous)"
            )
        options = _given(locals(), _CHANGES_OPTIONS)
        method, params, body = _changes_request(feed, options)
        return await self.request_json(
            method,
            f"{db_path(db)}/_changes",
            params=params,
            json=body,
            retry=True,
            timeout=self._streaming_timeout() if feed == "longpoll" else None,
        )

    async def iter_changes(
        self,
        db: str,
        *,
        meta: dict[str, Any] | None = None,
        **options: Unpack[ChangesOptions],
    ) -> AsyncIterator[Any]:
        """Stream the `results` of a normal changes feed (same options as `changes`).

        `last_seq` and `pending` land in `meta` when the results are done.
        """
        method, params, body = _changes_request(None, options)
        async for row in self.iter_rows(
            method,
            f"{db_path(db)}/_changes",
            array_key="results",
            params=params,
            json=body,
            retry=True,
            meta=meta,
        ):
            yield row

    async def changes_continuous(
        self,
        db: str,
        *,
        meta: dict[str, Any] | None = None,
        **options: Unpack[ChangesOptions],
    ) -> AsyncIterator[Any]:
        """Follow a continuous changes feed (`feed=continuous`): yield each change as it comes.

        Blank heartbeat lines are skipped. The feed ends when CouchDB sends its final
        `{"last_seq": ..., "pending": ...}` line (after `timeout` ms without a
        heartbeat, or after `limit` changes). `meta["last_seq"]` always holds the
        sequence to resume from: the last change's `seq` while the feed runs, the
        final `last_seq` once it ended. There is no read timeout on the stream, and
        it is asked for uncompressed (`Accept-Encoding: identity`) so that a
        compressing proxy cannot hold changes back.
        """
        method, params, body = _changes_request("continuous", options)
        async with self.stream(
            method,
            f"{db_path(db)}/_changes",
            params=params,
            json=body,
            headers=_UNCOMPRESSED,
            retry=True,
            timeout=self._streaming_timeout(),
        ) as response:
            async for line in response.aiter_lines():
                if not line.strip():
                    continue  # a heartbeat
                try:
                    change = json.loads(line)
                except ValueError as exc:
                    raise ProtocolError(
                        f"the changes feed of {db!r} sent a line that is not JSON: {line[:80]!r}"
                    ) from exc
                if isinstance(change, dict) and "last_seq" in change and "changes" not in change:
                    if meta is not None:
                        meta.update(change)
                    return
                if meta is not None and isinstance(change, dict) and "seq" in change:
                    meta["last_seq"] = change["seq"]
                yield change

    # -- maintenance ------------------------------------------------------------------------

    async def db_compact(self, db: str, ddoc: str | None = None) -> Any:
        """Start compacting a database (`POST /{db}/_compact`) or the views of one
        design document (`POST /{db}/_compact/{ddoc}`); answers 202 `{"ok": true}`.

        The empty body is sent with `Content-Type: application/json`: CouchDB answers
        415 without it.
        """
        path = f"{db_path(db)}/_compact"
        if ddoc is not None:
            path += f"/{_ddoc_name(ddoc)}"
        return await self.request_json(
            "POST", path, content=b"", headers=_EMPTY_JSON_POST, retry=True
        )

    async def view_cleanup(self, db: str) -> Any:
        """Remove index files no design document uses any more (`POST /{db}/_view_cleanup`)."""
        return await self.request_json(
            "POST",
            f"{db_path(db)}/_view_cleanup",
            content=b"",
            headers=_EMPTY_JSON_POST,
            retry=True,
        )

    async def security_get(self, db: str) -> Any:
        """The security object of a database (`GET /{db}/_security`): admins and members."""
        return await self.request_json("GET", f"{db_path(db)}/_security")

    async def security_put(self, db: str, security: Mapping[str, Any]) -> Any:
        """Replace the security object of a database (`PUT /{db}/_security`)."""
        return await self.request_json(
            "PUT", f"{db_path(db)}/_security", json=dict(security), retry=True
        )

    async def revs_limit_get(self, db: str) -> int:
        """How many revisions of each document the database remembers (`GET /{db}/_revs_limit`)."""
        limit = await self.request_json("GET", f"{db_path(db)}/_revs_limit")
        if not isinstance(limit, int) or isinstance(limit, bool):
            raise ProtocolError(f"_revs_limit of {db!r} is not a number: {limit!r}")
        return limit

    async def revs_limit_put(self, db: str, limit: int) -> Any:
        """Set how many revisions of each document are remembered (`PUT /{db}/_revs_limit`)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidArgument(f"the revs limit must be a positive integer, not {limit!r}")
        return await self.request_json("PUT", f"{db_path(db)}/_revs_limit", json=limit, retry=True)

    async def purge(self, db: str, revs: Mapping[str, Sequence[str]]) -> Any:
        """Remove document revisions for good (`POST /{db}/_purge {id: [revs]}`).

        Answers `{"purge_seq": ..., "purged": {id: [revs purged]}}`. Not retried.
        """
        body = {doc_id: list(doc_revs) for doc_id, doc_revs in revs.items()}
        if not body:
            raise InvalidArgument("nothing to purge: give at least one document and revision")
        return await self.request_json("POST", f"{db_path(db)}/_purge", json=body)

    # -- partitions -----------------------------------------------------------------------

    async def partition_info(self, db: str, partition: str) -> Any:
        """Information about one partition (`GET /{db}/_partition/{partition}`)."""
        return await self.request_json(
            "GET", f"{db_path(db)}/_partition/{segment(partition, 'partition')}"
        )

    async def partition_all_docs(
        self, db: str, partition: str, **options: Unpack[AllDocsOptions]
    ) -> Any:
        """The documents of one partition (`GET /{db}/_partition/{partition}/_all_docs`).

        Same options as `db_all_docs`. CouchDB documents this endpoint for GET only,
        so `keys` is sent JSON-encoded in the query string, which `_all_docs` reads
        as well as a POST body (222-all-docs-keys-get).
        """
        _, params, body = _rows_request(options, all_docs=True)
        if body is not None:
            params = [*params, *query({"keys": body["keys"]}, json_params=("keys",))]
        return await self.request_json(
            "GET",
            f"{db_path(db)}/_partition/{segment(partition, 'partition')}/_all_docs",
            params=params,
        )
