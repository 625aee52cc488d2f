"""Names and parameters as they reach the wire."""

from __future__ import annotations

import pytest

from couchctl.client import InvalidArgument, att_path, db_path, doc_path, validate_db_name
from couchctl.client._encoding import dumps, query
from tests.conftest import recorded


@pytest.mark.parametrize(
    ("doc_id", "segment"),
    [
        ("plain", "plain"),
        ("a/b", "a%2Fb"),
        ("a+b", "a%2Bb"),
        ("q?x=1", "q%3Fx%3D1"),
        ("frag#1", "frag%231"),
        ("%41", "%2541"),
        ("two words", "two%20words"),
        ("é日😀", "%C3%A9%E6%97%A5%F0%9F%98%80"),
        ("_design/dd", "_design/dd"),
        ("_design/a b/c", "_design/a%20b%2Fc"),
        ("_local/x+y", "_local/x%2By"),
        ("a&b;c,d:e@f", "a%26b%3Bc%2Cd%3Ae%40f"),
    ],
)
def test_doc_path(doc_id: str, segment: str) -> None:
    assert doc_path("db", doc_id) == f"/db/{segment}"


def test_db_path_encodes_slash_and_specials() -> None:
    assert db_path("corpus/sub") == "/corpus%2Fsub"
    assert db_path("a$b(c)+d-e_f") == "/a%24b%28c%29%2Bd-e_f"


def test_att_path() -> None:
    assert att_path("db", "_design/dd", "dir/file name+1.txt") == (
        "/db/_design/dd/dir%2Ffile%20name%2B1.txt"
    )


@pytest.mark.parametrize("doc_id", ["_design/", "_local/"])
def test_doc_path_refuses_a_bare_prefix(doc_id: str) -> None:
    # CouchDB refuses these ids, and the slash cannot be sent encoded: `/corpus/_design%2Fdd`
    # is answered with a 301 and an empty body (177-ddoc-get-encoded-slash).
    assert recorded("177-ddoc-get-encoded-slash")["response"]["status"] == 301
    with pytest.raises(InvalidArgument, match="the name after the prefix is empty"):
        doc_path("db", doc_id)


@pytest.mark.parametrize(
    "call", [lambda: db_path(""), lambda: doc_path("db", ""), lambda: att_path("db", "d", "")]
)
def test_empty_names_are_refused(call: object) -> None:
    with pytest.raises(InvalidArgument):
        call()  # type: ignore[operator]


@pytest.mark.parametrize(
    "name", ["db", "a1", "a_b$c(d)+e-f/g", "_users", "_replicator", "_global_changes", "a" * 238]
)
def test_valid_db_names(name: str) -> None:
    assert validate_db_name(name) == name


@pytest.mark.parametrize("name", ["", "Bad", "1db", "_foo", "a b", "a.b", "é", "a" * 239, "-a"])
def test_invalid_db_names(name: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid database name"):
        validate_db_name(name)


def test_query_drops_none_and_spells_booleans() -> None:
    assert query({"a": None, "b": True, "c": False, "d": 0, "e": "x", "f": 1.5}) == [
        ("b", "true"),
        ("c", "false"),
        ("d", "0"),
        ("e", "x"),
        ("f", "1.5"),
    ]


def test_query_json_params() -> None:
    got = query(
        {
            "key": "a",
            "keys": ["a", 1],
            "startkey": None,
            "open_revs": ["1-a"],
            "endkey": {"x": [True]},
        },
        json_params=("key", "keys", "startkey", "endkey"),
    )
    assert got == [
        ("key", '"a"'),
        ("keys", '["a",1]'),
        ("open_revs", '["1-a"]'),  # lists are always JSON, never a Python repr
        ("endkey", '{"x":[true]}'),
    ]


def test_query_json_param_of_true_and_null_literal() -> None:
    assert query({"key": True, "other": "s"}, json_params=("key",)) == [
        ("key", "true"),
        ("other", "s"),
    ]
    assert query(None) == []
    assert query({}) == []


def test_dumps_is_compact_and_unicode() -> None:
    assert dumps({"a": "é", "b": [1, 2]}) == '{"a":"é","b":[1,2]}'


def test_view_query_sort_is_sorted_on_the_wire() -> None:
    from couchctl.client._view_query import view_query

    assert view_query({"sort": False}) == ([("sorted", "false")], None)
    assert view_query({"sorted": False, "sort": False}) == ([("sorted", "false")], None)
    with pytest.raises(InvalidArgument, match="sort and sorted"):
        view_query({"sort": True, "sorted": False})


def test_view_query_keys_go_into_the_body() -> None:
    from couchctl.client._view_query import view_query

    assert view_query({"keys": ("a", None), "limit": 1}) == (
        [("limit", "1")],
        {"keys": ["a", None]},
    )
