"""RowStream: the incremental row parser, byte for byte on recorded CouchDB bodies."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Iterable
from typing import Any

import pytest

from couchctl.client import ProtocolError, RowStream
from tests.conftest import recorded, recorded_body

pytestmark = pytest.mark.anyio

# (recorded exchange, array member)
ROW_BODIES = [
    ("203-find", "docs"),
    ("204-find-next-page", "docs"),
    ("205-find-no-index-warning", "docs"),
    ("206-find-execution-stats", "docs"),
    ("214-all-docs", "rows"),
    ("215-all-docs-include-docs-limit", "rows"),
    ("221-all-docs-keys-post-include-docs", "rows"),
    ("224-all-docs-update-seq", "rows"),
    ("231-local-docs", "rows"),
    ("179-view-reduce", "rows"),
    ("189-view-map-only", "rows"),
    ("233-changes", "results"),
    ("237-changes-include-docs", "results"),
]


async def _chunks(parts: Iterable[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def parse(parts: Iterable[bytes], key: str = "rows") -> tuple[list[Any], dict[str, Any]]:
    stream = RowStream(_chunks(parts), key)
    rows = [row async for row in stream]
    return rows, stream.meta


def split_every(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def split_random(data: bytes, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    parts, i = [], 0
    while i < len(data):
        n = rng.randint(1, 40)
        parts.append(data[i : i + n])
        i += n
    return parts


def expected(name: str, key: str) -> tuple[list[Any], dict[str, Any]]:
    body = dict(recorded(name)["response"]["body_json"])
    rows = body.pop(key)
    return rows, body


@pytest.mark.parametrize(("name", "key"), ROW_BODIES)
async def test_recorded_body_whole(name: str, key: str) -> None:
    data = recorded_body(name)
    assert await parse([data], key) == expected(name, key)


@pytest.mark.parametrize(("name", "key"), ROW_BODIES)
async def test_recorded_body_one_byte_chunks(name: str, key: str) -> None:
    data = recorded_body(name)
    assert await parse(split_every(data, 1), key) == expected(name, key)


@pytest.mark.parametrize(("name", "key"), ROW_BODIES)
@pytest.mark.parametrize("seed", range(5))
async def test_recorded_body_random_chunks(name: str, key: str, seed: int) -> None:
    data = recorded_body(name)
    assert await parse(split_random(data, seed), key) == expected(name, key)


@pytest.mark.parametrize(("name", "key"), [("203-find", "docs"), ("233-changes", "results")])
async def test_recorded_body_every_two_way_split(name: str, key: str) -> None:
    data = recorded_body(name)
    want = expected(name, key)
    for cut in range(len(data) + 1):
        assert await parse([data[:cut], data[cut:]], key) == want, cut


def test_recorded_bodies_use_crlf_rows() -> None:
    # The point of these tests: the real bytes, with \r\n between rows.
    assert b"[\r\n{" in recorded_body("214-all-docs")
    assert b'"bookmark": "' in recorded_body("203-find")


@pytest.mark.parametrize("size", [1, 3, 7, 64, 100_000])
async def test_standin_single_blob_body(size: int) -> None:
    # pouchdb-server sends the whole answer as one line, without spaces.
    body = {
        "total_rows": 3,
        "offset": 0,
        "rows": [{"id": f"d{i}", "key": f"d{i}", "value": {"rev": f"1-{i}"}} for i in range(3)],
    }
    data = json.dumps(body, separators=(",", ":")).encode()
    rows, meta = await parse(split_every(data, size))
    assert rows == body["rows"]
    assert meta == {"total_rows": 3, "offset": 0}


async def test_large_blob_without_newlines_is_not_quadratic() -> None:
    rows = [{"id": f"doc-{i:06d}", "value": i} for i in range(20_000)]
    data = json.dumps({"rows": rows}, separators=(",", ":")).encode()
    got, meta = await parse(split_every(data, 512))
    assert got == rows
    assert meta == {}


UNICODE_BODY = (
    '{"rows":[\r\n{"id":"é","v":"日本語"},\r\n{"id":"😀","v":"a\\u00e9"}\r\n],"n":"ü"}\r\n'
)


async def test_multibyte_utf8_split_at_every_byte() -> None:
    data = UNICODE_BODY.encode()
    want = ([{"id": "é", "v": "日本語"}, {"id": "😀", "v": "aé"}], {"n": "ü"})
    assert await parse(split_every(data, 1)) == want
    for cut in range(len(data) + 1):
        assert await parse([data[:cut], data[cut:]]) == want, cut


@pytest.mark.parametrize(
    ("body", "rows", "meta"),
    [
        ('{"total_rows":0,"offset":0,"rows":[]}', [], {"total_rows": 0, "offset": 0}),
        ('{"total_rows":0,"offset":0,"rows":[\r\n\r\n]}\r\n', [], {"total_rows": 0, "offset": 0}),
        ("{}", [], {}),
        ('  { "rows" : [ 1 , 2 ] , "x" : null }  \n', [1, 2], {"x": None}),
        ('{"rows":null,"offset":null}', [], {"rows": None, "offset": None}),
        ('{"docs":[{"a":1}],"bookmark":"b","warning":"w"}', [], {}),
    ],
)
async def test_edge_shapes(body: str, rows: list[Any], meta: dict[str, Any]) -> None:
    data = body.encode()
    if body.startswith('{"docs"'):
        assert await parse([data], "docs") == ([{"a": 1}], {"bookmark": "b", "warning": "w"})
        return
    for parts in ([data], split_every(data, 1)):
        assert await parse(parts) == (rows, meta)


NUMBERS = '{"rows":[1.5e-3,12345,-0.25,0,1E+2,true,false,null,"9"],"total":-17}'


async def test_numbers_cut_anywhere() -> None:
    data = NUMBERS.encode()
    want = ([1.5e-3, 12345, -0.25, 0, 100.0, True, False, None, "9"], {"total": -17})
    for cut in range(len(data) + 1):
        assert await parse([data[:cut], data[cut:]]) == want, cut
    assert await parse(split_every(data, 1)) == want


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        b"[1,2]",
        b'{"rows":[1,2',
        b'{"rows":[1,2]',
        b'{"rows":[1 2]}',
        b'{"rows":[{"a":}]}',
        b'{"rows":[1]}x',
        b'{"rows":[1]} {}',
        b'{"rows":[1],}',
        b"{1:[1]}",
        b'{"rows":[1.]}',
        b'{"rows":["\xff"]}',
        b"<html>bad gateway</html>",
        b'{"rows":[1]',
    ],
)
async def test_malformed_bodies_raise_protocol_error(body: bytes) -> None:
    for parts in ([body], split_every(body, 1)):
        with pytest.raises(ProtocolError):
            await parse(parts)


async def test_every_truncation_of_a_recorded_body_raises() -> None:
    data = recorded_body("205-find-no-index-warning")
    end = data.rindex(b"}") + 1
    for cut in range(end):
        with pytest.raises(ProtocolError):
            await parse([data[:cut]], "docs")


async def test_rows_are_yielded_before_the_body_ends() -> None:
    seen: list[Any] = []

    async def slow() -> AsyncIterator[bytes]:
        yield b'{"total_rows":2,"rows":[\r\n{"id":"a"},\r\n'
        # the first row must already be out before the rest arrives
        assert seen == [{"id": "a"}]
        yield b'{"id":"b"}\r\n]}'

    stream = RowStream(slow(), "rows")
    async for row in stream:
        seen.append(row)
    assert seen == [{"id": "a"}, {"id": "b"}]
    assert stream.meta == {"total_rows": 2}
