"""The views, design documents and Mango (_find, _explain, _index).

View queries send only the parameters the caller set: CouchDB's own defaults
(`reduce=true`, `update=true`, `skip=0`, ...) are never sent on the caller's
behalf. `key`, `start_key` and `end_key` are JSON-encoded into the query string
(as `key`, `startkey`, `endkey`), and `keys` goes into a POST body. Mango bodies
carry exactly the options that were set.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, TypedDict, Unpack

from couchctl.client._base import BaseClient
from couchctl.client._encoding import db_path, segment
from couchctl.client._errors import InvalidArgument, NotFound
from couchctl.client._view_query import IndexQueryOptions, check_count, view_query

__all__ = ["FIND_PAGE_SIZE", "FindOptions", "ViewMixin", "ViewOptions", "check_find", "ddoc_name"]

_DESIGN = "_design/"


class ViewOptions(IndexQueryOptions, total=False):
    """The query parameters of `GET /{db}/_design/{ddoc}/_view/{view}`.

    Leave a parameter out (or None) to let the server apply its default. The keys
    (`key`, `start_key`, `end_key`) are any JSON value; pass `JSON_NULL` to query
    for the JSON `null` key.
    """

    sort: bool | None
    sorted: bool | None


class FindOptions(TypedDict, total=False):
    """The members of a `POST /{db}/_find` (or `_explain`) body besides `selector`."""

    limit: int | None
    skip: int | None
    sort: Sequence[Any] | None
    fields: Sequence[str] | None
    use_index: str | Sequence[str] | None
    r: int | None
    bookmark: str | None
    update: bool | None
    stable: bool | None
    stale: str | None
    execution_stats: bool | None
    conflicts: bool | None
    allow_fallback: bool | None


_VIEW_OPTION_NAMES = tuple(ViewOptions.__annotations__)
_FIND_OPTION_NAMES = tuple(FindOptions.__annotations__)
_FIND_STALE = frozenset({"ok"})
_INDEX_DIRECTIONS = frozenset({"asc", "desc"})

# With `iter_find` and no limit, pages of this many documents.
FIND_PAGE_SIZE = 1000


def ddoc_name(ddoc: str) -> str:
    """The design document's name without its `_design/` prefix (either form accepted)."""
    name = ddoc[len(_DESIGN) :] if ddoc.startswith(_DESIGN) else ddoc
    if not name:
        raise InvalidArgument("the design document name is empty")
    return name


def _partition_base(db: str, partition: str | None) -> str:
    base = db_path(db)
    if partition is None:
        return base
    if not partition:
        raise InvalidArgument("the partition name is empty")
    if partition.startswith("_"):
        raise InvalidArgument(f"invalid partition name {partition!r}: it must not start with '_'")
    return f"{base}/_partition/{segment(partition)}"


def _ddoc_path(db: str, ddoc: str, partition: str | None = None) -> str:
    return f"{_partition_base(db, partition)}/_design/{segment(ddoc_name(ddoc))}"


def _check_names(given: Mapping[str, Any], known: Sequence[str], what: str) -> None:
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise TypeError(f"{what}: unexpected option(s) {', '.join(unknown)}")


def _view_query(
    view: str, options: Mapping[str, Any]
) -> tuple[list[tuple[str, str]], dict[str, Any] | None]:
    """The query string and (for `keys`) the POST body of a view request."""
    _check_names(options, _VIEW_OPTION_NAMES, "view query")
    if not view:
        raise InvalidArgument("the view name is empty")
    return view_query(options)


def _find_body(selector: Any, options: Mapping[str, Any]) -> dict[str, Any]:
    """`{"selector": ..., <every option that was set>}`."""
    _check_names(options, _FIND_OPTION_NAMES, "find")
    if not isinstance(selector, Mapping):
        raise InvalidArgument("the selector must be a JSON object")
    for name in ("limit", "skip", "r"):
        check_count(name, options.get(name))
    fields = options.get("fields")
    if fields is not None and (
        isinstance(fields, str | Mapping)
        or not isinstance(fields, Sequence)
        or not all(isinstance(f, str) and f for f in fields)
    ):
        raise InvalidArgument("fields must be a JSON array of field names")
    sort = options.get("sort")
    if sort is not None and (isinstance(sort, str | Mapping) or not isinstance(sort, Sequence)):
        raise InvalidArgument('sort must be a JSON array, e.g. [{"n": "desc"}]')
    use_index = options.get("use_index")
    if use_index is not None and not isinstance(use_index, str):
        if not (isinstance(use_index, Sequence) and all(isinstance(u, str) for u in use_index)):
            raise InvalidArgument('use_index must be "<ddoc>" or ["<ddoc>", "<index name>"]')
        use_index = list(use_index)
    stale = options.get("stale")
    if stale is not None and stale not in _FIND_STALE:
        raise InvalidArgument(f"stale must be 'ok', got {stale!r}")

    body: dict[str, Any] = {"selector": dict(selector)}
    for name in _FIND_OPTION_NAMES:
        value = options.get(name)
        if value is None:
            continue
        if name == "use_index":
            value = use_index
        elif name in ("fields", "sort"):
            value = list(value)
        body[name] = value
    return body


def check_find(selector: Any, **options: Unpack[FindOptions]) -> None:
    """Refuse (InvalidArgument) what `db_find`, `iter_find` and `explain` would refuse,
    without sending anything: for callers that check input first."""
    _find_body(selector, options)


def _index_fields(fields: Sequence[Any]) -> list[Any]:
    if isinstance(fields, str) or not fields:
        raise InvalidArgument("an index needs at least one field")
    out: list[Any] = []
    for field in fields:
        if isinstance(field, str) and field:
            out.append(field)
        elif (
            isinstance(field, Mapping)
            and len(field) == 1
            and all(isinstance(k, str) and k for k in field)
            and all(v in _INDEX_DIRECTIONS for v in field.values())
        ):
            out.append(dict(field))
        else:
            raise InvalidArgument(
                f'index fields are names or {{"name": "asc"|"desc"}} objects, got {field!r}'
            )
    return out


class ViewMixin(BaseClient):
    """The views, design documents and Mango (_find, _explain, _index)."""

    # -- views --------------------------------------------------------------------------

    def _view_request(
        self, db: str, ddoc: str, view: str, partition: str | None, options: Mapping[str, Any]
    ) -> tuple[str, str, list[tuple[str, str]], dict[str, Any] | None]:
        params, body = _view_query(view, options)
        path = f"{_ddoc_path(db, ddoc, partition)}/_view/{segment(view)}"
        return ("GET" if body is None else "POST"), path, params, body

    async def view_exec(
        self,
        db: str,
        des_id: str,
        view_name: str,
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
        *,
        sorted: bool | None = None,
        partition: str | None = None,
    ) -> Any:
        """Query a view (`GET /{db}/_design/{ddoc}/_view/{view}`; POST when `keys` is given).

        `des_id` is the design document's name with or without `_design/`. Every
        option is sent only when set; `sort` is CouchDB's `sorted` (either name
        may be used). With `partition`, the query goes to
        `/{db}/_partition/{partition}/_design/{ddoc}/_view/{view}`. Returns the
        server's JSON (`rows`, and `total_rows`, `offset`, `update_seq` when the
        server sends them).
        """
        arguments = locals()
        options = {
            name: arguments[name] for name in _VIEW_OPTION_NAMES if arguments[name] is not None
        }
        method, path, params, body = self._view_request(db, des_id, view_name, partition, options)
        # A view query is a read, even as a POST: safe to retry.
        return await self.request_json(method, path, params=params, json=body, retry=True)

    async def iter_view(
        self,
        db: str,
        des_id: str,
        view_name: str,
        *,
        partition: str | None = None,
        meta: dict[str, Any] | None = None,
        **options: Unpack[ViewOptions],
    ) -> AsyncIterator[Any]:
        """Stream the rows of a view query in constant memory (same options as `view_exec`).

        After the last row, `meta` holds the other members (`total_rows`,
        `offset`, `update_seq`).
        """
        method, path, params, body = self._view_request(db, des_id, view_name, partition, options)
        async for row in self.iter_rows(
            method, path, params=params, json=body, retry=True, meta=meta
        ):
            yield row

    # -- design documents -------------------------------------------------------------

    async def des_info(self, db: str, des_id: str) -> Any:
        """Information about a design document's view index (`GET /{db}/_design/{ddoc}/_info`).

        `des_id` is the design document's name with or without `_design/`.
        """
        return await self.request_json("GET", f"{_ddoc_path(db, des_id)}/_info")

    async def design_docs_with_views(self, db: str) -> Any:
        """Every design document of a database, with its body (views, language).

        `GET /{db}/_design_docs?include_docs=true`. Where that endpoint is missing
        (some CouchDB-compatible servers), the same rows come from `_all_docs`
        over the `_design/` id range, which is equally correct on CouchDB.
        """
        try:
            return await self.request_json(
                "GET", f"{db_path(db)}/_design_docs", params=[("include_docs", "true")]
            )
        except NotFound as exc:
            if "does not exist" in exc.reason.lower():  # the database itself is missing
                raise
        # `/` < `0` in CouchDB's raw id collation: this range is exactly `_design/*`.
        params, _ = view_query({"start_key": _DESIGN, "end_key": "_design0", "include_docs": True})
        return await self.request_json("GET", f"{db_path(db)}/_all_docs", params=params)

    # -- Mango --------------------------------------------------------------------------

    async def db_find(
        self,
        db: str,
        selector: Mapping[str, Any],
        limit: int | None = None,
        skip: int | None = None,
        sort: Sequence[Any] | None = None,
        fields: Sequence[str] | None = None,
        use_index: str | Sequence[str] | None = None,
        r: int | None = None,
        bookmark: str | None = None,
        update: bool | None = None,
        stable: bool | None = None,
        stale: str | None = None,
        execution_stats: bool | None = None,
        *,
        conflicts: bool | None = None,
        allow_fallback: bool | None = None,
        partition: str | None = None,
    ) -> Any:
        """Find documents with a Mango selector (`POST /{db}/_find`).

        The body holds `selector` and exactly the options that were set (None: not
        sent, so the server's defaults apply). With `partition`, the query goes to
        `/{db}/_partition/{partition}/_find`. Returns the server's JSON: `docs`,
        `bookmark`, and `warning` / `execution_stats` when the server sends them.
        """
        arguments = locals()
        options = {name: arguments[name] for name in _FIND_OPTION_NAMES}
        body = _find_body(selector, options)
        path = f"{_partition_base(db, partition)}/_find"
        return await self.request_json("POST", path, json=body, retry=True)

    async def iter_find(
        self,
        db: str,
        selector: Mapping[str, Any],
        *,
        partition: str | None = None,
        meta: dict[str, Any] | None = None,
        follow_bookmarks: bool = True,
        **options: Unpack[FindOptions],
    ) -> AsyncIterator[Any]:
        """Stream every document matching `selector`, following bookmarks page by page.

        `limit` is the page size (default FIND_PAGE_SIZE); `skip` applies to the
        first page only. Paging stops at a page shorter than the limit, an empty
        page, or when the server sends no new bookmark (a server without bookmark
        support gives one page). With `follow_bookmarks=False`, only the one page
        that `db_find` would return is streamed. `meta` receives the members of
        the last page besides `docs` (`bookmark`, `warning`, `execution_stats`).
        """
        page_size = options.get("limit")
        if page_size is None and follow_bookmarks:
            page_size = FIND_PAGE_SIZE
        body = _find_body(selector, {**options, "limit": page_size})
        path = f"{_partition_base(db, partition)}/_find"
        sent_bookmark = body.get("bookmark")
        while True:
            page_meta: dict[str, Any] = {}
            count = 0
            async for doc in self.iter_rows(
                "POST", path, array_key="docs", json=body, retry=True, meta=page_meta
            ):
                count += 1
                yield doc
            if meta is not None:
                meta.update(page_meta)
            bookmark = page_meta.get("bookmark")
            if (
                not follow_bookmarks
                or page_size is None
                or count == 0
                or count < page_size
                or not isinstance(bookmark, str)
                or not bookmark
                or bookmark == sent_bookmark
            ):
                return
            body["bookmark"] = sent_bookmark = bookmark
            body.pop("skip", None)

    async def explain(
        self,
        db: str,
        selector: Mapping[str, Any],
        *,
        partition: str | None = None,
        **options: Unpack[FindOptions],
    ) -> Any:
        """Which index a Mango query would use, and with what arguments (`POST /{db}/_explain`)."""
        body = _find_body(selector, options)
        path = f"{_partition_base(db, partition)}/_explain"
        return await self.request_json("POST", path, json=body, retry=True)

    async def index_list(self, db: str) -> Any:
        """The Mango indexes of a database (`GET /{db}/_index`)."""
        return await self.request_json("GET", f"{db_path(db)}/_index")

    async def index_create(
        self,
        db: str,
        fields: Sequence[Any] | None = None,
        *,
        index: Mapping[str, Any] | None = None,
        name: str | None = None,
        ddoc: str | None = None,
        partial_filter_selector: Mapping[str, Any] | None = None,
        partitioned: bool | None = None,
        type: str = "json",
    ) -> Any:
        """Create a Mango index (`POST /{db}/_index`).

        Give `fields` (names, or `{"name": "asc"|"desc"}` objects) or a whole
        `index` object. `ddoc` may carry the `_design/` prefix or not. Returns the
        server's JSON (`result` is `created` or `exists`, with `id` and `name`).
        """
        if (fields is None) == (index is None):
            raise InvalidArgument("give either the index fields or an index object")
        definition: dict[str, Any]
        if index is not None:
            if not isinstance(index, Mapping):
                raise InvalidArgument("the index definition must be a JSON object")
            definition = dict(index)
        else:
            assert fields is not None
            definition = {"fields": _index_fields(fields)}
        if partial_filter_selector is not None:
            if not isinstance(partial_filter_selector, Mapping):
                raise InvalidArgument("the partial filter selector must be a JSON object")
            definition["partial_filter_selector"] = dict(partial_filter_selector)
        if not type:
            raise InvalidArgument("the index type is empty")
        body: dict[str, Any] = {"index": definition}
        if ddoc is not None:
            body["ddoc"] = ddoc_name(ddoc)
        if name is not None:
            if not name:
                raise InvalidArgument("the index name is empty")
            body["name"] = name
        body["type"] = type
        if partitioned is not None:
            body["partitioned"] = partitioned
        return await self.request_json("POST", f"{db_path(db)}/_index", json=body)

    async def index_delete(self, db: str, ddoc: str, name: str, type: str = "json") -> Any:
        """Delete a Mango index (`DELETE /{db}/_index/{ddoc}/{type}/{name}`)."""
        if not name:
            raise InvalidArgument("the index name is empty")
        if not type:
            raise InvalidArgument("the index type is empty")
        path = f"{db_path(db)}/_index/{segment(ddoc_name(ddoc))}/{segment(type)}/{segment(name)}"
        return await self.request_json("DELETE", path)
