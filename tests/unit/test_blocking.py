"""A blocking client (`BaseClient(blocking=True)`) run by `run_blocking`: the same
requests, retries and errors as the async client, without an event loop."""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

from couchctl.client import ConnectionFailed, CouchClient, NotFound, run_blocking
from tests.conftest import recorded_response
from tests.unit._wire import BASE


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The pauses between attempts, recorded instead of slept."""
    delays: list[float] = []
    monkeypatch.setattr("couchctl.client._base.time.sleep", delays.append)
    return delays


def blocking_client(**options: Any) -> CouchClient:
    return CouchClient(
        BASE, user="admin", password="pw", retries=2, backoff=0.001, blocking=True, **options
    )


def run(couch: CouchClient, operation: Any) -> Any:
    async def main() -> Any:
        async with couch:
            return await operation(couch)

    return run_blocking(main)


def test_a_request_without_an_event_loop(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(**recorded_response("037-db-info"), url=f"{BASE}/corpus")
    couch = blocking_client()
    assert couch.blocking
    info = run(couch, lambda c: c.db_info("corpus"))
    assert info["db_name"] == "corpus"
    request = httpx_mock.get_request()
    assert request is not None
    assert request.headers["Authorization"].startswith("Basic ")
    assert request.headers["Accept"] == "application/json"


def test_no_event_loop_is_started(httpx_mock: HTTPXMock, monkeypatch: pytest.MonkeyPatch) -> None:
    """anyio.run is never called: the coroutine runs to its end in one step."""
    import anyio

    def no_loop(*args: object, **kwargs: object) -> None:
        raise AssertionError("an event loop was started")

    monkeypatch.setattr(anyio, "run", no_loop)
    httpx_mock.add_response(json={"couchdb": "Welcome"}, url=f"{BASE}/")
    assert run(blocking_client(), lambda c: c.server_info()) == {"couchdb": "Welcome"}


def test_retries_pause_in_the_thread(httpx_mock: HTTPXMock, sleeps: list[float]) -> None:
    httpx_mock.add_response(status_code=503, json={"error": "unavailable"})
    httpx_mock.add_response(status_code=503, json={"error": "unavailable"})
    httpx_mock.add_response(json={"db_name": "corpus"})
    assert run(blocking_client(), lambda c: c.db_info("corpus")) == {"db_name": "corpus"}
    assert len(httpx_mock.get_requests()) == 3
    assert len(sleeps) == 2 and all(delay > 0 for delay in sleeps)


def test_refused_connections_are_retried_then_fail(
    httpx_mock: HTTPXMock, sleeps: list[float]
) -> None:
    httpx_mock.add_exception(httpx.ConnectError("[Errno 111] Connection refused"), is_reusable=True)
    with pytest.raises(ConnectionFailed, match="connection refused"):
        run(blocking_client(), lambda c: c.db_info("corpus"))
    assert len(httpx_mock.get_requests()) == 3
    assert len(sleeps) == 2


def test_errors_are_mapped(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(**recorded_response("039-db-get-missing-404"))
    with pytest.raises(NotFound) as caught:
        run(blocking_client(), lambda c: c.db_info("missing"))
    assert caught.value.status == 404
    assert caught.value.reason == "Database does not exist."


def test_gzipped_body_is_decoded_once(httpx_mock: HTTPXMock) -> None:
    """The inline transport hands the body on still encoded; the client decodes it."""
    import gzip

    body = json.dumps({"db_name": "corpus"}).encode()
    httpx_mock.add_response(content=gzip.compress(body), headers={"Content-Encoding": "gzip"})
    assert run(blocking_client(), lambda c: c.db_info("corpus")) == {"db_name": "corpus"}


def test_db_list_fallback_one_at_a_time(httpx_mock: HTTPXMock) -> None:
    """A server without /_dbs_info: each database is asked for in turn (no task group)."""
    httpx_mock.add_response(url=f"{BASE}/_all_dbs", json=["a", "b"])
    httpx_mock.add_response(method="POST", url=f"{BASE}/_dbs_info", status_code=404, json={})
    httpx_mock.add_response(url=f"{BASE}/a", json={"db_name": "a"})
    httpx_mock.add_response(url=f"{BASE}/b", status_code=404, json={"error": "not_found"})
    entries = run(blocking_client(), lambda c: c.databases_info())
    assert entries == [{"key": "a", "info": {"db_name": "a"}}, {"key": "b", "error": "not_found"}]


def test_not_blocking_with_a_proxy_or_a_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy's transport and a caller's own transport are async: no inline sending."""
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    assert not blocking_client().blocking
    monkeypatch.delenv("HTTPS_PROXY")
    assert blocking_client().blocking
    assert not blocking_client(
        transport=httpx.MockTransport(lambda r: httpx.Response(200))
    ).blocking


def test_an_operation_that_waits_is_refused() -> None:
    class Wait:
        def __await__(self) -> Generator[None, None, None]:
            yield

    async def waits() -> int:
        await Wait()
        return 1

    with pytest.raises(RuntimeError, match="waited for"):
        run_blocking(waits)
