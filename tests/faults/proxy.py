"""A fault-injecting HTTP/1.1 proxy between couchctl and the test server.

It forwards request by request over keep-alive connections (Content-Length and
chunked bodies, both ways) and, when a rule matches a request (method + path
regex, for its next `count` requests), injects a fault instead:

    status          answer `status` itself (429 with Retry-After, 503, ...), not forwarded
    reset_before    forward the request, then reset the connection before any answer
    reset_mid_body  forward the answer's head and part of its body, then reset
    stall           wait `seconds`, then forward as usual
    truncate        forward the head and part of the body, then close cleanly
    too_large       answer 413 when the request body is over `limit` bytes

`down(seconds)` closes the listening socket and every open connection and
reopens the port later: a server restart as a client sees it. The proxy runs on
its own event loop in a thread, so in-process CLI runs (which enter their own
loop) can go through it. Every request is logged (method, path, body, fault).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import ssl
import struct
import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Rule:
    action: str
    path: str = ".*"  # regex, searched in the request target (path and query)
    method: str | None = None  # None: any method
    count: int = 1  # requests it applies to; -1 for every one
    status: int = 503
    retry_after: str | None = None
    seconds: float = 0.0
    limit: int = 0
    hits: int = 0

    def matches(self, method: str, target: str, body_size: int) -> bool:
        if self.count >= 0 and self.hits >= self.count:
            return False
        if self.method is not None and self.method != method:
            return False
        if self.action == "too_large" and body_size <= self.limit:
            return False
        return re.search(self.path, target) is not None


@dataclass
class Logged:
    method: str
    target: str
    body: bytes
    fault: str | None = None


@dataclass
class _Message:
    head: bytes
    first_line: str
    headers: dict[str, str] = field(default_factory=dict)


class Reset(Exception):
    """The connection is to be dropped (by a fault or by `down`); `clean`: with a FIN."""

    def __init__(self, clean: bool = False) -> None:
        super().__init__()
        self.clean = clean


async def _read_head(reader: asyncio.StreamReader) -> _Message | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise Reset from exc
        return None
    lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return _Message(head, lines[0], headers)


async def _read_body(reader: asyncio.StreamReader, message: _Message) -> list[bytes]:
    """The raw body (framing included) as pieces: one per chunk when chunked."""
    if "chunked" in message.headers.get("transfer-encoding", "").lower():
        pieces = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                trailer = b""
                while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
                    trailer += line
                pieces.append(size_line + trailer + b"\r\n")
                return pieces
            pieces.append(size_line + await reader.readexactly(size + 2))
    length = int(message.headers.get("content-length", "0"))
    return [await reader.readexactly(length)] if length else []


def _payload(pieces: list[bytes], chunked: bool) -> bytes:
    if not chunked:
        return b"".join(pieces)
    out = b""
    for piece in pieces:
        size_line, _, rest = piece.partition(b"\r\n")
        out += rest[: int(size_line.split(b";")[0], 16)]
    return out


def _answer(status: int, error: str, reason: str, extra: dict[str, str]) -> bytes:
    body = f'{{"error":"{error}","reason":"{reason}"}}\n'.encode()
    head = f"HTTP/1.1 {status} {error}\r\nContent-Type: application/json\r\n"
    head += f"Content-Length: {len(body)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in extra.items())
    return head.encode() + b"\r\n" + body


_STATUS_ERRORS = {
    429: ("too_many_requests", "You have exceeded your request rate"),
    503: ("service_unavailable", "Service unavailable"),
    502: ("bad_gateway", "Bad gateway"),
    500: ("internal_server_error", "Internal error"),
    404: ("not_found", "Database does not exist."),
}


def _reset(writer: asyncio.StreamWriter) -> None:
    """Drop the connection with a TCP RST (SO_LINGER 0) rather than a clean FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class FaultProxy:
    def __init__(
        self, upstream_host: str, upstream_port: int, *, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.ssl_context = ssl_context
        self.rules: list[Rule] = []
        self.log: list[Logged] = []
        self.port = 0
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    # -- control, from the test's thread -------------------------------------------

    def start(self) -> FaultProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def stop(self) -> None:
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def add(self, action: str, **kwargs: Any) -> Rule:
        rule = Rule(action, **kwargs)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()
            self.log.clear()

    def requests(self, method: str | None = None, path: str = ".*") -> list[Logged]:
        with self._lock:
            return [
                r
                for r in self.log
                if (method is None or r.method == method) and re.search(path, r.target)
            ]

    def down(self, seconds: float) -> None:
        """Refuse and drop every connection for `seconds` (returns at once)."""
        self._call(self._close_all())
        self._loop.call_soon_threadsafe(
            lambda: self._loop.call_later(seconds, lambda: self._loop.create_task(self._listen()))
        )

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    # -- on the proxy's loop ---------------------------------------------------------

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, ssl=self.ssl_context, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close_all(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            _reset(writer)
        self._writers.clear()

    async def _shutdown(self) -> None:
        await self._close_all()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _match(self, method: str, target: str, body: bytes) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.matches(method, target, len(body)):
                    rule.hits += 1
                    self.log.append(Logged(method, target, body, rule.action))
                    return rule
            self.log.append(Logged(method, target, body))
            return None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        up_reader: asyncio.StreamReader | None = None
        up_writer: asyncio.StreamWriter | None = None
        clean = False
        try:
            while True:
                request = await _read_head(reader)
                if request is None:
                    break
                pieces = await _read_body(reader, request)
                chunked = "chunked" in request.headers.get("transfer-encoding", "").lower()
                method, target = request.first_line.split(" ")[:2]
                rule = self._match(method, target, _payload(pieces, chunked))
                if rule is not None and rule.action in ("status", "too_large"):
                    status = 413 if rule.action == "too_large" else rule.status
                    error, reason = _STATUS_ERRORS.get(
                        status, ("too_large", "the request entity is too large")
                    )
                    extra = {"Retry-After": rule.retry_after} if rule.retry_after else {}
                    writer.write(_answer(status, error, reason, extra))
                    await writer.drain()
                    continue
                if rule is not None and rule.action == "stall":
                    await asyncio.sleep(rule.seconds)
                if up_reader is None or up_writer is None:
                    # Opened at the first forwarded request: a proxy that only answers
                    # by its rules needs no server behind it.
                    up_reader, up_writer = await asyncio.open_connection(*self.upstream)
                up_writer.write(request.head + b"".join(pieces))
                await up_writer.drain()
                response = await _read_head(up_reader)
                if response is None:
                    raise Reset
                if rule is not None and rule.action == "reset_before":
                    raise Reset
                await self._relay(method, response, up_reader, writer, rule)
        except Reset as exc:
            clean = exc.clean
        except (OSError, asyncio.IncompleteReadError, ValueError, ssl.SSLError):
            pass
        finally:
            self._writers.discard(writer)
            if clean:
                writer.close()
            else:
                _reset(writer)
            if up_writer is not None:
                up_writer.transport.abort()

    async def _relay(
        self,
        method: str,
        response: _Message,
        up_reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        rule: Rule | None,
    ) -> None:
        status = int(response.first_line.split(" ")[1])
        writer.write(response.head)
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            await writer.drain()
            return
        cutting = rule is not None and rule.action in ("reset_mid_body", "truncate")
        chunked = "chunked" in response.headers.get("transfer-encoding", "").lower()
        if not chunked and "content-length" not in response.headers:
            raise Reset  # read-until-close bodies: CouchDB never sends them
        if cutting and not chunked:
            length = int(response.headers["content-length"])
            writer.write(await up_reader.readexactly(length // 2))
            await writer.drain()
            await self._cut(writer, rule)
        if not chunked:
            length = int(response.headers["content-length"])
            if length:
                writer.write(await up_reader.readexactly(length))
            await writer.drain()
            return
        sent = 0
        while True:
            size_line = await up_reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip(), 16)
            if cutting and (size == 0 or sent >= 1):
                await self._cut(writer, rule)
            if size == 0:
                while (line := await up_reader.readuntil(b"\r\n")) != b"\r\n":
                    size_line += line
                writer.write(size_line + b"\r\n")
                await writer.drain()
                return
            writer.write(size_line + await up_reader.readexactly(size + 2))
            await writer.drain()
            sent += 1

    @staticmethod
    async def _cut(writer: asyncio.StreamWriter, rule: Rule | None) -> None:
        assert rule is not None
        raise Reset(clean=rule.action == "truncate")  # truncate: a FIN, the body just ends
