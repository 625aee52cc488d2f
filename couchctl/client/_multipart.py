"""MIME multipart, as CouchDB speaks it: a reader and a writer.

CouchDB answers `GET /{db}/{doc}?attachments=true` with `multipart/related`
(the JSON document, then one part per attachment, compressible ones
gzip-encoded) and `?open_revs=...` with `multipart/mixed` (one part per
revision, itself `multipart/related` when the revision has attachments). It
accepts `PUT /{db}/{doc}` as `multipart/related`: the document with
`{"follows": true}` stubs, then the attachment bodies in the same order.

The reader is incremental (`MultipartParser.feed`), so it never needs more
memory than the largest header block and one delimiter; `parse_multipart`
runs it over bytes already in memory. Parts are delimited by
`CRLF--boundary` exactly as RFC 2046 says: a body may contain newlines,
CR LF pairs and text that merely looks like a boundary.
"""

from __future__ import annotations

import base64
import json
import secrets
import zlib
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from couchctl.client._errors import ProtocolError

__all__ = [
    "MultipartParser",
    "Part",
    "PartData",
    "PartEnd",
    "PartStart",
    "RelatedAttachment",
    "aparse_multipart",
    "boundary_of",
    "content_type_params",
    "decode_mixed_revisions",
    "decode_related_document",
    "gunzip",
    "new_boundary",
    "parse_multipart",
    "related_body",
]

_MAX_HEADER_BYTES = 64 * 1024
_CRLF = b"\r\n"


def content_type_params(value: str) -> tuple[str, dict[str, str]]:
    """Split a Content-Type value into its lower-cased media type and parameters
    (quoted values unquoted, `\\"` escapes honoured)."""
    media, _, rest = value.partition(";")
    params: dict[str, str] = {}
    i = 0
    n = len(rest)
    while i < n:
        while i < n and rest[i] in " \t;":
            i += 1
        start = i
        while i < n and rest[i] not in "=;":
            i += 1
        name = rest[start:i].strip().lower()
        if i >= n or rest[i] == ";":
            if name:
                params[name] = ""
            continue
        i += 1  # '='
        while i < n and rest[i] in " \t":
            i += 1
        if i < n and rest[i] == '"':
            i += 1
            chars: list[str] = []
            while i < n and rest[i] != '"':
                if rest[i] == "\\" and i + 1 < n:
                    i += 1
                chars.append(rest[i])
                i += 1
            i += 1  # closing quote
            param = "".join(chars)
        else:
            start = i
            while i < n and rest[i] != ";":
                i += 1
            param = rest[start:i].strip()
        if name:
            params[name] = param
    return media.strip().lower(), params


def boundary_of(content_type: str) -> str:
    """The boundary parameter of a multipart Content-Type, or ProtocolError."""
    media, params = content_type_params(content_type)
    boundary = params.get("boundary", "")
    if not media.startswith("multipart/") or not boundary:
        raise ProtocolError(f"not a multipart answer with a boundary: {content_type!r}")
    return boundary


# -- reading ------------------------------------------------------------------------


@dataclass(frozen=True)
class PartStart:
    """A part begins: its headers (names lower-cased, in order)."""

    headers: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class PartData:
    """Some bytes of the current part's body."""

    data: bytes


@dataclass(frozen=True)
class PartEnd:
    """The current part is complete."""


Event = PartStart | PartData | PartEnd


class MultipartParser:
    """An incremental multipart reader: `feed(chunk)` returns the events it completes,
    `close()` checks that the closing delimiter was seen."""

    def __init__(self, boundary: str | bytes) -> None:
        raw = boundary.encode("latin-1") if isinstance(boundary, str) else boundary
        if not raw:
            raise ProtocolError("empty multipart boundary")
        self._delimiter = _CRLF + b"--" + raw
        # A virtual CRLF before the first byte lets the first delimiter (which has no
        # CRLF before it when the preamble is empty) be found like every other one.
        self._buffer = bytearray(_CRLF)
        self._state = "preamble"
        self.done = False

    def feed(self, chunk: bytes) -> list[Event]:
        self._buffer += chunk
        events: list[Event] = []
        progress = True
        while progress and not self.done:
            progress = self._step(events)
        return events

    def _step(self, events: list[Event]) -> bool:
        buf = self._buffer
        delim = self._delimiter
        if self._state == "preamble":
            at = buf.find(delim)
            if at < 0:
                # keep what could be the start of a delimiter
                keep = len(delim) - 1
                if len(buf) > keep:
                    del buf[: len(buf) - keep]
                return False
            del buf[: at + len(delim)]
            self._state = "after-delimiter"
            return True
        if self._state == "after-delimiter":
            if len(buf) < 2:
                return False
            if buf[:2] == b"--":
                self._state = "epilogue"
                self.done = True
                buf.clear()
                return False
            # transport padding (spaces, tabs) then CRLF
            i = 0
            while i < len(buf) and buf[i] in b" \t":
                i += 1
            if len(buf) - i < 2:
                return False
            if buf[i : i + 2] != _CRLF:
                raise ProtocolError("malformed multipart body: no line break after a boundary")
            del buf[: i + 2]
            self._state = "headers"
            return True
        if self._state == "headers":
            if buf[:2] == _CRLF:
                del buf[:2]
                events.append(PartStart(()))
                self._state = "body"
                return True
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > _MAX_HEADER_BYTES:
                    raise ProtocolError("malformed multipart body: part headers too long")
                return False
            block = bytes(buf[:end]).decode("latin-1")
            del buf[: end + 4]
            events.append(PartStart(_parse_headers(block)))
            self._state = "body"
            return True
        if self._state == "body":
            at = buf.find(delim)
            if at < 0:
                safe = len(buf) - (len(delim) - 1)
                if safe > 0:
                    events.append(PartData(bytes(buf[:safe])))
                    del buf[:safe]
                return False
            if at:
                events.append(PartData(bytes(buf[:at])))
            del buf[: at + len(delim)]
            events.append(PartEnd())
            self._state = "after-delimiter"
            return True
        return False  # pragma: no cover

    def close(self) -> None:
        if not self.done:
            raise ProtocolError("truncated multipart body: the closing boundary never came")


def _parse_headers(block: str) -> tuple[tuple[str, str], ...]:
    headers: list[tuple[str, str]] = []
    for line in block.split("\r\n"):
        if line[:1] in (" ", "\t") and headers:  # folded continuation
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise ProtocolError(f"malformed multipart part header: {line[:80]!r}")
        headers.append((name.strip().lower(), value.strip()))
    return tuple(headers)


@dataclass
class Part:
    """One part of a multipart body, held in memory."""

    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str, default: str | None = None) -> str | None:
        wanted = name.lower()
        for key, value in self.headers:
            if key == wanted:
                return value
        return default

    @property
    def content_type(self) -> str:
        return self.header("content-type") or "text/plain"

    @property
    def media_type(self) -> str:
        return content_type_params(self.content_type)[0]

    @property
    def filename(self) -> str | None:
        disposition = self.header("content-disposition")
        if disposition is None:
            return None
        return content_type_params(disposition)[1].get("filename")

    def decoded(self) -> bytes:
        """The body with its Content-Encoding (gzip, as CouchDB sends text) undone."""
        encoding = (self.header("content-encoding") or "identity").lower()
        if encoding == "identity":
            return self.body
        if encoding in ("gzip", "x-gzip"):
            return gunzip(self.body)
        raise ProtocolError(f"unsupported part Content-Encoding: {encoding}")


def gunzip(data: bytes) -> bytes:
    """Decompress a gzip stream, or ProtocolError."""
    try:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out = inflater.decompress(data) + inflater.flush()
    except zlib.error as exc:
        raise ProtocolError(f"a gzip-encoded part does not decompress: {exc}") from exc
    if not inflater.eof:
        raise ProtocolError("a gzip-encoded part is truncated")
    return out


def parse_multipart(body: bytes, boundary: str | bytes) -> list[Part]:
    """Every part of a multipart body held in memory."""
    parser = MultipartParser(boundary)
    parts: list[Part] = []
    headers: tuple[tuple[str, str], ...] = ()
    chunks: list[bytes] = []
    for event in parser.feed(body):
        if isinstance(event, PartStart):
            headers, chunks = event.headers, []
        elif isinstance(event, PartData):
            chunks.append(event.data)
        else:
            parts.append(Part(headers, b"".join(chunks)))
    parser.close()
    return parts


async def aparse_multipart(
    chunks: AsyncIterator[bytes], boundary: str | bytes
) -> AsyncIterator[Part]:
    """Parts of a streamed multipart body, one at a time (each held in memory)."""
    parser = MultipartParser(boundary)
    headers: tuple[tuple[str, str], ...] = ()
    body: list[bytes] = []
    async for chunk in chunks:
        for event in parser.feed(chunk):
            if isinstance(event, PartStart):
                headers, body = event.headers, []
            elif isinstance(event, PartData):
                body.append(event.data)
            else:
                yield Part(headers, b"".join(body))
    parser.close()


# -- CouchDB's shapes ---------------------------------------------------------------


def _json_part(part: Part) -> Any:
    try:
        return json.loads(part.body)
    except ValueError as exc:
        raise ProtocolError("a multipart JSON part is not valid JSON") from exc


def decode_related_document(parts: Sequence[Part], *, keep_encoding_info: bool = False) -> Any:
    """The document of a `multipart/related` answer, in the shape CouchDB gives with
    `Accept: application/json`: every `"follows": true` stub gets its `data`
    (base64 of the decoded bytes). Attachment parts are matched by their
    Content-Disposition filename, else by order."""
    if not parts:
        raise ProtocolError("empty multipart/related answer")
    doc = _json_part(parts[0])
    if not isinstance(doc, dict):
        raise ProtocolError("the first part of a multipart/related answer is not a document")
    stubs = doc.get("_attachments") or {}
    following = [
        name for name, stub in stubs.items() if isinstance(stub, dict) and stub.get("follows")
    ]
    by_name = {part.filename: part for part in parts[1:] if part.filename is not None}
    rest = iter(parts[1:])
    for name in following:
        part = by_name.get(name) or next(rest, None)
        if part is None:
            raise ProtocolError(f"attachment {name!r} announced but not sent")
        stub = stubs[name]
        data = part.decoded()
        stub.pop("follows", None)
        if not keep_encoding_info:
            stub.pop("encoding", None)
            stub.pop("encoded_length", None)
        stub["data"] = base64.b64encode(data).decode("ascii")
    return doc


def decode_mixed_revisions(parts: Sequence[Part], *, keep_encoding_info: bool = False) -> list[Any]:
    """The revisions of an `open_revs` `multipart/mixed` answer, in the JSON shape:
    `{"ok": doc}` for a revision, the error object (`{"missing": rev}`) for the others."""
    out: list[Any] = []
    for part in parts:
        media, params = content_type_params(part.content_type)
        if media == "multipart/related":
            inner = parse_multipart(part.body, params.get("boundary", ""))
            doc = decode_related_document(inner, keep_encoding_info=keep_encoding_info)
            out.append({"ok": doc})
        elif params.get("error") == "true":
            out.append(_json_part(part))
        else:
            out.append({"ok": _json_part(part)})
    return out


# -- writing --------------------------------------------------------------------------


def new_boundary() -> str:
    """A random boundary (32 hex digits, as CouchDB's own)."""
    return secrets.token_hex(16)


ByteSource = Callable[[], AsyncIterator[bytes]]


@dataclass
class RelatedAttachment:
    """An attachment sent after the document in a multipart/related PUT."""

    name: str
    content_type: str
    length: int
    source: ByteSource = field(repr=False)


def related_body(
    doc: dict[str, Any], attachments: Iterable[RelatedAttachment], boundary: str | None = None
) -> tuple[str, int, ByteSource]:
    """A `multipart/related` request body for `PUT /{db}/{doc}`.

    Returns the Content-Type (with the boundary), the exact Content-Length and
    a factory of the body stream: the document with `{"follows": true,
    "content_type", "length"}` stubs, then each attachment's bytes, streamed
    from its source, in the same order.
    """
    atts = list(attachments)
    boundary = boundary or new_boundary()
    # CouchDB pairs the parts with the `follows` stubs by order: the new ones go last,
    # in the order of the parts, even when they replace an existing attachment.
    replaced = {att.name for att in atts}
    stubs = {k: v for k, v in (doc.get("_attachments") or {}).items() if k not in replaced}
    for att in atts:
        stubs[att.name] = {"follows": True, "content_type": att.content_type, "length": att.length}
    body_doc = {**doc, "_attachments": stubs}
    doc_bytes = json.dumps(body_doc, ensure_ascii=False, separators=(",", ":")).encode()
    delimiter = b"--" + boundary.encode("ascii")
    if delimiter in doc_bytes:
        raise ProtocolError("the multipart boundary occurs in the document")  # pragma: no cover
    head = delimiter + b"\r\nContent-Type: application/json\r\n\r\n" + doc_bytes
    part_heads = [
        b"\r\n"
        + delimiter
        + b"\r\nContent-Type: "
        + att.content_type.encode("latin-1")
        + b"\r\n\r\n"
        for att in atts
    ]
    tail = b"\r\n" + delimiter + b"--"
    length = len(head) + sum(len(h) for h in part_heads) + sum(a.length for a in atts) + len(tail)

    async def stream() -> AsyncIterator[bytes]:
        yield head
        for att, part_head in zip(atts, part_heads, strict=True):
            yield part_head
            sent = 0
            async for chunk in att.source():
                sent += len(chunk)
                if sent > att.length:
                    raise ProtocolError(
                        f"attachment {att.name!r} is longer than {att.length} bytes"
                    )
                yield chunk
            if sent != att.length:
                raise ProtocolError(
                    f"attachment {att.name!r} gave {sent} bytes, {att.length} were announced"
                )
        yield tail

    return f'multipart/related; boundary="{boundary}"', length, stream
