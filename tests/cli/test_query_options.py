"""The view-row query flags turned into client keyword arguments (cli/_query_options.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from couchctl.cli._context import BadInput
from couchctl.cli._query_options import Stale, Update, row_query_options
from couchctl.client import JSON_NULL


def test_nothing_set_sends_nothing() -> None:
    assert row_query_options() == {}


def test_false_flags_are_left_to_the_server() -> None:
    options = row_query_options(
        descending=False, include_docs=False, conflicts=False, update_seq=False, stable=False
    )
    assert options == {}


def test_every_flag_by_its_client_name() -> None:
    options = row_query_options(
        key='"a"',
        start_key='["a"]',
        end_key='["a", {}]',
        start_key_doc_id="doc-1",
        end_key_doc_id="doc-9",
        inclusive_end=False,
        descending=True,
        limit=5,
        skip=0,
        include_docs=True,
        conflicts=True,
        attachments=True,
        att_encoding_info=True,
        update_seq=True,
        group=True,
        group_level=2,
        reduce=False,
        sorted_=False,
        stable=True,
        stale=Stale.update_after,
        update=Update.lazy,
    )
    assert options == {
        "key": "a",
        "start_key": ["a"],
        "end_key": ["a", {}],
        "start_key_doc_id": "doc-1",
        "end_key_doc_id": "doc-9",
        "inclusive_end": False,
        "descending": True,
        "limit": 5,
        "skip": 0,
        "include_docs": True,
        "conflicts": True,
        "attachments": True,
        "att_encoding_info": True,
        "update_seq": True,
        "group": True,
        "group_level": 2,
        "reduce": False,
        "sorted": False,
        "stable": True,
        "stale": "update_after",
        "update": "lazy",
    }


@pytest.mark.parametrize(("value", "sent"), [(Update.true, True), (Update.false, False)])
def test_update_true_false_are_booleans(value: Update, sent: bool) -> None:
    assert row_query_options(update=value) == {"update": sent}


def test_a_null_key_is_sent_as_null() -> None:
    options = row_query_options(key="null", start_key="null")
    assert options["key"] is JSON_NULL
    assert options["start_key"] is JSON_NULL


def test_keys_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text('["a", 1, null]', encoding="utf-8")
    assert row_query_options(keys=f"@{path}") == {"keys": ["a", 1, None]}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"key": '"a"', "keys": '["a"]'}, "--key and --keys cannot be used together"),
        ({"keys": '"a"'}, "--keys must be a JSON array"),
        ({"key": "{"}, "--key is not valid JSON"),
        ({"end_key": "doc-1"}, "--end-key is not valid JSON"),
        ({"keys": "@/nonexistent/keys.json"}, "file not found"),
    ],
)
def test_bad_values_are_refused(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(BadInput, match=message):
        row_query_options(**kwargs)  # type: ignore[arg-type]
