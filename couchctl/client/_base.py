"""The transport core: one httpx.AsyncClient, auth, retries, errors, streaming.

Every operation module (`_server`, `_databases`, ...) is a mixin over
`BaseClient` and reaches the network only through `request`, `request_json`
and `stream`.

Long bodies (attachment downloads and uploads) may be sent `threaded`: through a
sync httpx.Client built from the very same options (auth, TLS context, timeouts,
headers; the async client's cookies go with each request), in a worker thread, so
that the body moves with no event-loop round trip per read (bench/README.md,
"Transfers"). The retries, the error mapping and the tracing are the same code
for both.

A `blocking` client sends every request on a sync transport, inline: its coroutines
never wait on an event loop, and `run_blocking` runs one on it without any. That is
for commands of a few short requests, whose start-up is most of their time: no
asyncio and no event loop to set up (bench/README.md, "Start-up"). On plain HTTP its
sync transport is `_plain.PlainTransport` (the standard library's http.client), which
spares the import of httpcore and h11.
"""

from __future__ import annotations

import contextlib
import json
import queue
import random
import socket
import ssl
import threading
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar
from urllib.parse import urlsplit

import anyio
import httpx

from couchctl.client._blockreads import BlockReads
from couchctl.client._errors import (
    ConnectionFailed,
    HTTPError,
    ProtocolError,
    RequestTimeout,
    error_for_status,
)
from couchctl.client._rows import BLOCK, RowParser, RowStream, blocks, sync_blocks

if TYPE_CHECKING:
    from couchctl.config import Settings

__all__ = [
    "BaseClient",
    "BeforeRetry",
    "Body",
    "Params",
    "SizedBody",
    "Stopper",
    "in_thread",
    "is_sync",
    "run_blocking",
]

T = TypeVar("T")

Params = Sequence[tuple[str, str]] | None


class SizedBody:
    """A request body made piece by piece as it is sent, whose length is known before:
    sent with that Content-Length (not chunked), each piece let go once written. For
    the async client (an async iterable only: httpx would take a sync one for a sync
    request)."""

    def __init__(self, pieces: Iterator[bytes], length: int) -> None:
        self.pieces = pieces
        self.length = length

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            yield piece


# A request body: bytes, or a factory of fresh bytes, a fresh SizedBody or a fresh
# async byte stream (called for every attempt, so that a retried request can send it
# again); a sync byte iterator only for a request sent `threaded`.
Body = bytes | Callable[[], bytes | SizedBody | AsyncIterator[bytes] | Iterator[bytes]] | None
Trace = Callable[[str], None]
# Called before a request is sent again (after the pause): may change what a body
# factory gives, e.g. leave out what the failed attempt already did.
BeforeRetry = Callable[[], Awaitable[None]]
# Told one line before each wait between attempts (the CLI shows it on stderr).
Notify = Callable[[str], None]


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


_UNSET: Any = _Unset()
JSON_NULL: Any = object()

RETRY_STATUSES = frozenset({429, 502, 503, 504})
# The default schedule: up to 6 retries, waits capped exponential from 0.5 s with
# jitter in [75 %, 100 %] of 0.5, 1, 2, 4, 5, 5 s: 13.1 to 17.5 s in all, so that a
# server restart of about 10 s is ridden out and a server that never comes back
# fails within about 18 s.
DEFAULT_RETRIES = 6
DEFAULT_BACKOFF = 0.5
DEFAULT_MAX_BACKOFF = 5.0
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Connecting (TCP and the TLS handshake) takes milliseconds on a network that
# works; a handshake with a plain-HTTP server never ends, so it is cut short.
CONNECT_TIMEOUT = 5.0
# How long an interrupted transfer in a worker thread is waited for, once its socket is
# shut down (it stops within one read or write; this bounds a thread that does not).
STOP_WAIT = 10.0
# Endpoints whose 202 is their ordinary answer (work queued), not a write quorum missed.
_QUEUED_202 = frozenset({"_compact", "_view_cleanup", "_replicate", "_sync_shards", "_reshard"})


def quorum_missed(request: httpx.Request, status: int) -> bool:
    """Whether a 202 answer means that fewer copies than the write quorum took a write.

    CouchDB answers a document, attachment, `_bulk_docs`, `_purge` or database write
    with 202 instead of 201/200 when fewer than `w` copies confirmed it. `batch=ok`
    writes are always 202 (not yet written anywhere), and some endpoints answer 202
    for queued work; neither says anything about the cluster.
    """
    if status != 202 or request.method not in ("PUT", "POST", "DELETE", "COPY"):
        return False
    if request.url.params.get("batch") == "ok":
        return False
    segments = request.url.path.split("/")
    return not any(segment in _QUEUED_202 for segment in segments)


_REDACTED_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "proxy-authorization"})


def _redact_headers(headers: httpx.Headers) -> str:
    lines = []
    for name, value in headers.multi_items():
        shown = "[redacted]" if name.lower() in _REDACTED_HEADERS else value
        lines.append(f"  {name}: {shown}")
    return "\n".join(lines)


class Stopper:
    """What stops a blocking transfer in a worker thread: `stopped`, which a body
    iterator checks between chunks, and the connection's socket, shut down so that
    a read or write blocked on it returns at once.

    The socket is the `network_stream` of a response (`watch`), or the one httpcore
    reports through the request's `trace` extension when it connects (`trace`)."""

    def __init__(self) -> None:
        self.stopped = threading.Event()
        self._streams: list[Any] = []

    def trace(self, event: str, info: dict[str, Any]) -> None:
        if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            self.watch(info.get("return_value"))

    def watch(self, stream: Any) -> None:
        if stream is not None:
            self._streams.append(stream)

    def stop(self) -> None:
        self.stopped.set()
        for stream in self._streams:
            try:
                sock = stream.get_extra_info("socket")
                if sock is not None:
                    # the plain socket's shutdown, under TLS too: it wakes the other thread
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except (OSError, AttributeError, TypeError):
                pass


async def in_thread(function: Callable[[], T], stopper: Stopper) -> T:
    """`function()` in a worker thread. When the caller is cancelled (Ctrl-C), the
    thread is told to stop (`stopper`) and waited for (at most STOP_WAIT s), so
    that nothing it uses (a socket, a file) is closed under it."""
    done = threading.Event()

    def work() -> T:
        try:
            return function()
        finally:
            done.set()

    try:
        return await anyio.to_thread.run_sync(work, abandon_on_cancel=True)
    except BaseException:
        if not done.is_set():
            stopper.stop()
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(done.wait, STOP_WAIT)
        raise


class StoppedRead(Exception):
    """A read in a worker thread told to stop (its caller was cancelled)."""


class _Failed:
    """A failure of a worker thread's read, handed to the reader to raise."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


_PAGES_END: Any = object()
# Pages of rows (a block's worth each, BLOCK bytes of body) a reading thread may hold
# ready before the reader takes them; after a page of LARGE_PAGE characters or more
# (large documents: a page holds whole rows), it waits until the reader is done with it.
PAGES_QUEUED = 4
LARGE_PAGE = 1 << 20


def is_sync(response: httpx.Response) -> bool:
    """Whether `response` came from the sync client (its body is read with `read`)."""
    return isinstance(response.stream, httpx.SyncByteStream)


async def _aread(response: httpx.Response) -> bytes:
    if is_sync(response):
        return await in_thread(response.read, Stopper())
    return await response.aread()


async def _aclose(response: httpx.Response) -> None:
    if is_sync(response):
        response.close()  # closing a socket does not block
    else:
        await response.aclose()


_DRAINED = httpx.ByteStream(b"")


def _unbind(response: httpx.Response) -> None:
    """httpx binds a response's stream to the response, a reference cycle that keeps
    the response, its request and the request's body alive until the next cyclic
    garbage collection. A read and closed response needs its stream no more: without
    the cycle, a `_bulk_docs` body is freed as soon as its answer has been read."""
    response.stream = _DRAINED


class _Inline(httpx.AsyncBaseTransport):
    """An async transport that sends on a sync one, in the calling thread, and reads
    the whole body there: a request through it completes without ever waiting."""

    def __init__(self, transport: httpx.BaseTransport) -> None:
        self._transport = transport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = self._transport.handle_request(request)
        try:
            raw = b"".join(response.iter_raw())  # still encoded: the client decodes it
        finally:
            response.close()
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_Body(raw),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        self._transport.close()


class _Body(httpx.AsyncByteStream):
    def __init__(self, data: bytes) -> None:
        self._data = data

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._data


def run_blocking(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run `main()` to its end without an event loop: what it awaits must never wait
    (a `blocking` client's requests). RuntimeError if it does."""
    coroutine = main()
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coroutine.close()
    raise RuntimeError("an operation run without an event loop waited for one")


class BaseClient:
    """Connection settings and the request machinery shared by every operation."""

    def __init__(
        self,
        url: str = "http://127.0.0.1:5984",
        *,
        user: str | None = None,
        password: str | None = None,
        token: str | None = None,
        session: bool = False,
        timeout: float | None = 30.0,
        cacert: str | None = None,
        insecure: bool = False,
        retries: int = DEFAULT_RETRIES,
        backoff: float = DEFAULT_BACKOFF,
        max_backoff: float = DEFAULT_MAX_BACKOFF,
        transport: httpx.AsyncBaseTransport | None = None,
        trace: Trace | None = None,
        notify: Notify | None = None,
        max_connections: int = 16,
        blocking: bool = False,
    ) -> None:
        parts = urlsplit(url)
        if parts.username is not None or parts.password is not None:
            from couchctl.config import _split_userinfo

            url, url_user, url_password = _split_userinfo(url)
            user = user if user is not None else url_user
            password = password if password is not None else url_password
        self.base_url = url.rstrip("/")
        self.user = user
        self._password = password
        self._token = token
        self._session_login = session and user is not None
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._trace = trace
        proxied = _proxy_configured()
        # Plain HTTP straight to the server: no TLS can happen, and a body's socket is
        # the server's.
        plain = urlsplit(self.base_url).scheme == "http" and not proxied
        # Long finite bodies (row ranges and streams) are then read in blocks, on a
        # connection of their own that ends with the body (`long_read`); the rate of
        # the last one starts the next.
        self._block_reads = plain
        self._long_read_rate: float | None = None
        # Writes that CouchDB accepted with fewer copies than the write quorum (202).
        self.quorum_missed = 0
        self._notify = notify

        verify: ssl.SSLContext | bool = True
        if insecure:
            verify = False
        elif cacert:
            verify = _ca_context(cacert)
        elif plain:
            # No TLS can happen (redirects are not followed, no proxy): skip loading
            # the CA bundle, which costs 30-90 ms of every command's start-up.
            verify = False
        else:
            # httpx's own default, built once here so that a second (sync) client
            # for long bodies shares it rather than loading the CA bundle again
            verify = httpx.create_ssl_context()
        auth: httpx.Auth | None = None
        if user is not None and password is not None and not self._session_login and not token:
            auth = httpx.BasicAuth(user, password)
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        hooks: dict[str, list[Callable[..., Any]]] = {}
        if trace is not None:
            hooks = {"request": [self._trace_request], "response": [self._trace_response]}
        # What both clients are made of: the async one and the sync one for long bodies.
        self._http_options: dict[str, Any] = {
            "auth": auth,
            "headers": headers,
            # A TLS handshake with a plain-HTTP server hangs: fail it promptly.
            "timeout": httpx.Timeout(
                timeout,
                connect=CONNECT_TIMEOUT if timeout is None else min(timeout, CONNECT_TIMEOUT),
            ),
            "verify": verify,
            "follow_redirects": False,
        }
        # Inline sync sending needs the default transport and no proxy (a proxy's
        # transport is httpx's async one).
        self.blocking = blocking and transport is None and not proxied
        if self.blocking and plain:
            from couchctl.client._plain import PlainTransport

            transport = _Inline(PlainTransport())
        elif self.blocking:
            transport = _Inline(httpx.HTTPTransport(verify=verify, limits=httpx.Limits()))
        self.http = httpx.AsyncClient(
            **self._http_options,
            transport=transport,
            event_hooks=hooks,
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
        )
        # A transport given by the caller (tests, embedding) has no sync twin: then
        # long bodies take the async client too.
        self._threads_allowed = transport is None and not self.blocking
        self._sync_http: httpx.Client | None = None

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> Self:
        return cls(
            settings.url,
            user=settings.user,
            password=settings.password,
            token=settings.token,
            timeout=settings.timeout,
            cacert=settings.cacert,
            insecure=settings.insecure,
            retries=settings.retries,
            **kwargs,
        )

    async def __aenter__(self) -> Self:
        if self._session_login and self.user is not None and self._password is not None:
            try:
                await self.session_login(self.user, self._password)
            except BaseException:
                await self.aclose()
                raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        try:
            await self.http.aclose()
        finally:
            if self._sync_http is not None:
                self._sync_http.close()
                self._sync_http = None

    def threaded_http(self) -> httpx.Client | None:
        """The sync client for long bodies (built on first use from the options of
        `self.http`), or None when there is none (a caller's own transport).

        Its connections are not kept alive: each long body has a fresh one, whose
        socket a `Stopper` can shut down."""
        if not self._threads_allowed:
            return None
        if self._sync_http is None:
            hooks: dict[str, list[Callable[..., Any]]] = {}
            if self._trace is not None:
                hooks = {
                    "request": [self._show_request],
                    "response": [self._show_response],
                }
            self._sync_http = httpx.Client(
                **self._http_options,
                event_hooks=hooks,
                limits=httpx.Limits(max_keepalive_connections=0),
            )
        return self._sync_http

    # -- cookie session (POST/GET/DELETE /_session) --------------------------------

    async def session_login(self, user: str, password: str) -> Any:
        """Log in with a cookie session; later requests carry the AuthSession cookie."""
        return await self.request_json(
            "POST", "/_session", json={"name": user, "password": password}, retry=False
        )

    async def session_info(self) -> Any:
        """Who the server thinks we are (`GET /_session`)."""
        return await self.request_json("GET", "/_session")

    async def session_logout(self) -> Any:
        """End the cookie session (`DELETE /_session`)."""
        return await self.request_json("DELETE", "/_session")

    # -- tracing (--verbose) ---------------------------------------------------------

    def _show_request(self, request: httpx.Request) -> None:
        assert self._trace is not None
        self._trace(
            f"> {request.method} {_masked(request.url)}\n{_redact_headers(request.headers)}"
        )

    def _show_response(self, response: httpx.Response) -> None:
        assert self._trace is not None
        self._trace(
            f"< {response.status_code} {response.reason_phrase}\n"
            f"{_redact_headers(response.headers)}"
        )

    async def _trace_request(self, request: httpx.Request) -> None:
        self._show_request(request)

    async def _trace_response(self, response: httpx.Response) -> None:
        self._show_response(response)

    # -- requests --------------------------------------------------------------------

    def url(self, path: str) -> str:
        """The absolute URL of an already-encoded path (which starts with `/`)."""
        return self.base_url + path

    async def _pause(self, seconds: float) -> None:
        """The wait between two attempts (in the calling thread when `blocking`)."""
        if self.blocking:
            time.sleep(seconds)  # noqa: ASYNC251 (no event loop to block)
        else:
            await anyio.sleep(seconds)

    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        if response is not None:
            after = response.headers.get("Retry-After")
            seconds = _retry_after(after) if after is not None else None
            if seconds is not None:
                return min(max(seconds, 0.0), self.max_backoff * 4)
        ceiling = min(self.max_backoff, self.backoff * (2**attempt))
        return random.uniform(ceiling * 0.75, ceiling)

    def _build(
        self,
        method: str,
        path: str,
        params: Params,
        json_body: Any,
        content: Body,
        headers: Mapping[str, str] | None,
        timeout: float | object | None,
    ) -> httpx.Request:
        body: Any = None
        hdrs = dict(headers or {})
        if json_body is not _UNSET:
            body = json.dumps(json_body, ensure_ascii=False, separators=(",", ":")).encode()
            hdrs.setdefault("Content-Type", "application/json")
        elif callable(content):
            body = content()
            if isinstance(body, SizedBody):
                hdrs["Content-Length"] = str(body.length)
        else:
            body = content
        extensions: dict[str, Any] = {}
        if timeout is not _UNSET:
            t = httpx.Timeout(timeout)  # type: ignore[arg-type]
            extensions["timeout"] = t.as_dict()
        return self.http.build_request(
            method,
            self.url(path),
            params=list(params) if params else None,
            content=body,
            headers=hdrs,
            extensions=extensions,
        )

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Params = None,
        json: Any = _UNSET,
        content: Body = None,
        headers: Mapping[str, str] | None = None,
        retry: bool | None = None,
        stream: bool = False,
        timeout: float | object | None = _UNSET,
        retry_unreachable: bool = False,
        before_retry: BeforeRetry | None = None,
        consume: Callable[[httpx.Response], Awaitable[None]] | None = None,
        threaded: Stopper | None = None,
        consume_sync: Callable[[httpx.Response], None] | None = None,
    ) -> httpx.Response:
        """Send with retries; return the response (body unread when `stream`; read by
        `consume`, when given, instead of into memory: a failure while it reads is
        retried like the request, so `consume` must start afresh each time).
        `consume_sync`: the same for a request sent `threaded`, called in the worker
        thread that sent it (the sync response; it should stop when `threaded.stopped`
        is set); `consume` still reads the body when there is no sync client.

        The one retry layer: a request that may be retried (`retry`, by default the
        safe methods) is sent up to `retries + 1` times on 429/502/503/504,
        connection resets and refused connections (a server restart), after a pause
        of exponential backoff with jitter, or the server's `Retry-After`; each pause
        is told to `notify`. `retry_unreachable` also retries any failure to connect
        and a timeout (for engines). `before_retry` runs before each resend.

        Raises the mapped HTTPError for statuses >= 400 (after reading the error body).

        `threaded` (a Stopper): sent by the sync client (`threaded_http`) in a worker
        thread, the body read there too unless `stream`; a body factory then gives
        bytes or a sync iterator, which should end when `threaded.stopped` is set
        (the caller was cancelled). The body of a `stream` is the caller's to read,
        in a worker thread (`iter_raw`, `read`). Without a sync client
        (`threaded_http()` is None) the async one sends the request: a caller that
        sends a body gives an async one then.
        """
        sync_http = self.threaded_http() if threaded is not None else None
        may_retry = (method in SAFE_METHODS) if retry is None else retry
        if content is not None and not callable(content) and not isinstance(content, bytes):
            may_retry = False
        attempts = self.retries + 1 if may_retry else 1
        for attempt in range(attempts):
            if attempt and before_retry is not None:
                await before_retry()
            request = self._build(method, path, params, json, content, headers, timeout)
            last = attempt == attempts - 1
            try:
                if sync_http is not None and threaded is not None:
                    response = await self._send_threaded(
                        sync_http, request, threaded, read=not stream, consume=consume_sync
                    )
                    read_in_thread = not stream and (consume is None or consume_sync is not None)
                else:
                    response = await self.http.send(request, stream=True)
                    read_in_thread = False
                if response.status_code in RETRY_STATUSES and not last:
                    await _aclose(response)
                    delay = self._delay(attempt, response)
                    why = f"server answered {response.status_code}"
                    self._note_retry(method, path, why, delay, attempt, attempts)
                    await self._pause(delay)
                    continue
                if response.status_code >= 400:
                    raise await self._error(response)
                if quorum_missed(request, response.status_code):
                    self.quorum_missed += 1
                if not stream and not read_in_thread:
                    try:
                        if consume is not None:
                            await consume(response)
                        else:
                            await _aread(response)
                    finally:
                        await _aclose(response)
                if not stream and response.is_closed:
                    _unbind(response)
                return response
            except httpx.TimeoutException as exc:
                if last or not retry_unreachable:
                    raise RequestTimeout(
                        f"{method} {_shown(request)}: timed out ({type(exc).__name__})"
                    ) from exc
                delay = self._delay(attempt, None)
                why = f"server did not answer in time ({type(exc).__name__})"
                self._note_retry(method, path, why, delay, attempt, attempts)
                await self._pause(delay)
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
                # A reset connection: the request may not have been processed, but
                # only a request that is safe to repeat is sent again.
                if last:
                    raise ConnectionFailed(
                        f"{method} {_shown(request)}: {_transport_reason(exc)}"
                    ) from exc
                delay = self._delay(attempt, None)
                why = f"server unreachable ({_transport_reason(exc)})"
                self._note_retry(method, path, why, delay, attempt, attempts)
                await self._pause(delay)
            except httpx.TransportError as exc:
                # Refused: nothing was sent, the server may be restarting, so every
                # request that may be retried waits for it; with `retry_unreachable`
                # (engines) any failure to connect does.
                reason = _transport_reason(exc)
                waits = isinstance(exc, httpx.ConnectError) and (
                    retry_unreachable or reason == "connection refused"
                )
                if last or not waits:
                    raise ConnectionFailed(f"{method} {_shown(request)}: {reason}") from exc
                delay = self._delay(attempt, None)
                self._note_retry(
                    method, path, f"server unreachable ({reason})", delay, attempt, attempts
                )
                await self._pause(delay)
            except httpx.DecodingError as exc:
                raise ProtocolError(f"{method} {_shown(request)}: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _note_retry(
        self, method: str, path: str, why: str, delay: float, attempt: int, attempts: int
    ) -> None:
        """Say that we wait: `attempt` (0-based) failed, `attempts` in all."""
        line = f"{why}, retrying in {delay:.1f} s (attempt {attempt + 2} of {attempts})"
        if self._notify is not None:
            self._notify(line)
        elif self._trace is not None:
            self._trace(f"* {method} {path}: {line}")

    async def _send_threaded(
        self,
        sync_http: httpx.Client,
        request: httpx.Request,
        stopper: Stopper,
        *,
        read: bool,
        consume: Callable[[httpx.Response], None] | None = None,
    ) -> httpx.Response:
        """Send `request` with the sync client in a worker thread (and read the body
        when `read`, or give it to `consume` there, unless the status is >= 400);
        cancelled, the connection is shut down and the thread waited for."""
        request.extensions["trace"] = stopper.trace

        def send() -> httpx.Response:
            response = sync_http.send(request, stream=True)
            if (read or consume is not None) and response.status_code < 400:
                try:
                    if consume is not None:
                        consume(response)
                    else:
                        response.read()
                finally:
                    response.close()
            return response

        response = await in_thread(send, stopper)
        # what the sync client was told (a refreshed AuthSession) is the async one's too
        self.http.cookies.extract_cookies(response)
        return response

    async def _error(self, response: httpx.Response) -> HTTPError:
        try:
            raw = await _aread(response)
        except httpx.HTTPError:
            raw = b""
        finally:
            await _aclose(response)
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = {"reason": raw.decode("utf-8", "replace").strip()[:200]}
        request = response.request
        return error_for_status(
            response.status_code,
            body,
            method=request.method,
            url=str(request.url.copy_with(query=None)),
            headers=dict(response.headers),
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params = None,
        json: Any = None,
        content: Body = None,
        headers: Mapping[str, str] | None = None,
        retry: bool | None = None,
        timeout: float | object | None = None,
        retry_unreachable: bool = False,
        before_retry: BeforeRetry | None = None,
        threaded: Stopper | None = None,
    ) -> httpx.Response:
        """Send a request and read its whole body (a failure while reading it is
        retried like the request). `json=None` sends no body; pass `json=JSON_NULL`
        for a literal null. See `_send` for `retry`, `retry_unreachable`,
        `before_retry` and `threaded`."""
        return await self._send(
            method,
            path,
            params=params,
            json=_body_arg(json),
            content=content,
            headers=headers,
            retry=retry,
            timeout=_UNSET if timeout is None else timeout,
            retry_unreachable=retry_unreachable,
            before_retry=before_retry,
            threaded=threaded,
        )

    async def request_json(
        self,
        method: str,
        path: str,
        *,
        params: Params = None,
        json: Any = None,
        content: Body = None,
        headers: Mapping[str, str] | None = None,
        retry: bool | None = None,
        timeout: float | object | None = None,
        retry_unreachable: bool = False,
        before_retry: BeforeRetry | None = None,
        threaded: Stopper | None = None,
    ) -> Any:
        """Send a request and return its body parsed as JSON."""
        response = await self.request(
            method,
            path,
            params=params,
            json=json,
            content=content,
            headers=headers,
            retry=retry,
            timeout=timeout,
            retry_unreachable=retry_unreachable,
            before_retry=before_retry,
            threaded=threaded,
        )
        return parse_json(response)

    def long_read(self, headers: Mapping[str, str] | None = None) -> dict[str, str]:
        """The headers of a request with a long finite body (not a continuous feed):
        `Connection: close` where the body can be read in blocks (plain HTTP), so that
        its end is the connection's (`pieces`)."""
        extra = {"Connection": "close"} if self._block_reads else {}
        return {**(headers or {}), **extra}

    def _block_reads_of(self, response: httpx.Response) -> BlockReads | None:
        """BlockReads for the body of `response` when the kernel knows where it ends:
        a request sent with `long_read` headers (the connection ends with it), or a
        body of known length; over plain HTTP only."""
        length = response.headers.get("Content-Length")
        known = int(length) if length and length.isdigit() else None
        ends_with_connection = response.request.headers.get("Connection", "").lower() == "close"
        if not self._block_reads or (known is None and not ends_with_connection):
            return None
        network = response.extensions.get("network_stream")
        return BlockReads.of(network, known, rate=self._long_read_rate)

    async def pieces(self, response: httpx.Response) -> AsyncIterator[bytes]:
        """The body of `response`, decoded, as it arrives; in blocks (BlockReads) when
        its end is known to the kernel: a request sent with `long_read` headers (the
        connection ends with it), or a body of known length. Not for a continuous
        feed, whose changes must be handed on as they come."""
        reads = self._block_reads_of(response)
        if reads is None:
            async for piece in response.aiter_bytes():
                yield piece
            return
        received = 0
        try:
            async for piece in response.aiter_bytes():
                received += len(piece)
                reads.next(received)
                yield piece
        finally:
            if reads.rate is not None:
                self._long_read_rate = reads.rate

    async def request_rows(
        self,
        method: str,
        path: str,
        *,
        array_key: str = "rows",
        raw: bool = False,
        params: Params = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        retry: bool | None = None,
        retry_unreachable: bool = False,
    ) -> tuple[list[Any], dict[str, Any]]:
        """The rows and the other members (`meta`) of a bounded row response, read
        whole as it arrives (only the rows are kept) and retried as a whole, a
        failure in the middle of the body included. Rows as JSON text with `raw`.

        The body is read and parsed by the sync client in a worker thread where there
        is one (`threaded_http`): no event-loop round trip per HTTP chunk of the body
        (CouchDB sends rows a few at a time), and the parsing is off the event loop.
        Cancelled, the connection is shut down and the thread waited for."""
        got: list[tuple[list[Any], dict[str, Any]]] = []

        async def read(response: httpx.Response) -> None:
            got.clear()
            parser = RowParser(array_key, raw=raw)
            rows: list[Any] = []
            async for block in blocks(self.pieces(response), BLOCK):
                rows += parser.feed(block)
            rows += parser.close()
            got.append((rows, parser.meta))

        stopper = Stopper() if self.threaded_http() is not None else None

        def read_sync(response: httpx.Response) -> None:
            assert stopper is not None
            got.clear()
            parser = RowParser(array_key, raw=raw)
            rows: list[Any] = []
            for block in sync_blocks(self._pieces_sync(response, stopper), BLOCK):
                rows += parser.feed(block)
            rows += parser.close()
            got.append((rows, parser.meta))

        await self._send(
            method,
            path,
            params=params,
            json=_body_arg(json),
            headers=self.long_read(headers),
            retry=retry,
            retry_unreachable=retry_unreachable,
            consume=read,
            threaded=stopper,
            consume_sync=read_sync,
        )
        return got[0]

    async def pages_threaded(
        self, response: httpx.Response, stopper: Stopper, parser: RowParser
    ) -> AsyncGenerator[list[Any], None]:
        """The rows of a sync response (`is_sync`, sent with `threaded=stopper`), read
        and parsed in blocks by a worker thread and handed on a block's rows at a time
        through a bounded queue (PAGES_QUEUED pages, one after a LARGE_PAGE);
        `parser.meta` is complete at the end. A failure in the body (an httpx error)
        is raised here as it was there.
        Left early or cancelled, the thread is stopped (its socket shut down) and
        waited for, so the response can then be closed."""
        pages: queue.Queue[Any] = queue.Queue(PAGES_QUEUED)
        stopped = stopper.stopped

        def put(item: Any) -> None:
            while not stopped.is_set():
                try:
                    pages.put(item, timeout=0.1)
                    return
                except queue.Full:
                    pass
            raise StoppedRead("the read was stopped")

        def taken() -> None:
            """Wait until the reader is done with every page put (or the read is stopped)."""
            with pages.all_tasks_done:
                while pages.unfinished_tasks and not stopped.is_set():
                    pages.all_tasks_done.wait(0.1)

        def produce() -> None:
            outcome: Any = _PAGES_END
            try:
                for block in sync_blocks(self._pieces_sync(response, stopper), BLOCK):
                    if rows := parser.feed(block):
                        put(rows)
                        if sum(map(len, rows)) >= LARGE_PAGE:
                            # Rows of large documents: the next is read once the reader
                            # is done with these, not several ahead.
                            taken()
                if rows := parser.close():
                    put(rows)
            except BaseException as exc:  # handed to the reader, raised there
                outcome = _Failed(exc)
            try:
                put(outcome)
            except StoppedRead:
                # stopped: a reader waiting for a page must not wait on (a full
                # queue means that it is not waiting)
                with contextlib.suppress(queue.Full):
                    pages.put_nowait(outcome)

        thread = threading.Thread(target=produce, name="couchctl-rows", daemon=True)
        thread.start()
        try:
            while True:
                try:
                    item = pages.get_nowait()
                except queue.Empty:
                    item = await in_thread(pages.get, stopper)
                if item is _PAGES_END:
                    return
                if isinstance(item, _Failed):
                    raise item.error
                yield item
                pages.task_done()  # the reader is done with it (asks for the next)
        finally:
            if thread.is_alive():
                stopper.stop()
                with contextlib.suppress(queue.Empty):
                    while True:
                        pages.get_nowait()
                thread.join(STOP_WAIT)  # the socket is shut down: it ends at once

    def _pieces_sync(self, response: httpx.Response, stopper: Stopper) -> Iterator[bytes]:
        """`pieces` for a sync response, in the worker thread that reads it: the body,
        decoded, in blocks where the kernel knows its end; stops (StoppedRead) once
        `stopper` is told to."""
        stopper.watch(response.extensions.get("network_stream"))
        reads = self._block_reads_of(response)
        stopped = stopper.stopped
        received = 0
        try:
            for piece in response.iter_bytes():
                if stopped.is_set():
                    raise StoppedRead("the read was stopped")
                if reads is not None:
                    received += len(piece)
                    reads.next(received)
                yield piece
        finally:
            if reads is not None and reads.rate is not None:
                self._long_read_rate = reads.rate

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        path: str,
        *,
        params: Params = None,
        json: Any = None,
        content: Body = None,
        headers: Mapping[str, str] | None = None,
        retry: bool | None = None,
        timeout: float | object | None = None,
        retry_unreachable: bool = False,
        threaded: Stopper | None = None,
    ) -> AsyncIterator[httpx.Response]:
        """A response whose body is read by the caller (`aiter_bytes`, `aiter_raw`).
        Retried until its headers arrive; a failure in the body is the caller's.
        With `threaded`, see `_send`: the body of a sync response (`is_sync`) is read
        in a worker thread (`iter_raw`)."""
        response = await self._send(
            method,
            path,
            params=params,
            json=_body_arg(json),
            content=content,
            headers=headers,
            retry=retry,
            stream=True,
            timeout=_UNSET if timeout is None else timeout,
            retry_unreachable=retry_unreachable,
            threaded=threaded,
        )
        try:
            yield response
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise _read_error(exc, f"{method} {response.request.url}") from exc
        finally:
            await _aclose(response)

    async def iter_rows(
        self,
        method: str,
        path: str,
        *,
        array_key: str = "rows",
        params: Params = None,
        json: Any = None,
        retry: bool | None = None,
        meta: dict[str, Any] | None = None,
        timeout: float | object | None = None,
    ) -> AsyncIterator[Any]:
        """Stream the elements of a row response (`rows`, `docs`, `results`) in
        constant memory. The other top-level members are put into `meta`.

        For finite bodies (not a continuous feed): read in blocks (`pieces`), each
        row handed on at most ~50 ms after it arrived at the body's rate."""
        # One generator, no nested `async with self.stream(...)`: a consumer that
        # stops early (an error, `| head`) leaves this generator to the event loop's
        # finalizer, which must not find a second generator to close at the same time.
        response = await self._send(
            method,
            path,
            params=params,
            json=_body_arg(json),
            headers=self.long_read(),
            retry=retry,
            stream=True,
            timeout=_UNSET if timeout is None else timeout,
        )
        try:
            rows = RowStream(self.pieces(response), array_key)
            async for row in rows:
                yield row
            if meta is not None:
                meta.update(rows.meta)
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise _read_error(exc, f"{method} {path}", " while reading rows") from exc
        finally:
            await response.aclose()


def _ca_context(cacert: str) -> ssl.SSLContext:
    """A TLS context trusting the CA certificates in `cacert` (a PEM file)."""
    from couchctl.client._errors import InvalidArgument

    try:
        return ssl.create_default_context(cafile=cacert)
    except FileNotFoundError:
        # ssl's own error names no file ("file not found: None").
        raise InvalidArgument(f"CA certificate file not found: {cacert}") from None
    except IsADirectoryError:
        raise InvalidArgument(f"CA certificate file is a directory: {cacert}") from None
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
        raise InvalidArgument(f"cannot load CA certificates from {cacert}: {reason}") from None


def _proxy_configured() -> bool:
    import os

    names = ("http_proxy", "https_proxy", "all_proxy")
    return any(os.environ.get(n) or os.environ.get(n.upper()) for n in names)


def _read_error(exc: httpx.HTTPError, where: str, doing: str = "") -> Exception:
    """The client error for an httpx failure while a response body is read."""
    if isinstance(exc, httpx.TimeoutException):
        return RequestTimeout(f"{where}: timed out{doing}")
    if isinstance(exc, httpx.TransportError):
        return ConnectionFailed(f"{where}: {_transport_reason(exc)}")
    return ProtocolError(f"{where}: {exc}")


def _body_arg(json: Any) -> Any:
    """`json=` of the public methods as `_send` takes it: None is no body, JSON_NULL is null."""
    return _UNSET if json is None else (None if json is JSON_NULL else json)


def _masked(url: httpx.URL) -> str:
    from couchctl.config import mask_url

    return mask_url(str(url))


def _shown(request: httpx.Request) -> str:
    """The request URL as it may appear in a message (no query string, no password)."""
    from couchctl.config import mask_url

    return mask_url(str(request.url.copy_with(query=None)))


def _retry_after(value: str) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    try:
        return float(value)
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    import time

    return when.timestamp() - time.time()


def parse_json(response: httpx.Response) -> Any:
    """The body of `response` as JSON, or ProtocolError."""
    try:
        return json.loads(response.content)
    except ValueError as exc:
        raise ProtocolError(
            f"{response.request.method} {response.request.url.copy_with(query=None)}: "
            f"the server's answer is not JSON ({response.headers.get('content-type', 'no content type')})"
        ) from exc


def _causes(exc: BaseException) -> list[BaseException]:
    """`exc` and what caused it (httpx wraps httpcore, which wraps the OSError)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < 8:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _transport_reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    chain = _causes(exc)
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or any(
        "Connection refused" in str(e) or "Errno 111" in str(e) for e in chain
    ):
        return "connection refused"
    if any(isinstance(e, ConnectionResetError) for e in chain):
        return "connection reset by the server"
    import socket

    if any(isinstance(e, socket.gaierror) for e in chain) or (
        "Name or service not known" in text or "nodename" in text
    ):
        return f"cannot resolve the host ({text})"
    if any(isinstance(e, ssl.SSLError) for e in chain):
        return f"TLS failed ({text})"
    return text
