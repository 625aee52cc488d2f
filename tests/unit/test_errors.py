"""The error tree and the one function that maps a status to a class."""

from __future__ import annotations

import pytest

from couchctl.client import (
    AuthError,
    BadRequest,
    ClientError,
    Conflict,
    ConflictError,
    ConnectionFailed,
    CouchError,
    Forbidden,
    HTTPError,
    IntegrityError,
    InvalidArgument,
    NotFound,
    PreconditionFailed,
    ProtocolError,
    RequestTimeout,
    ServerError,
    TransportError,
    Unauthorized,
    error_for_status,
)
from tests.conftest import recorded


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequest),
        (401, Unauthorized),
        (403, Forbidden),
        (404, NotFound),
        (405, ClientError),
        (406, ClientError),
        (409, Conflict),
        (412, PreconditionFailed),
        (413, ClientError),
        (415, ClientError),
        (416, ClientError),
        (417, ClientError),
        (429, ClientError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (504, ServerError),
    ],
)
def test_status_to_class(status: int, cls: type[HTTPError]) -> None:
    error = error_for_status(status, {"error": "e", "reason": "r"})
    assert type(error) is cls
    assert error.status == status


@pytest.mark.parametrize(
    "name",
    [
        "007-all-dbs-wrong-password-401",
        "022-all-dbs-put-405",
        "023-unknown-underscore-path",
        "025-db-create-exists-412",
        "026-db-create-illegal-name-400",
        "050-db-compact-no-content-type-415",
        "054-revs-limit-put-bad",
        "063-doc-put-stale-rev-409",
        "280-user-ddoc-put-403",
        "285-lockout-403",
    ],
)
def test_recorded_error_bodies(name: str) -> None:
    exchange = recorded(name)
    response = exchange["response"]
    body = response["body_json"]
    error = error_for_status(
        response["status"],
        body,
        method=exchange["request"]["method"],
        url="http://h" + exchange["request"]["path"],
        headers=response["headers"],
    )
    assert error.error == body["error"]
    assert error.reason == str(body["reason"])
    assert str(error) == (
        f"{exchange['request']['method']} http://h{exchange['request']['path']}: "
        f"{response['status']} {body['reason']}"
    )


def test_hierarchy() -> None:
    assert issubclass(BadRequest, ClientError)
    assert issubclass(Unauthorized, AuthError) and issubclass(Forbidden, AuthError)
    assert issubclass(Conflict, ConflictError) and issubclass(PreconditionFailed, ConflictError)
    assert issubclass(NotFound, KeyError)
    assert issubclass(InvalidArgument, ValueError)
    assert issubclass(ConnectionFailed, TransportError) and issubclass(
        RequestTimeout, TransportError
    )
    for cls in (HTTPError, TransportError, ProtocolError, IntegrityError, InvalidArgument):
        assert issubclass(cls, CouchError)


def test_messages() -> None:
    assert str(error_for_status(404)) == "404 no reason given"
    assert str(error_for_status(404, {"error": "not_found"})) == "404 not_found"
    # KeyError would put quotes around the message
    assert str(NotFound(404, "not_found", "missing", method="GET", url="http://h/db")) == (
        "GET http://h/db: 404 missing"
    )
    odd = error_for_status(500, {"error": "unknown_error", "reason": ["a", 1]})
    assert odd.reason == "['a', 1]"
    assert error_for_status(400, "not a dict").reason == ""
