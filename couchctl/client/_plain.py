"""A sync httpx transport for plain HTTP on the standard library's `http.client`.

Only a `blocking` client (the fast path: one or two short requests, then exit) with
an http:// URL and no proxy sends through it. httpx itself still builds every
request and reads every response (auth, headers, timeouts, decoding, errors); this
is only the wire. It is there for start-up time: httpx's own transport imports
httpcore and h11 (about 14 ms here, bench/README.md "Start-up"), while httpx has
already imported `http.client`.

Failures are raised as the httpx exceptions httpcore would raise, with the same
causes, so the client's error messages are the same on either transport.
"""

from __future__ import annotations

import http.client
import select

import httpx

__all__ = ["PlainTransport"]


class PlainTransport(httpx.BaseTransport):
    """HTTP/1.1 over one kept-alive connection at a time; whole bodies only."""

    def __init__(self) -> None:
        self._connection: http.client.HTTPConnection | None = None
        self._origin: tuple[str, int] | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme != "http":
            raise httpx.UnsupportedProtocol(f"plain transport cannot send {url.scheme}:// URLs")
        timeouts = request.extensions.get("timeout", {})
        connection = self._connect((url.host, url.port or 80), timeouts.get("connect"))
        body = request.read()
        try:
            _set_timeout(connection, timeouts.get("write"))
            connection.putrequest(
                request.method,
                url.raw_path.decode("ascii"),
                skip_host=True,
                skip_accept_encoding=True,
            )
            for name, value in request.headers.raw:
                connection.putheader(name, value)
            connection.endheaders(body or None)
        except TimeoutError as exc:
            self._drop()
            raise httpx.WriteTimeout(str(exc) or "timed out") from exc
        except OSError as exc:
            self._drop()
            raise httpx.WriteError(str(exc)) from exc
        except (http.client.HTTPException, ValueError) as exc:  # an illegal header
            self._drop()
            raise httpx.LocalProtocolError(str(exc)) from exc
        return self._response(connection, timeouts.get("read"))

    def _connect(
        self, origin: tuple[str, int], timeout: float | None
    ) -> http.client.HTTPConnection:
        connection = self._connection
        if connection is not None and (origin != self._origin or _stale(connection)):
            self._drop()
            connection = None
        if connection is None:
            connection = http.client.HTTPConnection(origin[0], origin[1], timeout=timeout)
            try:
                connection.connect()
            except TimeoutError as exc:
                connection.close()
                raise httpx.ConnectTimeout(str(exc) or "timed out") from exc
            except OSError as exc:
                connection.close()
                raise httpx.ConnectError(str(exc)) from exc
            self._connection, self._origin = connection, origin
        return connection

    def _response(
        self, connection: http.client.HTTPConnection, timeout: float | None
    ) -> httpx.Response:
        failure: httpx.TransportError | None = None
        try:
            _set_timeout(connection, timeout)
            response = connection.getresponse()
            body = response.read()
        except http.client.RemoteDisconnected:
            # Raised outside this block, so that no ConnectionResetError is its
            # cause: httpcore says just this for a connection closed before an answer.
            failure = httpx.RemoteProtocolError("Server disconnected without sending a response.")
        except http.client.IncompleteRead as exc:
            # In h11's words (httpcore's parser), the whole body being read at once.
            self._drop()
            received = len(exc.partial)
            detail = (
                "incomplete chunked read"
                if exc.expected is None
                else f"received {received} bytes, expected {received + exc.expected}"
            )
            raise httpx.RemoteProtocolError(
                f"peer closed connection without sending complete message body ({detail})"
            ) from exc
        except TimeoutError as exc:
            self._drop()
            raise httpx.ReadTimeout(str(exc) or "timed out") from exc
        except OSError as exc:
            self._drop()
            raise httpx.ReadError(str(exc)) from exc
        except http.client.BadStatusLine as exc:  # not HTTP (h11's words)
            self._drop()
            raise httpx.RemoteProtocolError(f"illegal status line: {str(exc)!r}") from exc
        except http.client.HTTPException as exc:  # a header line too long, too many
            self._drop()
            raise httpx.RemoteProtocolError(str(exc) or type(exc).__name__) from exc
        if failure is not None:
            self._drop()
            raise failure
        if response.will_close:
            self._drop()
        return httpx.Response(
            response.status,
            headers=response.getheaders(),
            stream=httpx.ByteStream(body),
            extensions={
                "http_version": b"HTTP/1.0" if response.version == 10 else b"HTTP/1.1",
                "reason_phrase": response.reason.encode("ascii", "replace"),
            },
        )

    def _drop(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._connection = self._origin = None

    def close(self) -> None:
        self._drop()


def _set_timeout(connection: http.client.HTTPConnection, timeout: float | None) -> None:
    if connection.sock is not None:
        connection.sock.settimeout(timeout)


def _stale(connection: http.client.HTTPConnection) -> bool:
    """Whether a kept-alive connection was closed by the server (or has stray bytes):
    a readable idle socket. httpcore checks the same before reusing one."""
    sock = connection.sock
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)
