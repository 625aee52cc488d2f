"""BlockReads: SO_RCVLOWAT sized from a body's rate, its length and a rate given."""

from __future__ import annotations

import time

import pytest

from couchctl.client._blockreads import BlockReads
from tests.unit._sockets import FakeSocket, Network


def test_block_reads_size_their_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    sock = FakeSocket()
    try:
        clock = [100.0]
        monkeypatch.setattr(time, "monotonic", lambda: clock[0])
        blocks = BlockReads.of(Network(sock), 100_000_000)
        assert blocks is not None
        blocks.next(16_384)  # the first piece: where the rate is measured from
        clock[0] += 0.05
        blocks.next(5_000_000)  # not yet settled: no call
        assert sock.lows == []
        clock[0] += 0.05
        blocks.next(10_016_384)  # 100 MB/s: a whole block
        clock[0] += 0.01
        blocks.next(11_000_000)  # unchanged: no call
        clock[0] += 0.5
        blocks.next(99_990_000)  # 10,000 bytes left: 8192, a power of two
        blocks.next(99_999_999)
        assert sock.lows == [65536, 8192, 1]
        slow = BlockReads.of(Network(sock), 1_000_000)
        assert slow is not None
        slow.next(1_000)
        clock[0] += 1.0
        slow.next(3_000)  # 2 KB/s: 100 bytes in WAIT seconds, so 64
        assert sock.lows[-1] == 64
    finally:
        sock.close()


def test_block_reads_not_under_tls() -> None:
    sock = FakeSocket()
    try:
        assert BlockReads.of(Network(sock, tls=object()), 10) is None
        assert BlockReads.of(None, 10) is None
        assert BlockReads.of(Network(object()), 10) is None
    finally:
        sock.close()


def test_a_body_of_unknown_length_is_capped_by_its_rate_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Chunked (it ends with the connection): no length to stop at, the rate and
    BLOCK bound the wait."""
    sock = FakeSocket()
    try:
        clock = [100.0]
        monkeypatch.setattr(time, "monotonic", lambda: clock[0])
        blocks = BlockReads.of(Network(sock), None)
        assert blocks is not None
        blocks.next(1_500)
        clock[0] += 0.1
        blocks.next(2_001_500)  # 20 MB/s: a whole block
        clock[0] += 0.1
        blocks.next(2_020_000)  # the rate fell to ~10 MB/s over 0.2 s: still a block
        assert sock.lows == [65536]
        assert blocks.rate is not None and 9e6 < blocks.rate < 11e6
    finally:
        sock.close()


def test_a_rate_given_is_used_until_the_body_has_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A series of short bodies (the ranges of a dump) starts each at the last rate."""
    sock = FakeSocket()
    try:
        clock = [100.0]
        monkeypatch.setattr(time, "monotonic", lambda: clock[0])
        blocks = BlockReads.of(Network(sock), None, rate=20_000.0)
        assert blocks is not None
        blocks.next(1_500)  # at once: 20 KB/s brings 1,000 bytes in WAIT, so 512
        assert sock.lows == [512]
        clock[0] += 0.2
        blocks.next(1_001_500)  # its own rate now: 5 MB/s, a whole block
        assert sock.lows == [512, 65536]
        fresh = BlockReads.of(Network(sock), None)
        assert fresh is not None
        fresh.next(1_500)  # no rate yet: nothing set
        assert sock.lows == [512, 65536]
    finally:
        sock.close()
