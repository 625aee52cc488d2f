"""`db changes --follow` through the fault proxy: a dropped feed ends with exit 3 and
says where to resume; resuming there loses no change."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from tests.conftest import Server
from tests.faults.conftest import put_docs
from tests.faults.proxy import FaultProxy


def test_follow_dropped_then_resumed(
    proxy: FaultProxy, proxy_url: str, server: Server, db: str
) -> None:
    follow = subprocess.Popen(
        [sys.executable, "-m", "couchctl", "db", "changes", db, "--follow"],
        env={**os.environ, "COUCH_URL": proxy_url, "NO_COLOR": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert follow.stdout is not None
    put_docs(server, db, [{"_id": f"first-{i}"} for i in range(5)])
    seen = [json.loads(follow.stdout.readline()) for _ in range(5)]
    time.sleep(0.3)
    proxy.down(3600)  # the server goes away for good
    out, err = follow.communicate(timeout=60)
    seen += [json.loads(line) for line in out.splitlines() if line.strip()]
    assert follow.returncode == 3, err
    assert "Traceback" not in err
    ids = [change["id"] for change in seen]
    assert sorted(ids) == [f"first-{i}" for i in range(5)]
    since = seen[-1]["seq"]
    assert json.dumps(since).strip('"') in err or str(since) in err, err  # where to resume
    put_docs(server, db, [{"_id": f"later-{i}"} for i in range(3)])
    rest = subprocess.run(
        [sys.executable, "-m", "couchctl", "db", "changes", db, "--since", str(since), "--jsonl"],
        env={**os.environ, "COUCH_URL": server.url, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert rest.returncode == 0, rest.stderr
    later = sorted(json.loads(line)["id"] for line in rest.stdout.splitlines())
    assert later == [f"later-{i}" for i in range(3)]
