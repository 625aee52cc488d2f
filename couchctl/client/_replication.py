"""Replication through the `_replicator` database and the scheduler
(`/_replicator/{id}`, `/_scheduler/docs`, `/_scheduler/jobs`).

An endpoint (source or target) is a database name on the connected server or a
full URL. Credentials never travel inside the endpoint's URL string: CouchDB's
`auth: {"basic": {"username": ..., "password": ...}}` object carries them, so
that the scheduler (which shows endpoint URLs to anyone who can read
`/_scheduler/docs`) has no password to show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

from couchctl.client._base import BaseClient
from couchctl.client._encoding import doc_path, query, segment, validate_db_name
from couchctl.client._errors import ConflictError, InvalidArgument, NotFound

__all__ = [
    "REPLICATION_DONE",
    "REPLICATION_FAILED",
    "ReplicationMixin",
    "mask_endpoint",
    "mask_replication",
]

# Scheduler states (CouchDB 3.x): a one-shot job ends in `completed`; `failed`
# means the document itself is invalid; `crashing` retries with backoff.
REPLICATION_DONE = frozenset({"completed"})
REPLICATION_FAILED = frozenset({"failed"})


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


def mask_endpoint(value: Any) -> Any:
    """An endpoint as it may be shown: a URL's password as `***`, an `auth` or
    `headers` object's values replaced (a replication document's source/target)."""
    from couchctl.config import mask_url

    if isinstance(value, str):
        return mask_url(value)
    if isinstance(value, Mapping):
        masked: dict[str, Any] = {}
        for key, item in value.items():
            if key == "url" and isinstance(item, str):
                masked[key] = mask_url(item)
            elif key in ("auth", "headers"):
                masked[key] = "[redacted]"
            else:
                masked[key] = item
        return masked
    return value


def mask_replication(doc: Any) -> Any:
    """A scheduler or `_replicator` document with its source and target masked."""
    if not isinstance(doc, Mapping):
        return doc
    masked = dict(doc)
    for key in ("source", "target"):
        if key in masked:
            masked[key] = mask_endpoint(masked[key])
    return masked


class ReplicationMixin(BaseClient):
    """Replications as `_replicator` documents, and the scheduler's view of them."""

    def replication_endpoint(self, endpoint: str) -> dict[str, Any]:
        """The `source`/`target` object for a database name or a full URL.

        A name becomes a URL on the connected server, with the connection's
        credentials in `auth.basic`. A URL's userinfo moves to `auth.basic`; a URL
        without userinfo on the connected server's origin gets the connection's
        credentials (credentials belong to their URL: never another host's).
        """
        from urllib.parse import quote

        from couchctl.config import _split_userinfo

        if not endpoint:
            raise InvalidArgument("a replication endpoint cannot be empty")
        if "://" in endpoint:
            parts = urlsplit(endpoint)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise InvalidArgument(f"not an http(s) URL: {mask_endpoint(endpoint)}")
            url, user, password = _split_userinfo(endpoint)
            if user is None and _origin(url) == _origin(self.base_url):
                user, password = self.user, self._password
        else:
            validate_db_name(endpoint)
            url = f"{self.base_url}/{quote(endpoint, safe='')}"
            user, password = self.user, self._password
        result: dict[str, Any] = {"url": url}
        if user is not None and password is not None:
            result["auth"] = {"basic": {"username": user, "password": password}}
        return result

    def replication_doc(
        self,
        source: str,
        target: str,
        *,
        continuous: bool = False,
        create_target: bool = False,
        doc_ids: Sequence[str] | None = None,
        selector: Mapping[str, Any] | None = None,
        filter: str | None = None,
        since_seq: str | None = None,
        winning_revs_only: bool = False,
    ) -> dict[str, Any]:
        """The body of a `_replicator` document; refuses a database replicated onto itself."""
        source_ep = self.replication_endpoint(source)
        target_ep = self.replication_endpoint(target)
        if _same_database(source_ep["url"], target_ep["url"]):
            raise InvalidArgument(
                f"source and target are the same database: {mask_endpoint(source_ep['url'])}"
            )
        if selector is not None and not isinstance(selector, Mapping):
            raise InvalidArgument("a selector must be a JSON object")
        if filter is not None and (filter.count("/") != 1 or "" in filter.split("/")):
            raise InvalidArgument(f"a filter is DDOC/NAME, got {filter!r}")
        if doc_ids is not None and (not doc_ids or any(not i for i in doc_ids)):
            raise InvalidArgument("doc ids cannot be empty")
        if sum(x is not None for x in (doc_ids, selector, filter)) > 1:
            raise InvalidArgument("use one of doc ids, a selector or a filter")
        doc: dict[str, Any] = {"source": source_ep, "target": target_ep}
        if continuous:
            doc["continuous"] = True
        if create_target:
            doc["create_target"] = True
        if doc_ids is not None:
            doc["doc_ids"] = list(doc_ids)
        if selector is not None:
            doc["selector"] = dict(selector)
        if filter is not None:
            doc["filter"] = filter
        if since_seq is not None:
            doc["since_seq"] = since_seq
        if winning_revs_only:
            doc["winning_revs_only"] = True
        return doc

    async def replication_start(self, doc: Mapping[str, Any], doc_id: str | None = None) -> Any:
        """Write a `_replicator` document (`PUT /_replicator/{id}`, or `POST
        /_replicator` for a server-generated id): `{"ok", "id", "rev"}`."""
        if doc_id is not None:
            if not doc_id or doc_id.startswith("_"):
                raise InvalidArgument(f"invalid replication id {doc_id!r}")
            return await self.request_json(
                "PUT", doc_path("_replicator", doc_id), json=dict(doc), retry=True
            )
        return await self.request_json("POST", "/_replicator", json=dict(doc))

    async def replication_stop(self, doc_id: str) -> Any:
        """Delete a `_replicator` document at its current revision, which stops the job;
        returns the answer of the deletion.

        On a cluster a read may come from a copy that has not yet seen the
        replicator's own update of the document (its state), and deleting that older
        revision would leave the newer one, and the job, alive. So the document is
        read again after the deletion, and a newer revision is deleted too.
        """
        import anyio

        path = doc_path("_replicator", doc_id)
        deleted: set[str] = set()
        result: Any = None
        conflict: ConflictError | None = None
        for attempt in range(6):
            try:
                current = await self.request_json("GET", path)
            except NotFound:
                if result is None:
                    raise
                return result
            rev = str(current["_rev"])
            if rev in deleted:  # a copy that has not seen the deletion yet
                await anyio.sleep(0.2 * (attempt + 1))
                continue
            try:
                result = await self.request_json("DELETE", path, params=query({"rev": rev}))
            except ConflictError as exc:
                conflict = exc
                continue  # changed meanwhile: read it again
            except NotFound:
                # An older revision read from a lagging copy, of a document already
                # deleted: nothing is left to stop.
                if result is None:
                    raise
                return result
            deleted.add(rev)
        if result is None and conflict is not None:
            raise conflict
        return result

    async def scheduler_docs(self, *, limit: int | None = None, skip: int | None = None) -> Any:
        """The replication documents as the scheduler sees them (`GET /_scheduler/docs`)."""
        params = query({"limit": limit, "skip": skip})
        return await self.request_json("GET", "/_scheduler/docs", params=params)

    async def replication_list(self) -> Any:
        """`GET /_scheduler/docs`, completed with every `_replicator` document it left out.

        On a cluster, the answering node lists a finished one-shot job only when it ran
        it (CouchDB 3.4.3: `total_rows` counts it, `docs` omits it), so each
        `_replicator` document missing from `docs` is asked for by id
        (`/_scheduler/docs/_replicator/{id}`, which every node answers).
        """
        result = await self.scheduler_docs()
        docs = list(result.get("docs", []))
        listed = {doc.get("doc_id") for doc in docs if doc.get("database") == "_replicator"}
        every = await self.request_json("GET", "/_replicator/_all_docs")
        ids = [str(row["id"]) for row in every.get("rows", [])]
        for doc_id in ids:
            if doc_id in listed or doc_id.startswith("_design/"):
                continue
            try:
                docs.append(await self.scheduler_doc(doc_id))
            except NotFound:
                continue
        return {**result, "docs": docs}

    async def scheduler_jobs(self, *, limit: int | None = None, skip: int | None = None) -> Any:
        """The running replication jobs (`GET /_scheduler/jobs`)."""
        params = query({"limit": limit, "skip": skip})
        return await self.request_json("GET", "/_scheduler/jobs", params=params)

    async def scheduler_doc(self, doc_id: str, replicator_db: str = "_replicator") -> Any:
        """One replication document's state (`GET /_scheduler/docs/{db}/{id}`)."""
        validate_db_name(replicator_db)
        return await self.request_json(
            "GET", f"/_scheduler/docs/{segment(replicator_db)}/{segment(doc_id)}"
        )


def _same_database(first: str, second: str) -> bool:
    def normal(url: str) -> tuple[Any, ...]:
        parts = urlsplit(url)
        return (*_origin(url), unquote(parts.path).rstrip("/"))

    return normal(first) == normal(second)
