"""A short real session with couchctl, run by the README's first command.

Uses the server named by COUCH_URL, or starts the stand-in (pouchdb-server) for
the length of the tour. Every step is printed as the command a person would type;
the tour creates one database of its own and deletes it at the end.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DESIGN = {
    "views": {
        "by_type": {
            "map": "function (doc) { if (doc.type) { emit(doc.type, 1); } }",
            "reduce": "_count",
        }
    }
}


def couchctl() -> list[str]:
    exe = shutil.which("couchctl", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "couchctl"]


class TourFailed(SystemExit):
    pass


def step(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[bytes]:
    print(f"\n$ couchctl {shlex.join(args)}", flush=True)
    result = subprocess.run([*couchctl(), *args], env=env, check=False)
    if check and result.returncode != 0:
        raise TourFailed(
            f"tour step failed with exit code {result.returncode}: couchctl {shlex.join(args)}"
        )
    return result


def piped(args: list[str], filter_: list[str], env: dict[str, str]) -> None:
    """`couchctl ARGS | FILTER`, shown and run as a pipeline."""
    print(f"\n$ couchctl {shlex.join(args)} | {shlex.join(filter_)}", flush=True)
    producer = subprocess.run([*couchctl(), *args], env=env, capture_output=True, check=False)
    if producer.returncode != 0:
        sys.stderr.write(producer.stderr.decode(errors="replace"))
        raise TourFailed(f"tour step failed with exit code {producer.returncode}")
    consumer = subprocess.run(filter_, input=producer.stdout, check=False)
    if consumer.returncode != 0:
        raise TourFailed(f"{filter_[0]} failed with exit code {consumer.returncode}")


def tour(env: dict[str, str], workdir: Path) -> None:
    db = f"tour-{uuid.uuid4().hex[:8]}"
    step("server", "info", env=env)
    step("db", "create", db, env=env)
    try:
        step(
            "doc",
            "put",
            db,
            "note-1",
            "--data",
            '{"type": "note", "title": "hello", "n": 1}',
            env=env,
        )
        step(
            "doc", "create", db, "--data", '{"type": "task", "title": "water the plants"}', env=env
        )
        step("doc", "put", db, "_design/tour", "--data", json.dumps(DESIGN), env=env)
        step("doc", "get", db, "note-1", env=env)

        lines = workdir / "notes.jsonl"
        lines.write_text(
            "".join(
                json.dumps({"_id": f"bulk-{i:02d}", "type": "note" if i % 2 else "task", "n": i})
                + "\n"
                for i in range(2, 12)
            ),
            encoding="utf-8",
        )
        step("bulk", "load", db, str(lines), env=env)

        original = workdir / "hello.txt"
        original.write_bytes("Hello from couchctl, ünïcode and all.\n".encode() * 20)
        copy = workdir / "hello-copy.txt"
        step("att", "upload", db, "note-1", str(original), "--content-type", "text/plain", env=env)
        step("att", "list", db, "note-1", env=env)
        step("att", "download", db, "note-1", "hello.txt", "-o", str(copy), env=env)
        if copy.read_bytes() != original.read_bytes():
            raise TourFailed("the downloaded attachment differs from the uploaded file")
        print("(the downloaded bytes match the uploaded file)")

        step("view", "query", db, "tour", "by_type", "--group", env=env)
        step("db", "all-docs", db, "--limit", "5", env=env)
        selector = '{"type": "note"}'
        if shutil.which("jq"):
            piped(["find", "query", db, selector, "--json"], ["jq", "-c", "[.docs[]._id]"], env)
        else:
            step("find", "query", db, selector, "--json", env=env)
        step("db", "info", db, env=env)
    finally:
        step("db", "delete", db, "--yes", env=env, check=False)


def main() -> int:
    env = dict(os.environ)
    standin = None
    if not env.get("COUCH_URL"):
        from tests.standin import start

        print("COUCH_URL is not set: starting the stand-in server (pouchdb-server) ...", flush=True)
        standin = start()
        env["COUCH_URL"] = standin.admin_url
    try:
        with tempfile.TemporaryDirectory(prefix="couchctl-tour-") as tmp:
            tour(env, Path(tmp))
    except TourFailed as exc:
        print(f"\n{exc.code}", file=sys.stderr)
        return 1
    finally:
        if standin is not None:
            standin.stop()
    print("\nTour complete.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
