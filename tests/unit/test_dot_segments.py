"""Names that look like path navigation stay names: `.` and `..` never leave their segment.

httpx (like every URL normaliser) drops `.` and resolves `..` path segments, so an id
`..` sent as-is would address the database, and an attachment `.` the document. A name
made only of dots is sent as `%2E`s, which CouchDB decodes back to the name; `/` is
always encoded, so no other name can become a dot segment.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

from couchctl.client import CouchClient
from couchctl.client._encoding import segment
from tests.unit._wire import only_request, wire_target

pytestmark = pytest.mark.anyio

TRICKY = [".", "..", "...", "./x", "%2e%2e", "..%2f", "../..", "a/../b"]
ENCODED = {
    ".": "%2E",
    "..": "%2E%2E",
    "...": "%2E%2E%2E",
    "./x": ".%2Fx",
    "%2e%2e": "%252e%252e",
    "..%2f": "..%252f",
    "../..": "..%2F..",
    "a/../b": "a%2F..%2Fb",
}

Call = Callable[[CouchClient, str], Awaitable[Any]]

# Each operation that puts a caller's name into the path, and where the name lands.
CASES: list[tuple[str, Call, str]] = [
    ("doc_get", lambda c, n: c.doc_get("db", n), "/db/{}"),
    ("doc_exists", lambda c, n: c.doc_exists("db", n), "/db/{}"),
    ("doc_delete", lambda c, n: c.doc_delete("db", n, "1-a"), "/db/{}?rev=1-a"),
    ("doc_put", lambda c, n: c.doc_create_or_update("db", n, {}), "/db/{}"),
    ("design doc_get", lambda c, n: c.doc_get("db", "_design/" + n), "/db/_design/{}"),
    ("local doc_get", lambda c, n: c.doc_get("db", "_local/" + n), "/db/_local/{}"),
    ("attachment doc", lambda c, n: c.attachment_delete("db", n, "a", "1-a"), "/db/{}/a?rev=1-a"),
    ("attachment name", lambda c, n: c.attachment_delete("db", "d", n, "1-a"), "/db/d/{}?rev=1-a"),
    ("attachment_exists", lambda c, n: c.attachment_exists("db", "d", n), "/db/d/{}"),
    ("des_info", lambda c, n: c.des_info("db", n), "/db/_design/{}/_info"),
    ("view_exec ddoc", lambda c, n: c.view_exec("db", n, "v"), "/db/_design/{}/_view/v"),
    ("view_exec view", lambda c, n: c.view_exec("db", "d", n), "/db/_design/d/_view/{}"),
    ("index ddoc", lambda c, n: c.index_delete("db", n, "i"), "/db/_index/{}/json/i"),
    ("index name", lambda c, n: c.index_delete("db", "d", n), "/db/_index/d/json/{}"),
    ("index type", lambda c, n: c.index_delete("db", "d", "i", n), "/db/_index/d/{}/i"),
    ("db_compact ddoc", lambda c, n: c.db_compact("db", n), "/db/_compact/{}"),
    ("partition_info", lambda c, n: c.partition_info("db", n), "/db/_partition/{}"),
]


@pytest.mark.parametrize("name", TRICKY)
def test_segment_never_leaves_a_dot(name: str) -> None:
    encoded = segment(name)
    assert encoded == ENCODED[name]
    assert encoded.strip(".") and "/" not in encoded
    # Whatever httpx makes of the path, the segment is still there, whole.
    assert httpx.URL(f"http://h/db/{encoded}/tail").raw_path == f"/db/{encoded}/tail".encode()


@pytest.mark.parametrize("name", TRICKY)
@pytest.mark.parametrize(("what", "call", "target"), CASES, ids=[c[0] for c in CASES])
async def test_name_stays_in_its_segment(
    couch: CouchClient, httpx_mock: HTTPXMock, what: str, call: Call, target: str, name: str
) -> None:
    httpx_mock.add_response(json={"ok": True, "_id": "x", "_rev": "1-a"}, headers={"ETag": '"1-a"'})
    await call(couch, name)
    assert wire_target(only_request(httpx_mock)) == target.format(ENCODED[name])


@pytest.mark.parametrize("name", TRICKY)
async def test_database_name_stays_a_database_name(
    couch: CouchClient, httpx_mock: HTTPXMock, name: str
) -> None:
    httpx_mock.add_response(status_code=404, json={"error": "not_found", "reason": "missing"})
    from couchctl.client import NotFound

    with pytest.raises(NotFound):
        await couch.db_delete(name)
    assert wire_target(only_request(httpx_mock)) == "/" + ENCODED[name]


def test_httpx_keeps_an_encoded_dot() -> None:
    """The premise of the fix: httpx normalises `..` but leaves `%2E%2E` alone."""
    assert httpx.URL("http://h/db/..").raw_path == b"/"
    assert httpx.URL("http://h/db/%2E%2E").raw_path == b"/db/%2E%2E"
