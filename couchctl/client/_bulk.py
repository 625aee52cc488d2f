"""The _bulk_docs, _bulk_get and the paging used by bulk load and dump.

`db_bulk_docs` and `db_bulk_get` are the two bulk endpoints as CouchDB documents
them. The `bulk_*` helpers are the building blocks of `couchctl.bulk` (the
streaming load and dump): fresh ids in the server's id algorithm, the current state
of a set of ids, and `_all_docs` read by key range in constant memory.
"""

from __future__ import annotations

import inspect
import json
import random
import re
import secrets
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from contextlib import aclosing
from typing import Any, overload

import httpx

from couchctl.client._base import (
    BaseClient,
    BeforeRetry,
    SizedBody,
    Stopper,
    is_sync,
    parse_json,
)
from couchctl.client._encoding import db_path, query, quorum
from couchctl.client._errors import HTTPError, InvalidArgument, ProtocolError
from couchctl.client._rows import BLOCK, RowParser, RowStream
from couchctl.client._view_query import view_query

__all__ = ["DELETED", "UUIDS_MAX_COUNT", "BulkMixin", "SequentialIds", "row_id"]

# CouchDB's default `[uuids] max_count`: /_uuids refuses a larger count with 400.
UUIDS_MAX_COUNT = 1000


class SequentialIds:
    """Ids in the form of CouchDB's default `sequential` algorithm (`couch_uuids.erl`):
    26 random hex digits, then a 6-hex-digit counter that grows by a random 1 to
    4093 for each id; once it reaches 0xfff000 a new random prefix starts it again.

    Ids made one after the other sort one after the other, which is what keeps the
    writes of a large load local in the database's B-tree, as the server's own are.
    """

    def __init__(self) -> None:
        self._bits = random.Random(secrets.randbits(128)).getrandbits
        self._prefix = ""
        self._seq = 0xFFF000  # the first id starts a prefix

    def take(self, count: int) -> list[str]:
        ids: list[str] = []
        append = ids.append
        bits = self._bits
        prefix, seq = self._prefix, self._seq
        for _ in range(count):
            if seq >= 0xFFF000:
                prefix, seq = secrets.token_hex(13), 0
            step = bits(12)
            while step >= 0xFFD:  # 0 to 4092: the increment is 1 to 4093
                step = bits(12)
            seq += step + 1
            append(prefix + format(seq, "06x"))
        self._prefix, self._seq = prefix, seq
        return ids


_UNDECIDED: Any = object()


class _Deleted:
    """Marks an id whose document exists as a deletion (tombstone)."""

    def __repr__(self) -> str:
        return "DELETED"


DELETED: Any = _Deleted()


class BulkMixin(BaseClient):
    """The _bulk_docs, _bulk_get and the paging used by bulk load and dump."""

    async def db_bulk_docs(
        self,
        db: str,
        docs: Sequence[Mapping[str, Any]],
        new_edits: bool | None = None,
        *,
        w: int | None = None,
    ) -> list[Any]:
        """Create, update or delete many documents in one request (`POST /{db}/_bulk_docs`).

        Returns CouchDB's array: one `{"ok", "id", "rev"}` or `{"id", "error",
        "reason"}` per document, in order (`[]` with `new_edits=False`). An illegal
        `_id` or `_foo` member in any document fails the whole request (BadRequest).
        `new_edits` is sent only when set; `w` (a cluster's write quorum for this
        request) only when given.
        """
        body: dict[str, Any] = {"docs": list(docs)}
        if new_edits is not None:
            body["new_edits"] = new_edits
        result = await self.request_json(
            "POST", f"{db_path(db)}/_bulk_docs", json=body, params=query({"w": quorum(w, "w")})
        )
        return _array(result, "_bulk_docs")

    async def db_bulk_docs_raw(
        self,
        db: str,
        body: bytes | Callable[[], bytes | SizedBody],
        *,
        retry: bool = False,
        before_retry: BeforeRetry | None = None,
        w: int | None = None,
        all_ok: int | None = None,
    ) -> list[Any]:
        """`POST /{db}/_bulk_docs` with a prebuilt JSON body (`{"docs": [...]}`), sent as is.

        For loaders that build the body from their input text instead of
        serialising documents again. Not retried unless `retry` is set: resending a
        batch that was applied turns its creations into conflicts, so only a batch
        whose documents all have an `_id` is safe to resend, and `before_retry` (run
        before each resend) is where the caller leaves out what was already written;
        `body` may then be a function that gives the body of each attempt. With
        `retry`, a refused connection or a timeout is retried too. A `SizedBody` is
        sent piece by piece with its Content-Length.

        `all_ok=N`, for a caller that only needs the failures: an answer of exactly N
        successes (`"ok":true` N times, no `"error"`) is not decoded, and [] is
        returned (a large batch's answer costs as much to decode as to send).
        """
        response = await self.request(
            "POST",
            f"{db_path(db)}/_bulk_docs",
            content=body,
            headers={"Content-Type": "application/json"},
            params=query({"w": quorum(w, "w")}),
            retry=retry,
            retry_unreachable=retry,
            before_retry=before_retry,
        )
        content = response.content
        if (
            all_ok is not None
            and b'"error"' not in content
            and content.count(b'"ok":true') == all_ok
            and content.lstrip()[:1] == b"["
        ):
            return []
        return _array(parse_json(response), "_bulk_docs")

    @overload
    async def db_bulk_get(
        self,
        db: str,
        revs: bool | None = None,
        id: str | Sequence[str] | None = None,
        *,
        docs: Sequence[Mapping[str, Any]] | None = None,
        latest: bool | None = None,
        attachments: bool | None = None,
    ) -> Any: ...

    @overload
    async def db_bulk_get(
        self,
        db: str,
        docs: Sequence[Mapping[str, Any]],
        /,
        *,
        revs: bool | None = None,
        latest: bool | None = None,
        attachments: bool | None = None,
    ) -> Any: ...

    async def db_bulk_get(self, db: str, *args: Any, **kwargs: Any) -> Any:
        """Fetch many documents, or given revisions of them (`POST /{db}/_bulk_get`).

        `db_bulk_get(db, revs=None, id=None, *, docs=None, latest=None)`: `id` is a
        document id or a list of them; `docs` a list of `{"id": ..., "rev": ...}`
        (`rev` optional); both may be given (ids first). `revs` adds each revision's
        history, `latest` asks for the latest leaf of a given `rev`, `attachments`
        inlines attachment data (base64). Returns
        `{"results": [{"id", "docs": [{"ok": doc} | {"error": {...}}]}]}`. A read, so
        it is retried on 429/5xx and connection resets.

        The earlier form `db_bulk_get(db, docs, revs=..., latest=...)` (a list of
        `{"id", "rev"}` objects in second place) is still accepted.
        """
        if args and not isinstance(args[0], bool | None):
            docs, *rest = args
            return await self._bulk_get(
                db, **dict(zip(("revs", "latest"), rest, strict=False)), docs=docs, **kwargs
            )
        return await self._bulk_get(db, *args, **kwargs)

    async def _bulk_get(
        self,
        db: str,
        revs: bool | None = None,
        id: str | Sequence[str] | None = None,
        *,
        docs: Sequence[Mapping[str, Any]] | None = None,
        latest: bool | None = None,
        attachments: bool | None = None,
    ) -> Any:
        wanted: list[dict[str, Any]] = []
        if id is not None:
            ids = [id] if isinstance(id, str) else list(id)
            if not all(isinstance(one, str) and one for one in ids):
                raise InvalidArgument("id must be a document id or a list of document ids")
            wanted.extend({"id": one} for one in ids)
        if docs is not None:
            if isinstance(docs, str | bytes | Mapping) or not all(
                isinstance(doc, Mapping) for doc in docs
            ):
                raise InvalidArgument('docs must be a list of {"id": ..., "rev": ...} objects')
            wanted.extend(dict(doc) for doc in docs)
        if id is None and docs is None:
            raise InvalidArgument("db_bulk_get needs the documents to get (id or docs)")
        if revs is not None and not isinstance(revs, bool):
            raise InvalidArgument(f"revs must be true or false, got {revs!r}")
        params = query({"revs": revs, "latest": latest, "attachments": attachments})
        return await self.request_json(
            "POST",
            f"{db_path(db)}/_bulk_get",
            params=params,
            json={"docs": wanted},
            retry=True,
        )

    # The reference signature, for help() and inspect.
    db_bulk_get.__signature__ = inspect.signature(_bulk_get)  # type: ignore[attr-defined]

    async def db_revs_diff(self, db: str, revs: Mapping[str, Sequence[str]]) -> dict[str, Any]:
        """Which of these revisions the database lacks (`POST /{db}/_revs_diff`).

        `revs` maps ids to revisions; the answer maps each id with a missing
        revision to `{"missing": [...], "possible_ancestors": [...]}`. A read, so
        it is retried.
        """
        result = await self.request_json(
            "POST",
            f"{db_path(db)}/_revs_diff",
            json={key: list(value) for key, value in revs.items()},
            retry=True,
        )
        if not isinstance(result, dict):
            raise ProtocolError("_revs_diff did not answer with a JSON object")
        return result

    # -- building blocks of bulk load and dump -------------------------------------

    async def bulk_new_ids(self, count: int) -> list[str]:
        """`count` fresh document ids from the server (`GET /_uuids`, at most 1000 a request),
        so that CouchDB's id algorithm is kept."""
        if count < 0:
            raise InvalidArgument(f"cannot ask for {count} ids")
        ids: list[str] = []
        while len(ids) < count:
            wanted = min(UUIDS_MAX_COUNT, count - len(ids))
            answer = await self.request_json(
                "GET", "/_uuids", params=query({"count": wanted}), retry_unreachable=True
            )
            got = answer.get("uuids") if isinstance(answer, dict) else None
            if not isinstance(got, list) or len(got) != wanted:
                raise ProtocolError(f"/_uuids?count={wanted} did not answer {wanted} ids")
            ids.extend(str(value) for value in got)
        return ids

    _id_maker: SequentialIds | None = _UNDECIDED
    _id_lock: Any = None

    async def bulk_ids(self, count: int) -> list[str]:
        """`count` fresh document ids, in the server's id algorithm.

        When the node's `[uuids] algorithm` is `sequential` (CouchDB's default) the
        ids are made here, in that algorithm's form (`SequentialIds`), which spares
        the server a `/_uuids` request a batch; under any other algorithm, or when
        the configuration cannot be read (not a server admin, no `_node` endpoint),
        they come from `/_uuids` (`bulk_new_ids`). Decided once per client.
        """
        if count < 0:
            raise InvalidArgument(f"cannot ask for {count} ids")
        if self._id_maker is _UNDECIDED:
            import anyio

            if self._id_lock is None:
                self._id_lock = anyio.Lock()
            async with self._id_lock:
                if self._id_maker is _UNDECIDED:
                    self._id_maker = await self._sequential_ids()
        if self._id_maker is not None:
            return self._id_maker.take(count)
        return await self.bulk_new_ids(count)

    async def _sequential_ids(self) -> SequentialIds | None:
        """A maker of ids when the node answering makes `sequential` ids, else None."""
        try:
            section = await self.request_json(
                "GET", "/_node/_local/_config/uuids", retry_unreachable=True
            )
        except (HTTPError, ProtocolError):
            return None
        if not isinstance(section, dict):
            return None
        if section.get("algorithm", "sequential") != "sequential":
            return None
        return SequentialIds()

    async def bulk_existing(self, db: str, ids: Sequence[str]) -> dict[str, Any]:
        """The current document of each id (`POST /{db}/_all_docs?include_docs=true` with keys).

        Maps id to the document, or to `DELETED` for a deletion; missing ids are
        left out. Retried like a read.
        """
        found: dict[str, Any] = {}
        if not ids:
            return found
        # Read whole (a batch's worth of rows), so a failure in the body is retried too.
        rows, _ = await self.request_rows(
            "POST",
            f"{db_path(db)}/_all_docs",
            params=query({"include_docs": True}),
            json={"keys": list(ids)},
            retry=True,
            retry_unreachable=True,
        )
        for row in rows:
            if not isinstance(row, dict) or "error" in row or "id" not in row:
                continue
            value = row.get("value")
            if isinstance(value, dict) and value.get("deleted"):
                found[row["id"]] = DELETED
            elif isinstance(row.get("doc"), dict):
                found[row["id"]] = row["doc"]
        return found

    def bulk_iter_ids(self, db: str, *, raw: bool = False) -> AsyncGenerator[list[Any], None]:
        """The rows of `GET /{db}/_all_docs` (ids and revs, no documents), streamed a
        received chunk at a time (lists of rows; their JSON text with `raw`); resumed
        after a failure in the middle of the body (see `bulk_iter_range`)."""

        def params(start: str | None) -> list[tuple[str, str]] | None:
            return None if start is None else view_query({"start_key": start})[0]

        return self._row_pages(f"{db_path(db)}/_all_docs", params, raw)

    def bulk_iter_range(
        self,
        db: str,
        start: str | None = None,
        end: str | None = None,
        *,
        attachments: bool | None = None,
        raw: bool = False,
    ) -> AsyncGenerator[list[Any], None]:
        """The rows of `_all_docs?include_docs=true` with `start <= id < end`, streamed a
        received chunk at a time (lists of rows; their JSON text with `raw`).

        Either bound may be None (open). `attachments=True` inlines attachment data
        (base64).

        A failure in the middle of the body (a reset connection, a timeout, a body cut
        short) is resumed: `_all_docs` is asked again from the last id received (its
        row, if still there, is not given twice), after the client's backoff, up to
        `retries` times in a row without a new row in between; the request itself is
        retried by the client as any other is.
        """

        def params(resume: str | None) -> list[tuple[str, str]] | None:
            query, _ = view_query(
                {
                    "include_docs": True,
                    "start_key": start if resume is None else resume,
                    "end_key": end,
                    "inclusive_end": None if end is None else False,
                    "attachments": attachments,
                }
            )
            return query

        return self._row_pages(f"{db_path(db)}/_all_docs", params, raw)

    async def bulk_fetch_range(
        self,
        db: str,
        start: str | None = None,
        end: str | None = None,
        *,
        attachments: bool | None = None,
        raw: bool = False,
    ) -> list[Any]:
        """The rows of `_all_docs?include_docs=true` with `start <= id < end`, read whole.

        Like `bulk_iter_range`, for a bounded range: the request is retried by the
        client (a failure in the middle of the body, a refused connection and a
        timeout included), so a range is fetched whole or not at all. Only the rows
        are kept in memory, as they arrive.
        """
        params, _ = view_query(
            {
                "include_docs": True,
                "start_key": start,
                "end_key": end,
                "inclusive_end": None if end is None else False,
                "attachments": attachments,
            }
        )
        rows, meta = await self.request_rows(
            "GET",
            f"{db_path(db)}/_all_docs",
            raw=raw,
            params=params,
            headers={"Accept-Encoding": "identity"},
            retry_unreachable=True,
        )
        _no_error_after_rows(meta)
        return rows

    async def _row_pages(
        self,
        path: str,
        params: Callable[[str | None], list[tuple[str, str]] | None],
        raw: bool,
    ) -> AsyncGenerator[list[Any], None]:
        """The rows of `_all_docs` (`params(None)`), a received chunk at a time; after
        a failure in the body, again from the last id received (`params(id)`)."""
        # Bulk reads see hundreds of thousands of rows: decoding every row of a
        # received chunk in one synchronous loop costs a fraction of a per-row
        # async iterator.
        # Row responses are JSON that CouchDB never compresses; asking for
        # identity also spares a server that would (and us) the gzip work.
        # Read and parsed by the sync client in a worker thread where there is one
        # (`threaded_http`): no event-loop round trip per HTTP chunk.
        last: str | None = None
        failures = 0
        while True:
            stopper = Stopper() if self.threaded_http() is not None else None
            async with self.stream(
                "GET",
                path,
                params=params(last),
                headers=self.long_read({"Accept-Encoding": "identity"}),
                retry_unreachable=True,
                threaded=stopper,
            ) as response:
                pages: AsyncGenerator[list[Any], None]
                if stopper is not None and is_sync(response):
                    parser = RowParser("rows", raw=raw)
                    pages = self.pages_threaded(response, stopper, parser)
                    meta = parser.meta  # filled in as the body is read
                else:
                    rows = RowStream(self.pieces(response), "rows", raw=raw, block=BLOCK)
                    pages, meta = rows.pages(), rows.meta
                # closed here, not by the garbage collector: a reading thread is
                # stopped before the response is closed
                async with aclosing(pages):
                    resumed = last
                    while True:
                        try:
                            page = await anext(pages)
                        except StopAsyncIteration:
                            _no_error_after_rows(meta)
                            return
                        except (httpx.TransportError, httpx.TimeoutException) as exc:
                            if failures >= self.retries:
                                raise  # the client's message (stream)
                            failures += 1
                            delay = self._delay(failures - 1, None)
                            after = "from the start" if last is None else f"after {last}"
                            why = f"the body was cut ({_reason(exc)}); resuming {after}"
                            self._note_retry(
                                "GET", path, why, delay, failures - 1, self.retries + 1
                            )
                            break
                        if resumed is not None:  # the first row again, if it is still there
                            if row_id(page[0]) == resumed:
                                page = page[1:]
                            resumed = None
                        if not page:
                            continue
                        last = row_id(page[-1])
                        failures = 0
                        yield page
            await self._pause(delay)


_ROW_ID = re.compile(r'\{"id":("(?:[^"\\]|\\.)*")')


def row_id(row: Any) -> str | None:
    """The id of an `_all_docs` row: a dict, or its JSON text (`raw` rows)."""
    if isinstance(row, str):
        match = _ROW_ID.match(row)
        row = {"id": json.loads(match.group(1))} if match else json.loads(row)
    value = row.get("id") if isinstance(row, dict) else None
    return value if isinstance(value, str) else None


def _reason(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


def _no_error_after_rows(meta: dict[str, Any]) -> None:
    """CouchDB reports a failure in the middle of a stream after the rows."""
    if "error" in meta:
        raise ProtocolError(
            f"the server reported an error after the rows: {meta.get('error')}: "
            f"{meta.get('reason', '')}".rstrip(": ")
        )


def _array(result: Any, what: str) -> list[Any]:
    if not isinstance(result, list):
        raise ProtocolError(f"{what} did not answer with a JSON array")
    return result
