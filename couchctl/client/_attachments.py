"""The attachment operations, streamed both ways.

Uploads read their source chunk by chunk, with Content-Type and Content-Length
set, so nothing is held in memory: a file is read and sent in one worker thread
through the client's sync twin (`BaseClient.threaded_http`), other sources on
the event loop. Downloads are async context managers whose body is read chunk by
chunk and checked at the end against what the server announced; one opened
`threaded` is read, hashed and written by `save()` in one worker thread.

CouchDB sends no Content-MD5. Its attachment ETag is the quoted base64 MD5 of
the bytes *as stored*, and `text/*`, JSON, JavaScript and XML attachments are
stored gzip-compressed. So a download asks for `Accept-Encoding: gzip`, hashes
the raw bytes as they arrive (`aiter_raw` / `iter_raw`), counts them against Content-Length,
and inflates gzip itself. (A server or proxy that gzips on the fly announces the
MD5 of the decoded bytes: that digest is accepted too.)
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import mimetypes
import os
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from couchctl.client._base import BaseClient, Stopper, in_thread, is_sync
from couchctl.client._blockreads import BlockReads
from couchctl.client._encoding import att_path, query
from couchctl.client._errors import (
    CouchError,
    IntegrityError,
    InvalidArgument,
    NotFound,
    ProtocolError,
    TransportError,
    error_for_status,
)

if TYPE_CHECKING:
    import httpx

    # Imported when an attachment is sent (multipart is not needed before).
    from couchctl.client._multipart import ByteSource, RelatedAttachment

__all__ = [
    "CHUNK_SIZE",
    "AttachmentDownload",
    "AttachmentInfo",
    "AttachmentMixin",
    "digest_of_etag",
    "file_attachment",
    "file_source",
    "guess_content_type",
]

CHUNK_SIZE = 256 * 1024
# Writes of a download that is not threaded, and the steps of a threaded one's progress.
WRITE_SIZE = 1024 * 1024
PROGRESS_STEP = 1024 * 1024
# The pieces of a file sent by a threaded upload.
UPLOAD_CHUNK = 1024 * 1024
# A body at least this large (or of unknown length) is not streamed against a
# revision that is not the current one: CouchDB answers 409 early and closes the
# connection, and the answer is often lost in the reset (see attachment_upload).
REV_CHECK_SIZE = 1024 * 1024
Progress = Callable[[int], None]


def guess_content_type(path: str | os.PathLike[str]) -> str:
    """The media type of a file from its name (application/octet-stream when unknown)."""
    guessed, _ = mimetypes.guess_type(os.fspath(path), strict=False)
    return guessed or "application/octet-stream"


def file_source(path: str | os.PathLike[str], chunk_size: int = CHUNK_SIZE) -> ByteSource:
    """A factory of async byte streams reading `path` chunk by chunk."""

    async def read() -> AsyncIterator[bytes]:
        import anyio

        async with await anyio.open_file(path, "rb") as handle:
            while chunk := await handle.read(chunk_size):
                yield chunk

    return read


def _file_size(path: str | os.PathLike[str]) -> int:
    """The size of a regular file (FileNotFoundError, or InvalidArgument for a directory)."""
    size = os.stat(path).st_size
    if not os.path.isfile(path):
        raise InvalidArgument(f"not a regular file: {os.fspath(path)}")
    return size


def file_attachment(
    path: str | os.PathLike[str], name: str | None = None, content_type: str | None = None
) -> RelatedAttachment:
    """A file to send as an attachment: name = base name, type guessed from the name."""
    from couchctl.client._multipart import RelatedAttachment

    size = _file_size(path)
    return RelatedAttachment(
        name=name or os.path.basename(os.fspath(path)),
        content_type=content_type or guess_content_type(path),
        length=size,
        source=file_source(path),
    )


def digest_of_etag(etag: str | None) -> str | None:
    """`md5-<base64>` from an attachment ETag (the quoted base64 MD5), None if it is not one."""
    if not etag:
        return None
    value = etag.strip()
    if value.startswith("W/"):
        return None
    value = value.strip('"')
    if value.startswith("md5-"):
        value = value[4:]
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return f"md5-{value}" if len(raw) == 16 else None


def _file_chunks(
    path: str | os.PathLike[str], length: int, progress: Progress | None, stopped: Any
) -> Iterator[bytes]:
    """`path` read in UPLOAD_CHUNK pieces in the sending thread (a threaded upload),
    checked to give exactly `length` bytes, reporting progress; it ends (raising)
    when `stopped` (a threading.Event) is set."""
    count = _Exactly(length, progress)
    with open(path, "rb", buffering=0) as handle:
        while chunk := handle.read(UPLOAD_CHUNK):
            if stopped.is_set():
                raise _Stopped
            yield count(chunk)
    count.end()


def _exact(source: ByteSource, length: int, progress: Progress | None) -> ByteSource:
    """`source`, checked to give exactly `length` bytes, reporting progress."""

    async def stream() -> AsyncIterator[bytes]:
        count = _Exactly(length, progress)
        async for chunk in source():
            yield count(chunk)
        count.end()

    return stream


class _Exactly:
    """Counts an upload's chunks against the announced `length` (IntegrityError when
    the source gives more, or at `end()` fewer), reporting progress."""

    def __init__(self, length: int, progress: Progress | None) -> None:
        self.length = length
        self.progress = progress
        self.sent = 0

    def __call__(self, chunk: bytes) -> bytes:
        self.sent += len(chunk)
        if self.sent > self.length:
            raise IntegrityError(f"the source grew while uploading: more than {self.length} bytes")
        if self.progress is not None:
            self.progress(len(chunk))
        return chunk

    def end(self) -> None:
        if self.sent != self.length:
            raise IntegrityError(f"the source gave {self.sent} bytes, {self.length} were announced")


def _counted(source: ByteSource, progress: Progress) -> ByteSource:
    async def stream() -> AsyncIterator[bytes]:
        async for chunk in source():
            progress(len(chunk))
            yield chunk

    return stream


@dataclass(frozen=True)
class AttachmentInfo:
    """What `HEAD /{db}/{docid}/{attname}` tells about an attachment.

    `digest` is `md5-<base64>` (the ETag, as in the document's stub): the MD5 of
    the bytes as CouchDB stores them, gzip-compressed for compressible types.
    `length` is the Content-Length of the answer; the HEAD is sent without
    Accept-Encoding, so it is the attachment's own length and `encoding` is the
    answer's Content-Encoding (None for identity).
    """

    content_type: str | None
    length: int | None
    digest: str | None
    etag: str | None
    encoding: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "content_type": self.content_type,
            "length": self.length,
            "digest": self.digest,
            "etag": self.etag,
            "encoding": self.encoding,
        }


def _md5_digest(md5: Any) -> str:
    return "md5-" + base64.b64encode(md5.digest()).decode("ascii")


def _int_header(response: httpx.Response, name: str) -> int | None:
    value = response.headers.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


class _HashThread:
    """A hash fed in a thread of its own, so that digesting a download runs beside
    reading it (hashlib releases the GIL on large buffers): `update` queues the bytes
    (waiting only when the thread is 8 buffers behind); `close` waits for the thread,
    after which `hash` holds every byte given."""

    def __init__(self, hash: Any) -> None:
        import queue
        import threading

        self.hash = hash
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=8)
        self._thread: threading.Thread | None = threading.Thread(
            target=self._run, name="couchctl-md5", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        update, get = self.hash.update, self._queue.get
        while (data := get()) is not None:
            update(data)

    def update(self, data: bytes) -> None:
        self._queue.put(data)

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None


class AttachmentDownload:
    """An attachment being downloaded: headers now, bytes by `iter_bytes()` or `save()`.

    Reading to the end checks the raw byte count against Content-Length and
    the MD5 against the ETag (when `verify`): of the raw bytes (CouchDB's digest
    of gzip-stored attachments) or, for a gzip answer, of the decoded ones (what
    a server compressing on the fly announces). A mismatch raises IntegrityError,
    so a caller that writes chunks to a temporary file keeps it only when the
    reading ends normally.

    A download resumed at `offset` (a 206 answer to a Range request) has `partial`
    set; its digest is checked over `prefix` (the MD5 of the bytes before `offset`,
    which the caller already has) and the bytes received, so the whole file is covered.

    A download opened `threaded` (`attachment_get(..., threaded=True)`) came through
    the sync client: `save()` reads, hashes and hands on its body in one worker thread.
    """

    def __init__(
        self,
        response: httpx.Response,
        *,
        verify: bool = True,
        offset: int = 0,
        prefix: Any = None,
        stopper: Stopper | None = None,
    ) -> None:
        self._response = response
        self._stopper = stopper
        self.verify = verify
        self.partial = response.status_code == 206
        self.offset = offset if self.partial else 0
        self._prefix = prefix if self.partial else None
        self.content_type: str | None = response.headers.get("Content-Type")
        encoding = (response.headers.get("Content-Encoding") or "identity").strip().lower()
        self.encoding = encoding
        self.etag: str | None = response.headers.get("ETag")
        self.digest = digest_of_etag(self.etag)
        # bytes on the wire (what the digest covers); the decoded length only when identity
        self.transfer_length = _int_header(response, "Content-Length")
        self.length = self.transfer_length if encoding == "identity" else None
        self.received = 0
        self.decoded = 0
        if encoding not in ("identity", "gzip", "x-gzip"):
            raise ProtocolError(f"unsupported attachment Content-Encoding: {encoding}")
        if self.partial and encoding != "identity":
            raise ProtocolError("a partial attachment answer must not be encoded")
        self._raw_md5: Any = None
        # CouchDB's digest covers the stored (gzip) bytes; a server or proxy that
        # compresses on the fly announces the digest of the decoded bytes instead.
        self._decoded_md5 = hashlib.md5(usedforsecurity=False)
        self._inflater: Any = None

    def _begin(self, threaded: bool) -> Any:
        """A fresh raw MD5 (continuing `prefix`), fed in a thread of its own beside
        an event loop that reads the network, in the reading thread otherwise."""
        md5 = (
            self._prefix.copy() if self._prefix is not None else hashlib.md5(usedforsecurity=False)
        )
        self._raw_md5 = md5 if threaded else _HashThread(md5)
        if self.encoding != "identity":
            self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        return self._raw_md5

    def _feed(self, raw: bytes) -> bytes:
        """The attachment's bytes in `raw` (a piece of the body as received)."""
        self._raw_md5.update(raw)
        self.received += len(raw)
        if self._inflater is None:
            self.decoded += len(raw)
            return raw
        try:
            data: bytes = self._inflater.decompress(raw)
        except zlib.error as exc:
            raise IntegrityError(f"the gzip-encoded attachment is corrupt: {exc}") from exc
        self._decoded_md5.update(data)
        self.decoded += len(data)
        return data

    def _end(self) -> bytes:
        """The bytes still held by the gzip decoder, which must be at its end."""
        if self._inflater is None:
            return b""
        try:
            tail: bytes = self._inflater.flush()
        except zlib.error as exc:  # pragma: no cover - flush rarely fails
            raise IntegrityError(f"the gzip-encoded attachment is corrupt: {exc}") from exc
        self._decoded_md5.update(tail)
        self.decoded += len(tail)
        if not self._inflater.eof:
            raise IntegrityError("the gzip-encoded attachment is truncated")
        return tail

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        """The attachment's bytes (gzip undone), verified when the stream ends."""
        threaded = is_sync(self._response)
        hashing = self._begin(threaded)
        try:
            if threaded:
                import anyio

                raw_chunks = self._response.iter_raw()
                while raw := await anyio.to_thread.run_sync(next, raw_chunks, b""):
                    if data := self._feed(raw):
                        yield data
            else:
                async for raw in self._response.aiter_raw():
                    if raw and (data := self._feed(raw)):
                        yield data
            if tail := self._end():
                yield tail
        finally:
            if isinstance(hashing, _HashThread):
                hashing.close()
                self._raw_md5 = hashing.hash
        self._check()

    async def save(
        self, write: Callable[[bytes], object], progress: Progress | None = None
    ) -> None:
        """Read the whole body, giving the attachment's bytes (gzip undone) to `write`,
        and check them as `iter_bytes` does.

        A `threaded` download is read, hashed and written in one worker thread, in
        the pieces the network gives (up to 64 KiB): `write` may block (a file's
        `write`), and `progress(n)` (raw bytes, about every MiB) is called from that
        thread. A cancelled `save` stops the thread (its connection is shut down)
        and waits for it, so that `write`'s file can be closed safely afterwards.
        Otherwise the bytes are given to `write` in a worker thread, 1 MiB at a time.
        """
        if not is_sync(self._response):
            await self._save_async(write, progress)
            return
        network = self._response.extensions.get("network_stream")
        stopper = self._stopper or Stopper()
        stopper.watch(network)
        stopped = stopper.stopped
        # of a known length only: the connection is kept alive after the body
        length = self.transfer_length
        blocks = BlockReads.of(network, length) if length is not None else None

        def pump() -> None:
            self._begin(threaded=True)
            told = 0
            for raw in self._response.iter_raw():
                if stopped.is_set():
                    raise _Stopped
                if blocks is not None:
                    blocks.next(self.received + len(raw))
                if data := self._feed(raw):
                    write(data)
                if progress is not None and self.received - told >= PROGRESS_STEP:
                    progress(self.received - told)
                    told = self.received
            if tail := self._end():
                write(tail)
            if progress is not None and self.received > told:
                progress(self.received - told)

        await in_thread(pump, stopper)
        self._check()

    async def _save_async(
        self, write: Callable[[bytes], object], progress: Progress | None
    ) -> None:
        import anyio

        pending = bytearray()
        seen = 0
        try:
            async for chunk in self.iter_bytes():
                pending += chunk
                if len(pending) >= WRITE_SIZE:
                    await anyio.to_thread.run_sync(write, bytes(pending))
                    pending.clear()
                if progress is not None:
                    progress(self.received - seen)
                    seen = self.received
        finally:
            # what arrived is written even when the body was cut (a resume continues it)
            if pending:
                await anyio.to_thread.run_sync(write, bytes(pending))

    def _check(self) -> None:
        if self.transfer_length is not None and self.received != self.transfer_length:
            raise IntegrityError(
                f"received {self.received} bytes, the server announced {self.transfer_length}"
            )
        if self.verify and self.digest is not None:
            got = {_md5_digest(self._raw_md5)}
            if self._inflater is not None:
                got.add(_md5_digest(self._decoded_md5))
            if self.digest not in got:
                raise IntegrityError(
                    f"digest mismatch: the server announced {self.digest}, "
                    f"the bytes give {' / '.join(sorted(got))}"
                )

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self.iter_bytes()


class _Stopped(Exception):
    """A threaded download told to stop (its caller was cancelled)."""


def _made_by_upload(doc: dict[str, Any], attachment_id: str, rev: str, size: int | None) -> bool:
    """Whether `doc`'s current revision is the one an upload of `attachment_id` on
    `rev` made: the next generation, with that attachment changed at it."""
    try:
        generation = int(rev.split("-", 1)[0])
        now = int(str(doc.get("_rev")).split("-", 1)[0])
    except ValueError:
        return False
    stub = (doc.get("_attachments") or {}).get(attachment_id)
    if now != generation + 1 or not isinstance(stub, dict) or stub.get("revpos") != now:
        return False
    # A stored-compressed attachment reports its encoded length; its identity length
    # is only in `length` when CouchDB did not compress it.
    return size is None or stub.get("length") == size or bool(stub.get("encoding"))


class AttachmentMixin(BaseClient):
    """The attachment operations, streamed both ways."""

    async def attachment_upload(
        self,
        db: str,
        doc_id: str,
        attachment_id: str,
        content_type: str | None,
        data: str | os.PathLike[str] | bytes | ByteSource,
        rev: str | None = None,
        *,
        length: int | None = None,
        progress: Progress | None = None,
    ) -> Any:
        """Upload an attachment (`PUT /{db}/{docid}/{attname}?rev=`), streamed.

        `data` is bytes, a file path (read with anyio in chunks), or a factory of
        async byte streams. Content-Length is the file's size or `length`; a factory
        without `length` is sent chunked. `content_type` None sends no Content-Type.
        Without `rev`, CouchDB creates the document (409 if it exists).
        `progress(n)` is called as bytes are sent.

        CouchDB answers a stale `rev` with 409 before it has read the body, then
        closes the connection: the client may see only a reset. So a large body
        (REV_CHECK_SIZE or more, or of unknown length) is sent only after a `HEAD`
        of the document shows that `rev` is current, and a connection that breaks
        during an upload with `rev` is checked the same way: a `rev` that is not
        current is reported as the 409 it is (Conflict), not as a reset.
        """
        body: bytes | ByteSource | Callable[[], Iterator[bytes]]
        threaded: Stopper | None = None
        if isinstance(data, bytes):
            size: int | None = len(data)
            body = data
            if progress is not None:
                whole = data

                async def once() -> AsyncIterator[bytes]:
                    yield whole

                body = _exact(once, len(whole), progress)
        elif isinstance(data, str | os.PathLike):
            size = _file_size(data) if length is None else length
            if self.threaded_http() is not None:
                # read and sent in one worker thread, no event-loop hop per chunk
                stopper = Stopper()
                body = functools.partial(_file_chunks, data, size, progress, stopper.stopped)
                threaded = stopper
            else:
                body = _exact(file_source(data), size, progress)
        elif callable(data):
            size = length
            if length is not None:
                body = _exact(data, length, progress)
            else:
                body = _counted(data, progress) if progress is not None else data
        else:
            raise InvalidArgument(f"cannot upload from a {type(data).__name__}")
        headers: dict[str, str] = {}
        if content_type:
            headers["Content-Type"] = content_type
        if size is not None:
            headers["Content-Length"] = str(size)
        path = att_path(db, doc_id, attachment_id)
        if rev is not None and (size is None or size >= REV_CHECK_SIZE):
            await self._check_current_rev(db, doc_id, rev, path, "before uploading")
        try:
            return await self.request_json(
                "PUT",
                path,
                params=query({"rev": rev}),
                content=body,
                headers=headers,
                threaded=threaded,
            )
        except TransportError:
            if rev is not None:
                answer = await self._after_broken_upload(db, doc_id, attachment_id, rev, size, path)
                if answer is not None:
                    return answer  # the answer was lost on the way, the upload was not
            raise  # still at `rev`: the upload was not applied

    async def _after_broken_upload(
        self, db: str, doc_id: str, attachment_id: str, rev: str, size: int | None, path: str
    ) -> dict[str, Any] | None:
        """After a connection broke mid-upload: None if the document is still at `rev`
        (the upload was not applied); CouchDB's answer if the current revision is the
        one this upload made; else raise the 409 it was.

        It is this upload's revision when it follows `rev` directly (generation + 1)
        and holds the attachment changed at that very revision (`revpos`), with the
        length sent. Another writer's revision is never claimed as this upload's.
        """
        try:
            doc = await self.doc_get(db, doc_id)  # type: ignore[attr-defined]
        except NotFound:
            doc = {}
        except CouchError:
            return None  # cannot tell: the transport error stands
        current = doc.get("_rev") if isinstance(doc, dict) else None
        if current == rev:
            return None
        if isinstance(current, str) and _made_by_upload(doc, attachment_id, rev, size):
            return {"ok": True, "id": doc_id, "rev": current}
        raise self._stale_rev(current, rev, path, "after the connection broke")

    async def _check_current_rev(
        self, db: str, doc_id: str, rev: str, path: str, when: str
    ) -> None:
        """Raise the 409 CouchDB gives when `rev` is not the document's current revision."""
        current = await self.doc_exists(db, doc_id)  # type: ignore[attr-defined]
        if current != rev:
            raise self._stale_rev(current, rev, path, when)

    def _stale_rev(self, current: str | None, rev: str, path: str, when: str) -> Exception:
        """The 409 CouchDB gives for an upload on `rev` when `current` is the document's
        revision (None: the document does not exist), saying when it was checked."""
        now = f"the current revision is {current}" if current else "the document does not exist"
        return error_for_status(
            409,
            {
                "error": "conflict",
                "reason": f"Document update conflict: {now}, not {rev} (checked {when})",
            },
            method="PUT",
            url=self.url(path),
        )

    @asynccontextmanager
    async def attachment_get(
        self,
        db: str,
        doc_id: str,
        attachment_id: str,
        rev: str | None = None,
        *,
        verify: bool = True,
        offset: int = 0,
        prefix: Any = None,
        threaded: bool = False,
    ) -> AsyncIterator[AttachmentDownload]:
        """Download an attachment (`GET /{db}/{docid}/{attname}`) as a stream.

            async with couch.attachment_get("db", "doc", "a.txt") as download:
                async for chunk in download:
                    ...

        The bytes are checked against Content-Length and the ETag's MD5 at the end
        of the iteration (IntegrityError on a mismatch).

        `offset` > 0 asks for the bytes from there on (`Range: bytes=offset-`);
        `prefix` is the MD5 (a `hashlib` object) of the bytes before it. The answer
        may be partial (206, `download.partial`) or the whole attachment (200: the
        server ignored the range, as CouchDB does for attachments stored gzipped);
        416 (nothing after `offset`) raises ClientError.

        `threaded`: for a long body that is read whole (`download.save()`): it is
        sent and read by the sync client in a worker thread (see `BaseClient._send`).
        """
        headers = {"Accept-Encoding": "gzip"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        stopper = Stopper() if threaded else None
        async with self.stream(
            "GET",
            att_path(db, doc_id, attachment_id),
            params=query({"rev": rev}),
            headers=headers,
            threaded=stopper,
        ) as response:
            yield AttachmentDownload(
                response, verify=verify, offset=offset, prefix=prefix, stopper=stopper
            )

    async def attachment_exists(
        self, db: str, doc_id: str, attachment_id: str, rev: str | None = None
    ) -> AttachmentInfo | None:
        """Length, type and digest of an attachment (`HEAD`), None when it (or its
        document) is missing."""
        try:
            response = await self.request(
                "HEAD",
                att_path(db, doc_id, attachment_id),
                params=query({"rev": rev}),
                headers={"Accept-Encoding": "identity"},
            )
        except NotFound:
            return None
        encoding = response.headers.get("Content-Encoding")
        return AttachmentInfo(
            content_type=response.headers.get("Content-Type"),
            length=_int_header(response, "Content-Length"),
            digest=digest_of_etag(response.headers.get("ETag")),
            etag=response.headers.get("ETag"),
            encoding=encoding.lower() if encoding else None,
        )

    async def attachment_delete(
        self, db: str, doc_id: str, attachment_id: str, rev: str | None = None
    ) -> Any:
        """Delete an attachment (`DELETE /{db}/{docid}/{attname}?rev=`).

        `rev`, the document's current revision, is required by CouchDB: without it
        InvalidArgument is raised before any request.
        """
        if not rev:
            raise InvalidArgument("attachment_delete needs the document's revision (rev)")
        return await self.request_json(
            "DELETE", att_path(db, doc_id, attachment_id), params=query({"rev": rev})
        )
