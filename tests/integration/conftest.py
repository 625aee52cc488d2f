"""Fixtures of the integration tests (the server itself comes from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from couchctl.client import CouchClient
from tests.conftest import Server


@pytest.fixture
async def couch(server: Server) -> AsyncIterator[CouchClient]:
    """A client of the real server, with admin credentials and one quick retry."""
    async with CouchClient(server.url, retries=1) as client:
        yield client
