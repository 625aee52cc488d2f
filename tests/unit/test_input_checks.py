"""Input that the client would refuse is refused by the command before anything is
sent, by the client's own rule (one place for each check)."""

from __future__ import annotations

import pytest
from pytest_httpx import HTTPXMock

from couchctl.client import InvalidArgument, check_copy_destination, check_revisions
from tests.conftest import _invoke
from tests.unit._wire import BASE


@pytest.mark.parametrize("value", [["1-a", "2-b"], ("1-a",)])
def test_revision_lists(value: object) -> None:
    check_revisions(value, "open_revs")


@pytest.mark.parametrize("value", ["1-a", [1], {"a": 1}, ["1-a", None]])
def test_not_revision_lists(value: object) -> None:
    with pytest.raises(InvalidArgument, match="open_revs must be a list of revisions"):
        check_revisions(value, "open_revs")


def test_all_only_where_allowed() -> None:
    check_revisions("all", "open_revs", allow_all=True)
    with pytest.raises(InvalidArgument):
        check_revisions("all", "atts_since")


@pytest.mark.parametrize("destination", ["", "a?rev=1-x", "http://elsewhere/db/x"])
def test_bad_copy_destinations(destination: str) -> None:
    with pytest.raises(InvalidArgument):
        check_copy_destination(destination)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["doc", "get", "db", "d", "--open-revs", '"1-a"'], '--open-revs must be "all"'),
        (["doc", "get", "db", "d", "--open-revs", "[1]"], '--open-revs must be "all"'),
        (["doc", "get", "db", "d", "--atts-since", '{"a": 1}'], "--atts-since must be"),
        (["doc", "copy", "db", "d", "e?rev=1-a"], "reads '?'"),
        (["doc", "copy", "db", "d", "http://elsewhere/db/e"], "not a URL"),
    ],
)
def test_cli_refuses_before_sending(httpx_mock: HTTPXMock, args: list[str], message: str) -> None:
    result = _invoke(args, BASE, None, {"COUCHDB_USER": "", "COUCHDB_PASSWORD": ""})
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith("couchctl: error: ") and message in result.stderr
    assert httpx_mock.get_requests() == []
