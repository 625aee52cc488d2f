"""The changes table shortens CouchDB's opaque sequences; the data modes keep them whole."""

from __future__ import annotations

from couchctl.cli.db_changes import _short_seq
from tests.conftest import recorded


def test_couchdb_sequences_are_shortened_for_the_table() -> None:
    seq = recorded("233-changes")["response"]["body_json"]["results"][0]["seq"]
    assert len(seq) > 16
    assert _short_seq(seq) == seq[:12] + "…"


def test_short_and_numeric_sequences_are_shown_whole() -> None:
    assert _short_seq(7) == "7"
    assert _short_seq("12-abc") == "12-abc"
