"""The document operations (get, put, create, delete, copy, exists).

Every flag of `GET /{db}/{docid}` is its own query parameter; JSON-valued ones
(`open_revs` as a list, `atts_since`) are JSON-encoded. With `multipart=True`
the document is asked for the way CouchDB's replicator does
(`multipart/related` for `attachments=true`, `multipart/mixed` for
`open_revs`), so attachments travel as raw (gzip-compressed for text) bytes
instead of base64; the answer is decoded into the same shape as the JSON one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from couchctl.client._base import BaseClient
from couchctl.client._encoding import db_path, doc_path, query, quorum
from couchctl.client._errors import InvalidArgument, NotFound, ProtocolError

if TYPE_CHECKING:
    # multipart and attachments are imported when a request needs them
    # (attachments, open_revs): the fast path's `doc get` loads neither.
    from couchctl.client._multipart import RelatedAttachment

    AttachmentArg: TypeAlias = RelatedAttachment | str | os.PathLike[str]

__all__ = ["DocumentMixin", "etag_value"]

# A revision as CouchDB writes it: generation, dash, hash (`0-N` for _local docs).
REV_RE = re.compile(r"[0-9]+-[0-9a-zA-Z]+")


def etag_value(header: str | None) -> str | None:
    """The value of a strong ETag without its quotes (None for a weak or missing one)."""
    if not header:
        return None
    value = header.strip()
    if value.startswith("W/"):
        return None
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value or None


def _batch(batch: bool | str | None) -> str | None:
    if batch is True or batch == "ok":
        return "ok"
    if batch is False or batch is None:
        return None
    raise InvalidArgument(f"batch must be True or 'ok', not {batch!r}")


def _require_doc(doc: Any) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise InvalidArgument(f"a document must be a JSON object, not {type(doc).__name__}")
    return doc


def _require_rev(rev: str | None, what: str) -> str:
    if not rev:
        raise InvalidArgument(f"{what} needs the document's revision (rev)")
    return rev


class DocumentMixin(BaseClient):
    """The document operations (get, put, create, delete, copy, exists)."""

    async def doc_get(
        self,
        db: str,
        doc_id: str,
        attachments: bool | None = None,
        att_encoding_info: bool | None = None,
        attributes_since: Sequence[str] | None = None,
        conflicts: bool | None = None,
        deleted_conflicts: bool | None = None,
        latest: bool | None = None,
        local_seq: bool | None = None,
        meta: bool | None = None,
        open_revs: Literal["all"] | Sequence[str] | None = None,
        rev: str | None = None,
        revs: bool | None = None,
        revs_info: bool | None = None,
        *,
        multipart: bool = False,
        r: int | None = None,
    ) -> Any:
        """Get a document (`GET /{db}/{docid}`), sending only the flags given.

        `r` (a cluster's read quorum for this request) is how many copies must answer.

        `attributes_since` (a list of revisions) is sent as CouchDB's `atts_since`:
        attachment bodies only for revisions newer than those.
        `open_revs` is "all" or a list of revisions; the answer is then a list of
        `{"ok": doc}` / `{"missing": rev}`. With `multipart=True`, a request for
        attachments or open revisions asks for CouchDB's multipart answer and decodes
        it into that same JSON shape (attachment `data` as base64 of the bytes).
        """
        if open_revs is not None:
            check_revisions(open_revs, "open_revs", allow_all=True)
        if attributes_since is not None:
            check_revisions(attributes_since, "attributes_since")
        params = query(
            {
                "attachments": attachments,
                "att_encoding_info": att_encoding_info,
                "atts_since": list(attributes_since) if attributes_since is not None else None,
                "conflicts": conflicts,
                "deleted_conflicts": deleted_conflicts,
                "latest": latest,
                "local_seq": local_seq,
                "meta": meta,
                "open_revs": open_revs
                if open_revs is None or open_revs == "all"
                else list(open_revs),
                "rev": rev,
                "revs": revs,
                "revs_info": revs_info,
                "r": quorum(r, "r"),
            },
            json_params=("atts_since",)
            if open_revs in (None, "all")
            else ("atts_since", "open_revs"),
        )
        path = doc_path(db, doc_id)
        accept: str | None = None
        if multipart and open_revs is not None:
            accept = "multipart/mixed"
        elif multipart and attachments:
            accept = "multipart/related"
        if accept is None:
            return await self.request_json("GET", path, params=params)
        response = await self.request("GET", path, params=params, headers={"Accept": accept})
        from couchctl.client._multipart import (
            boundary_of,
            content_type_params,
            decode_mixed_revisions,
            decode_related_document,
            parse_multipart,
        )

        content_type = response.headers.get("Content-Type", "")
        media, _ = content_type_params(content_type)
        keep = bool(att_encoding_info)
        if media == "multipart/mixed":
            parts = parse_multipart(response.content, boundary_of(content_type))
            return decode_mixed_revisions(parts, keep_encoding_info=keep)
        if media == "multipart/related":
            parts = parse_multipart(response.content, boundary_of(content_type))
            return decode_related_document(parts, keep_encoding_info=keep)
        from couchctl.client._base import parse_json

        if media != "application/json":
            raise ProtocolError(f"GET {path}: unexpected Content-Type {content_type!r}")
        return parse_json(response)

    async def doc_exists(self, db: str, doc_id: str) -> str | None:
        """The current revision of a document (`HEAD /{db}/{docid}`), None when missing.

        CouchDB's ETag is the revision; for `_local/` documents it is not, so the
        revision is then read from the document itself.
        """
        path = doc_path(db, doc_id)
        try:
            response = await self.request("HEAD", path)
        except NotFound:
            return None
        rev = etag_value(response.headers.get("ETag"))
        if rev is not None and REV_RE.fullmatch(rev):
            return rev
        try:
            doc = await self.request_json("GET", path)
        except NotFound:
            return None
        found = doc.get("_rev") if isinstance(doc, dict) else None
        return found if isinstance(found, str) else None

    async def doc_create_or_update(
        self,
        db: str,
        doc_id: str,
        doc: dict[str, Any],
        rev: str | None = None,
        batch: bool | str | None = False,
        new_edits: bool | None = None,
        attachments: Sequence[AttachmentArg] | None = None,
        *,
        w: int | None = None,
    ) -> Any:
        """Create or update a document (`PUT /{db}/{docid}`).

        `w` (a cluster's write quorum for this request) is how many copies must
        confirm the write before CouchDB answers 201 rather than 202.

        The revision of an existing document comes from `rev` (sent as `?rev=`) or
        the document's `_rev`. With `attachments` (file paths or RelatedAttachment),
        the request is `multipart/related`: the document with `follows` stubs, then
        each attachment streamed from its source, with an exact Content-Length.
        """
        _require_doc(doc)
        params = query(
            {"rev": rev, "batch": _batch(batch), "new_edits": new_edits, "w": quorum(w, "w")}
        )
        path = doc_path(db, doc_id)
        if not attachments:
            return await self.request_json("PUT", path, params=params, json=doc)
        from couchctl.client._attachments import file_attachment
        from couchctl.client._multipart import RelatedAttachment, related_body

        related = [
            att if isinstance(att, RelatedAttachment) else file_attachment(att)
            for att in attachments
        ]
        names = [att.name for att in related]
        if len(set(names)) != len(names):
            raise InvalidArgument("two attachments have the same name")
        content_type, length, body = related_body(doc, related)
        return await self.request_json(
            "PUT",
            path,
            params=params,
            content=body,
            headers={"Content-Type": content_type, "Content-Length": str(length)},
        )

    async def db_create_doc(
        self, db: str, doc: dict[str, Any], batch: bool | str | None = False
    ) -> Any:
        """Create a document with a server-generated id unless it has `_id` (`POST /{db}`).

        Never retried: a POST that timed out may have been written.
        """
        _require_doc(doc)
        return await self.request_json(
            "POST", db_path(db), params=query({"batch": _batch(batch)}), json=doc
        )

    async def doc_delete(
        self,
        db: str,
        doc_id: str,
        rev: str,
        batch: bool | str | None = False,
        *,
        w: int | None = None,
    ) -> Any:
        """Delete a revision of a document (`DELETE /{db}/{docid}?rev=`); `w` as for
        `doc_create_or_update`."""
        params = query(
            {"rev": _require_rev(rev, "doc_delete"), "batch": _batch(batch), "w": quorum(w, "w")}
        )
        return await self.request_json("DELETE", doc_path(db, doc_id), params=params)

    async def doc_copy(
        self,
        db: str,
        doc_id: str,
        destination: str,
        rev: str | None = None,
        batch: bool | str | None = False,
        *,
        destination_rev: str | None = None,
    ) -> Any:
        """Copy a document within its database (`COPY /{db}/{docid}`, `Destination` header).

        `rev` picks the source revision; `destination_rev` is needed to overwrite an
        existing destination (sent as `Destination: id?rev=...`). CouchDB reads the
        Destination id literally (no percent-decoding, `?` starts the revision), so an
        id with `?` cannot be a destination.
        """
        check_copy_destination(destination)
        target = destination if destination_rev is None else f"{destination}?rev={destination_rev}"
        headers: dict[str, Any] = {"Destination": target.encode("utf-8")}
        params = query({"rev": rev, "batch": _batch(batch)})
        return await self.request_json("COPY", doc_path(db, doc_id), params=params, headers=headers)


def check_copy_destination(destination: str) -> None:
    """Refuse (InvalidArgument) a `doc_copy` destination CouchDB would misread, without
    sending anything: for callers that check input first."""
    if not destination:
        raise InvalidArgument("the destination document id is empty")
    if "?" in destination:
        raise InvalidArgument(
            f"cannot copy to {destination!r}: CouchDB reads '?' in the Destination header "
            "as the start of ?rev="
        )
    if re.match(r"https?://", destination, re.IGNORECASE):
        raise InvalidArgument("the destination must be a document id, not a URL")


def check_revisions(value: Any, name: str, *, allow_all: bool = False) -> None:
    """Refuse (InvalidArgument) a revision list that is not a list of strings (or, with
    `allow_all`, the string "all"), as `doc_get` takes `open_revs` and `attributes_since`."""
    if allow_all and value == "all":
        return
    if not isinstance(value, list | tuple) or not all(isinstance(r, str) for r in value):
        what = '"all" or a list of revisions' if allow_all else "a list of revisions"
        raise InvalidArgument(f"{name} must be {what}")
