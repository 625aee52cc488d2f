"""The fast path's plain-HTTP transport (client/_plain.py) against a scripted server
on a loopback socket: what it sends, what it reads, keep-alive, and its failures as
httpx's own transport gives them (compared side by side)."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator

import httpx
import pytest

from couchctl.client import ConnectionFailed, CouchClient, RequestTimeout, run_blocking
from couchctl.client._base import _transport_reason
from couchctl.client._plain import PlainTransport

# What the scripted server does with each connection: gets the socket, answers.
Script = Callable[[socket.socket], None]


class Server:
    """A loopback server that runs `script` on each connection it accepts."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.heads: list[bytes] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            self.script(conn)

    def read_request(self, conn: socket.socket) -> bytes | None:
        """One request's head and body (Content-Length), or None at the end."""
        data = b""
        while b"\r\n\r\n" not in data:
            piece = conn.recv(65536)
            if not piece:
                return None
            data += piece
        head, _, body = data.partition(b"\r\n\r\n")
        self.heads.append(head)
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            body += conn.recv(65536)
        return head + b"\r\n\r\n" + body

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def serve() -> Iterator[Callable[[Script], Server]]:
    servers: list[Server] = []

    def start(script: Script) -> Server:
        servers.append(Server(script))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def answer(body: bytes, *headers: str) -> bytes:
    lines = ["HTTP/1.1 200 OK", "Content-Type: application/json", *headers]
    if not any(h.lower().startswith("transfer-encoding") for h in headers):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def keep_answering(server_ref: list[Server], reply: bytes) -> Script:
    def script(conn: socket.socket) -> None:
        while server_ref[0].read_request(conn) is not None:
            conn.sendall(reply)

    return script


def both(url: str, method: str = "GET", **kwargs: object) -> list[httpx.Response | Exception]:
    """The same request through the plain transport and through httpx's own."""
    outcomes: list[httpx.Response | Exception] = []
    for transport in (PlainTransport(), httpx.HTTPTransport()):
        with httpx.Client(transport=transport, timeout=httpx.Timeout(2, read=0.5)) as client:
            try:
                response = client.request(method, url, **kwargs)  # type: ignore[arg-type]
                outcomes.append(response)
            except httpx.HTTPError as exc:
                outcomes.append(exc)
    return outcomes


def test_a_request_and_its_answer(serve: Callable[[Script], Server]) -> None:
    ref: list[Server] = []
    ref.append(serve(keep_answering(ref, answer(b'{"ok":true}', "X-Couch-Request-Id: 1"))))
    plain, reference = both(ref[0].url + "/db/a%2Fb?rev=1-x", "PUT", json={"n": 1})
    assert isinstance(plain, httpx.Response) and isinstance(reference, httpx.Response)
    assert plain.status_code == 200 and plain.json() == {"ok": True}
    assert plain.headers["x-couch-request-id"] == "1"
    assert plain.http_version == "HTTP/1.1" and plain.reason_phrase == "OK"
    # What went on the wire: the same request line, headers and body.
    assert ref[0].heads[0] == ref[0].heads[1]
    assert ref[0].heads[0].startswith(b"PUT /db/a%2Fb?rev=1-x HTTP/1.1\r\nHost: 127.0.0.1:")


def test_chunked_and_head(serve: Callable[[Script], Server]) -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n[1,\r\n2\r\n2]\r\n0\r\n\r\n"
    )
    head = b'HTTP/1.1 200 OK\r\nContent-Length: 40\r\nETag: "1-a"\r\n\r\n'

    def script(conn: socket.socket) -> None:
        while (request := ref[0].read_request(conn)) is not None:
            conn.sendall(head if request.startswith(b"HEAD") else chunked)

    ref: list[Server] = []
    ref.append(serve(script))
    transport = PlainTransport()
    with httpx.Client(transport=transport) as client:
        assert client.get(ref[0].url + "/rows").json() == [1, 2]
        found = client.head(ref[0].url + "/db/doc")
        assert found.headers["etag"] == '"1-a"' and found.content == b""
        assert client.get(ref[0].url + "/rows").json() == [1, 2]
    assert ref[0].connections == 1  # kept alive across the three


def test_a_connection_the_server_closed_is_not_reused(serve: Callable[[Script], Server]) -> None:
    """Closed by the server after its answer, without `Connection: close`: the next
    request takes a new connection rather than failing on the dead one."""

    def script(conn: socket.socket) -> None:
        if ref[0].read_request(conn) is not None:
            conn.sendall(answer(b"{}"))

    ref: list[Server] = []
    ref.append(serve(script))
    with httpx.Client(transport=PlainTransport()) as client:
        for _ in range(3):
            assert client.get(ref[0].url + "/").json() == {}
            # Let the server's close arrive before the next request.
            threading.Event().wait(0.05)
    assert ref[0].connections == 3


def test_connection_close_is_honoured(serve: Callable[[Script], Server]) -> None:
    ref: list[Server] = []
    ref.append(serve(keep_answering(ref, answer(b"{}", "Connection: close"))))
    with httpx.Client(transport=PlainTransport()) as client:
        client.get(ref[0].url + "/")
        client.get(ref[0].url + "/")
    assert ref[0].connections == 2


def ref_read(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        piece = conn.recv(65536)
        if not piece:
            return
        data += piece


def stall(silent: threading.Event) -> Script:
    """Read the request, then say nothing until `silent` is set."""

    def script(conn: socket.socket) -> None:
        ref_read(conn)
        silent.wait(5)

    return script


@pytest.mark.parametrize(
    "reply",
    [
        b"",  # closed before any answer
        answer(b'{"db_name":"corpus"}')[:-5],  # closed inside the body
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n[1,2,",  # inside a chunk
        b"SSH-2.0-OpenSSH_9.2\r\n",  # not HTTP
    ],
    ids=["no-answer", "short-body", "short-chunked", "not-http"],
)
def test_failures_read_as_httpx_reads_them(reply: bytes, serve: Callable[[Script], Server]) -> None:
    def script(conn: socket.socket) -> None:
        ref_read(conn)
        conn.sendall(reply)

    server = serve(script)
    plain, reference = both(server.url + "/corpus")
    assert isinstance(plain, httpx.RemoteProtocolError), plain
    assert type(plain) is type(reference)
    if reply.startswith(b"SSH"):
        # h11 waits for more and then finds the connection closed; http.client
        # rejects the line at once, said in h11's words for a line it rejects.
        assert str(plain) == "illegal status line: 'SSH-2.0-OpenSSH_9.2\\r\\n'"
    else:  # what the user is told of it: the same words
        assert str(plain) == str(reference)
        assert _transport_reason(plain) == _transport_reason(reference)


def test_refused_and_timed_out(serve: Callable[[Script], Server]) -> None:
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    plain, reference = both(f"http://127.0.0.1:{port}/")
    assert isinstance(plain, httpx.ConnectError) and isinstance(reference, httpx.ConnectError)
    assert _transport_reason(plain) == _transport_reason(reference) == "connection refused"

    silent = threading.Event()
    server = serve(stall(silent))
    plain, reference = both(server.url + "/")
    silent.set()
    assert isinstance(plain, httpx.ReadTimeout) and isinstance(reference, httpx.ReadTimeout)


def test_only_plain_http() -> None:
    with (
        httpx.Client(transport=PlainTransport()) as client,
        pytest.raises(httpx.UnsupportedProtocol),
    ):
        client.get("https://127.0.0.1:1/")


def test_the_blocking_client_sends_through_it(serve: Callable[[Script], Server]) -> None:
    """A blocking client on an http:// URL: retries and errors as on any transport."""
    ref: list[Server] = []
    ref.append(serve(keep_answering(ref, answer(b'{"db_name":"corpus"}'))))
    couch = CouchClient(ref[0].url, user="admin", password="pw", blocking=True)

    async def info() -> object:
        async with couch:
            return await couch.db_info("corpus")

    assert run_blocking(info) == {"db_name": "corpus"}
    assert b"\r\nauthorization: basic " in ref[0].heads[0].lower()

    dropping = serve(ref_read)  # reads the request, closes without an answer
    couch = CouchClient(dropping.url, retries=1, backoff=0.001, blocking=True)

    async def fails() -> object:
        async with couch:
            return await couch.db_info("corpus")

    with pytest.raises(ConnectionFailed, match="Server disconnected without sending a response"):
        run_blocking(fails)
    assert dropping.connections == 2  # retried once, on a new connection

    silent = threading.Event()
    stalled = serve(stall(silent))
    couch = CouchClient(stalled.url, timeout=0.3, blocking=True)

    async def stalls() -> object:
        async with couch:
            return await couch.db_info("corpus")

    with pytest.raises(RequestTimeout, match="timed out"):
        run_blocking(stalls)
    silent.set()
