"""Fixtures of the fault tests: the fault-injecting proxy in front of the test server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.conftest import Server
from tests.faults.proxy import FaultProxy

JSON = {"Accept": "application/json"}


def via(proxy: FaultProxy, server: Server, scheme: str = "http", host: str = "127.0.0.1") -> str:
    """The server's URL (credentials kept) with the proxy's address in its place."""
    parts = urlsplit(server.url)
    userinfo = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(scheme=scheme, netloc=f"{userinfo}{host}:{proxy.port}"))


@pytest.fixture
def proxy(server: Server) -> Iterator[FaultProxy]:
    """A fault proxy on a free loopback port, in front of the test server."""
    parts = urlsplit(server.url)
    started = FaultProxy(parts.hostname or "127.0.0.1", parts.port or 5984).start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def proxy_url(proxy: FaultProxy, server: Server) -> str:
    return via(proxy, server)


def direct(server: Server, method: str, path: str, **kwargs: Any) -> Any:
    """A request straight to the server (never through the proxy); the JSON answer."""
    response = httpx.request(method, f"{server.url}{path}", headers=JSON, timeout=60, **kwargs)
    assert response.status_code < 300, response.text
    return response.json()


def all_docs(server: Server, db: str) -> list[dict[str, Any]]:
    """Every document of `db`, read straight from the server."""
    rows = direct(server, "GET", f"/{db}/_all_docs", params={"include_docs": "true"})["rows"]
    return [row["doc"] for row in rows]


def put_docs(server: Server, db: str, docs: list[dict[str, Any]]) -> None:
    result = direct(server, "POST", f"/{db}/_bulk_docs", json={"docs": docs})
    assert all("ok" in r for r in result), result
