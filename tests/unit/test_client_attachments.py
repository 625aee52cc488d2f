"""AttachmentMixin on the wire, streaming both ways, and digest checking."""

from __future__ import annotations

import base64
import gzip
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock, IteratorStream

from couchctl.client import (
    Conflict,
    CouchClient,
    IntegrityError,
    InvalidArgument,
    NotFound,
)
from couchctl.client._attachments import (
    CHUNK_SIZE,
    AttachmentInfo,
    digest_of_etag,
    guess_content_type,
)
from tests.conftest import recorded, recorded_body
from tests.unit._wire import (
    BASE,
    answer,
    only_request,
    request_bytes,
)

pytestmark = pytest.mark.anyio


def answer_raw(httpx_mock: HTTPXMock, name: str, body: bytes | None = None) -> None:
    """A recorded attachment answer with every header kept (Content-Encoding included)."""
    response = recorded(name)["response"]
    httpx_mock.add_response(
        status_code=response["status"],
        headers=dict(response["headers"]),
        content=recorded_body(name) if body is None else body,
    )


async def download(couch: CouchClient, *args: Any, **kwargs: Any) -> tuple[bytes, Any]:
    async with couch.attachment_get(*args, **kwargs) as stream:
        data = b"".join([chunk async for chunk in stream])
    return data, stream


# -- upload ------------------------------------------------------------------------------------


async def test_upload_bytes_133(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    name = "133-att-put-text"
    answer(httpx_mock, name)
    result = await couch.attachment_upload(
        "corpus",
        "doc-1",
        "note.txt",
        "text/plain",
        request_bytes(name),
        rev="3-e303696a573c99baf06b659a0711ce9a",
    )
    assert result == recorded(name)["response"]["body_json"]
    request = only_request(httpx_mock)
    assert request.method == "PUT"
    assert request.url.raw_path.decode() == recorded(name)["request"]["path"]
    assert request.headers["Content-Type"] == "text/plain"
    assert request.headers["Content-Length"] == "34"
    assert request.content == request_bytes(name)


async def test_upload_file_streams_with_length_and_progress(
    couch: CouchClient, httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    name = "134-att-put-binary"
    path = tmp_path / "pixel.png"
    path.write_bytes(request_bytes(name))
    answer(httpx_mock, name)
    seen: list[int] = []
    await couch.attachment_upload(
        "corpus",
        "doc-1",
        "pixel.png",
        guess_content_type(path),
        path,
        rev="4-b37be3111d93e4c2173bb202cbefba72",
        progress=seen.append,
    )
    request = only_request(httpx_mock)
    assert request.url.raw_path.decode() == recorded(name)["request"]["path"]
    assert request.headers["Content-Type"] == "image/png"
    assert request.headers["Content-Length"] == "70"
    assert "Transfer-Encoding" not in request.headers
    assert request.content == request_bytes(name)
    assert sum(seen) == 70


async def test_upload_name_with_slash_is_encoded(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "135-att-put-name-with-slash")
    await couch.attachment_upload(
        "corpus", "a/b c+d", "dir/my file.txt", "text/plain", b"x", rev="5-f9"
    )
    assert (
        only_request(httpx_mock).url.raw_path
        == b"/corpus/a%2Fb%20c%2Bd/dir%2Fmy%20file.txt?rev=5-f9"
    )


async def test_upload_without_rev_creates_the_doc_138(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    answer(httpx_mock, "138-att-put-new-doc")
    await couch.attachment_upload(
        "corpus", "doc-att-new", "hello.txt", "text/plain", b"hello\nworld\n"
    )
    assert only_request(httpx_mock).url.raw_path == b"/corpus/doc-att-new/hello.txt"


async def test_upload_without_content_type_139(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "139-att-put-no-content-type")
    await couch.attachment_upload("corpus", "doc-att-noct", "blob", None, b"\x00\x01\x02bytes")
    assert "Content-Type" not in only_request(httpx_mock).headers


async def test_upload_conflict_137(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer(httpx_mock, "137-att-put-no-rev-409")
    with pytest.raises(Conflict):
        await couch.attachment_upload("corpus", "doc-1", "other.txt", "text/plain", b"x\n")


async def test_upload_from_a_factory_without_length_is_chunked(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    async def source() -> AsyncIterator[bytes]:
        yield b"abc"
        yield b"def"

    httpx_mock.add_response(status_code=201, json={"ok": True, "id": "d", "rev": "1-a"})
    await couch.attachment_upload("corpus", "d", "x.bin", "application/octet-stream", source)
    request = only_request(httpx_mock)
    assert request.headers["Transfer-Encoding"] == "chunked"
    assert request.content == b"abcdef"


async def test_upload_refuses_a_source_shorter_than_announced(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    async def source() -> AsyncIterator[bytes]:
        yield b"abc"

    httpx_mock.add_response(status_code=201, json={"ok": True}, is_optional=True)
    with pytest.raises(IntegrityError):
        await couch.attachment_upload("corpus", "d", "x", "text/plain", source, length=10)


async def test_upload_missing_file(
    couch: CouchClient, httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError):
        await couch.attachment_upload("corpus", "d", "x", "text/plain", tmp_path / "nope")
    with pytest.raises(InvalidArgument):
        await couch.attachment_upload("corpus", "d", "x", "text/plain", tmp_path)
    assert httpx_mock.get_requests() == []


class CountingTransport(httpx.AsyncBaseTransport):
    """Consumes the request stream chunk by chunk, keeping only counts and a hash."""

    def __init__(self) -> None:
        self.largest = 0
        self.total = 0
        self.md5 = hashlib.md5()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        async for chunk in request.stream:
            self.largest = max(self.largest, len(chunk))
            self.total += len(chunk)
            self.md5.update(chunk)
        return httpx.Response(201, json={"ok": True, "id": "d", "rev": "1-a"})


async def test_upload_is_streamed_in_chunks(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    data = os.urandom(3 * CHUNK_SIZE + 17)
    path.write_bytes(data)
    transport = CountingTransport()
    async with CouchClient(BASE, transport=transport) as couch:
        await couch.attachment_upload("db", "d", "big.bin", "application/octet-stream", path)
    assert transport.total == len(data)
    assert transport.largest <= CHUNK_SIZE
    assert transport.md5.digest() == hashlib.md5(data).digest()


# -- download ----------------------------------------------------------------------------------


async def test_download_gzip_stored_text_verifies_the_gzip_digest_143(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    answer_raw(httpx_mock, "143-att-get-text-accept-gzip")
    data, stream = await download(couch, "corpus", "doc-1", "note.txt")
    assert data == recorded_body("142-att-get-text")
    assert stream.encoding == "gzip"
    assert stream.digest == "md5-VltnAMp9bTALoSporOIydQ=="
    assert (stream.received, stream.decoded) == (44, 34)
    request = only_request(httpx_mock)
    assert request.url.raw_path == b"/corpus/doc-1/note.txt"
    assert request.headers["Accept-Encoding"] == "gzip"


def test_etag_is_the_md5_of_the_stored_gzip_bytes() -> None:
    # why downloads ask for gzip: the ETag covers the stored (gzip) bytes, not the text
    etag = recorded("143-att-get-text-accept-gzip")["response"]["headers"]["ETag"].strip('"')
    gz = recorded_body("143-att-get-text-accept-gzip")
    text = recorded_body("142-att-get-text")
    assert base64.b64encode(hashlib.md5(gz).digest()).decode() == etag
    assert base64.b64encode(hashlib.md5(text).digest()).decode() != etag


async def test_download_binary_144(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    answer_raw(httpx_mock, "144-att-get-binary")
    data, stream = await download(couch, "corpus", "doc-1", "pixel.png", rev="5-f9")
    assert data == recorded_body("144-att-get-binary")
    assert (stream.content_type, stream.length, stream.encoding) == ("image/png", 70, "identity")
    assert only_request(httpx_mock).url.raw_path == b"/corpus/doc-1/pixel.png?rev=5-f9"


async def test_download_name_with_slash_148(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    # recorded without Accept-Encoding: identity text, ETag of the stored gzip bytes
    answer_raw(httpx_mock, "149-att-get-name-with-encoded-slash")
    data, _ = await download(couch, "corpus", "doc-1", "dir/my file.txt", verify=False)
    assert data == b"in a folder\nsecond line\n"
    assert only_request(httpx_mock).url.raw_path == b"/corpus/doc-1/dir%2Fmy%20file.txt"


async def test_download_corrupted_binary_raises(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    body = bytearray(recorded_body("144-att-get-binary"))
    body[40] ^= 0xFF
    answer_raw(httpx_mock, "144-att-get-binary", bytes(body))
    with pytest.raises(IntegrityError, match="digest mismatch"):
        await download(couch, "corpus", "doc-1", "pixel.png")


async def test_download_corrupted_gzip_raises(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    body = bytearray(recorded_body("143-att-get-text-accept-gzip"))
    body[15] ^= 0x55
    headers = dict(recorded("143-att-get-text-accept-gzip")["response"]["headers"])
    # streamed, as on the network (a bytes body would be decoded by httpx up front)
    httpx_mock.add_response(
        headers=headers, stream=IteratorStream([bytes(body[:20]), bytes(body[20:])])
    )
    with pytest.raises(IntegrityError):
        await download(couch, "corpus", "doc-1", "note.txt")


async def test_download_decoded_by_a_proxy_is_not_trusted_142(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    # identity text with the ETag of the stored gzip bytes: the digest cannot match
    answer_raw(httpx_mock, "142-att-get-text")
    with pytest.raises(IntegrityError):
        await download(couch, "corpus", "doc-1", "note.txt")


async def test_download_truncated_raises(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    body = recorded_body("144-att-get-binary")
    httpx_mock.add_response(
        headers={"Content-Length": "70", "ETag": '"+Cm5FPxHz8nAdHwRnCfPGw=="'}, content=body[:60]
    )
    with pytest.raises(IntegrityError, match="received 60 bytes"):
        await download(couch, "corpus", "doc-1", "pixel.png")


async def test_download_without_verify_ignores_the_digest(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    answer_raw(httpx_mock, "142-att-get-text")
    data, _ = await download(couch, "corpus", "doc-1", "note.txt", verify=False)
    assert data == recorded_body("142-att-get-text")


async def test_download_large_gzip_stream(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    text = b"".join(b"line %d\n" % i for i in range(200_000))
    gz = gzip.compress(text)
    etag = base64.b64encode(hashlib.md5(gz).digest()).decode()
    httpx_mock.add_response(
        headers={"Content-Encoding": "gzip", "ETag": f'"{etag}"', "Content-Length": str(len(gz))},
        content=gz,
    )
    data, stream = await download(couch, "db", "d", "big.txt")
    assert data == text
    assert stream.digest == f"md5-{etag}"


async def test_download_compressed_on_the_fly_verifies_the_decoded_digest(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    # a proxy (or the stand-in) gzips an identity attachment: the ETag is the text's MD5
    text = b"plain text " * 500
    etag = base64.b64encode(hashlib.md5(text).digest()).decode()
    httpx_mock.add_response(
        headers={"Content-Encoding": "gzip", "ETag": f'"{etag}"'},
        stream=IteratorStream([gzip.compress(text)]),
    )
    data, stream = await download(couch, "db", "d", "t.txt")
    assert data == text
    assert stream.received < len(text)


@pytest.mark.parametrize("name", ["150-att-get-missing-404", "151-att-get-missing-doc-404"])
async def test_download_missing_raises_not_found(
    couch: CouchClient, httpx_mock: HTTPXMock, name: str
) -> None:
    answer(httpx_mock, name)
    with pytest.raises(NotFound):
        await download(couch, "corpus", "doc-1", "missing.txt")


# -- exists (HEAD) ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "146-att-head-text",
            AttachmentInfo(
                "text/plain", 34, "md5-VltnAMp9bTALoSporOIydQ==", '"VltnAMp9bTALoSporOIydQ=="', None
            ),
        ),
        (
            "147-att-head-binary",
            AttachmentInfo(
                "image/png", 70, "md5-+Cm5FPxHz8nAdHwRnCfPGw==", '"+Cm5FPxHz8nAdHwRnCfPGw=="', None
            ),
        ),
    ],
)
async def test_attachment_exists_head(
    couch: CouchClient, httpx_mock: HTTPXMock, name: str, expected: AttachmentInfo
) -> None:
    answer_raw(httpx_mock, name)
    att_name = recorded(name)["request"]["path"].rsplit("/", 1)[1]
    assert await couch.attachment_exists("corpus", "doc-1", att_name) == expected
    request = only_request(httpx_mock)
    assert (request.method, request.url.raw_path.decode()) == (
        "HEAD",
        recorded(name)["request"]["path"],
    )
    assert request.headers["Accept-Encoding"] == "identity"
    assert expected.to_json()["digest"] == expected.digest


async def test_attachment_exists_missing_is_none(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=404)
    assert await couch.attachment_exists("corpus", "doc-1", "nope.txt", rev="2-a") is None
    assert only_request(httpx_mock).url.raw_path == b"/corpus/doc-1/nope.txt?rev=2-a"


@pytest.mark.parametrize(
    ("etag", "digest"),
    [
        ('"VltnAMp9bTALoSporOIydQ=="', "md5-VltnAMp9bTALoSporOIydQ=="),
        ('"md5-VltnAMp9bTALoSporOIydQ=="', "md5-VltnAMp9bTALoSporOIydQ=="),
        ('W/"VltnAMp9bTALoSporOIydQ=="', None),
        ('"1-abc"', None),
        ('"c2hvcnQ="', None),  # base64, but not 16 bytes
        (None, None),
    ],
)
def test_digest_of_etag(etag: str | None, digest: str | None) -> None:
    assert digest_of_etag(etag) == digest


# -- delete ------------------------------------------------------------------------------------


async def test_attachment_delete_155(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    name = "155-att-delete"
    answer(httpx_mock, name)
    result = await couch.attachment_delete(
        "corpus", "doc-1", "tmp.txt", "7-bfe372189658777b694a9e4d13862264"
    )
    assert result == recorded(name)["response"]["body_json"]
    request = only_request(httpx_mock)
    assert (request.method, request.url.raw_path.decode()) == (
        "DELETE",
        recorded(name)["request"]["path"],
    )


async def test_attachment_delete_errors(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    with pytest.raises(InvalidArgument):
        await couch.attachment_delete("corpus", "doc-1", "note.txt", "")
    assert httpx_mock.get_requests() == []
    answer(httpx_mock, "157-att-delete-missing-404")
    with pytest.raises(NotFound):
        await couch.attachment_delete(
            "corpus", "doc-1", "missing.txt", "8-958cfe32b97ccca4c66e0dd938b97f09"
        )


def test_guess_content_type() -> None:
    assert guess_content_type("a/photo.png") == "image/png"
    assert guess_content_type("notes.txt") == "text/plain"
    assert guess_content_type("blob.unknownext") == "application/octet-stream"
