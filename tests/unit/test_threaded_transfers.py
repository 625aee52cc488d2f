"""Long bodies through the sync client in a worker thread (`threaded`), downloads and
uploads: the same bytes, checks and errors as the async path, the client's settings shared, a cancelled
download stopped promptly, and block reads (SO_RCVLOWAT) that keep the read timeout."""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from pytest_httpx import HTTPXMock, IteratorStream

from couchctl.client import (
    ConnectionFailed,
    CouchClient,
    IntegrityError,
    NotFound,
    RequestTimeout,
)
from couchctl.client._attachments import UPLOAD_CHUNK
from couchctl.client._base import is_sync
from tests.conftest import recorded, recorded_body
from tests.unit._wire import BASE, only_request

pytestmark = pytest.mark.anyio


def etag_of(data: bytes) -> str:
    return '"' + base64.b64encode(hashlib.md5(data).digest()).decode() + '"'


class Sink:
    """A `write` for `save`: what it got, and from which threads."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.threads: set[str] = set()
        self.progress = 0

    def write(self, data: bytes) -> None:
        self.threads.add(threading.current_thread().name)
        self.data += data

    def advance(self, amount: int) -> None:
        self.progress += amount


async def save(couch: CouchClient, *args: Any, **kwargs: Any) -> tuple[Sink, Any]:
    sink = Sink()
    async with couch.attachment_get(*args, threaded=True, **kwargs) as download:
        await download.save(sink.write, sink.advance)
    return sink, download


# -- the same bytes and checks as the async path ------------------------------------------


async def test_threaded_binary_is_read_in_a_worker_thread_144(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    response = recorded("144-att-get-binary")["response"]
    body = recorded_body("144-att-get-binary")
    httpx_mock.add_response(headers=dict(response["headers"]), content=body)
    sink, download = await save(couch, "corpus", "doc-1", "pixel.png")
    assert bytes(sink.data) == body
    assert sink.progress == len(body) == download.received
    assert threading.current_thread().name not in sink.threads
    assert is_sync(download._response)
    request = only_request(httpx_mock)
    assert request.headers["Accept-Encoding"] == "gzip"
    assert request.headers["Authorization"].startswith("Basic ")


async def test_threaded_gzip_stored_text_143(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    response = recorded("143-att-get-text-accept-gzip")["response"]
    httpx_mock.add_response(
        headers=dict(response["headers"]), content=recorded_body("143-att-get-text-accept-gzip")
    )
    sink, download = await save(couch, "corpus", "doc-1", "note.txt")
    assert bytes(sink.data) == recorded_body("142-att-get-text")
    assert (download.received, download.decoded, download.encoding) == (44, 34, "gzip")
    assert sink.progress == 44  # raw bytes, as the progress bar's total (Content-Length)


async def test_threaded_large_gzip_in_pieces(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    text = b"".join(b"line %d\n" % i for i in range(200_000))
    gz = gzip.compress(text)
    pieces = [gz[i : i + 50_000] for i in range(0, len(gz), 50_000)]
    httpx_mock.add_response(
        headers={"Content-Encoding": "gzip", "ETag": etag_of(gz), "Content-Length": str(len(gz))},
        stream=IteratorStream(pieces),
    )
    sink, _ = await save(couch, "db", "d", "big.txt")
    assert bytes(sink.data) == text


async def test_threaded_digest_mismatch_raises(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    body = b"x" * 1000
    httpx_mock.add_response(headers={"ETag": etag_of(b"y" * 1000)}, content=body)
    with pytest.raises(IntegrityError, match="digest mismatch"):
        await save(couch, "db", "d", "a.bin")


async def test_threaded_truncated_raises(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    body = b"z" * 100
    httpx_mock.add_response(
        headers={"Content-Length": "100", "ETag": etag_of(body)}, content=body[:60]
    )
    with pytest.raises(IntegrityError, match="received 60 bytes"):
        await save(couch, "db", "d", "a.bin")


async def test_threaded_corrupt_gzip_raises(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    gz = bytearray(gzip.compress(b"some text " * 100))
    gz[15] ^= 0x55
    httpx_mock.add_response(
        headers={"Content-Encoding": "gzip", "ETag": etag_of(bytes(gz))},
        stream=IteratorStream([bytes(gz[:20]), bytes(gz[20:])]),
    )
    with pytest.raises(IntegrityError):
        await save(couch, "db", "d", "t.txt")


async def test_threaded_missing_raises_not_found(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=404, json={"error": "not_found", "reason": "missing"})
    with pytest.raises(NotFound):
        await save(couch, "db", "d", "nope.bin")


async def test_threaded_get_is_retried_after_503(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    body = b"after a restart"
    httpx_mock.add_response(status_code=503)
    httpx_mock.add_response(headers={"ETag": etag_of(body)}, content=body)
    sink, _ = await save(couch, "db", "d", "a.bin")
    assert bytes(sink.data) == body
    assert len(httpx_mock.get_requests()) == 2


async def test_threaded_download_read_with_iter_bytes(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    body = bytes(range(256)) * 100
    httpx_mock.add_response(
        headers={"ETag": etag_of(body)}, stream=IteratorStream([body[:1000], body[1000:]])
    )
    async with couch.attachment_get("db", "d", "a.bin", threaded=True) as download:
        data = b"".join([chunk async for chunk in download])
    assert data == body


async def test_without_a_sync_twin_the_async_client_reads_it() -> None:
    body = b"through a transport of the caller's own"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"ETag": etag_of(body)}, stream=httpx.ByteStream(body))

    async with CouchClient(BASE, transport=httpx.MockTransport(handler)) as couch:
        assert couch.threaded_http() is None
        sink, download = await save(couch, "db", "d", "a.bin")
    assert bytes(sink.data) == body
    assert not is_sync(download._response)


# -- one configuration for both clients ---------------------------------------------------


async def test_the_sync_client_shares_the_settings() -> None:
    async with CouchClient("https://couch.test:6984", user="u", password="p", timeout=7.0) as couch:
        sync = couch.threaded_http()
        assert sync is not None
        assert sync is couch.threaded_http()  # built once
        assert sync.auth is couch.http.auth
        assert sync.timeout == couch.http.timeout
        assert sync.headers["Accept"] == "application/json"
        assert not sync.follow_redirects
        # one TLS context, loaded once, for both
        context = couch._http_options["verify"]
        assert isinstance(context, ssl.SSLContext)
        assert context.verify_mode == ssl.CERT_REQUIRED
    assert couch._sync_http is None  # closed with the client


async def test_the_sync_client_sends_the_token_and_trusts_nothing_more() -> None:
    async with CouchClient("https://couch.test:6984", token="t0k", insecure=True) as couch:
        sync = couch.threaded_http()
        assert sync is not None
        assert sync.headers["Authorization"] == "Bearer t0k"
        assert couch._http_options["verify"] is False


async def test_threaded_answers_are_traced_and_cookies_kept(httpx_mock: HTTPXMock) -> None:
    lines: list[str] = []
    body = b"traced"
    httpx_mock.add_response(
        headers={"ETag": etag_of(body), "Set-Cookie": "AuthSession=fresh; Path=/"}, content=body
    )
    async with CouchClient(BASE, user="u", password="p", trace=lines.append) as couch:
        couch.http.cookies.set("AuthSession", "old", domain="couch.test")
        await save(couch, "db", "d", "a.bin")
        assert couch.http.cookies.get("AuthSession") == "fresh"
    request = only_request(httpx_mock)
    assert request.headers["Cookie"] == "AuthSession=old"  # the async client's jar was sent
    assert any(line.startswith("> GET http://couch.test:5984/db/d/a.bin") for line in lines)
    assert any(line.startswith("< 200") for line in lines)
    assert "p" not in "".join(line for line in lines if "Authorization" in line).split(": ")[-1]


# -- a real socket: cancellation, block reads ---------------------------------------------


class BodyServer:
    """A one-connection HTTP server on loopback: headers announcing `length` bytes,
    then the body as `send(conn)` writes it."""

    def __init__(self, length: int, send: Any) -> None:
        self.length = length
        self.send = send
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                b"Content-Length: %d\r\n\r\n" % self.length
            )
            with contextlib.suppress(OSError):
                self.send(conn)

    def close(self) -> None:
        self.listener.close()
        self.thread.join(5)


@pytest.fixture
def body_server() -> Iterator[Any]:
    servers: list[BodyServer] = []

    def start(length: int, send: Any) -> BodyServer:
        servers.append(BodyServer(length, send))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


async def test_a_cancelled_download_stops_its_thread(body_server: Any) -> None:
    stop = threading.Event()

    def stall(conn: socket.socket) -> None:
        conn.sendall(b"x" * 1000)
        stop.wait(30)  # then nothing: only the shut-down socket wakes the reader

    server = body_server(10_000_000, stall)
    sink = Sink()
    started = time.monotonic()
    try:
        async with CouchClient(server.url, timeout=60) as couch:
            with anyio.move_on_after(0.5):
                async with couch.attachment_get("db", "d", "a.bin", threaded=True) as download:
                    await download.save(sink.write)
            got = len(sink.data)
            await anyio.sleep(0.1)
            assert len(sink.data) == got  # the thread is done: nothing written after
    finally:
        stop.set()
    assert time.monotonic() - started < 5
    assert sink.data == b"x" * 1000


async def test_a_cut_body_is_a_connection_failure(body_server: Any) -> None:
    server = body_server(100_000, lambda conn: conn.sendall(b"y" * 30_000))
    sink = Sink()
    async with CouchClient(server.url, retries=0) as couch:
        with pytest.raises((ConnectionFailed, IntegrityError)):
            async with couch.attachment_get("db", "d", "a.bin", threaded=True) as download:
                await download.save(sink.write)
    assert sink.data == b"y" * 30_000  # all that came was handed on (a resume keeps it)


async def test_block_reads_give_whole_blocks(body_server: Any) -> None:
    data = bytes(range(256)) * (4096 * 4)  # 4 MiB in 4 KiB sends, 64 KiB each 5 ms

    def in_small_pieces(conn: socket.socket) -> None:
        for i in range(0, len(data), 4096):
            conn.sendall(data[i : i + 4096])
            if i % (16 * 4096) == 0:
                time.sleep(0.005)

    server = body_server(len(data), in_small_pieces)
    sink = Sink()
    pieces: list[int] = []

    def write(chunk: bytes) -> None:
        pieces.append(len(chunk))
        sink.write(chunk)

    async with (
        CouchClient(server.url) as couch,
        couch.attachment_get("db", "d", "a.bin", threaded=True) as download,
    ):
        await download.save(write)
    assert bytes(sink.data) == data
    # once the rate is known (0.1 s), each read waits for a whole 64 KiB block
    assert pieces.count(64 * 1024) >= 16, pieces


async def test_block_reads_keep_the_read_timeout_of_a_slow_server(body_server: Any) -> None:
    # 20 KB/s, a 0.5 s read timeout: one 64 KiB block would take 3 s to fill
    data = b"s" * 40_000

    def slowly(conn: socket.socket) -> None:
        for i in range(0, len(data), 1000):
            conn.sendall(data[i : i + 1000])
            time.sleep(0.05)

    server = body_server(len(data), slowly)
    sink = Sink()
    async with (
        CouchClient(server.url, timeout=0.5, retries=0) as couch,
        couch.attachment_get("db", "d", "a.bin", threaded=True) as download,
    ):
        await download.save(sink.write)
    assert bytes(sink.data) == data


async def test_a_stalled_server_still_times_out(body_server: Any) -> None:
    stop = threading.Event()

    def stall(conn: socket.socket) -> None:
        conn.sendall(b"x" * 100)
        stop.wait(10)

    server = body_server(1_000_000, stall)
    try:
        async with CouchClient(server.url, timeout=0.3, retries=0) as couch:
            with pytest.raises(RequestTimeout):
                async with couch.attachment_get("db", "d", "a.bin", threaded=True) as download:
                    await download.save(Sink().write)
    finally:
        stop.set()


# -- uploads ------------------------------------------------------------------------------


async def test_threaded_upload_of_a_file(
    couch: CouchClient, httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    data = os.urandom(2 * UPLOAD_CHUNK + 5)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    seen: dict[str, Any] = {}

    def answer(request: httpx.Request) -> httpx.Response:
        seen["thread"] = threading.current_thread().name
        seen["body"] = request.read()
        return httpx.Response(201, json={"ok": True, "id": "d", "rev": "1-a"})

    httpx_mock.add_callback(answer)
    told: list[int] = []
    result = await couch.attachment_upload(
        "db", "d", "big.bin", "application/octet-stream", source, progress=told.append
    )
    assert result["rev"] == "1-a"
    assert seen["thread"] != threading.current_thread().name
    assert seen["body"] == data
    assert told == [UPLOAD_CHUNK, UPLOAD_CHUNK, 5]
    request = only_request(httpx_mock)
    assert request.headers["Content-Length"] == str(len(data))
    assert request.headers["Content-Type"] == "application/octet-stream"


async def test_threaded_upload_of_a_growing_file_fails(
    couch: CouchClient, httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    source = tmp_path / "grows.bin"
    source.write_bytes(b"g" * 100)

    def answer(request: httpx.Request) -> httpx.Response:
        request.read()
        return httpx.Response(201, json={"ok": True})

    httpx_mock.add_callback(answer, is_optional=True)
    with pytest.raises(IntegrityError, match="grew"):
        await couch.attachment_upload("db", "d", "g.bin", None, source, length=60)


async def test_a_cancelled_upload_stops_its_thread(tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(b"u" * (64 * 1024 * 1024))
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def never_read() -> None:  # takes the connection and reads nothing: the sender blocks
        with contextlib.suppress(OSError):
            accepted.append(listener.accept()[0])

    thread = threading.Thread(target=never_read, daemon=True)
    thread.start()
    started = time.monotonic()
    try:
        async with CouchClient(
            f"http://127.0.0.1:{listener.getsockname()[1]}", timeout=60
        ) as couch:
            with anyio.move_on_after(0.5):
                await couch.attachment_upload("db", "d", "big.bin", None, source)
        assert time.monotonic() - started < 5
    finally:
        listener.close()
        for conn in accepted:
            conn.close()
