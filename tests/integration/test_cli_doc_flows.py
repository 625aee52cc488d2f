"""`couchctl doc edit|conflicts|resolve` against the real server.

`doc edit` runs a scripted editor: a small Python program that does, on its
N-th call, the N-th action of EDIT_ACTIONS and logs what it saw to EDIT_LOG.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from tests.conftest import CliRun, Server

JSON = {"Accept": "application/json"}

EDITOR = r"""
import json, os, sys
path = sys.argv[1]
log = os.environ["EDIT_LOG"]
seen = []
if os.path.exists(log):
    with open(log) as handle:
        seen = [json.loads(line) for line in handle]
with open(path) as handle:
    text = handle.read()
with open(log, "a") as handle:
    entry = {"path": path, "mode": os.stat(path).st_mode & 0o777, "text": text}
    handle.write(json.dumps(entry) + "\n")
action = os.environ["EDIT_ACTIONS"].split(",")[len(seen)]
if action == "fail":
    sys.exit(3)
if action == "none":
    sys.exit(0)
if action == "invalid":
    with open(path, "w") as handle:
        handle.write("{not json")
    sys.exit(0)
parts = action.split("+")
doc = json.loads(seen[0]["text"] if "fix" in parts else text)
if "concurrent" in parts:
    import httpx
    url = os.environ["EDIT_URL"]
    current = httpx.get(url, headers={"Accept": "application/json"}).json()
    current["other"] = "theirs"
    httpx.put(url, json=current, headers={"Accept": "application/json"}).raise_for_status()
if "steal-id" in parts:
    doc["_id"] = "somewhere-else"
    doc["_rev"] = "9-bogus"
doc["n"] = 2
with open(path, "w") as handle:
    json.dump(doc, handle)
"""


def put(server: Server, db: str, doc_id: str, doc: dict[str, Any]) -> str:
    response = httpx.put(
        f"{server.url}/{db}/{doc_id}", json=doc, params=server.all_copies(db), headers=JSON
    )
    assert response.status_code == 201, response.text
    rev: str = response.json()["rev"]
    return rev


def get(server: Server, db: str, doc_id: str, **params: str) -> Any:
    response = httpx.get(f"{server.url}/{db}/{doc_id}", params=params, headers=JSON)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def editor(tmp_path: Path, server: Server) -> Any:
    script = tmp_path / "editor.py"
    script.write_text(EDITOR)
    log = tmp_path / "editor.log"

    def env(actions: str, doc_url: str = "") -> dict[str, str]:
        return {
            "VISUAL": f"{sys.executable} {script}",
            "EDIT_ACTIONS": actions,
            "EDIT_LOG": str(log),
            "EDIT_URL": doc_url,
        }

    def calls() -> list[dict[str, Any]]:
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]

    env.calls = calls  # type: ignore[attr-defined]
    return env


def test_edit_saves_a_change_and_removes_the_file(
    cli: CliRun, server: Server, db: str, editor: Any
) -> None:
    rev = put(server, db, "d", {"n": 1, "keep": "me"})
    result = cli("doc", "edit", db, "d", env=editor("set"))
    assert result.exit_code == 0, result.stderr
    doc = get(server, db, "d")
    assert doc["n"] == 2
    assert doc["keep"] == "me"
    assert doc["_rev"].startswith("2-")
    (call,) = editor.calls()
    assert call["mode"] == 0o600
    assert json.loads(call["text"]) == {"_id": "d", "_rev": rev, "n": 1, "keep": "me"}
    assert call["text"].startswith("{\n  ")  # pretty
    assert not Path(call["path"]).exists()
    assert f"saved document d rev {doc['_rev']}" in result.stdout


def test_edit_unchanged_sends_nothing(cli: CliRun, server: Server, db: str, editor: Any) -> None:
    rev = put(server, db, "d", {"n": 1})
    result = cli("doc", "edit", db, "d", env=editor("none"))
    assert result.exit_code == 0, result.stderr
    assert "unchanged" in result.stdout
    assert get(server, db, "d")["_rev"] == rev
    assert not Path(editor.calls()[0]["path"]).exists()


def test_edit_invalid_json_off_a_terminal_exits_2_keeping_the_file(
    cli: CliRun, server: Server, db: str, editor: Any
) -> None:
    rev = put(server, db, "d", {"n": 1})
    result = cli("doc", "edit", db, "d", env=editor("invalid"))
    assert result.exit_code == 2
    path = editor.calls()[0]["path"]
    assert path in result.stderr
    assert Path(path).read_text() == "{not json"
    assert get(server, db, "d")["_rev"] == rev
    Path(path).unlink()


def test_edit_concurrent_write_survives_off_a_terminal(
    cli: CliRun, server: Server, db: str, editor: Any
) -> None:
    put(server, db, "d", {"n": 1})
    url = f"{server.url}/{db}/d"
    result = cli("doc", "edit", db, "d", env=editor("concurrent", url))
    assert result.exit_code == 5
    doc = get(server, db, "d")
    assert doc["other"] == "theirs"
    assert doc["n"] == 1  # the edit was not forced over the other write
    path = editor.calls()[0]["path"]
    assert path in result.stderr
    assert "other" in result.stderr  # the key that changed on the server
    assert json.loads(Path(path).read_text())["n"] == 2
    Path(path).unlink()


def test_edit_on_a_terminal_reopens_after_a_conflict_and_invalid_json(
    server: Server, db: str, editor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from couchctl.client import CouchClient
    from couchctl.workflows.edit import edit_document, editor_command

    put(server, db, "d", {"n": 1})
    env = editor("invalid,fix+concurrent,none", f"{server.url}/{db}/d")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    said: list[str] = []

    async def main() -> Any:
        async with CouchClient(server.url) as couch:
            return await edit_document(
                couch, db, "d", editor=editor_command(env), interactive=True, say=said.append
            )

    result = anyio.run(main)
    assert result.saved
    doc = get(server, db, "d")
    assert doc["other"] == "theirs"  # the concurrent write survives
    assert doc["n"] == 2  # and the edit is applied over it
    assert len(editor.calls()) == 3
    assert any("not valid JSON" in line for line in said)
    assert any("changed on the server" in line and "other" in line for line in said)


def test_edit_abandoned_after_a_conflict_is_a_conflict(
    server: Server, db: str, editor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from couchctl.client import CouchClient
    from couchctl.workflows.edit import EditConflict, edit_document, editor_command

    put(server, db, "d", {"n": 1})
    env = editor("concurrent,fail", f"{server.url}/{db}/d")
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    async def main() -> Any:
        async with CouchClient(server.url) as couch:
            return await edit_document(couch, db, "d", editor=editor_command(env), interactive=True)

    with pytest.raises(EditConflict) as caught:
        anyio.run(main)
    assert caught.value.keys == ["other"]
    assert caught.value.path is not None
    assert json.loads(Path(caught.value.path).read_text())["other"] == "theirs"
    assert get(server, db, "d")["n"] == 1
    Path(caught.value.path).unlink()


def test_edit_keeps_id_and_rev(cli: CliRun, server: Server, db: str, editor: Any) -> None:
    put(server, db, "d", {"n": 1})
    result = cli("doc", "edit", db, "d", env=editor("steal-id"))
    assert result.exit_code == 0, result.stderr
    assert get(server, db, "d")["n"] == 2
    assert httpx.get(f"{server.url}/{db}/somewhere-else").status_code == 404


def test_edit_missing_document(cli: CliRun, server: Server, db: str, editor: Any) -> None:
    result = cli("doc", "edit", db, "nope", env=editor("set"))
    assert result.exit_code == 4
    assert editor.calls() == []
    result = cli("doc", "edit", db, "nope", "--create", env=editor("set"))
    assert result.exit_code == 0, result.stderr
    assert "created document nope" in result.stdout
    assert get(server, db, "nope")["n"] == 2
    assert json.loads(editor.calls()[0]["text"]) == {"_id": "nope"}


def test_edit_editor_failure_keeps_the_document(
    cli: CliRun, server: Server, db: str, editor: Any
) -> None:
    rev = put(server, db, "d", {"n": 1})
    result = cli("doc", "edit", db, "d", env=editor("fail"))
    assert result.exit_code == 1
    assert "status 3" in result.stderr
    assert get(server, db, "d")["_rev"] == rev
    Path(editor.calls()[0]["path"]).unlink()


# -- conflicts and resolve ---------------------------------------------------------------------


def make_conflict(server: Server, db: str, doc_id: str) -> list[str]:
    """Three leaves written with new_edits=false; returns their revisions, winner first."""
    docs = [
        {"_id": doc_id, "_rev": "1-aaaa", "side": "a", "same": 1},
        {"_id": doc_id, "_rev": "1-bbbb", "side": "b", "same": 1},
        {"_id": doc_id, "_rev": "1-cccc", "side": "c", "same": 1, "extra": True},
    ]
    response = httpx.post(
        f"{server.url}/{db}/_bulk_docs",
        json={"docs": docs, "new_edits": False},
        params=server.all_copies(db),
        headers=JSON,
    )
    assert response.status_code == 201, response.text
    doc = get(server, db, doc_id, conflicts="true")
    return [doc["_rev"], *doc["_conflicts"]]


def test_conflicts_lists_conflicted_documents(cli: CliRun, server: Server, db: str) -> None:
    put(server, db, "plain", {"n": 1})
    revs_x = make_conflict(server, db, "x")
    revs_y = make_conflict(server, db, "y")
    result = cli("doc", "conflicts", db, "--jsonl")
    assert result.exit_code == 0, result.stderr
    assert result.jsonl() == [
        {"id": "x", "rev": revs_x[0], "conflicts": revs_x[1:]},
        {"id": "y", "rev": revs_y[0], "conflicts": revs_y[1:]},
    ]
    table = cli("doc", "conflicts", db)
    assert table.exit_code == 0
    assert "plain" not in table.stdout
    assert revs_x[1] in table.stdout


def test_conflicts_of_one_document_show_how_leaves_differ(
    cli: CliRun, server: Server, db: str
) -> None:
    revs = make_conflict(server, db, "x")
    result = cli("doc", "conflicts", db, "x", "--json")
    assert result.exit_code == 0, result.stderr
    leaves = result.json()["leaves"]
    assert leaves[0] == {"rev": revs[0], "winner": True, "deleted": False, "differs": []}
    by_rev = {leaf["rev"]: leaf for leaf in leaves}
    assert set(by_rev) == set(revs)
    assert revs[0] == "1-cccc"  # the highest revision wins
    assert by_rev["1-aaaa"]["differs"] == ["extra", "side"]
    assert by_rev["1-bbbb"]["differs"] == ["extra", "side"]


def test_resolve_keep_a_losing_revision(cli: CliRun, server: Server, db: str) -> None:
    revs = make_conflict(server, db, "x")
    loser = revs[-1]
    result = cli("doc", "resolve", db, "x", "--keep", loser)
    assert result.exit_code == 0, result.stderr
    assert "no conflicts left" in result.stdout
    doc = get(server, db, "x", conflicts="true")
    assert doc["_rev"] == loser
    assert "_conflicts" not in doc


def test_resolve_keep_a_revision_that_is_not_a_leaf_writes_nothing(
    cli: CliRun, server: Server, db: str
) -> None:
    revs = make_conflict(server, db, "x")
    result = cli("doc", "resolve", db, "x", "--keep", "1-dddd")
    assert result.exit_code == 2
    assert "not a live leaf" in result.stderr
    doc = get(server, db, "x", conflicts="true")
    assert [doc["_rev"], *doc["_conflicts"]] == revs


def test_resolve_merge(cli: CliRun, server: Server, db: str, tmp_path: Path) -> None:
    revs = make_conflict(server, db, "x")
    merged = tmp_path / "merged.json"
    merged.write_text(json.dumps({"side": "all", "same": 1}))
    result = cli("doc", "resolve", db, "x", "--merge", str(merged), "--json")
    assert result.exit_code == 0, result.stderr
    summary = result.json()
    assert summary["conflicts"] == []
    assert sorted(summary["deleted"]) == sorted(revs[1:])
    doc = get(server, db, "x", conflicts="true")
    assert doc["side"] == "all"
    assert doc["_rev"] == summary["rev"]
    assert doc["_rev"].startswith("2-")
    assert "_conflicts" not in doc


def test_resolve_usage_errors_send_nothing(cli_offline: CliRun, tmp_path: Path) -> None:
    offline = "http://127.0.0.1:9"
    assert cli_offline("doc", "resolve", "db", "x", url=offline).exit_code == 2
    assert (
        cli_offline("doc", "resolve", "db", "x", "--keep", "1-a", "--merge", "f", url=offline)
    ).exit_code == 2
    bad = tmp_path / "bad.json"
    bad.write_text("[1]")
    result = cli_offline("doc", "resolve", "db", "x", "--merge", str(bad), url=offline)
    assert result.exit_code == 2
    assert "JSON object" in result.stderr
