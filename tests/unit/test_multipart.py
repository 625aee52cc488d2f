"""The multipart reader and writer, on CouchDB's recorded bodies and on hostile ones."""

from __future__ import annotations

import base64
import gzip
import json
import os
from collections.abc import AsyncIterator

import pytest

from couchctl.client import ProtocolError
from couchctl.client._multipart import (
    MultipartParser,
    Part,
    PartData,
    PartEnd,
    PartStart,
    RelatedAttachment,
    aparse_multipart,
    boundary_of,
    content_type_params,
    decode_mixed_revisions,
    decode_related_document,
    parse_multipart,
    related_body,
)
from tests.conftest import recorded, recorded_body


def recorded_parts(name: str) -> list[Part]:
    content_type = recorded(name)["response"]["headers"]["Content-Type"]
    return parse_multipart(recorded_body(name), boundary_of(content_type))


def recorded_request_body(name: str) -> bytes:
    request = recorded(name)["request"]
    if "body_base64" in request:
        return base64.b64decode(request["body_base64"])
    return str(request["body_text"]).encode()


def feed_in_pieces(body: bytes, boundary: str, size: int) -> list[Part]:
    parser = MultipartParser(boundary)
    parts: list[Part] = []
    headers: tuple[tuple[str, str], ...] = ()
    data = b""
    for start in range(0, len(body), size):
        for event in parser.feed(body[start : start + size]):
            if isinstance(event, PartStart):
                headers, data = event.headers, b""
            elif isinstance(event, PartData):
                data += event.data
            else:
                parts.append(Part(headers, data))
    parser.close()
    return parts


# -- Content-Type parameters ------------------------------------------------------------


def test_content_type_params_quoted_and_plain() -> None:
    media, params = content_type_params(
        'Multipart/Related; boundary="a b;c\\"d"; charset=utf-8; error="true"'
    )
    assert media == "multipart/related"
    assert params == {"boundary": 'a b;c"d', "charset": "utf-8", "error": "true"}


def test_boundary_of_refuses_non_multipart() -> None:
    with pytest.raises(ProtocolError):
        boundary_of("application/json")
    with pytest.raises(ProtocolError):
        boundary_of("multipart/mixed")


# -- reading the recorded answers --------------------------------------------------------------


def test_open_revs_multipart_mixed_086() -> None:
    parts = recorded_parts("086-doc-get-open-revs-all-multipart")
    assert [p.content_type for p in parts] == ["application/json", "application/json"]
    # decoded into exactly what CouchDB answers with Accept: application/json (085)
    assert (
        decode_mixed_revisions(parts)
        == recorded("085-doc-get-open-revs-all-json")["response"]["body_json"]
    )


def test_related_with_gzip_and_binary_parts_115() -> None:
    parts = recorded_parts("115-doc-get-attachments-multipart")
    assert len(parts) == 3
    notes, pixel = parts[1], parts[2]
    assert notes.filename == "notes.txt"
    assert notes.header("Content-Encoding") == "gzip"
    assert notes.body[:2] == b"\x1f\x8b"  # still gzip on the wire
    assert notes.decoded() == b"first line\nsecond line\nthird line\n"
    assert pixel.media_type == "image/png"
    assert pixel.body.startswith(b"\x89PNG\r\n\x1a\n")  # CR LF inside a binary body survives
    assert len(pixel.body) == 70

    doc = decode_related_document(parts)
    as_json = recorded("114-doc-get-attachments-json")["response"]["body_json"]
    for name, stub in as_json["_attachments"].items():
        assert doc["_attachments"][name]["data"] == stub["data"]
        assert doc["_attachments"][name]["digest"] == stub["digest"]
        assert "follows" not in doc["_attachments"][name]
        assert "encoding" not in doc["_attachments"][name]


def test_related_keeps_encoding_info_when_asked() -> None:
    doc = decode_related_document(
        recorded_parts("115-doc-get-attachments-multipart"), keep_encoding_info=True
    )
    assert doc["_attachments"]["notes.txt"]["encoding"] == "gzip"
    assert doc["_attachments"]["notes.txt"]["encoded_length"] == 44


def test_related_text_parts_with_newlines_116() -> None:
    parts = recorded_parts("116-doc-get-attachments-multipart-text")
    assert [p.body for p in parts[1:]] == [b'{"a":1}\n{"b":2}\n', b"x: 1\ny: [2, 3]\n"]
    doc = decode_related_document(parts)
    assert base64.b64decode(doc["_attachments"]["b.yaml"]["data"]) == b"x: 1\ny: [2, 3]\n"


def test_bulk_get_boundary_starting_with_dashes_173() -> None:
    parts = recorded_parts("173-bulk-get-multipart")
    assert len(parts) == 2
    assert json.loads(parts[0].body)["_id"] == "bulk-1"
    media, params = content_type_params(parts[1].content_type)
    assert (media, params) == ("application/json", {"error": "true"})
    assert json.loads(parts[1].body)["error"] == "not_found"


@pytest.mark.parametrize(
    "name",
    [
        "086-doc-get-open-revs-all-multipart",
        "115-doc-get-attachments-multipart",
        "116-doc-get-attachments-multipart-text",
        "173-bulk-get-multipart",
    ],
)
@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 100_000])
def test_any_chunking_gives_the_same_parts(name: str, size: int) -> None:
    content_type = recorded(name)["response"]["headers"]["Content-Type"]
    whole = recorded_parts(name)
    assert feed_in_pieces(recorded_body(name), boundary_of(content_type), size) == whole


# -- hostile bodies ---------------------------------------------------------------------------

BOUNDARY = "b0undary"


def build(parts: list[tuple[bytes, bytes]], boundary: str = BOUNDARY) -> bytes:
    out = b""
    for headers, body in parts:
        out += b"--" + boundary.encode() + b"\r\n" + headers + b"\r\n\r\n" + body + b"\r\n"
    return out + b"--" + boundary.encode() + b"--"


TRICKY_BODIES = [
    b"",
    b"\r\n",
    b"line one\nline two\n",
    b"crlf\r\n\r\nin the middle\r\n",
    b"--b0undar not quite",  # the boundary text, but not after CR LF
    b"\r\n--b0undarx looks like a delimiter",  # one character off
    b"text --b0undary inline",  # no CR LF before it
    bytes(range(256)) * 4,
]


@pytest.mark.parametrize("body", TRICKY_BODIES, ids=range(len(TRICKY_BODIES)))
def test_part_bodies_survive_byte_for_byte(body: bytes) -> None:
    raw = build(
        [(b"Content-Type: application/octet-stream", body), (b"Content-Type: text/plain", b"end")]
    )
    for size in (1, 5, len(raw)):
        parts = feed_in_pieces(raw, BOUNDARY, size)
        assert [p.body for p in parts] == [body, b"end"]


def test_preamble_epilogue_and_padding_are_ignored() -> None:
    raw = b"preamble text\r\n--b0undary  \t\r\nX-A: 1\r\n\r\nbody\r\n--b0undary--\r\nepilogue"
    parts = parse_multipart(raw, BOUNDARY)
    assert parts == [Part((("x-a", "1"),), b"body")]


def test_part_without_headers() -> None:
    assert parse_multipart(b"--b0undary\r\n\r\nbare\r\n--b0undary--", BOUNDARY) == [
        Part((), b"bare")
    ]


def test_folded_header_is_joined() -> None:
    raw = b"--b0undary\r\nContent-Type: multipart/related;\r\n boundary=x\r\n\r\n\r\n--b0undary--"
    assert parse_multipart(raw, BOUNDARY)[0].content_type == "multipart/related; boundary=x"


@pytest.mark.parametrize(
    "raw",
    [
        b"--b0undary\r\nContent-Type: text/plain\r\n\r\nno end",
        b"--b0undary\r\nContent-Type: text/plain",
        b"nothing at all",
    ],
)
def test_truncated_bodies_are_refused(raw: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_multipart(raw, BOUNDARY)


def test_malformed_header_is_refused() -> None:
    with pytest.raises(ProtocolError):
        parse_multipart(b"--b0undary\r\nno colon here\r\n\r\nx\r\n--b0undary--", BOUNDARY)


def test_events_stream_body_without_holding_it() -> None:
    parser = MultipartParser(BOUNDARY)
    events = parser.feed(b"--b0undary\r\n\r\n")
    assert events == [PartStart(())]
    chunk = b"x" * 10_000
    sizes = []
    for _ in range(20):
        for event in parser.feed(chunk):
            assert isinstance(event, PartData)
            sizes.append(len(event.data))
    # data is handed on as it comes; only a delimiter's worth is held back
    assert sum(sizes) >= 20 * 10_000 - len(BOUNDARY) - 4
    assert parser.feed(b"\r\n--b0undary--")[-1] == PartEnd()
    parser.close()


@pytest.mark.anyio
async def test_async_parts_from_a_stream() -> None:
    body = recorded_body("115-doc-get-attachments-multipart")

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 13):
            yield body[start : start + 13]

    parts = [part async for part in aparse_multipart(chunks(), "612ba787cda244ee8316e6875f9178d9")]
    assert parts == recorded_parts("115-doc-get-attachments-multipart")


# -- CouchDB shapes --------------------------------------------------------------------------


def test_mixed_with_nested_related_and_missing_revision() -> None:
    inner = build(
        [
            (
                b"Content-Type: application/json",
                b'{"_id":"d","_rev":"2-b","_attachments":{"a.txt":{"content_type":"text/plain",'
                b'"revpos":2,"digest":"md5-x","length":5,"follows":true,"encoding":"gzip",'
                b'"encoded_length":25}}}',
            ),
            (
                b'Content-Disposition: attachment; filename="a.txt"\r\nContent-Type: text/plain\r\n'
                b"Content-Encoding: gzip",
                gzip.compress(b"hello"),
            ),
        ],
        boundary="inner",
    )
    outer = build(
        [
            (b'Content-Type: multipart/related; boundary="inner"', inner),
            (b'Content-Type: application/json; error="true"', b'{"missing":"3-c"}'),
            (b"Content-Type: application/json", b'{"_id":"d","_rev":"2-a"}'),
        ],
        boundary="outer",
    )
    revisions = decode_mixed_revisions(parse_multipart(outer, "outer"))
    assert (
        revisions[0]["ok"]["_attachments"]["a.txt"]["data"] == base64.b64encode(b"hello").decode()
    )
    assert revisions[1:] == [{"missing": "3-c"}, {"ok": {"_id": "d", "_rev": "2-a"}}]


def test_related_matches_parts_by_order_without_filenames() -> None:
    raw = build(
        [
            (
                b"Content-Type: application/json",
                b'{"_id":"d","_attachments":{"one":{"follows":true},"two":{"follows":true}}}',
            ),
            (b"Content-Type: text/plain", b"1"),
            (b"Content-Type: text/plain", b"2"),
        ]
    )
    doc = decode_related_document(parse_multipart(raw, BOUNDARY))
    assert doc["_attachments"]["one"]["data"] == base64.b64encode(b"1").decode()
    assert doc["_attachments"]["two"]["data"] == base64.b64encode(b"2").decode()


def test_related_with_a_missing_attachment_part_is_refused() -> None:
    raw = build([(b"Content-Type: application/json", b'{"_attachments":{"a":{"follows":true}}}')])
    with pytest.raises(ProtocolError):
        decode_related_document(parse_multipart(raw, BOUNDARY))


def test_bad_gzip_part_is_refused() -> None:
    part = Part((("content-encoding", "gzip"),), b"\x1f\x8bnot gzip at all")
    with pytest.raises(ProtocolError):
        part.decoded()


# -- writing --------------------------------------------------------------------------------


def source_of(data: bytes, chunk: int = 16) -> RelatedAttachment:
    async def stream() -> AsyncIterator[bytes]:
        for start in range(0, len(data), chunk):
            yield data[start : start + chunk]

    return RelatedAttachment("x", "application/octet-stream", len(data), stream)


async def collect(factory: object) -> bytes:
    assert callable(factory)
    return b"".join([chunk async for chunk in factory()])


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("name", "doc", "files"),
    [
        (
            "108-doc-put-multipart-related",
            {"_id": "doc-mp", "type": "note", "title": "multipart upload", "n": 11},
            [("notes.txt", "text/plain"), ("pixel.png", "image/png")],
        ),
        (
            "109-doc-put-multipart-related-text",
            {"_id": "doc-mpt", "type": "note", "title": "multipart, text only", "n": 12},
            [("a.ndjson", "application/x-ndjson"), ("b.yaml", "application/yaml")],
        ),
    ],
)
async def test_writer_reproduces_the_recorded_request(
    name: str, doc: dict[str, object], files: list[tuple[str, str]]
) -> None:
    expected = recorded_request_body(name)
    sent = parse_multipart(expected, "corpus-boundary-7d3f")
    atts = []
    for (att_name, media), part in zip(files, sent[1:], strict=True):
        atts.append(RelatedAttachment(att_name, media, len(part.body), source_of(part.body).source))
    content_type, length, body = related_body(doc, atts, boundary="corpus-boundary-7d3f")
    assert content_type == recorded(name)["request"]["headers"]["Content-Type"]
    assert length == int(recorded(name)["request"]["headers"]["Content-Length"])
    assert await collect(body) == expected


@pytest.mark.anyio
async def test_writer_round_trip_with_binary_that_looks_like_delimiters() -> None:
    payload = b"\r\n--" + os.urandom(3000) + b"\r\n--\r\n\r\n"
    content_type, length, body = related_body(
        {"_id": "d", "_attachments": {"old.txt": {"stub": True}}}, [source_of(payload, 333)]
    )
    raw = await collect(body)
    assert len(raw) == length
    parts = parse_multipart(raw, boundary_of(content_type))
    doc = json.loads(parts[0].body)
    assert doc["_attachments"] == {
        "old.txt": {"stub": True},  # existing stubs are kept
        "x": {"follows": True, "content_type": "application/octet-stream", "length": len(payload)},
    }
    assert parts[1].body == payload


@pytest.mark.anyio
async def test_writer_refuses_a_source_of_the_wrong_length() -> None:
    att = source_of(b"12345")
    short = RelatedAttachment("x", "text/plain", 9, att.source)
    _, _, body = related_body({}, [short])
    with pytest.raises(ProtocolError):
        await collect(body)
    long = RelatedAttachment("x", "text/plain", 2, att.source)
    _, _, body = related_body({}, [long])
    with pytest.raises(ProtocolError):
        await collect(body)


@pytest.mark.anyio
async def test_writer_orders_follows_stubs_like_the_parts() -> None:
    first = RelatedAttachment("b", "text/plain", 1, source_of(b"B").source)
    second = RelatedAttachment("a", "text/plain", 1, source_of(b"A").source)
    doc = {"_attachments": {"a": {"stub": True}, "keep": {"stub": True}, "b": {"stub": True}}}
    content_type, _, body = related_body(doc, [first, second])
    parts = parse_multipart(await collect(body), boundary_of(content_type))
    stubs = json.loads(parts[0].body)["_attachments"]
    assert list(stubs) == ["keep", "b", "a"]
    assert [p.body for p in parts[1:]] == [b"B", b"A"]
