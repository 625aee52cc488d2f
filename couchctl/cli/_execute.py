"""Where a command's work runs, and the one place where exceptions become exit codes.

execute(options, out, operation)   enters the event loop once, opens one client,
                                   awaits `operation(couch, out)`, maps failures
                                   to a one-line error and an exit code.

Typer-free: the Typer commands (through `_run.run`) and the fast path (`_fast`)
run commands through here alike, so that both print the same and exit alike.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from couchctl.cli._context import BadInput, GlobalOptions
from couchctl.cli._exit import ExitCode

if TYPE_CHECKING:
    from couchctl.client import BaseClient, CoreClient, CouchClient
    from couchctl.render import Output

__all__ = [
    "STALE_REV_HINT",
    "CoreOperation",
    "Missing",
    "Operation",
    "PlainHTTPServer",
    "credentials_hint",
    "describe_error",
    "execute",
    "execute_core",
    "plain_http_probe",
    "quorum_warning",
    "report",
]

Operation = Callable[["CouchClient", "Output"], Awaitable[int | None]]
# An operation of server, database and document calls alone (`_reads`): it runs on a
# CouchClient, and on the fast path on a CoreClient, which loads fewer modules.
CoreOperation = Callable[["CoreClient", "Output"], Awaitable[int | None]]
Client = TypeVar("Client", bound="BaseClient")


def _typer_control(exc: BaseException) -> bool:
    """Whether `exc` is typer.Exit or typer.Abort (Typer's to handle). Without Typer
    loaded (the fast path), none can have been raised."""
    exceptions = sys.modules.get("typer.exceptions")
    return exceptions is not None and isinstance(exc, exceptions.Exit | exceptions.Abort)


class Missing(Exception):
    """Something a check found absent (a HEAD answered no): exit 4, `WHAT: missing`."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what}: missing")
        self.what = what


def _unwrap(exc: BaseException) -> BaseException:
    """The first meaningful error inside (nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup):
        inner = [e for e in exc.exceptions if not _is_cancel(e)] or list(exc.exceptions)
        exc = inner[0]
    return exc


def _is_cancel(exc: BaseException) -> bool:
    import asyncio

    return isinstance(exc, asyncio.CancelledError)


STALE_REV_HINT = "the revision is not the current one: fetch the document again (couchctl doc get)"


def describe_error(
    exc: BaseException,
    url: str = "",
    *,
    url_source: str = "",
    conflict_hint: str | None = None,
    credentials: str | None = None,
) -> tuple[ExitCode, str, str | None]:
    """Exit code, message and hint for a failure.

    `url_source` names where the URL came from (--url, COUCH_URL, a profile in a
    file); `conflict_hint` is the command's own reading of a 409, which depends on
    what it sent (no --rev onto an existing document, a stale --rev, ...);
    `credentials` names where the user, password and token came from (for a 401)."""
    from couchctl.client import (
        AuthError,
        ConflictError,
        CouchError,
        HTTPError,
        IntegrityError,
        InvalidArgument,
        NotFound,
        ProtocolError,
        ServerError,
        TransportError,
    )
    from couchctl.config import ConfigError

    exc = _unwrap(exc)
    if isinstance(exc, KeyboardInterrupt):
        return ExitCode.INTERRUPTED, "interrupted", None
    if isinstance(exc, BadInput):
        return ExitCode.USAGE, str(exc), exc.hint
    if isinstance(exc, Missing):
        return ExitCode.NOT_FOUND, str(exc), None
    if isinstance(exc, ConfigError):
        return ExitCode.USAGE, str(exc), exc.hint
    if isinstance(exc, InvalidArgument):
        return ExitCode.USAGE, str(exc), None
    if isinstance(exc, TransportError | PlainHTTPServer):
        where = f" at {url}" if url else ""
        named = _name_source(url_source)
        unreachable = f"check that CouchDB is running and that {named} points to it"
        if isinstance(exc, PlainHTTPServer):
            return (
                ExitCode.UNREACHABLE,
                f"cannot reach the server{where}: TLS handshake failed: "
                "the server answers plain HTTP, not TLS",
                f"use {exc.plain_url} ({named} says https://)",
            )
        if _certificate_failure(exc):
            unreachable = (
                "the server's certificate is not trusted: give the CA certificate that "
                "signed it with --cacert FILE (or cacert in the profile)"
            )
        return (
            ExitCode.UNREACHABLE,
            f"cannot reach the server{where}: {_transport_detail(exc)}",
            unreachable,
        )
    if isinstance(exc, HTTPError):
        what = getattr(exc, "what", "") or f"{exc.method} {_path_of(exc.url, url)}".strip()
        reason = exc.reason or exc.error or "no reason given"
        detail = f"{reason} ({exc.status} {exc.error})" if exc.error else f"{reason} ({exc.status})"
        message = f"{what}: {detail}" if what else detail
        if isinstance(exc, NotFound):
            return ExitCode.NOT_FOUND, message, _prefix_hint(exc.reason or "", url, url_source)
        if isinstance(exc, ConflictError):
            hint = None
            if exc.status == 409:
                hint = conflict_hint or STALE_REV_HINT
            return ExitCode.CONFLICT, message, hint
        if isinstance(exc, AuthError):
            hint = (
                (
                    credentials
                    or "check the user and password (--user, COUCHDB_USER, COUCHDB_PASSWORD) "
                    "or the token"
                )
                if exc.status == 401
                else "this user is not allowed to do that (server or database admin needed?)"
            )
            return ExitCode.AUTH, message, hint
        if isinstance(exc, ServerError):
            return ExitCode.SERVER, message, None
        return ExitCode.CLIENT, message, None
    if isinstance(exc, IntegrityError | ProtocolError | CouchError):
        return ExitCode.FAILURE, str(exc), None
    if isinstance(exc, FileNotFoundError):
        return ExitCode.USAGE, f"file not found: {exc.filename}", None
    if isinstance(exc, IsADirectoryError):
        return ExitCode.USAGE, f"is a directory: {exc.filename}", None
    if isinstance(exc, PermissionError):
        return ExitCode.USAGE, f"permission denied: {exc.filename}", None
    if isinstance(exc, BrokenPipeError):
        return ExitCode.FAILURE, "broken pipe", None
    return (
        ExitCode.FAILURE,
        f"unexpected {type(exc).__name__}: {exc}",
        "run again with --debug to see the traceback",
    )


def _certificate_failure(exc: BaseException) -> bool:
    """Whether a transport error was a failed verification of the server's certificate."""
    import ssl

    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        if isinstance(current, ssl.SSLCertVerificationError):
            return True
        seen.append(current)
        current = current.__cause__ or current.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(exc)


def _prefix_hint(reason: str, url: str, source: str) -> str | None:
    """A hint for a missing database when the server URL has a path prefix: CouchDB
    reads a wrong prefix as the name of a database."""
    from urllib.parse import urlsplit

    prefix = urlsplit(url).path.rstrip("/") if url else ""
    if not prefix or "database does not exist" not in reason.lower():
        return None
    return (
        f"the server URL has the path prefix {prefix} ({_name_source(source)}): "
        "is CouchDB served under it?"
    )


def _name_source(source: str) -> str:
    """How a hint names the setting that gave the URL."""
    if not source or source == "default":
        return "the URL (the default; set --url or COUCH_URL)"
    if source.startswith("default: "):  # a profile without a url
        return f"the URL (the {source}; set --url or the profile's url)"
    if source.startswith("profile "):
        return f"the url of {source}"
    return source


def _path_of(full: str, base: str) -> str:
    """The whole path of a request URL, the server URL's path prefix included (a
    wrong prefix is then in sight); the full URL when it is another server's."""
    from urllib.parse import urlsplit

    if base:
        scheme_host = base[: len(base) - len(urlsplit(base).path)] if urlsplit(base).path else base
        if full.startswith(scheme_host):
            return urlsplit(full).path or "/"
    return full


class PlainHTTPServer(Exception):
    """An https:// URL whose server speaks plain HTTP (found after a failed handshake)."""

    def __init__(self, url: str, plain_url: str) -> None:
        super().__init__(f"{url}: the server answers plain HTTP, not TLS")
        self.plain_url = plain_url


def _handshake_failure(exc: BaseException) -> bool:
    """Whether a transport failure happened in the TLS handshake (a timeout in it,
    or a protocol error: what a plain-HTTP server makes of a ClientHello)."""
    import ssl

    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        text = str(current)
        if "handshake" in text or "WRONG_VERSION_NUMBER" in text or "record layer" in text:
            return True
        if isinstance(current, ssl.SSLError) and not isinstance(
            current, ssl.SSLCertVerificationError
        ):
            return True
        seen.append(current)
        current = current.__cause__ or current.__context__
    return False


def plain_http_probe(url: str, timeout: float = 3.0) -> str | None:
    """The http:// URL of an https:// `url` whose server answers plain HTTP, else None."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return None
    port = parts.port or 443
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(b"GET / HTTP/1.0\r\nHost: " + parts.hostname.encode("idna") + b"\r\n\r\n")
            first = sock.recv(16)
    except (OSError, UnicodeError):
        return None
    if not first.startswith(b"HTTP/"):
        return None
    return "http://" + parts.netloc.rsplit("@", 1)[-1] + parts.path


def _transport_detail(exc: BaseException) -> str:
    text = str(exc)
    # "GET http://...: connection refused" -> "connection refused"
    if ": " in text and text.split(" ", 1)[0].isupper():
        return text.split(": ", 1)[1]
    return text


def report(
    exc: BaseException,
    out: Output,
    options: GlobalOptions,
    url: str = "",
    *,
    url_source: str = "",
    conflict_hint: str | None = None,
    credentials: str | None = None,
) -> int:
    """Print the one-line error (and traceback with --debug); return the exit code."""
    code, message, hint = describe_error(
        exc, url, url_source=url_source, conflict_hint=conflict_hint, credentials=credentials
    )
    if options.debug and code not in (ExitCode.INTERRUPTED,):
        import traceback

        traceback.print_exception(exc, file=out.stderr)
    out.error(message, hint)
    return int(code)


def execute(
    options: GlobalOptions,
    out: Output,
    operation: Operation,
    *,
    conflict_hint: str | None = None,
    blocking: bool = False,
) -> int:
    """Run `operation` on a client made from the global options; its exit code.

    `blocking`: on a blocking client without an event loop (`run_blocking`), for an
    operation of a few short requests that awaits nothing else."""
    return _execute(
        options, out, _couch_client, operation, conflict_hint=conflict_hint, blocking=blocking
    )


def execute_core(options: GlobalOptions, out: Output, operation: CoreOperation) -> int:
    """The fast path: `operation` on a blocking CoreClient (see `execute`)."""
    return _execute(options, out, _core_client, operation, blocking=True)


def _couch_client() -> type[CouchClient]:
    from couchctl.client import CouchClient

    return CouchClient


def _core_client() -> type[CoreClient]:
    from couchctl.client import CoreClient

    return CoreClient


def _execute(
    options: GlobalOptions,
    out: Output,
    client_class: Callable[[], type[Client]],
    operation: Callable[[Client, Output], Awaitable[int | None]],
    *,
    conflict_hint: str | None = None,
    blocking: bool = False,
) -> int:
    url = url_source = ""
    credentials: str | None = None
    try:
        settings = options.settings()
        url, url_source = settings.url, settings.url_source
        credentials = credentials_hint(settings)
        for warning in (*settings.warnings, *settings.send_warnings()):
            out.warn(warning)
        kind = client_class()

        async def main() -> int | None:
            trace = out.trace if options.verbose else None
            async with kind.from_settings(
                settings, trace=trace, notify=out.notice, blocking=blocking
            ) as couch:
                try:
                    return await operation(couch, out)
                finally:
                    if couch.quorum_missed:
                        out.warn(quorum_warning(couch.quorum_missed))

        if blocking:
            from couchctl.client import run_blocking

            return run_blocking(main) or 0
        import anyio

        return anyio.run(main) or 0
    except BaseException as exc:  # the one place errors become exit codes
        if isinstance(exc, SystemExit) or _typer_control(exc):
            raise
        if isinstance(_unwrap(exc), BrokenPipeError):
            # The reader went away (`| head`): stop quietly, like other tools.
            _silence_stdout(out)
            return int(ExitCode.FAILURE)
        with contextlib.suppress(BrokenPipeError, ValueError, OSError):
            out.flush()
        failure = _unwrap(exc)
        from couchctl.client import TransportError

        if isinstance(failure, TransportError) and _handshake_failure(failure):
            plain = plain_http_probe(url)
            if plain is not None:
                exc = PlainHTTPServer(url, plain)
        return report(
            exc,
            out,
            options,
            url,
            url_source=url_source,
            conflict_hint=conflict_hint,
            credentials=credentials,
        )


def credentials_hint(settings: Any) -> str:
    """What to check after a 401, naming where each credential came from."""
    if settings.token:
        return f"check the token (from {settings.source_of('token')})"
    if settings.user:
        said = f"check the user {settings.user} (from {settings.source_of('user')})"
        if settings.password is not None:
            return f"{said} and its password (from {settings.source_of('password')})"
        return f"{said}: no password was given (COUCHDB_PASSWORD, --password-file)"
    return "no credentials were given: set a user (--user, COUCHDB_USER) and a password"


def quorum_warning(count: int) -> str:
    """What a 202 answer to a write means on a cluster, said once per command."""
    writes = "a write" if count == 1 else f"{count} writes"
    return (
        f"CouchDB accepted {writes} with fewer copies than the write quorum (202 Accepted): "
        "the cluster may be degraded; see couchctl cluster status"
    )


def _silence_stdout(out: Output) -> None:
    """Point stdout at /dev/null so that the flush at exit does not fail again."""
    import os

    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.stdout.fileno())
        os.close(devnull)
