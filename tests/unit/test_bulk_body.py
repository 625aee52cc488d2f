"""A batch's `_bulk_docs` body in pieces (couchctl/bulk/body.py): the same bytes as the
whole body, an exact length, and pieces that keep a large document to itself."""

from __future__ import annotations

import io
import json

import pytest
from pytest_httpx import HTTPXMock

from couchctl import bulk as bulkio
from couchctl.bulk import Record
from couchctl.bulk import body as body_module
from couchctl.bulk.body import PIECE, WHOLE_BELOW, batch_body, batch_pieces
from couchctl.client import CouchClient


def records(text: str) -> list[Record]:
    return list(bulkio.iter_records(io.BytesIO(text.encode())))


def assigned(text: str, *ids: str) -> list[Record]:
    batch = records(text)
    for record, doc_id in zip((r for r in batch if not r.has_id), ids, strict=False):
        record.assign(doc_id)
    return batch


def whole(batch: list[Record], new_edits: bool = True) -> tuple[bytes, int, list[bytes]]:
    """The body as sent, its length (Content-Length) and its pieces."""
    body = batch_pieces(batch, new_edits=new_edits)
    if isinstance(body, bytes):
        return body, len(body), [body]
    pieces = list(body.pieces)
    return b"".join(pieces), body.length, pieces


CASES = [
    ('{"_id":"a", "n": 1.50}\n{}\n{ "x" : [1, 2] }', ("id-1", 'id-\u00e9"')),
    ('{ }\n{\t"k":"\u00fc\u00f1\u00ee"}', ("x", "y")),
    ('{"_id":"\u65e5\u672c","v":"\U0001f600"}', ()),
    ("", ()),
]
# A document that makes a batch large enough to be sent in pieces.
PADDING = json.dumps({"_id": "pad", "s": "\u00e9" * WHOLE_BELOW})


@pytest.mark.parametrize(("text", "ids"), CASES)
@pytest.mark.parametrize("new_edits", [True, False])
@pytest.mark.parametrize("large", [False, True], ids=["whole", "pieces"])
def test_the_body_and_its_length(
    text: str, ids: tuple[str, ...], new_edits: bool, large: bool
) -> None:
    """Whole or in pieces, the same bytes (the whole body is the reference), and the
    length announced is theirs."""
    batch = assigned(f"{text}\n{PADDING}" if large else text, *ids)
    body, length, pieces = whole(batch, new_edits)
    assert (len(pieces) > 1) is large
    assert length == len(body)
    assert body == body_module._whole(
        batch, '{"new_edits":false,"docs":[' if not new_edits else '{"docs":['
    )
    assert body == batch_body(batch, new_edits=new_edits)
    docs = json.loads(body)["docs"]
    assert docs == [r.doc() for r in batch]
    assert ("new_edits" in json.loads(body)) is not new_edits


def test_assigned_ids_go_first_and_the_text_stays() -> None:
    batch = assigned('{"_id":"a", "n": 1.50}\n{}\n{ "x" : [1, 2] }', "id-1", 'id-\u00e9"')
    assert (
        whole(batch)[0]
        == (
            '{"docs":[{"_id":"a", "n": 1.50},{"_id":"id-1"},{"_id":"id-\u00e9\\"","x" : [1, 2] }]}'
        ).encode()
    )


def test_a_batch_of_small_documents_is_given_whole() -> None:
    doc = json.dumps({"s": "x" * 1000})
    batch = assigned("\n".join([doc] * 1000), *(f"id{n}" for n in range(1000)))
    assert sum(len(r.text) for r in batch) < WHOLE_BELOW
    assert isinstance(batch_pieces(batch), bytes)


def test_small_documents_share_pieces_of_about_piece_size() -> None:
    doc = json.dumps({"s": "x" * 1100})
    batch = assigned("\n".join([doc] * 1000), *(f"id{n}" for n in range(1000)))
    body, length, pieces = whole(batch)
    assert length == len(body) and json.loads(body)["docs"][999]["_id"] == "id999"
    assert len(pieces) == len(body) // PIECE + 1
    assert all(len(p) < PIECE + 1200 for p in pieces)


def test_a_large_document_has_a_piece_of_its_own() -> None:
    # non-ASCII: its bytes outnumber its characters; two make a batch sent in pieces
    large = json.dumps({"blob": "\u00e9" * (WHOLE_BELOW // 2)})
    text = "\n".join(['{"n":1}', large, '{"n":2}', "{" + large[1:], '{"_id":"z"}'])
    batch = assigned(text, "a", "b", "c", "d")
    body, length, pieces = whole(batch)
    assert length == len(body) == len(batch_body(batch))
    assert [d["_id"] for d in json.loads(body)["docs"]] == ["a", "b", "c", "d", "z"]
    # the pieces: head + first + the second's start, its text, the third + the
    # fourth's start, its text, the rest
    assert len(pieces) == 5
    assert pieces[1] == large[1:].encode() and pieces[3] == large[1:].encode()
    assert pieces[0].endswith(b',{"_id":"b",') and pieces[2].endswith(b',{"_id":"d",')


@pytest.mark.anyio
async def test_a_body_in_pieces_is_sent_with_its_length(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    batch = assigned(f'{{"n":1}}\n{PADDING}', "a")
    httpx_mock.add_response(
        method="POST", url="http://couch.test:5984/db/_bulk_docs", status_code=201, json=[]
    )
    await couch.db_bulk_docs_raw("db", lambda: batch_pieces(batch))
    request = httpx_mock.get_request()
    assert request is not None
    assert request.content == batch_body(batch)
    assert request.headers["Content-Length"] == str(len(request.content))
    assert "Transfer-Encoding" not in request.headers
