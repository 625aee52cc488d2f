"""What the client unit tests share: a client on pytest-httpx's mocked transport,
recorded CouchDB 3.4.3 answers, and checks of what went on the wire.

The `couch` fixture (a client on the mocked transport) is in tests/unit/conftest.py.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
from pytest_httpx import HTTPXMock

from tests.conftest import recorded, recorded_response

__all__ = [
    "BASE",
    "answer",
    "assert_exact_request",
    "assert_same_request",
    "no_request",
    "only_request",
    "recorded_request",
    "recorded_target",
    "request_bytes",
    "request_json",
    "response_json",
    "sent_json",
    "split_target",
    "target_of",
    "wire_target",
]

BASE = "http://couch.test:5984"


def answer(httpx_mock: HTTPXMock, name: str, url: str | None = None, **extra: Any) -> None:
    """Answer the next request (to `url`, when given) with the recorded response `name`."""
    kwargs = recorded_response(name)
    if url is not None:
        kwargs["url"] = url
    httpx_mock.add_response(**kwargs, **extra)


def only_request(httpx_mock: HTTPXMock) -> httpx.Request:
    """The one request that was sent (fails when there were more or none)."""
    requests = httpx_mock.get_requests()
    assert len(requests) == 1, [str(r.url) for r in requests]
    return requests[0]


def no_request(httpx_mock: HTTPXMock) -> None:
    assert httpx_mock.get_requests() == []


def wire_target(request: httpx.Request) -> str:
    """The request-target exactly as sent: path and query, percent-encoding kept."""
    return request.url.raw_path.decode("ascii")


def split_target(target: str) -> tuple[str, list[str]]:
    """A request-target as (path, sorted raw query items): encoding kept, order ignored."""
    path, _, raw_query = target.partition("?")
    return path, sorted(raw_query.split("&")) if raw_query else []


def target_of(request: httpx.Request) -> tuple[str, list[str]]:
    return split_target(wire_target(request))


def recorded_request(name: str) -> dict[str, Any]:
    """The request of the recorded exchange `name`."""
    request: dict[str, Any] = recorded(name)["request"]
    return request


def recorded_target(name: str) -> tuple[str, list[str]]:
    return split_target(recorded_request(name)["path"])


def response_json(name: str) -> Any:
    """The JSON body of the recorded response `name`."""
    return recorded(name)["response"]["body_json"]


def request_json(name: str) -> Any:
    """The JSON body of the recorded request `name`."""
    return recorded_request(name)["body_json"]


def request_bytes(name: str) -> bytes:
    """The exact body of the recorded request `name`."""
    request = recorded_request(name)
    if "body_base64" in request:
        return base64.b64decode(request["body_base64"])
    return str(request["body_text"]).encode()


def sent_json(request: httpx.Request) -> Any:
    """The JSON body of a sent request (which must say it is JSON)."""
    assert request.headers["Content-Type"] == "application/json"
    return json.loads(request.content)


def _assert_body(request: httpx.Request, sent: dict[str, Any]) -> None:
    if "body_json" in sent:
        assert sent_json(request) == sent["body_json"]
    else:
        assert request.content == b""


def assert_same_request(request: httpx.Request, name: str) -> None:
    """Method, path and query (exact encoding, any order) and JSON body as recorded."""
    sent = recorded_request(name)
    assert request.method == sent["method"]
    assert target_of(request) == split_target(sent["path"])
    _assert_body(request, sent)


def assert_exact_request(request: httpx.Request, name: str) -> None:
    """Method, request-target (query order included) and JSON body exactly as recorded."""
    sent = recorded_request(name)
    assert request.method == sent["method"]
    assert wire_target(request) == sent["path"]
    _assert_body(request, sent)
