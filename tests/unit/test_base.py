"""BaseClient on the wire: paths, parameters, bodies, auth, errors, retries, tracing."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

from couchctl.client import (
    JSON_NULL,
    BadRequest,
    BaseClient,
    ClientError,
    Conflict,
    ConnectionFailed,
    Forbidden,
    NotFound,
    PreconditionFailed,
    ProtocolError,
    RequestTimeout,
    ServerError,
    Unauthorized,
    doc_path,
)
from couchctl.client._encoding import att_path, db_path, query
from tests.conftest import recorded, recorded_body, recorded_response
from tests.unit._wire import BASE, only_request, wire_target

pytestmark = pytest.mark.anyio

SECRET = "s3cr:et@pw"


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the backoff delays instead of sleeping."""
    delays: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        delays.append(seconds)

    monkeypatch.setattr("couchctl.client._base.anyio.sleep", fake_sleep)
    return delays


@pytest.fixture
async def couch() -> AsyncIterator[BaseClient]:
    async with BaseClient(BASE, retries=3, backoff=0.01) as client:
        yield client


# -- paths and parameters ---------------------------------------------------------

DOC_IDS = [
    ("a/b", "/db/a%2Fb"),
    ("a+b", "/db/a%2Bb"),
    ("what?", "/db/what%3F"),
    ("x#y", "/db/x%23y"),
    ("100%", "/db/100%25"),
    ("a b", "/db/a%20b"),
    ("é日", "/db/%C3%A9%E6%97%A5"),
    ("_design/dd", "/db/_design/dd"),
    ("_design/a/b", "/db/_design/a%2Fb"),
    ("_local/l 1", "/db/_local/l%201"),
    ("a/b c+d", "/db/a%2Fb%20c%2Bd"),
]


@pytest.mark.parametrize(("doc_id", "path"), DOC_IDS)
async def test_doc_ids_reach_the_wire_fully_encoded(
    httpx_mock: HTTPXMock, couch: BaseClient, doc_id: str, path: str
) -> None:
    httpx_mock.add_response(json={"_id": doc_id})
    assert await couch.request_json("GET", doc_path("db", doc_id)) == {"_id": doc_id}
    assert wire_target(only_request(httpx_mock)) == path


async def test_recorded_id_with_slash_space_plus(httpx_mock: HTTPXMock, couch: BaseClient) -> None:
    sent = recorded("119-doc-get-id-slash-space-plus")["request"]
    httpx_mock.add_response(**recorded_response("119-doc-get-id-slash-space-plus"))
    doc = await couch.request_json("GET", doc_path("corpus", "a/b c+d"))
    assert wire_target(only_request(httpx_mock)) == sent["path"]
    assert doc["_id"] == "a/b c+d"


async def test_db_and_attachment_names(httpx_mock: HTTPXMock, couch: BaseClient) -> None:
    httpx_mock.add_response(json={}, is_reusable=True)
    await couch.request("GET", db_path("corpus/sub"))
    await couch.request("GET", att_path("db", "doc", "dir/a b+c.txt"))
    paths = [wire_target(r) for r in httpx_mock.get_requests()]
    assert paths == ["/corpus%2Fsub", "/db/doc/dir%2Fa%20b%2Bc.txt"]


async def test_query_parameters(httpx_mock: HTTPXMock, couch: BaseClient) -> None:
    httpx_mock.add_response(json={"rows": []})
    params = query(
        {
            "include_docs": True,
            "descending": False,
            "limit": 5,
            "skip": None,
            "key": "a+b c",
            "start_key": ["x", {"y": 1}],
            "stale": None,
        },
        json_params=("key", "start_key"),
    )
    await couch.request("GET", "/db/_all_docs", params=params)
    request = httpx_mock.get_request()
    assert request is not None
    assert request.url.params.multi_items() == [
        ("include_docs", "true"),
        ("descending", "false"),
        ("limit", "5"),
        ("key", '"a+b c"'),
        ("start_key", '["x",{"y":1}]'),
    ]
    # A literal + in a JSON key must not become a space on the server.
    assert "%2B" in request.url.query.decode()
    assert "skip" not in request.url.query.decode()


async def test_no_params_means_no_query_string(httpx_mock: HTTPXMock, couch: BaseClient) -> None:
    httpx_mock.add_response(json={})
    await couch.request("GET", "/db", params=query({"a": None}))
    request = httpx_mock.get_request()
    assert request is not None
    assert request.url.query == b""


async def test_json_body(httpx_mock: HTTPXMock, couch: BaseClient) -> None:
    httpx_mock.add_response(status_code=201, json={"ok": True})
    await couch.request("POST", "/db", json={"_id": "é", "n": [1, True, None]})
    request = httpx_mock.get_request()
    assert request is not None
    assert request.headers["Content-Type"] == "application/json"
    assert request.content == '{"_id":"é","n":[1,true,null]}'.encode()
    assert request.headers["Accept"] == "application/json"


async def test_no_body_unless_given_and_json_null(httpx_mock: HTTPXMock, couch: BaseClient) -> None:
    httpx_mock.add_response(json={}, is_reusable=True)
    await couch.request("POST", "/db/_compact")
    await couch.request("PUT", "/db/_x", json=JSON_NULL)
    first, second = httpx_mock.get_requests()
    assert first.content == b""
    assert "Content-Type" not in first.headers
    assert second.content == b"null"


async def test_path_prefix(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={"couchdb": "Welcome"}, is_reusable=True)
    async with BaseClient("https://proxy.test/couch/") as client:
        await client.request("GET", "/")
        await client.request("GET", doc_path("db", "a/b"))
    assert [str(r.url) for r in httpx_mock.get_requests()] == [
        "https://proxy.test/couch/",
        "https://proxy.test/couch/db/a%2Fb",
    ]


async def test_per_request_timeout(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={}, is_reusable=True)
    async with BaseClient(BASE, timeout=7) as client:
        await client.request("GET", "/")
        await client.request("GET", "/", timeout=1.5)
    default, short = httpx_mock.get_requests()
    assert default.extensions["timeout"]["read"] == 7
    assert short.extensions["timeout"]["read"] == 1.5


# -- errors -----------------------------------------------------------------------

ERRORS: list[tuple[str, str, str, type[Exception], int]] = [
    ("026-db-create-illegal-name-400", "PUT", "/Bad", BadRequest, 400),
    ("007-all-dbs-wrong-password-401", "GET", "/_all_dbs", Unauthorized, 401),
    ("280-user-ddoc-put-403", "PUT", "/corpus/_design/x", Forbidden, 403),
    ("023-unknown-underscore-path", "GET", "/_nonexistent", NotFound, 404),
    ("022-all-dbs-put-405", "PUT", "/_all_dbs", ClientError, 405),
    ("063-doc-put-stale-rev-409", "PUT", "/corpus/doc-1", Conflict, 409),
    ("025-db-create-exists-412", "PUT", "/corpus", PreconditionFailed, 412),
    ("050-db-compact-no-content-type-415", "POST", "/corpus/_compact", ClientError, 415),
    ("054-revs-limit-put-bad", "PUT", "/corpus/_revs_limit", ServerError, 500),
]


@pytest.mark.parametrize(("name", "method", "path", "cls", "status"), ERRORS)
async def test_error_statuses_map_to_classes(
    httpx_mock: HTTPXMock,
    couch: BaseClient,
    name: str,
    method: str,
    path: str,
    cls: type[Exception],
    status: int,
) -> None:
    httpx_mock.add_response(**recorded_response(name))
    with pytest.raises(cls) as info:
        await couch.request(method, path, params=[("q", "1")])
    exc = info.value
    body = recorded(name)["response"]["body_json"]
    assert exc.status == status  # type: ignore[attr-defined]
    assert exc.error == body["error"]  # type: ignore[attr-defined]
    assert exc.reason == str(body["reason"])  # type: ignore[attr-defined]
    assert exc.method == method  # type: ignore[attr-defined]
    assert exc.url == BASE + path  # type: ignore[attr-defined]  # no query string
    assert len(httpx_mock.get_requests()) == 1  # 4xx and 500 are never retried


async def test_413_is_a_client_error(httpx_mock: HTTPXMock, couch: BaseClient) -> None:
    httpx_mock.add_response(
        status_code=413, json={"error": "too_large", "reason": "the request entity is too large"}
    )
    with pytest.raises(ClientError) as info:
        await couch.request("PUT", "/db/doc", json={})
    assert info.value.status == 413
    assert type(info.value) is ClientError


async def test_405_keeps_the_allow_header(httpx_mock: HTTPXMock, couch: BaseClient) -> None:
    httpx_mock.add_response(**recorded_response("022-all-dbs-put-405"))
    with pytest.raises(ClientError) as info:
        await couch.request("PUT", "/_all_dbs")
    assert info.value.headers["allow"] == "GET,HEAD"


async def test_head_404_without_body(httpx_mock: HTTPXMock, couch: BaseClient) -> None:
    httpx_mock.add_response(**recorded_response("036-db-head-missing-404"))
    with pytest.raises(NotFound) as info:
        await couch.request("HEAD", "/missing")
    assert info.value.reason == ""
    assert "404" in str(info.value)
    assert isinstance(info.value, KeyError)


async def test_non_json_error_body(httpx_mock: HTTPXMock, sleeps: list[float]) -> None:
    httpx_mock.add_response(status_code=502, text="<html>Bad Gateway</html>", is_reusable=True)
    async with BaseClient(BASE, retries=1) as client:
        with pytest.raises(ServerError) as info:
            await client.request("GET", "/")
    assert info.value.reason == "<html>Bad Gateway</html>"
    assert len(httpx_mock.get_requests()) == 2


async def test_answer_that_is_not_json(httpx_mock: HTTPXMock, couch: BaseClient) -> None:
    httpx_mock.add_response(text="hello", headers={"Content-Type": "text/plain"})
    with pytest.raises(ProtocolError, match="not JSON"):
        await couch.request_json("GET", "/")


async def test_connection_refused(
    httpx_mock: HTTPXMock, couch: BaseClient, sleeps: list[float]
) -> None:
    httpx_mock.add_exception(httpx.ConnectError("[Errno 111] Connection refused"), is_reusable=True)
    with pytest.raises(ConnectionFailed, match="connection refused"):
        await couch.request("GET", "/")
    # The server may be restarting: a read waits for it, the retries of its schedule.
    assert len(httpx_mock.get_requests()) == 4
    assert len(sleeps) == 3


async def test_connection_refused_post_is_not_retried(
    httpx_mock: HTTPXMock, couch: BaseClient
) -> None:
    httpx_mock.add_exception(httpx.ConnectError("[Errno 111] Connection refused"))
    with pytest.raises(ConnectionFailed, match="connection refused"):
        await couch.request("POST", "/db", json={})
    assert len(httpx_mock.get_requests()) == 1


async def test_timeout(httpx_mock: HTTPXMock, couch: BaseClient) -> None:
    httpx_mock.add_exception(httpx.ReadTimeout("timed out"))
    with pytest.raises(RequestTimeout, match="timed out"):
        await couch.request("GET", "/")


# -- retries ----------------------------------------------------------------------


async def test_429_honours_retry_after(
    httpx_mock: HTTPXMock, couch: BaseClient, sleeps: list[float]
) -> None:
    httpx_mock.add_response(status_code=429, headers={"Retry-After": "2"}, json={})
    httpx_mock.add_response(json={"ok": True})
    assert await couch.request_json("GET", "/db") == {"ok": True}
    assert sleeps == [2.0]
    assert len(httpx_mock.get_requests()) == 2


async def test_retry_after_http_date(couch: BaseClient) -> None:
    from email.utils import formatdate
    from time import time

    response = httpx.Response(503, headers={"Retry-After": formatdate(time() + 3, usegmt=True)})
    assert 1.0 < couch._delay(0, response) <= 3.0
    response = httpx.Response(503, headers={"Retry-After": "soon"})
    assert couch._delay(0, response) <= couch.backoff


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    client = BaseClient(BASE, backoff=0.5, max_backoff=4)
    for attempt, ceiling in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (8, 4.0)]:
        delays = [client._delay(attempt, None) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
    huge = httpx.Response(503, headers={"Retry-After": "99999"})
    assert client._delay(0, huge) == 16.0


async def test_503_then_200(httpx_mock: HTTPXMock, couch: BaseClient, sleeps: list[float]) -> None:
    httpx_mock.add_response(status_code=503, json={"error": "unavailable"})
    httpx_mock.add_response(json={"ok": True})
    assert await couch.request_json("GET", "/_up") == {"ok": True}
    assert len(sleeps) == 1


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ReadError("Connection reset by peer"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
    ],
)
async def test_connection_reset_then_200_for_get(
    httpx_mock: HTTPXMock, couch: BaseClient, sleeps: list[float], exc: Exception
) -> None:
    httpx_mock.add_exception(exc)
    httpx_mock.add_response(json={"ok": True})
    assert await couch.request_json("GET", "/db") == {"ok": True}
    assert len(httpx_mock.get_requests()) == 2


async def test_retries_give_up(httpx_mock: HTTPXMock, sleeps: list[float]) -> None:
    httpx_mock.add_response(
        status_code=503, json={"error": "x", "reason": "busy"}, is_reusable=True
    )
    async with BaseClient(BASE, retries=2) as client:
        with pytest.raises(ServerError, match="busy"):
            await client.request("GET", "/db")
    assert len(httpx_mock.get_requests()) == 3
    assert len(sleeps) == 2


async def test_post_is_not_retried(
    httpx_mock: HTTPXMock, couch: BaseClient, sleeps: list[float]
) -> None:
    httpx_mock.add_response(status_code=503, json={"error": "x"})
    with pytest.raises(ServerError):
        await couch.request("POST", "/db", json={"a": 1})
    assert len(httpx_mock.get_requests()) == 1
    assert sleeps == []


async def test_post_reset_is_not_retried(
    httpx_mock: HTTPXMock, couch: BaseClient, sleeps: list[float]
) -> None:
    httpx_mock.add_exception(httpx.ReadError("Connection reset by peer"))
    with pytest.raises(ConnectionFailed):
        await couch.request("POST", "/db", json={"a": 1})
    assert len(httpx_mock.get_requests()) == 1


async def test_post_retried_when_asked(
    httpx_mock: HTTPXMock, couch: BaseClient, sleeps: list[float]
) -> None:
    httpx_mock.add_response(status_code=503, json={"error": "x"})
    httpx_mock.add_exception(httpx.ReadError("reset"))
    httpx_mock.add_response(status_code=201, json=[{"ok": True}])
    result = await couch.request_json("POST", "/db/_bulk_docs", json={"docs": [{}]}, retry=True)
    assert result == [{"ok": True}]
    bodies = [r.content for r in httpx_mock.get_requests()]
    assert bodies == [b'{"docs":[{}]}'] * 3


async def test_streamed_body_is_sent_fresh_on_each_attempt(
    httpx_mock: HTTPXMock, couch: BaseClient, sleeps: list[float]
) -> None:
    httpx_mock.add_response(status_code=503, json={})
    httpx_mock.add_response(status_code=201, json={"ok": True})

    def body() -> AsyncIterator[bytes]:
        async def gen() -> AsyncIterator[bytes]:
            yield b"hello "
            yield b"world"

        return gen()

    await couch.request("PUT", "/db/doc/att", content=body, retry=True)
    assert [r.content for r in httpx_mock.get_requests()] == [b"hello world"] * 2


async def test_401_is_never_retried(
    httpx_mock: HTTPXMock, couch: BaseClient, sleeps: list[float]
) -> None:
    httpx_mock.add_response(**recorded_response("007-all-dbs-wrong-password-401"))
    with pytest.raises(Unauthorized):
        await couch.request("GET", "/_all_dbs", retry=True)
    assert len(httpx_mock.get_requests()) == 1


# -- auth -------------------------------------------------------------------------


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def test_anonymous(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={})
    async with BaseClient(BASE) as client:
        await client.request("GET", "/")
    assert "Authorization" not in httpx_mock.get_request().headers  # type: ignore[union-attr]


async def test_basic_from_user_and_password(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={})
    async with BaseClient(BASE, user="admin", password=SECRET) as client:
        await client.request("GET", "/")
    request = httpx_mock.get_request()
    assert request is not None
    assert request.headers["Authorization"] == basic("admin", SECRET)


async def test_basic_from_url_userinfo(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={})
    async with BaseClient("http://ad%40min:s3cr%3Aet%40pw@couch.test:5984/pre") as client:
        assert client.base_url == "http://couch.test:5984/pre"
        await client.request("GET", "/db")
    request = httpx_mock.get_request()
    assert request is not None
    assert request.headers["Authorization"] == basic("ad@min", SECRET)
    assert str(request.url) == "http://couch.test:5984/pre/db"


async def test_bearer_token(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={})
    async with BaseClient(BASE, token="eyJ.abc.def") as client:
        await client.request("GET", "/_session")
    request = httpx_mock.get_request()
    assert request is not None
    assert request.headers["Authorization"] == "Bearer eyJ.abc.def"


async def test_cookie_session(httpx_mock: HTTPXMock) -> None:
    login = recorded_response("016-session-post-json")
    login["headers"]["Set-Cookie"] = login["headers"]["Set-Cookie"].replace(
        "AuthSession=REDACTED", "AuthSession=YWRtaW46NjVBQjE"
    )
    httpx_mock.add_response(method="POST", url=BASE + "/_session", **login)
    httpx_mock.add_response(
        method="GET", url=BASE + "/_all_dbs", **recorded_response("018-all-dbs-cookie")
    )
    async with BaseClient(BASE, user="admin", password=SECRET, session=True) as client:
        assert (
            await client.request_json("GET", "/_all_dbs")
            == recorded("018-all-dbs-cookie")["response"]["body_json"]
        )
    post, get = httpx_mock.get_requests()
    assert json.loads(post.content) == {"name": "admin", "password": SECRET}
    assert post.headers["Content-Type"] == "application/json"
    assert "Authorization" not in post.headers
    assert get.headers["Cookie"] == "AuthSession=YWRtaW46NjVBQjE"
    assert "Authorization" not in get.headers


async def test_cookie_session_wrong_password(httpx_mock: HTTPXMock, sleeps: list[float]) -> None:
    httpx_mock.add_response(**recorded_response("019-session-post-wrong-password-401"))
    client = BaseClient(BASE, user="admin", password="wrong-pw", session=True)
    with pytest.raises(Unauthorized):
        async with client:
            pass  # pragma: no cover
    assert client.http.is_closed
    assert len(httpx_mock.get_requests()) == 1


# -- tracing ----------------------------------------------------------------------


async def test_trace_redacts_credentials(httpx_mock: HTTPXMock) -> None:
    lines: list[str] = []
    httpx_mock.add_response(
        json={"ok": True}, headers={"Set-Cookie": "AuthSession=abc; Path=/"}, is_reusable=True
    )
    async with BaseClient(f"http://admin:{SECRET}@couch.test:5984", trace=lines.append) as client:
        await client.request("GET", "/db", params=[("limit", "1")])
        await client.request("GET", "/db")  # now with the Cookie too
    async with BaseClient(BASE, token="tok-123", trace=lines.append) as client:
        await client.request("GET", "/")
    text = "\n".join(lines)
    assert "> GET http://couch.test:5984/db?limit=1" in text
    assert "< 200 OK" in text
    assert "authorization: [redacted]" in text
    assert "cookie: [redacted]" in text
    assert "set-cookie: [redacted]" in text
    for secret in (SECRET, "admin:", "abc", "tok-123", basic("admin", SECRET)[6:]):
        assert secret not in text


# -- streaming ----------------------------------------------------------------------


async def test_iter_rows_streams_recorded_rows(httpx_mock: HTTPXMock, couch: BaseClient) -> None:
    httpx_mock.add_response(**recorded_response("214-all-docs"))
    meta: dict[str, Any] = {}
    rows = [r async for r in couch.iter_rows("GET", "/corpus/_all_docs", meta=meta)]
    body = recorded("214-all-docs")["response"]["body_json"]
    assert rows == body["rows"]
    assert meta == {"total_rows": body["total_rows"], "offset": body["offset"]}


async def test_iter_rows_post_with_body(httpx_mock: HTTPXMock, couch: BaseClient) -> None:
    httpx_mock.add_response(**recorded_response("203-find"))
    meta: dict[str, Any] = {}
    selector = recorded("203-find")["request"]["body_json"]
    docs = [
        d
        async for d in couch.iter_rows(
            "POST", "/corpus/_find", array_key="docs", json=selector, meta=meta
        )
    ]
    assert docs == recorded("203-find")["response"]["body_json"]["docs"]
    assert "bookmark" in meta
    assert json.loads(httpx_mock.get_request().content) == selector  # type: ignore[union-attr]


async def test_stream_gives_an_unread_response(httpx_mock: HTTPXMock, couch: BaseClient) -> None:
    httpx_mock.add_response(**recorded_response("144-att-get-binary"))
    async with couch.stream("GET", "/corpus/doc-1/pixel.png") as response:
        assert not response.is_closed
        data = b"".join([chunk async for chunk in response.aiter_bytes()])
    assert data == recorded_body("144-att-get-binary")


async def test_stream_error_status_is_raised(httpx_mock: HTTPXMock, couch: BaseClient) -> None:
    httpx_mock.add_response(**recorded_response("150-att-get-missing-404"))
    with pytest.raises(NotFound):
        async with couch.stream("GET", "/corpus/doc-1/missing.txt"):
            pass  # pragma: no cover


def test_plain_http_skips_loading_the_ca_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    import ssl

    real = ssl.create_default_context
    calls: list[str] = []

    def create_default_context(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        calls.append("ca")
        return real(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", create_default_context)
    for name in ("http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    BaseClient("http://couch.test:5984")
    assert calls == []  # no TLS on http://: no CA bundle is read (start-up time)
    BaseClient("https://couch.test:6984")
    assert calls == ["ca"]
    monkeypatch.setenv("HTTPS_PROXY", "https://proxy.test:3128")
    BaseClient("http://couch.test:5984")
    assert len(calls) >= 2  # a proxy may need TLS: verify as usual
