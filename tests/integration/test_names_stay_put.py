"""Names of `.`, `..` and friends touch only what they name (or are refused), never
the database, the document or the server root around them."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import CliRun, Server

TRICKY = [".", "..", "./x", "%2e%2e", "..%2f"]
HEADERS = {"Accept": "application/json"}


def _get(server: Server, path: str) -> httpx.Response:
    return httpx.get(f"{server.url}{path}", headers=HEADERS)


def _put_doc(server: Server, db: str, doc_id: str, body: dict[str, object]) -> str:
    response = httpx.post(f"{server.url}/{db}", json={"_id": doc_id, **body}, headers=HEADERS)
    assert response.status_code in (201, 202), response.text
    rev: str = response.json()["rev"]
    return rev


@pytest.mark.parametrize("name", TRICKY)
def test_index_delete_of_dot_names_leaves_the_database(
    cli: CliRun, server: Server, db: str, name: str
) -> None:
    _put_doc(server, db, "keep", {"x": 1})
    result = cli("find", "index-delete", db, name, name)
    assert result.exit_code != 0, (result.stdout, result.stderr)
    assert "deleted" not in result.stdout
    assert _get(server, f"/{db}").status_code == 200
    assert _get(server, f"/{db}/keep").status_code == 200


@pytest.mark.parametrize("name", TRICKY)
def test_att_delete_of_a_dot_name_leaves_the_document(
    cli: CliRun, server: Server, db: str, name: str
) -> None:
    rev = _put_doc(server, db, "victim", {"precious": True})
    result = cli("att", "delete", db, "victim", name, "--rev", rev)
    assert result.exit_code != 0, (result.stdout, result.stderr)
    doc = _get(server, f"/{db}/victim").json()
    assert doc["_rev"] == rev and doc["precious"] is True


@pytest.mark.parametrize("name", TRICKY)
def test_att_upload_named_dot_is_an_attachment_not_the_body(
    cli: CliRun, server: Server, db: str, name: str, tmp_path: Path
) -> None:
    rev = _put_doc(server, db, "v2", {"body": "kept"})
    evil = tmp_path / "evil.json"
    evil.write_text('{"body": "replaced"}')
    result = cli(
        "att", "upload", db, "v2", str(evil), "--name", name, "--rev", rev,
        "--content-type", "application/json",
    )  # fmt: skip
    doc = _get(server, f"/{db}/v2").json()
    assert doc["body"] == "kept"
    if result.exit_code == 0:
        # The attachment exists under exactly that name.
        assert list(doc.get("_attachments", {})) == [name]
    else:
        assert result.exit_code in (2, 7), (result.stdout, result.stderr)
        assert "_attachments" not in doc


@pytest.mark.parametrize("name", TRICKY)
def test_doc_get_of_a_dot_id_is_that_document(
    cli: CliRun, server: Server, db: str, name: str
) -> None:
    result = cli("doc", "get", db, name, "--json")
    assert result.exit_code in (2, 4), (result.stdout, result.stderr)
    assert "couchdb" not in result.stdout.lower()  # never the server root's welcome


@pytest.mark.parametrize("name", ["..", "%2e%2e"])
def test_doc_put_and_get_of_a_dotted_id_round_trip(
    cli: CliRun, server: Server, db: str, name: str
) -> None:
    """Where CouchDB accepts the id, it is stored and read back under that id."""
    created = cli("doc", "put", db, name, "--data", '{"k": 1}', "--json")
    if created.exit_code != 0:
        # CouchDB refuses ids it reserves; then nothing else was touched either.
        assert created.exit_code in (2, 7), (created.stdout, created.stderr)
        assert _get(server, f"/{db}").json()["doc_count"] == 0
        return
    assert created.json()["id"] == name
    got = cli("doc", "get", db, name, "--json")
    assert got.exit_code == 0 and got.json()["_id"] == name
