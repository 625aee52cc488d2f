"""Fixtures of the unit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from couchctl.client import CouchClient
from tests.unit._wire import BASE


@pytest.fixture
async def couch() -> AsyncIterator[CouchClient]:
    """A client with credentials, two quick retries, on pytest-httpx's mocked transport."""
    async with CouchClient(BASE, user="admin", password="pw", retries=2, backoff=0.001) as client:
        yield client
