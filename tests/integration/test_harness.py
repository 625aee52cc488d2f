"""The harness itself: the server answers, and the CLI reaches it."""

from __future__ import annotations

import httpx

from tests.conftest import Server


def test_server_answers(server: Server) -> None:
    response = httpx.get(server.url + "/", headers={"Accept": "application/json"})
    assert response.status_code == 200
    assert "version" in response.json()


def test_db_fixture_creates_a_database(server: Server, db: str) -> None:
    response = httpx.head(f"{server.url}/{db}")
    assert response.status_code == 200
