"""The control-plane client operations on the wire: replication documents, users,
_security grants, configuration, cluster setup and the anonymous requests of the
audit. Answers are recorded CouchDB 3.4.3 responses where one exists."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

from couchctl.client import (
    CouchClient,
    CouchError,
    InvalidArgument,
    NotFound,
    SetupStep,
    is_public,
    mask_replication,
    redact_config,
    security_change,
    without_secrets,
)
from tests.unit._wire import (
    BASE,
    answer,
    assert_exact_request,
    no_request,
    only_request,
    response_json,
    sent_json,
    wire_target,
)

pytestmark = pytest.mark.anyio


# -- replication -----------------------------------------------------------------


async def test_a_name_is_a_url_on_the_server_with_credentials_in_auth(couch: CouchClient) -> None:
    doc = couch.replication_doc("orders", "orders-copy", create_target=True)
    assert doc == {
        "source": {
            "url": f"{BASE}/orders",
            "auth": {"basic": {"username": "admin", "password": "pw"}},
        },
        "target": {
            "url": f"{BASE}/orders-copy",
            "auth": {"basic": {"username": "admin", "password": "pw"}},
        },
        "create_target": True,
    }


async def test_url_userinfo_moves_into_auth_and_other_hosts_get_no_credentials(
    couch: CouchClient,
) -> None:
    doc = couch.replication_doc(
        "https://bob:s%40cret@backup.example:6984/orders", "http://elsewhere.example/copy"
    )
    assert doc["source"] == {
        "url": "https://backup.example:6984/orders",
        "auth": {"basic": {"username": "bob", "password": "s@cret"}},
    }
    assert doc["target"] == {"url": "http://elsewhere.example/copy"}
    same_server = couch.replication_doc("orders", f"{BASE}/other")
    assert same_server["target"]["auth"]["basic"]["username"] == "admin"


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("orders", "orders"),
        ("orders", f"{BASE}/orders/"),
        (f"{BASE}/orders", "http://admin:pw@COUCH.test:5984/orders"),
        ("a/b", f"{BASE}/a%2Fb"),
    ],
)
async def test_a_database_onto_itself_is_refused(
    couch: CouchClient, httpx_mock: HTTPXMock, source: str, target: str
) -> None:
    with pytest.raises(InvalidArgument, match="same database"):
        couch.replication_doc(source, target)
    no_request(httpx_mock)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"selector": [1]}, "JSON object"),
        ({"filter": "nofilter"}, "DDOC/NAME"),
        ({"doc_ids": ["a", ""]}, "empty"),
        ({"doc_ids": ["a"], "filter": "d/f"}, "one of"),
    ],
)
async def test_bad_replication_options(
    couch: CouchClient, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        couch.replication_doc("a", "b", **kwargs)


async def test_replication_start_puts_the_document(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    answer(httpx_mock, "262-replicator-doc-put")
    doc = couch.replication_doc("corpus", "corpus_target2", continuous=True, create_target=True)
    result = await couch.replication_start(doc, "corpus-rep")
    request = only_request(httpx_mock)
    assert (request.method, wire_target(request)) == ("PUT", "/_replicator/corpus-rep")
    assert sent_json(request) == doc
    assert "pw@" not in request.content.decode()
    assert result == response_json("262-replicator-doc-put")


async def test_replication_stop_deletes_the_current_revision(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    answer(httpx_mock, "267-replicator-doc-get")
    answer(httpx_mock, "268-replicator-doc-delete")
    httpx_mock.add_response(method="GET", status_code=404, json={"error": "not_found"})
    result = await couch.replication_stop("corpus-rep")
    get, delete, check = httpx_mock.get_requests()
    assert_exact_request(get, "267-replicator-doc-get")
    assert_exact_request(delete, "268-replicator-doc-delete")
    assert wire_target(check) == "/_replicator/corpus-rep"
    assert result["ok"] is True


async def test_replication_stop_deletes_a_newer_revision_a_stale_read_missed(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    # A cluster read answered the revision before the replicator's update (2-b): the
    # job is only stopped once that one is deleted too.
    url = f"{BASE}/_replicator/r"
    httpx_mock.add_response(method="GET", url=url, json={"_id": "r", "_rev": "1-a"})
    httpx_mock.add_response(method="DELETE", url=f"{url}?rev=1-a", json={"ok": True, "rev": "2-x"})
    httpx_mock.add_response(method="GET", url=url, json={"_id": "r", "_rev": "2-b"})
    httpx_mock.add_response(method="DELETE", url=f"{url}?rev=2-b", json={"ok": True, "rev": "3-c"})
    httpx_mock.add_response(method="GET", url=url, status_code=404, json={"error": "not_found"})
    result = await couch.replication_stop("r")
    assert result == {"ok": True, "rev": "3-c"}
    deletes = [wire_target(r) for r in httpx_mock.get_requests() if r.method == "DELETE"]
    assert deletes == ["/_replicator/r?rev=1-a", "/_replicator/r?rev=2-b"]


async def test_replication_stop_of_a_missing_document_is_not_found(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    answer(httpx_mock, "270-replicate-cancel-unknown-404")
    with pytest.raises(NotFound):
        await couch.replication_stop("nothing")


async def test_replication_list_adds_documents_the_node_left_out(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    # A cluster node lists a finished job only when it ran it: ask for the others by id.
    httpx_mock.add_response(
        url=f"{BASE}/_scheduler/docs", json={"total_rows": 2, "offset": 0, "docs": []}
    )
    rows = [{"id": "_design/x"}, {"id": "done-elsewhere"}, {"id": "gone"}]
    httpx_mock.add_response(url=f"{BASE}/_replicator/_all_docs", json={"rows": rows})
    answer(
        httpx_mock, "265-scheduler-doc", url=f"{BASE}/_scheduler/docs/_replicator/done-elsewhere"
    )
    httpx_mock.add_response(
        url=f"{BASE}/_scheduler/docs/_replicator/gone", status_code=404, json={"error": "not_found"}
    )
    result = await couch.replication_list()
    assert result["total_rows"] == 2
    assert result["docs"] == [response_json("265-scheduler-doc")]
    asked = [wire_target(r) for r in httpx_mock.get_requests()]
    assert "/_scheduler/docs/_replicator/_design%2Fx" not in asked


async def test_masking_of_scheduler_and_replicator_documents() -> None:
    stored = response_json("267-replicator-doc-get")  # URLs with USER:PASS userinfo
    masked = mask_replication(stored)
    assert masked["source"] == "http://USER:***@127.0.0.1:5984/corpus"
    with_auth = {"source": {"url": "http://h/db", "auth": {"basic": {"password": "x"}}}}
    assert mask_replication(with_auth)["source"] == {"url": "http://h/db", "auth": "[redacted]"}


# -- users and _security -------------------------------------------------------------


async def test_user_create_sends_what_couchdb_expects(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    answer(httpx_mock, "271-user-create")
    await couch.user_create("corpus-locked", "PASS")
    assert_exact_request(only_request(httpx_mock), "271-user-create")


async def test_user_documents_lose_their_secrets() -> None:
    doc = response_json("272-user-get-doc")
    shown = without_secrets(doc)
    assert set(shown) == {"_id", "_rev", "name", "roles", "type"}


async def test_user_roles_read_modify_write(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    stored = {**response_json("272-user-get-doc"), "roles": ["a", "b"]}
    httpx_mock.add_response(method="GET", json=stored)
    httpx_mock.add_response(method="PUT", status_code=201, json={"ok": True})
    roles = await couch.user_roles("corpus-locked", add=["c", "a"], remove=["b"])
    assert roles == ["a", "c"]
    put = httpx_mock.get_requests()[1]
    assert sent_json(put) == {**stored, "roles": ["a", "c"]}  # the hash is kept as stored


async def test_unchanged_roles_write_nothing(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(method="GET", json={"_id": "x", "roles": ["a"]})
    assert await couch.user_roles("x", add=["a"]) == ["a"]
    assert [r.method for r in httpx_mock.get_requests()] == ["GET"]


@pytest.mark.parametrize(("name", "role"), [("", "r"), ("a:b", "r"), ("ok", ""), ("ok", " ")])
async def test_bad_names_and_roles_send_nothing(
    couch: CouchClient, httpx_mock: HTTPXMock, name: str, role: str
) -> None:
    with pytest.raises(InvalidArgument):
        await couch.user_create(name, "pw", roles=[role])
    no_request(httpx_mock)


def test_security_change_keeps_what_it_does_not_touch() -> None:
    before = {"admins": {"names": ["boss"]}, "members": {"names": [], "roles": ["staff"]}, "x": 1}
    granted = security_change(before, "members", grant=True, names=["alice"], roles=["staff"])
    assert granted == {
        "admins": {"names": ["boss"]},
        "members": {"names": ["alice"], "roles": ["staff"]},
        "x": 1,
    }
    assert security_change(granted, "members", grant=True, names=["alice"]) == granted
    revoked = security_change(granted, "members", grant=False, roles=["staff"], names=["alice"])
    assert revoked["members"] == {"names": [], "roles": []}
    assert is_public(revoked) and not is_public(granted)
    assert is_public({}) and is_public({"members": None}) and is_public({"members": []})
    fresh = security_change({}, "admins", grant=True, roles=["ops"])
    assert fresh == {
        "admins": {"names": [], "roles": ["ops"]},
        "members": {"names": [], "roles": []},
    }


async def test_admin_create_on_every_cluster_node(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(
        url=f"{BASE}/_membership",
        json={"all_nodes": ["n1@h", "n2@h"], "cluster_nodes": ["n1@h", "n2@h"]},
    )
    httpx_mock.add_response(method="PUT", json="")
    httpx_mock.add_response(method="PUT", json="")
    old = await couch.admin_create("root2", "s3cret")
    assert old == {"n1@h": "", "n2@h": ""}
    puts = httpx_mock.get_requests()[1:]
    assert [wire_target(r) for r in puts] == [
        "/_node/n1%40h/_config/admins/root2",
        "/_node/n2%40h/_config/admins/root2",
    ]
    assert all(json.loads(r.content) == "s3cret" for r in puts)


async def test_admin_create_refused_while_a_node_is_down(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    """A node in cluster_nodes but not all_nodes (not connected): nothing is written."""
    httpx_mock.add_response(
        url=f"{BASE}/_membership",
        json={"all_nodes": ["n1@h"], "cluster_nodes": ["n1@h", "n2@h", "n3@h"]},
    )
    with pytest.raises(CouchError, match=r"not connected to the cluster: n2@h, n3@h; nothing"):
        await couch.admin_create("root2", "s3cret")
    assert [r.method for r in httpx_mock.get_requests()] == ["GET"]


# -- configuration ---------------------------------------------------------------------


def test_redaction() -> None:
    config = {
        "admins": {"admin": "-pbkdf2-abc"},
        "chttpd_auth": {"secret": "s", "timeout": "600"},
        "replicator": {"password": "p", "worker_processes": "4"},
    }
    assert redact_config(config) == {
        "admins": {"admin": "[redacted]"},
        "chttpd_auth": {"secret": "[redacted]", "timeout": "600"},
        "replicator": {"password": "[redacted]", "worker_processes": "4"},
    }
    assert redact_config({"admin": "-pbkdf2-"}, "admins") == {"admin": "[redacted]"}
    assert redact_config("-pbkdf2-", "admins", "admin") == "[redacted]"
    assert redact_config("600", "chttpd_auth", "timeout") == "600"


async def test_config_set_sends_the_value_as_a_json_string(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(json="old")
    assert await couch.config_set("_local", "log", "level", "debug") == "old"
    request = only_request(httpx_mock)
    assert (request.method, wire_target(request)) == ("PUT", "/_node/_local/_config/log/level")
    assert request.content == b'"debug"'


async def test_an_unknown_node_is_refused_after_membership_only(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    answer(httpx_mock, "011-membership")
    with pytest.raises(InvalidArgument, match="unknown node 'x@y'"):
        await couch.check_node("x@y")
    assert wire_target(only_request(httpx_mock)) == "/_membership"


# -- cluster setup -----------------------------------------------------------------------


def _setup_server(httpx_mock: HTTPXMock, state: str, members: list[str]) -> list[dict[str, Any]]:
    """A coordinator n1 and a node n2 at http://n2.test:25984 in `state`."""
    posted: list[dict[str, Any]] = []
    everyone = ["node1@127.0.0.1", "node2@127.0.0.1"]

    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "POST":
            posted.append(json.loads(request.content))
            return httpx.Response(201, json={"ok": True})
        if path == "/_node/_local":
            name = "node2@127.0.0.1" if request.url.host == "n2.test" else "node1@127.0.0.1"
            return httpx.Response(200, json={"name": name})
        if path == "/_cluster_setup":
            done = state == "cluster_finished" or any(
                p["action"] == "finish_cluster" for p in posted
            )
            return httpx.Response(200, json={"state": "cluster_finished" if done else state})
        if path == "/_membership":
            added = any(p["action"] == "add_node" for p in posted)
            joined = members or (everyone if added else ["node1@127.0.0.1"])
            return httpx.Response(200, json={"all_nodes": joined, "cluster_nodes": joined})
        return httpx.Response(404, json={"error": "not_found"})

    httpx_mock.add_callback(handle, is_reusable=True)
    return posted


async def test_cluster_setup_sends_the_documented_sequence(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    posted = _setup_server(httpx_mock, "cluster_disabled", [])
    steps: list[SetupStep] = []
    await couch.cluster_setup(["http://n2.test:25984"], bind_address="127.1", report=steps.append)
    admin = {"username": "admin", "password": "pw"}
    assert posted == [
        {"action": "enable_cluster", "bind_address": "127.1", **admin, "node_count": "2"},
        {
            "action": "enable_cluster",
            "bind_address": "127.1",
            **admin,
            "port": 25984,
            "node_count": "2",
            "remote_node": "n2.test",
            "remote_current_user": "admin",
            "remote_current_password": "pw",
        },
        {"action": "add_node", "host": "127.0.0.1", "port": 25984, "name": "node2", **admin},
        {"action": "finish_cluster"},
    ]
    assert [s.outcome for s in steps] == ["done"] * 5


async def test_cluster_setup_skips_what_is_done(couch: CouchClient, httpx_mock: HTTPXMock) -> None:
    posted = _setup_server(httpx_mock, "cluster_finished", ["node1@127.0.0.1", "node2@127.0.0.1"])
    steps = await couch.cluster_setup(["http://other:pw2@n2.test:25984"])
    assert posted == []
    assert [s.outcome for s in steps] == ["skipped"] * 4 + ["done"]


async def test_cluster_setup_refuses_a_loopback_bind_before_any_request(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    with pytest.raises(InvalidArgument, match=r"127\.1"):
        await couch.cluster_setup(["http://n2.test:25984"], bind_address="127.0.0.1")
    no_request(httpx_mock)
    with pytest.raises(InvalidArgument, match=r"ftp://u:\*\*\*@x") as caught:
        await couch.cluster_setup(["ftp://u:pw9@x"])
    assert "pw9" not in str(caught.value)
    no_request(httpx_mock)


# -- audit --------------------------------------------------------------------------------


async def test_anonymous_requests_carry_no_credentials(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(status_code=401, json={"error": "unauthorized"})
    status, body = await couch.anonymous_request("GET", "/secret-db")
    assert (status, body["error"]) == (401, "unauthorized")
    request = only_request(httpx_mock)
    assert "Authorization" not in request.headers
    assert "Cookie" not in request.headers


async def test_a_database_deleted_during_the_audit_is_skipped(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(
        url=f"{BASE}/_node/_local/_config", status_code=403, json={"error": "forbidden"}
    )
    httpx_mock.add_response(
        url=f"{BASE}/_session", json={"ok": True, "userCtx": {"name": None, "roles": []}}
    )
    httpx_mock.add_response(url=f"{BASE}/_all_dbs", json=["gone", "open"])
    httpx_mock.add_response(url=f"{BASE}/gone", status_code=404, json={"error": "not_found"})
    httpx_mock.add_response(url=f"{BASE}/open", status_code=401, json={"error": "unauthorized"})
    httpx_mock.add_response(
        url=f"{BASE}/gone/_security", status_code=404, json={"error": "not_found"}
    )
    httpx_mock.add_response(url=f"{BASE}/open/_security", json={"members": {}})
    checks = {check.check: check for check in await couch.security_audit()}
    assert checks["public databases"].status == "warn"
    assert checks["public databases"].detail.endswith(": open")
    assert checks["admin party"].status == "ok"
    assert (
        checks["cors"].status == "warn" and "cannot read the configuration" in checks["cors"].detail
    )


async def test_replication_stop_ends_when_a_lagging_copy_shows_an_older_revision(
    couch: CouchClient, httpx_mock: HTTPXMock
) -> None:
    """On a cluster the re-read may come from a copy that still has an older revision
    of the deleted document; deleting that one answers 404 deleted: it is stopped."""
    url = f"{BASE}/_replicator/job"
    httpx_mock.add_response(method="GET", url=url, json={"_id": "job", "_rev": "2-b"})
    httpx_mock.add_response(
        method="DELETE", url=f"{url}?rev=2-b", json={"ok": True, "id": "job", "rev": "3-c"}
    )
    httpx_mock.add_response(method="GET", url=url, json={"_id": "job", "_rev": "1-a"})
    httpx_mock.add_response(
        method="DELETE",
        url=f"{url}?rev=1-a",
        status_code=404,
        json={"error": "not_found", "reason": "deleted"},
    )
    assert await couch.replication_stop("job") == {"ok": True, "id": "job", "rev": "3-c"}
