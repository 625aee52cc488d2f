"""An upload against a revision that is not current is a 409, even when the
connection breaks before the answer can be read, and a large one sends nothing."""

from __future__ import annotations

import httpx
import pytest
from pytest_httpx import HTTPXMock

from couchctl.client import Conflict, ConnectionFailed, CouchClient
from couchctl.client._attachments import REV_CHECK_SIZE
from tests.unit._wire import BASE

pytestmark = pytest.mark.anyio

CURRENT = "2-7051cbe5c8faecd085a3fa619e6e6337"
STALE = "1-967a00dff5e02add41819138abb3284d"


def _doc(httpx_mock: HTTPXMock, rev: str, **attachments: dict[str, object]) -> None:
    body: dict[str, object] = {"_id": "doc", "_rev": rev}
    if attachments:
        body["_attachments"] = attachments
    httpx_mock.add_response(method="GET", url=f"{BASE}/db/doc", json=body)


def _head(httpx_mock: HTTPXMock, rev: str) -> None:
    httpx_mock.add_response(
        method="HEAD", url=f"{BASE}/db/doc", headers={"ETag": f'"{rev}"'}, status_code=200
    )


async def test_a_reset_upload_with_a_stale_rev_is_the_conflict(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    httpx_mock.add_exception(httpx.ReadError("[Errno 104] Connection reset by peer"), method="PUT")
    _doc(httpx_mock, CURRENT)  # changed by another writer: no attachment "a" at 2-
    with pytest.raises(Conflict) as info:
        await couch.attachment_upload("db", "doc", "a", None, b"x" * 10, rev=STALE)
    assert info.value.status == 409
    assert CURRENT in str(info.value) and "after the connection broke" in str(info.value)


async def test_a_reset_upload_with_the_current_rev_stays_a_reset(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    httpx_mock.add_exception(httpx.ReadError("[Errno 104] Connection reset by peer"), method="PUT")
    _doc(httpx_mock, CURRENT)
    with pytest.raises(ConnectionFailed):
        await couch.attachment_upload("db", "doc", "a", None, b"x" * 10, rev=CURRENT)


async def test_a_reset_upload_that_was_applied_is_its_answer(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    """The server applied the upload and the answer was lost: the next revision holds
    the attachment changed at that revision, with the length sent."""
    httpx_mock.add_exception(httpx.ReadError("[Errno 104] Connection reset by peer"), method="PUT")
    _doc(httpx_mock, CURRENT, a={"stub": True, "revpos": 2, "length": 10})
    answer = await couch.attachment_upload("db", "doc", "a", None, b"x" * 10, rev=STALE)
    assert answer == {"ok": True, "id": "doc", "rev": CURRENT}


@pytest.mark.parametrize(
    "stub",
    [
        {"stub": True, "revpos": 1, "length": 10},  # not changed at the new revision
        {"stub": True, "revpos": 2, "length": 11},  # another length
    ],
)
async def test_another_writers_revision_is_not_claimed(
    httpx_mock: HTTPXMock, couch: CouchClient, stub: dict[str, object]
) -> None:
    httpx_mock.add_exception(httpx.ReadError("[Errno 104] Connection reset by peer"), method="PUT")
    _doc(httpx_mock, CURRENT, a=stub)
    with pytest.raises(Conflict):
        await couch.attachment_upload("db", "doc", "a", None, b"x" * 10, rev=STALE)


async def test_a_large_upload_checks_the_rev_before_sending(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    _head(httpx_mock, CURRENT)
    with pytest.raises(Conflict) as info:
        await couch.attachment_upload("db", "doc", "a", None, b"x" * REV_CHECK_SIZE, rev=STALE)
    assert "before uploading" in str(info.value)
    assert [r.method for r in httpx_mock.get_requests()] == ["HEAD"]


async def test_a_small_upload_is_sent_without_a_check(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    httpx_mock.add_response(
        method="PUT", status_code=201, json={"ok": True, "id": "doc", "rev": CURRENT}
    )
    await couch.attachment_upload("db", "doc", "a", None, b"x" * 10, rev=STALE)
    assert [r.method for r in httpx_mock.get_requests()] == ["PUT"]
