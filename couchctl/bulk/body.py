"""The `_bulk_docs` body of a batch, from its documents' input text, in pieces.

`{"docs":[` + the documents, comma-separated + `]}`: each document's text as it was
read, with `"_id":...` written in at its start when the id was assigned here.

`batch_pieces` gives a batch of WHOLE_BELOW characters or more as a `SizedBody`: its
length is worked out from the text first (sent as Content-Length), then the pieces
are made as they are sent, about PIECE bytes each; a document of PIECE or more goes
in a piece of its own. A smaller batch (the usual one) is given whole. A batch in
flight then holds its text and one piece, not its text and the whole body: a
document of 7 MB takes 2 to 3 times its size while it is sent, not 5 (the text,
the text with its id, with the body's head and tail, joined, encoded).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from couchctl.bulk.input import Record
from couchctl.client import SizedBody, dumps

__all__ = ["PIECE", "WHOLE_BELOW", "batch_body", "batch_pieces"]

# About how many characters of small documents go into one piece of a body.
PIECE = 256 << 10
# A batch of less text than this is given whole: the usual batch of small documents
# (1000 of 300 bytes), for which one join and one encode are the least work (making
# its pieces and their length cost 0.1 us a document more: 0.15 s of CPU for 200,000).
WHOLE_BELOW = 1 << 20

_PLAIN_ID = re.compile(r"[0-9A-Za-z_-]+")
_SPACE = " \t\r\n"


def _id_member(record: Record) -> tuple[str, int]:
    """What starts a document given an assigned id: `{"_id":"..."` and `,` unless the
    object is empty; and how many characters of its text that replaces (the `{` and
    the white space after it)."""
    text = record.text
    doc_id = record.known_id or ""
    plain = (doc_id.isascii() and doc_id.isalnum()) or _PLAIN_ID.fullmatch(doc_id)
    quoted = f'"{doc_id}"' if plain else dumps(doc_id)
    skip = 1
    while skip < len(text) and text[skip] in _SPACE:
        skip += 1
    return '{"_id":' + quoted + ("" if text[skip : skip + 1] == "}" else ","), skip


def _utf8_length(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode())


def batch_pieces(records: list[Record], *, new_edits: bool = True) -> bytes | SizedBody:
    """The body of `records` (see the module): whole when their text is under
    WHOLE_BELOW (the load's hot path), else in pieces with its length."""
    head = '{"new_edits":false,"docs":[' if not new_edits else '{"docs":['
    if sum(len(record.text) for record in records) < WHOLE_BELOW:
        return _whole(records, head)
    starts: list[tuple[str, int]] = [
        _id_member(record) if record.assigned else ("", 0) for record in records
    ]
    length = len(head) + 2 + max(len(records) - 1, 0)  # head, "]}" and the commas
    for record, (start, skip) in zip(records, starts, strict=True):
        length += _utf8_length(start) + _utf8_length(record.text) - skip
    return SizedBody(_pieces(records, starts, head), length)


def _pieces(records: list[Record], starts: list[tuple[str, int]], head: str) -> Iterator[bytes]:
    parts = [head]
    size = len(head)
    for number, (record, (start, skip)) in enumerate(zip(records, starts, strict=True)):
        if number:
            parts.append(",")
        text = record.text
        if len(text) >= PIECE:
            # A large document alone: the pieces before it, its start, then its text
            # (sliced only when its start was replaced), encoded once.
            parts.append(start)
            yield "".join(parts).encode()
            parts, size = [], 0
            yield (text[skip:] if skip else text).encode()
            continue
        parts.append(start + text[skip:] if skip else text)
        size += len(start) + len(text) - skip + 1
        if size >= PIECE:
            yield "".join(parts).encode()
            parts, size = [], 0
    parts.append("]}")
    yield "".join(parts).encode()


def _whole(records: list[Record], head: str) -> bytes:
    parts: list[str] = []
    for record in records:
        text = record.text
        if record.assigned:  # `_id_member` inlined: this is the load's hot loop
            doc_id = record.known_id or ""
            plain = (doc_id.isascii() and doc_id.isalnum()) or _PLAIN_ID.fullmatch(doc_id)
            quoted = f'"{doc_id}"' if plain else dumps(doc_id)
            rest = text[1:].lstrip(_SPACE)
            text = '{"_id":' + quoted + ("" if rest[:1] == "}" else ",") + rest
        parts.append(text)
    if not parts:
        return (head + "]}").encode()
    # One join, with the head and tail put on the first and last documents.
    parts[0] = head + parts[0]
    parts[-1] += "]}"
    return ",".join(parts).encode()


def batch_body(records: list[Record], *, new_edits: bool = True) -> bytes:
    """The whole body of `records` at once, however large (tests)."""
    body = batch_pieces(records, new_edits=new_edits)
    return body if isinstance(body, bytes) else b"".join(body.pieces)
