"""`couchctl bulk ...` against the real server: stdout, stderr and exit codes."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.conftest import CliRun, Server
from tests.integration._data import post_docs

JSON = {"Accept": "application/json"}


def get(server: Server, path: str, **params: str) -> Any:
    response = httpx.get(f"{server.url}{path}", params=params, headers=JSON, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def all_docs(server: Server, db: str) -> list[dict[str, Any]]:
    rows = get(server, f"/{db}/_all_docs", include_docs="true")["rows"]
    return [row["doc"] for row in rows]


def doc_count(server: Server, db: str) -> int:
    return int(get(server, f"/{db}")["doc_count"])


@pytest.fixture
def new_db(server: Server) -> Iterator[str]:
    """A database name that does not exist yet (deleted afterwards if created)."""
    name = server.new_db_name("target")
    yield name
    httpx.delete(f"{server.url}/{name}", headers=JSON)


def create_db(server: Server, name: str) -> None:
    response = httpx.put(f"{server.url}/{name}", headers=JSON)
    assert response.status_code in (201, 202), response.text


def write_jsonl(path: Path, docs: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    return path


# -- bulk docs ---------------------------------------------------------------------------------


def test_docs_array_file_table(cli: CliRun, server: Server, db: str, tmp_path: Path) -> None:
    path = tmp_path / "docs.json"
    path.write_text(json.dumps([{"_id": "a", "n": 1}, {"_id": "b", "n": 2}]))
    result = cli("bulk", "docs", db, str(path))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["id", "rev", "error", "reason"]
    assert lines[1].split()[0] == "a" and lines[1].split()[1].startswith("1-")
    assert doc_count(server, db) == 2


def test_docs_object_from_stdin_json_and_conflict(cli: CliRun, server: Server, db: str) -> None:
    post_docs(server, db, [{"_id": "taken"}])
    body = json.dumps({"docs": [{"_id": "new"}, {"_id": "taken"}]})
    result = cli("bulk", "docs", db, "-", "--json", input=body)
    assert result.exit_code == 1
    answer = result.json()
    assert answer[0]["id"] == "new" and answer[0]["ok"] is True
    assert answer[1]["id"] == "taken" and answer[1]["error"] == "conflict"
    assert "1 of 2 documents were rejected" in result.stderr


def test_docs_no_new_edits(cli: CliRun, server: Server, db: str) -> None:
    body = json.dumps([{"_id": "r", "_rev": "3-0123456789abcdef0123456789abcdef", "v": 1}])
    result = cli("bulk", "docs", db, "-", "--no-new-edits", input=body)
    assert result.exit_code == 0, result.stderr
    assert get(server, f"/{db}/r")["_rev"] == "3-0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[{]", "not valid JSON"),
        ("[1]", "element 0: a document must be a JSON object, not a number"),
        ('[{"_id": "ok"}, {"_id": "_bad"}]', "element 1: illegal _id '_bad'"),
        ('{"docs": [{"_id": "a", "_foo": 1}]}', "element 0: bad special document member '_foo'"),
        ('{"documents": []}', 'must have a "docs" member'),
    ],
)
def test_docs_bad_input_exit_2(
    cli: CliRun, server: Server, db: str, body: str, message: str
) -> None:
    result = cli("bulk", "docs", db, "-", input=body)
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout == ""
    assert doc_count(server, db) == 0


def test_docs_deletion_needs_yes(cli: CliRun, server: Server, db: str) -> None:
    rev = post_docs(server, db, [{"_id": "gone"}])[0]["rev"]
    body = json.dumps([{"_id": "gone", "_rev": rev, "_deleted": True}])
    refused = cli("bulk", "docs", db, "-", input=body)
    assert refused.exit_code == 2
    assert "refusing to delete 1 document" in refused.stderr and "--yes" in refused.stderr
    assert doc_count(server, db) == 1
    done = cli("bulk", "docs", db, "-", "--yes", input=body)
    assert done.exit_code == 0, done.stderr
    assert doc_count(server, db) == 0


# -- bulk get ------------------------------------------------------------------------------------


def test_get_ids_revs_and_ids_file(cli: CliRun, server: Server, db: str, tmp_path: Path) -> None:
    revs = post_docs(server, db, [{"_id": "a", "n": 1}, {"_id": "b@x", "n": 2}, {"_id": "c"}])
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("c\n\n")
    result = cli(
        "bulk",
        "get",
        db,
        f"a@{revs[0]['rev']}",
        "b@x",
        "--ids-file",
        str(ids_file),
        "--revs",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    results = result.json()["results"]
    assert [r["id"] for r in results] == ["a", "b@x", "c"]
    first = results[0]["docs"][0]["ok"]
    assert first["_rev"] == revs[0]["rev"] and first["_revisions"]["start"] == 1


def test_get_jsonl_table_and_missing(cli: CliRun, server: Server, db: str) -> None:
    post_docs(server, db, [{"_id": "a", "n": 1}])
    lines = cli("bulk", "get", db, "a", "--jsonl")
    assert lines.exit_code == 0
    assert [r["id"] for r in lines.jsonl()] == ["a"]
    table = cli("bulk", "get", db, "a", "nope")
    assert table.exit_code == 1
    lines = [line.strip().split(None, 2) for line in table.stdout.splitlines()]
    assert lines[0] == ["id", "rev", "status"]
    found, missing = sorted(lines[1:])
    assert found[0] == "a" and found[1].startswith("1-") and found[2] == "ok"
    assert missing[0] == "nope" and missing[1].startswith("not_found")
    assert '"n"' not in table.stdout  # ids and revs, not the documents
    assert "1 of 2 requested documents or revisions were not found" in table.stderr


def test_get_without_ids_is_a_usage_error(cli: CliRun, db: str) -> None:
    result = cli("bulk", "get", db)
    assert result.exit_code == 2
    assert "no document ids given" in result.stderr


# -- bulk load -----------------------------------------------------------------------------------


def test_load_jsonl_file_json_summary(cli: CliRun, server: Server, db: str, tmp_path: Path) -> None:
    docs = [{"n": i} for i in range(25)] + [{"_id": f"own-{i}", "n": 100 + i} for i in range(5)]
    path = write_jsonl(tmp_path / "in.jsonl", docs)
    result = cli("bulk", "load", db, str(path), "--batch-size", "7", "--json")
    assert result.exit_code == 0, result.stderr
    summary = result.json()
    assert summary["written"] == 30 and summary["rejected"] == 0 and summary["batches"] == 5
    assert "30 written, 0 rejected" in result.stderr
    stored = all_docs(server, db)
    assert sorted(d["n"] for d in stored) == sorted(d["n"] for d in docs)
    assert {d["_id"] for d in stored} >= {f"own-{i}" for i in range(5)}
    assert not (tmp_path / "in.jsonl.couchctl-journal").exists()  # removed on success


def test_load_large_documents_sent_in_pieces(
    cli: CliRun, server: Server, db: str, tmp_path: Path
) -> None:
    """Batches of 256 KiB of text or more go in pieces with their Content-Length
    (bulk/body.py): documents of 600 KB, with and without ids, non-ASCII text,
    white space after the brace, beside small ones, all stored as given."""
    big = "\u00e9t\u00e9 " * 100_000  # 600,000 characters, 700,000 bytes
    docs = [
        {"n": 0, "s": big},
        {"_id": "own-big", "n": 1, "s": big},
        {"n": 2},
        {"n": 3, "s": big[:300_000]},
    ]
    lines = [json.dumps(d, ensure_ascii=False) for d in docs]
    lines[3] = "{ \t" + lines[3][1:]
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = cli("bulk", "load", db, str(path), "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["written"] == 4
    assert "4 written, 0 rejected" in result.stderr and "Traceback" not in result.stderr
    stored = {d["n"]: d for d in all_docs(server, db)}
    for doc in docs:
        got = stored[doc["n"]]
        assert {k: v for k, v in got.items() if k not in ("_id", "_rev")} == {
            k: v for k, v in doc.items() if k != "_id"
        }
    assert stored[1]["_id"] == "own-big"


def test_dump_large_documents(cli: CliRun, server: Server, db: str, tmp_path: Path) -> None:
    """Documents of 1.5 MB are handed on one at a time (bulk/dumper.py EMIT_CHARS, the
    row reader waits for the writer after each): all of them, whole, in id order."""
    big = "\u00e9t\u00e9 " * 300_000
    docs = [{"_id": f"big-{i}", "s": big, "n": i} for i in range(3)]
    docs += [{"_id": f"small-{i}", "n": 10 + i} for i in range(5)]
    post_docs(server, db, docs)
    out = tmp_path / "dump.jsonl"
    result = cli("bulk", "dump", db, "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert f"dumped 8 documents from {db} to {out}" in result.stderr
    dumped = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [d["_id"] for d in dumped] == [d["_id"] for d in docs]
    assert [d.get("s") for d in dumped] == [d.get("s") for d in docs]


def loaded_ids_in_input_order(server: Server, db: str) -> list[str]:
    return [str(d["_id"]) for d in sorted(all_docs(server, db), key=lambda d: d["n"])]


def server_id_prefix(server: Server) -> str:
    return str(get(server, "/_uuids")["uuids"][0])[:26]


@pytest.mark.couchdb_only
def test_load_makes_ids_in_the_servers_sequential_form(
    cli: CliRun, server: Server, db: str, tmp_path: Path
) -> None:
    config = httpx.get(f"{server.url}/_node/_local/_config/uuids", headers=JSON)
    assert config.status_code == 200, config.text  # the test server URL is an admin's
    if config.json().get("algorithm", "sequential") != "sequential":
        pytest.skip("this server's [uuids] algorithm is not CouchDB's default")
    path = write_jsonl(tmp_path / "in.jsonl", [{"n": i} for i in range(40)])
    result = cli("bulk", "load", db, str(path), "--batch-size", "7")
    assert result.exit_code == 0, result.stderr
    ids = loaded_ids_in_input_order(server, db)
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids), ids
    assert ids == sorted(ids) and len(set(ids)) == 40
    assert len({i[:26] for i in ids}) == 1  # one random prefix, then a growing counter
    assert ids[0][:26] != server_id_prefix(server)  # made by couchctl, not by /_uuids


@pytest.mark.couchdb_only
def test_load_as_a_database_member_takes_ids_from_the_server(
    cli: CliRun, server: Server, db: str, tmp_path: Path
) -> None:
    """Not a server admin: the configuration cannot be read, so /_uuids makes the ids."""
    name = f"loader-{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(12)
    user_url = f"{server.url}/_users/org.couchdb.user:{name}"
    user = {"name": name, "password": password, "roles": [], "type": "user"}
    assert httpx.put(user_url, json=user, headers=JSON).status_code in (201, 202)
    try:
        security = {"admins": {"names": [], "roles": []}, "members": {"names": [name]}}
        response = httpx.put(f"{server.url}/{db}/_security", json=security, headers=JSON)
        assert response.status_code == 200, response.text
        split = urlsplit(server.url)
        host = split.netloc.rsplit("@", 1)[-1]
        member_url = urlunsplit(split._replace(netloc=f"{name}:{password}@{host}"))
        path = write_jsonl(tmp_path / "in.jsonl", [{"n": i} for i in range(5)])
        before = server_id_prefix(server)
        result = cli("bulk", "load", db, str(path), url=member_url)
        after = server_id_prefix(server)
        assert result.exit_code == 0, result.stderr
        assert "unauthorized" not in result.stderr and "admin" not in result.stderr
        ids = loaded_ids_in_input_order(server, db)
        assert len(set(ids)) == 5 and {i[:26] for i in ids} <= {before, after}
    finally:
        rev = httpx.get(user_url, headers=JSON).json().get("_rev")
        httpx.delete(user_url, params={"rev": rev}, headers=JSON)


def test_load_json_array_file(cli: CliRun, server: Server, db: str, tmp_path: Path) -> None:
    path = tmp_path / "in.json"
    path.write_text(json.dumps([{"_id": f"x{i}", "n": i} for i in range(10)], indent=2))
    result = cli("bulk", "load", db, str(path), "--batch-size", "3")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert doc_count(server, db) == 10


def test_load_stdin(cli: CliRun, server: Server, db: str) -> None:
    text = "".join(json.dumps({"n": i}) + "\n" for i in range(12))
    result = cli("bulk", "load", db, "-", "--batch-size", "5", input=text)
    assert result.exit_code == 0, result.stderr
    assert doc_count(server, db) == 12


def test_load_rejects_file_with_a_conflict(
    cli: CliRun, server: Server, db: str, tmp_path: Path
) -> None:
    post_docs(server, db, [{"_id": "taken", "old": True}])
    path = write_jsonl(
        tmp_path / "in.jsonl", [{"_id": "a"}, {"_id": "taken", "new": True}, {"n": 3}]
    )
    rejects = tmp_path / "rejects.jsonl"
    result = cli("bulk", "load", db, str(path), "--rejects", str(rejects))
    assert result.exit_code == 1
    assert "2 written, 1 rejected" in result.stderr
    entries = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert len(entries) == 1
    assert entries[0]["line"] == 2 and entries[0]["id"] == "taken"
    assert entries[0]["error"] == "conflict" and entries[0]["doc"] == {"_id": "taken", "new": True}
    assert entries[0]["reason"]
    assert doc_count(server, db) == 3


def test_load_bad_line_refused_before_anything_is_sent(
    cli: CliRun, server: Server, db: str, tmp_path: Path
) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"n":1}\n{"n":2}\n' * 10 + '{"n": oops}\n{"n":3}\n')
    result = cli("bulk", "load", db, str(path), "--batch-size", "2")
    assert result.exit_code == 2
    assert "line 21: not valid JSON" in result.stderr
    assert "nothing was sent" in result.stderr
    assert doc_count(server, db) == 0


def test_load_non_object_line(cli: CliRun, server: Server, db: str, tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"n":1}\n"just a string"\n')
    result = cli("bulk", "load", db, str(path))
    assert result.exit_code == 2
    assert "line 2: a document must be a JSON object, not a string" in result.stderr
    assert doc_count(server, db) == 0


def test_load_stdin_stops_at_the_first_bad_line(cli: CliRun, server: Server, db: str) -> None:
    text = "".join(json.dumps({"n": i}) + "\n" for i in range(4)) + "[1]\n" + '{"n":9}\n'
    result = cli("bulk", "load", db, "-", "--batch-size", "2", "--concurrency", "1", input=text)
    assert result.exit_code == 2
    assert "stdin: line 5: a document must be a JSON object" in result.stderr
    assert doc_count(server, db) == 4  # the two whole batches before the bad line


def test_load_deletions_need_yes(cli: CliRun, server: Server, db: str, tmp_path: Path) -> None:
    revs = post_docs(server, db, [{"_id": "a"}, {"_id": "b"}])
    deletions = [{"_id": r["id"], "_rev": r["rev"], "_deleted": True} for r in revs]
    path = write_jsonl(tmp_path / "del.jsonl", [{"_id": "c"}, *deletions])
    refused = cli("bulk", "load", db, str(path))
    assert refused.exit_code == 2
    assert "refusing to delete 2 documents" in refused.stderr
    assert doc_count(server, db) == 2
    text = path.read_text()
    from_stdin = cli("bulk", "load", db, "-", "--batch-size", "1", "--concurrency", "1", input=text)
    assert from_stdin.exit_code == 2
    assert "stdin: line 2: deletes a document" in from_stdin.stderr
    assert doc_count(server, db) == 3  # "c", sent before the deletion was read
    done = cli("bulk", "load", db, str(path), "--yes")
    assert done.exit_code == 1  # "c" exists now: a conflict; the deletions go through
    assert "2 written, 1 rejected" in done.stderr
    assert doc_count(server, db) == 1


def test_load_missing_database_exit_4(cli: CliRun, server: Server, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", [{"n": 1}])
    result = cli("bulk", "load", server.new_db_name("missing"), str(path))
    assert result.exit_code == 4


def test_load_existing_journal_needs_resume_or_restart(
    cli: CliRun, server: Server, db: str, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", [{"_id": "a"}])
    journal = tmp_path / "in.jsonl.couchctl-journal"
    journal.write_text('{"couchctl_journal": 1, "db": "other"}\n')
    refused = cli("bulk", "load", db, str(path))
    assert refused.exit_code == 2
    assert "left a journal" in refused.stderr and "--resume" in refused.stderr
    other = cli("bulk", "load", db, str(path), "--resume")
    assert other.exit_code == 2
    assert "belongs to another load" in other.stderr
    assert doc_count(server, db) == 0
    restarted = cli("bulk", "load", db, str(path), "--restart")
    assert restarted.exit_code == 0, restarted.stderr
    assert doc_count(server, db) == 1
    assert not journal.exists()


# -- bulk dump ------------------------------------------------------------------------------------


def put_attachment(server: Server, db: str, doc_id: str, rev: str, name: str, data: bytes) -> None:
    response = httpx.put(
        f"{server.url}/{db}/{doc_id}/{name}",
        params={"rev": rev},
        content=data,
        headers={"Content-Type": "application/octet-stream", **JSON},
    )
    assert response.status_code == 201, response.text


def test_dump_stdout_in_key_order_without_design(cli: CliRun, server: Server, db: str) -> None:
    post_docs(
        server,
        db,
        [
            *[{"_id": f"d{i:03d}", "n": i} for i in range(30)][::-1],
            {"_id": "_design/v", "views": {}},
        ],
    )
    result = cli("bulk", "dump", db, "--batch-size", "7")
    assert result.exit_code == 0, result.stderr
    docs = result.jsonl()
    assert [d["_id"] for d in docs] == [f"d{i:03d}" for i in range(30)]
    assert all(d["_rev"].startswith("1-") for d in docs)
    assert "dumped 30 documents" in result.stderr


def test_dump_include_design_to_file(cli: CliRun, server: Server, db: str, tmp_path: Path) -> None:
    post_docs(server, db, [{"_id": "a"}, {"_id": "_design/v", "views": {}}, {"_id": "z"}])
    out = tmp_path / "dump.jsonl"
    result = cli(
        "bulk",
        "dump",
        db,
        "-o",
        str(out),
        "--include-design",
        "--concurrency",
        "2",
        "--batch-size",
        "1",
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert [json.loads(line)["_id"] for line in out.read_text().splitlines()] == [
        "_design/v",
        "a",
        "z",
    ]
    assert not (tmp_path / "dump.jsonl.part").exists()


def test_dump_attachments(cli: CliRun, server: Server, db: str) -> None:
    rev = post_docs(server, db, [{"_id": "with-att"}])[0]["rev"]
    put_attachment(server, db, "with-att", rev, "blob.bin", b"\x00\x01binary\xff")
    without = cli("bulk", "dump", db)
    assert without.exit_code == 0
    assert "_attachments" not in without.jsonl()[0]
    assert "1 documents have attachments that were left out" in without.stderr
    inline = cli("bulk", "dump", db, "--attachments")
    assert inline.exit_code == 0
    attachment = inline.jsonl()[0]["_attachments"]["blob.bin"]
    import base64

    assert base64.b64decode(attachment["data"]) == b"\x00\x01binary\xff"


def test_dump_missing_database_exit_4(cli: CliRun, server: Server, tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    result = cli("bulk", "dump", server.new_db_name("missing"), "-o", str(out))
    assert result.exit_code == 4
    assert not out.exists() and not (tmp_path / "x.jsonl.part").exists()


@pytest.mark.parametrize("concurrency", ["1", "3"])
def test_dump_then_load_reproduces_documents_and_revisions(
    cli: CliRun, server: Server, db: str, new_db: str, tmp_path: Path, concurrency: str
) -> None:
    results = post_docs(
        server, db, [{"_id": f"doc-{i:02d}", "n": i, "tags": ["x", i]} for i in range(20)]
    )
    # Give documents different revision counts: doc-i is edited i % 4 times.
    revs = {r["id"]: r["rev"] for r in results}
    for round_ in range(3):
        edits = [
            {"_id": doc_id, "_rev": revs[doc_id], "n": int(doc_id[4:]), "round": round_}
            for doc_id in revs
            if int(doc_id[4:]) % 4 > round_
        ]
        for r in post_docs(server, db, edits):
            revs[r["id"]] = r["rev"]
    rev = revs["doc-03"]
    put_attachment(server, db, "doc-03", rev, "a.txt", b"hello attachment")
    post_docs(
        server, db, [{"_id": "_design/v", "views": {"all": {"map": "function(d){emit(d._id)}"}}}]
    )
    original = all_docs(server, db)

    out = tmp_path / "dump.jsonl"
    dumped = cli(
        "bulk",
        "dump",
        db,
        "-o",
        str(out),
        "--include-design",
        "--attachments",
        "--batch-size",
        "6",
        "--concurrency",
        concurrency,
    )
    assert dumped.exit_code == 0, dumped.stderr
    create_db(server, new_db)
    loaded = cli("bulk", "load", new_db, str(out), "--no-new-edits", "--batch-size", "4", "--json")
    assert loaded.exit_code == 0, loaded.stderr
    assert loaded.json()["written"] == 21

    copy = all_docs(server, new_db)
    assert [d["_id"] for d in copy] == [d["_id"] for d in original]
    for before, after in zip(original, copy, strict=True):
        assert after == before  # same content, same _rev (revision count and hash)
    assert {d["_rev"].split("-")[0] for d in copy} == {
        "1",
        "2",
        "3",
        "4",
        "5",
    }  # doc-03: +1 for its attachment
    att = httpx.get(f"{server.url}/{new_db}/doc-03/a.txt")
    assert att.content == b"hello attachment"


def test_load_dump_without_no_new_edits_hints(
    cli: CliRun, server: Server, db: str, tmp_path: Path
) -> None:
    path = write_jsonl(
        tmp_path / "dump.jsonl", [{"_id": "a", "_rev": "2-0123456789abcdef0123456789abcdef"}]
    )
    result = cli("bulk", "load", db, str(path))
    assert result.exit_code == 1
    assert "--no-new-edits" in result.stderr


# -- an interrupted load, resumed ------------------------------------------------------------------


def test_killed_load_resumes_without_duplicates(
    cli: CliRun, server: Server, db: str, tmp_path: Path
) -> None:
    count = 4000
    path = write_jsonl(tmp_path / "in.jsonl", [{"n": i, "pad": "p" * 40} for i in range(count)])
    journal = tmp_path / "in.jsonl.couchctl-journal"
    env = {**os.environ, "COUCH_URL": server.url, "NO_COLOR": "1"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "couchctl",
            "bulk",
            "load",
            db,
            str(path),
            "--batch-size",
            "20",
            "--concurrency",
            "1",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if journal.exists() and journal.read_text().count('"done"') >= 5:
                break
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    assert journal.exists()
    written_before = doc_count(server, db)
    assert 0 < written_before < count

    again = cli("bulk", "load", db, str(path), "--batch-size", "20")
    assert again.exit_code == 2  # the journal is there: --resume or --restart
    resumed = cli("bulk", "load", db, str(path), "--resume", "--json")
    assert resumed.exit_code == 0, resumed.stderr
    summary = resumed.json()
    assert summary["skipped"] > 0
    assert not journal.exists()

    docs = all_docs(server, db)
    assert len(docs) == count == doc_count(server, db)
    assert sorted(d["n"] for d in docs) == list(range(count))  # each exactly once
    assert all(d["_rev"].startswith("1-") for d in docs)


# -- output files -----------------------------------------------------------------------------


def test_dump_refuses_an_existing_file_without_force(
    cli: CliRun, server: Server, db: str, tmp_path: Path
) -> None:
    post_docs(server, db, [{"_id": "a"}])
    out = tmp_path / "existing.txt"
    out.write_text("keep me")
    refused = cli("bulk", "dump", db, "-o", str(out))
    assert refused.exit_code == 2
    assert "exists; use --force" in refused.stderr
    assert out.read_text() == "keep me"
    forced = cli("bulk", "dump", db, "-o", str(out), "--force")
    assert forced.exit_code == 0, forced.stderr
    assert [json.loads(line)["_id"] for line in out.read_text().splitlines()] == ["a"]


def test_dump_never_follows_a_symlink_planted_at_part(
    cli: CliRun, server: Server, db: str, tmp_path: Path
) -> None:
    post_docs(server, db, [{"_id": "a"}])
    victim = tmp_path / "victim"
    victim.write_text("precious")
    out = tmp_path / "dump.jsonl"
    (tmp_path / "dump.jsonl.part").symlink_to(victim)
    result = cli("bulk", "dump", db, "-o", str(out))
    assert result.exit_code == 2
    assert "dump.jsonl.part already exists" in result.stderr
    assert victim.read_text() == "precious"
    assert (tmp_path / "dump.jsonl.part").is_symlink()
    assert not os.path.lexists(out)


def test_dump_keeps_a_part_it_did_not_create(cli: CliRun, server: Server, tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    (tmp_path / "x.jsonl.part").write_text("an earlier dump")
    result = cli("bulk", "dump", server.new_db_name("missing"), "-o", str(out))
    assert result.exit_code == 2
    assert (tmp_path / "x.jsonl.part").read_text() == "an earlier dump"
    assert not out.exists()


def test_load_rejects_file_existing_refused_appended_or_replaced(
    cli: CliRun, server: Server, db: str, tmp_path: Path
) -> None:
    post_docs(server, db, [{"_id": "taken"}])
    path = write_jsonl(tmp_path / "in.jsonl", [{"_id": "taken", "new": True}])
    rejects = tmp_path / "rejects.jsonl"
    rejects.write_text('{"earlier": true}\n')

    refused = cli("bulk", "load", db, str(path), "--rejects", str(rejects))
    assert refused.exit_code == 2
    assert "exists; use --force" in refused.stderr
    assert rejects.read_text() == '{"earlier": true}\n'
    assert doc_count(server, db) == 1

    appended = cli("bulk", "load", db, str(path), "--rejects", str(rejects), "--append")
    assert appended.exit_code == 1, appended.stderr
    lines = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert lines[0] == {"earlier": True}
    assert [entry["id"] for entry in lines[1:]] == ["taken"]

    replaced = cli("bulk", "load", db, str(path), "--rejects", str(rejects), "--force")
    assert replaced.exit_code == 1, replaced.stderr
    assert [json.loads(line)["id"] for line in rejects.read_text().splitlines()] == ["taken"]


def test_load_rejects_file_never_written_through_a_symlink(
    cli: CliRun, server: Server, db: str, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", [{"_id": "a"}])
    victim = tmp_path / "victim"
    victim.write_text("precious")
    rejects = tmp_path / "rejects.jsonl"
    rejects.symlink_to(victim)
    result = cli("bulk", "load", db, str(path), "--rejects", str(rejects), "--append")
    assert result.exit_code == 2
    assert "symbolic link" in result.stderr
    assert victim.read_text() == "precious"


# -- input that json cannot decode ------------------------------------------------------------

DEEP = "[" * 100_000 + "]" * 100_000


def test_load_deeply_nested_line_is_exit_2_with_its_line(
    cli: CliRun, server: Server, db: str, tmp_path: Path
) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"n":1}\n{"deep":' + DEEP + "}\n")
    result = cli("bulk", "load", db, str(path))
    assert result.exit_code == 2, result.stderr
    assert "line 2: not valid JSON: nested too deeply" in result.stderr
    assert "RecursionError" not in result.stderr
    assert doc_count(server, db) == 0
    piped = cli("bulk", "load", db, "-", "--concurrency", "1", input='{"n":1}\n' + DEEP + "\n")
    assert piped.exit_code == 2, piped.stderr
    assert "stdin: line 2: not valid JSON: nested too deeply" in piped.stderr


def test_docs_deeply_nested_json_is_exit_2(
    cli: CliRun, server: Server, db: str, tmp_path: Path
) -> None:
    path = tmp_path / "docs.json"
    path.write_text('{"docs": [' + DEEP + "]}")
    result = cli("bulk", "docs", db, str(path))
    assert result.exit_code == 2, result.stderr
    assert "not valid JSON" in result.stderr and "nested too deeply" in result.stderr
    assert doc_count(server, db) == 0
