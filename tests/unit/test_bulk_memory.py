"""What a bulk load holds while it loads large documents: a record without its decoded
document, and glibc's large blocks given back (couchctl/_malloc.py)."""

from __future__ import annotations

import io
import json
import os
import tracemalloc

import pytest

from couchctl._malloc import give_back_large_blocks
from couchctl.bulk.input import iter_records

SIZE = 4_000_000


@pytest.mark.parametrize("fmt", ["lines", "array"])
def test_a_record_does_not_hold_its_decoded_document(fmt: str) -> None:
    """While a record is out (its batch loading), the reader keeps its text, not also
    the document decoded for its check, nor (a JSON array) the buffer it was cut from."""
    big = json.dumps({"s": "x" * SIZE})
    text = f"{big}\n{big}\n" if fmt == "lines" else f"[{big},{big}]"
    stream = io.BytesIO(text.encode())
    tracemalloc.start()
    try:
        records = iter_records(stream)
        first = next(records)
        current, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(first.text) == len(big)
    assert current < 1.5 * SIZE, current


def test_the_reader_lets_go_of_a_line_once_it_is_loaded() -> None:
    """Once the record is dropped (its batch sent) and the next one asked for, its
    line is not kept by the reader while the next line is read."""
    big = json.dumps({"s": "x" * SIZE})
    stream = io.BytesIO(f"{big}\n{big}\n".encode())
    tracemalloc.start()
    try:
        records = iter_records(stream)
        first = next(records)
        del first
        tracemalloc.reset_peak()
        second = next(records)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(second.text) == len(big)
    # Two copies of the second line at most (its pieces and their join; then it and
    # its decoded document): not the first line besides them (12 MB when it was).
    assert peak < 2.5 * SIZE, peak


def test_large_blocks_are_given_back_on_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    glibc = (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    assert give_back_large_blocks() is glibc
    # Not glibc (musl, macOS, Windows): nothing is done.
    monkeypatch.setattr(os, "confstr", lambda name: None)
    assert give_back_large_blocks() is False

    def unknown(name: str) -> str:
        raise ValueError("unrecognized configuration name")

    monkeypatch.setattr(os, "confstr", unknown)
    assert give_back_large_blocks() is False
