"""Reading a long body in blocks: the kernel wakes the reader once a block is in.

httpcore reads at most 64 KiB at a time, but a reader faster than the server wakes
for every few TCP segments: about 16 KiB on loopback for an attachment, and a single
chunk of a few rows for CouchDB's row responses (it sends each chunk of ~1.5 KB as
it is made). Every wake is a pass through h11, httpcore and httpx, and on this
2-core machine, where the server is CPU-bound, every CPU-second of the client's is
taken from the server. SO_RCVLOWAT makes the kernel wake the reader (a blocking
read, or the event loop's epoll) only once that many bytes, or the end of the
connection, are there (bench/README.md, "Transfers" and "bulk load and dump").
"""

from __future__ import annotations

import socket
import ssl
import time
from typing import Any

__all__ = ["BlockReads"]


class BlockReads:
    """SO_RCVLOWAT for one plain-TCP body, set as it is read.

    After each piece, `next(received)` sets it to the least of BLOCK, the bytes
    still to come (`length`; exact: h11 hands on all it holds of a Content-Length
    body with each piece) and what the body's rate brings in WAIT seconds. The
    rate is measured from the body's first piece on, over SETTLE seconds at least;
    until then a `rate` given (the last body's, for a series of short ones) is
    used. So a slow server is read as before, and no read waits long for a block:
    the read timeout keeps its meaning unless the rate falls a hundredfold at once.

    `length` None: the body's length is not known (chunked), so it must end with
    the connection (a request sent with `Connection: close`): the last read then
    wakes on the server's close, never waits for a block that will not come.

    Not used under TLS (the kernel counts record bytes, not the body's), nor where
    the platform lacks the option.
    """

    BLOCK = 64 * 1024
    WAIT = 0.05
    SETTLE = 0.1

    def __init__(self, sock: Any, length: int | None, rate: float | None) -> None:
        self._sock = sock
        self._length = length
        self._first: tuple[float, int] | None = None
        self._low = 1
        self.rate = rate

    @classmethod
    def of(
        cls, network: Any, length: int | None, *, rate: float | None = None
    ) -> BlockReads | None:
        """For the socket of `network` (a response's `network_stream`), else None."""
        if network is None or not hasattr(socket, "SO_RCVLOWAT"):
            return None
        try:
            sock = network.get_extra_info("socket")
            tls = network.get_extra_info("ssl_object")
        except Exception:  # a stream that cannot tell is left alone
            return None
        # a socket.socket (sync), or asyncio's TransportSocket around one (async)
        if not hasattr(sock, "setsockopt") or isinstance(sock, ssl.SSLSocket) or tls:
            return None
        return cls(sock, length, rate)

    def next(self, received: int) -> None:
        """`received` bytes of the body are in: set how many the next read waits for."""
        if not self._low:
            return
        now = time.monotonic()
        if self._first is None:
            self._first = (now, received)
        else:
            since, before = self._first
            elapsed = now - since
            if elapsed >= self.SETTLE:
                self.rate = (received - before) / elapsed
        if self.rate is None:
            return
        low = int(self.rate * self.WAIT)
        if self._length is not None:
            low = min(low, self._length - received)
        low = min(self.BLOCK, low)
        low = 1 << (low.bit_length() - 1) if low > 1 else 1  # a power of two: few changes
        if low != self._low:
            try:
                self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, low)
            except OSError:
                low = 0  # refused: never tried again, every read wakes on any byte
            self._low = low
