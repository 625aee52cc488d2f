"""The one error tree of the couchctl client.

    CouchError
    ├── InvalidArgument (ValueError)   bad input refused before any request
    ├── TransportError                 the server could not be reached
    │   ├── ConnectionFailed           refused, reset, DNS, TLS
    │   └── RequestTimeout             connect, read or write timed out
    ├── ProtocolError                  the server answered something unreadable
    ├── IntegrityError                 an attachment's bytes do not match the server's digest
    └── HTTPError                      the server answered with a status >= 400
        ├── ClientError                4xx not listed below (400, 405, 413, 415, ...)
        │   └── BadRequest             400
        ├── AuthError
        │   ├── Unauthorized           401
        │   └── Forbidden              403
        ├── NotFound (KeyError)        404
        ├── ConflictError
        │   ├── Conflict               409
        │   └── PreconditionFailed     412
        └── ServerError                5xx (after retries)

`error_for_status` is the one place a status becomes a class.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthError",
    "BadRequest",
    "ClientError",
    "Conflict",
    "ConflictError",
    "ConnectionFailed",
    "CouchError",
    "Forbidden",
    "HTTPError",
    "IntegrityError",
    "InvalidArgument",
    "NotFound",
    "PreconditionFailed",
    "ProtocolError",
    "RequestTimeout",
    "ServerError",
    "TransportError",
    "Unauthorized",
    "error_for_status",
]


class CouchError(Exception):
    """Base of every error the client raises."""


class InvalidArgument(CouchError, ValueError):
    """An argument was refused before any request was sent."""


class TransportError(CouchError):
    """The request did not get an HTTP answer."""


class ConnectionFailed(TransportError):
    """Connection refused or reset, name not resolved, TLS failure."""


class RequestTimeout(TransportError):
    """The server did not answer in time."""


class ProtocolError(CouchError):
    """The server's answer could not be read (bad JSON, bad multipart)."""


class IntegrityError(CouchError):
    """Received bytes do not match the length or digest the server announced."""


class HTTPError(CouchError):
    """The server answered with an error status.

    `error` and `reason` are CouchDB's own fields from the JSON body (empty when the
    body had none, as for HEAD requests).
    """

    def __init__(
        self,
        status: int,
        error: str = "",
        reason: str = "",
        *,
        method: str = "",
        url: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.error = error
        self.reason = reason
        self.method = method
        self.url = url
        self.headers = headers or {}
        super().__init__(self.__str__())

    def __str__(self) -> str:
        from couchctl.config import mask_url

        detail = self.reason or self.error or "no reason given"
        what = f"{self.method} {mask_url(self.url)}".strip()
        return f"{what}: {self.status} {detail}" if what else f"{self.status} {detail}"


class ClientError(HTTPError):
    """A 4xx answer without a more specific class."""


class BadRequest(ClientError):
    """400 Bad Request."""


class AuthError(HTTPError):
    """401 or 403."""


class Unauthorized(AuthError):
    """401 Unauthorized: missing or wrong credentials."""


class Forbidden(AuthError):
    """403 Forbidden: authenticated but not allowed."""


class NotFound(HTTPError, KeyError):
    """404 Not Found."""

    def __str__(self) -> str:  # KeyError would quote the message
        return HTTPError.__str__(self)


class ConflictError(HTTPError):
    """409 or 412."""


class Conflict(ConflictError):
    """409 Conflict: the revision given is not the current one."""


class PreconditionFailed(ConflictError):
    """412 Precondition Failed (e.g. the database already exists)."""


class ServerError(HTTPError):
    """5xx: the server failed."""


_BY_STATUS: dict[int, type[HTTPError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    412: PreconditionFailed,
}


def error_for_status(
    status: int,
    body: Any = None,
    *,
    method: str = "",
    url: str = "",
    headers: dict[str, str] | None = None,
) -> HTTPError:
    """Build the error for an HTTP status and CouchDB's JSON error body."""
    error = reason = ""
    if isinstance(body, dict):
        error = str(body.get("error") or "")
        raw_reason = body.get("reason")
        reason = (
            raw_reason
            if isinstance(raw_reason, str)
            else ("" if raw_reason is None else str(raw_reason))
        )
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else ClientError
    return cls(status, error, reason, method=method, url=url, headers=headers)
