"""ServerMixin on the wire: exact method, path, query and body; recorded CouchDB 3.4.3 answers."""

from __future__ import annotations

import json

import pytest
from pytest_httpx import HTTPXMock

from couchctl.client import BadRequest, CouchClient, NotFound, Unauthorized
from couchctl.client._server import DBS_INFO_CHUNK
from tests.unit._wire import (
    BASE,
    answer,
    assert_exact_request,
    only_request,
    response_json,
    wire_target,
)

pytestmark = pytest.mark.anyio


async def test_server_info(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "001-server-root")
    info = await couch.server_info()
    assert_exact_request(only_request(httpx_mock), "001-server-root")
    assert info == response_json("001-server-root")
    assert info["version"] == "3.4.3"


async def test_requests_accept_json_and_authenticate(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    answer(httpx_mock, "001-server-root")
    await couch.server_info()
    request = only_request(httpx_mock)
    assert request.headers["Accept"] == "application/json"
    assert request.headers["Authorization"].startswith("Basic ")


async def test_server_up(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "004-up")
    assert await couch.server_up() == {"status": "ok", "seeds": {}}
    assert_exact_request(only_request(httpx_mock), "004-up")


async def test_server_up_maintenance_mode_is_not_found(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    httpx_mock.add_response(status_code=404, json={"status": "maintenance_mode"})
    with pytest.raises(NotFound):
        await couch.server_up()


async def test_all_dbs(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "005-all-dbs")
    assert await couch.all_dbs() == ["_replicator", "_users"]
    assert_exact_request(only_request(httpx_mock), "005-all-dbs")


async def test_all_dbs_range_keys_are_json(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "044-all-dbs-range")
    names = await couch.all_dbs(start_key="corpus", end_key="corpus\ufff0")
    assert_exact_request(only_request(httpx_mock), "044-all-dbs-range")
    assert names == ["corpus", "corpus/sub", "corpus_p"]


async def test_all_dbs_limit_skip(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "045-all-dbs-limit-skip")
    assert await couch.all_dbs(limit=2, skip=1) == ["_users", "corpus"]
    assert_exact_request(only_request(httpx_mock), "045-all-dbs-limit-skip")


async def test_all_dbs_descending(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    httpx_mock.add_response(json=["_users", "_replicator"])
    assert await couch.all_dbs(descending=True) == ["_users", "_replicator"]
    assert wire_target(only_request(httpx_mock)) == "/_all_dbs?descending=true"


async def test_all_dbs_unauthorized_is_not_retried(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    answer(httpx_mock, "275-user-all-dbs")
    with pytest.raises(Unauthorized) as caught:
        await couch.all_dbs()
    assert caught.value.status == 401
    assert caught.value.reason == "You are not a server admin."
    only_request(httpx_mock)  # a 401 is never retried (lockout after 5 failures)


async def test_all_dbs_anonymous_401(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "006-all-dbs-anonymous-401")
    with pytest.raises(Unauthorized):
        await couch.all_dbs()


async def test_dbs_info_with_keys_posts_them(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "042-dbs-info-post")
    infos = await couch.dbs_info(["corpus", "corpus/sub", "missing"])
    assert_exact_request(only_request(httpx_mock), "042-dbs-info-post")
    assert [item["key"] for item in infos] == ["corpus", "corpus/sub", "missing"]
    assert infos[0]["info"]["db_name"] == "corpus"
    assert infos[2] == {"key": "missing", "error": "not_found"}


async def test_dbs_info_post_is_retried_as_a_read(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    httpx_mock.add_response(status_code=503, json={"error": "unavailable", "reason": "busy"})
    answer(httpx_mock, "042-dbs-info-post")
    infos = await couch.dbs_info(["corpus", "corpus/sub", "missing"])
    assert len(infos) == 3
    requests = httpx_mock.get_requests()
    assert [r.method for r in requests] == ["POST", "POST"]
    assert json.loads(requests[1].content) == {"keys": ["corpus", "corpus/sub", "missing"]}


async def test_dbs_info_without_keys_gets(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "043-dbs-info-get-limit")
    infos = await couch.dbs_info(limit=2)
    assert_exact_request(only_request(httpx_mock), "043-dbs-info-get-limit")
    assert [item["key"] for item in infos] == ["_replicator", "_users"]


async def test_dbs_info_get_range(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    httpx_mock.add_response(json=[])
    await couch.dbs_info(start_key="a", end_key="b", descending=False, skip=3)
    assert (
        wire_target(only_request(httpx_mock))
        == "/_dbs_info?descending=false&startkey=%22a%22&endkey=%22b%22&skip=3"
    )


async def test_databases_info_posts_dbs_info_in_chunks(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    names = [f"db{i:03d}" for i in range(DBS_INFO_CHUNK + 1)]
    httpx_mock.add_response(url=f"{BASE}/_all_dbs", json=names)
    for chunk in (names[:-1], names[-1:]):
        httpx_mock.add_response(
            url=f"{BASE}/_dbs_info",
            method="POST",
            match_json={"keys": chunk},
            json=[{"key": name, "info": {"db_name": name}} for name in chunk],
        )
    entries = await couch.databases_info()
    assert [entry["key"] for entry in entries] == names
    assert [r.method for r in httpx_mock.get_requests()] == ["GET", "POST", "POST"]


async def test_databases_info_of_given_names(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "042-dbs-info-post")
    entries = await couch.databases_info(["corpus", "corpus/sub", "missing"])
    assert_exact_request(only_request(httpx_mock), "042-dbs-info-post")
    assert entries == response_json("042-dbs-info-post")


async def test_databases_info_falls_back_to_each_database(
    httpx_mock: HTTPXMock, couch: CouchClient
) -> None:
    httpx_mock.add_response(
        url=f"{BASE}/_dbs_info", method="POST", status_code=404, json={"error": "not_found"}
    )
    answer(httpx_mock, "037-db-info", url=f"{BASE}/corpus")
    answer(httpx_mock, "039-db-get-missing-404", url=f"{BASE}/gone")
    entries = await couch.databases_info(["corpus", "gone"])
    assert entries == [
        {"key": "corpus", "info": response_json("037-db-info")},
        {"key": "gone", "error": "not_found"},
    ]


async def test_uuids_count(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "008-uuids")
    result = await couch.uuids(3)
    assert_exact_request(only_request(httpx_mock), "008-uuids")
    assert len(result["uuids"]) == 3


async def test_uuids_without_count_sends_none(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    httpx_mock.add_response(json={"uuids": ["62787e4d0f8bfebf19a1c1730e01c07d"]})
    await couch.uuids()
    assert wire_target(only_request(httpx_mock)) == "/_uuids"


async def test_uuids_too_many_is_bad_request(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "009-uuids-count-too-large-400")
    with pytest.raises(BadRequest) as caught:
        await couch.uuids(1001)
    assert_exact_request(only_request(httpx_mock), "009-uuids-count-too-large-400")
    assert caught.value.status == 400


@pytest.mark.parametrize(
    "name", ["010-active-tasks-idle", "263-active-tasks-replication", "289-active-tasks-compaction"]
)
async def test_active_tasks(httpx_mock: HTTPXMock, couch: CouchClient, name: str) -> None:
    answer(httpx_mock, name)
    assert await couch.active_tasks() == response_json(name)
    assert_exact_request(only_request(httpx_mock), name)


async def test_membership(httpx_mock: HTTPXMock, couch: CouchClient) -> None:
    answer(httpx_mock, "011-membership")
    result = await couch.membership()
    assert_exact_request(only_request(httpx_mock), "011-membership")
    assert result["cluster_nodes"] == ["couchdb@127.0.0.1"]


async def test_base_url_path_prefix_is_kept(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json=["a"])
    async with CouchClient("http://proxy.test/couch/") as client:
        await client.all_dbs()
    assert str(only_request(httpx_mock).url) == "http://proxy.test/couch/_all_dbs"
