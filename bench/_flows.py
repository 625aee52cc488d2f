"""Shared pieces of bench/diff.py and bench/backup.py: the server, seeding, curl's config."""

from __future__ import annotations

import base64
import json
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.bulk import Server


def post(server: Server, path: str, body: Any) -> Any:
    request = urllib.request.Request(
        server.base + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Accept": "application/json", "Content-Type": "application/json"},
    )
    if server.userinfo:
        token = base64.b64encode(server.userinfo.encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read())


def seed(server: Server, db: str, docs: Iterator[dict[str, Any]], batch: int = 10_000) -> int:
    """POST the documents to _bulk_docs in batches; returns how many."""
    count = 0
    chunk: list[dict[str, Any]] = []
    for doc in docs:
        chunk.append(doc)
        if len(chunk) >= batch:
            post(server, f"/{db}/_bulk_docs", {"docs": chunk})
            count += len(chunk)
            chunk = []
    if chunk:
        post(server, f"/{db}/_bulk_docs", {"docs": chunk})
        count += len(chunk)
    return count


def curl_config(server: Server, work: Path) -> Path:
    """A private curl config holding the credentials (never on a command line)."""
    curlrc = work / "curlrc"
    curlrc.touch(mode=0o600)
    if server.userinfo:
        escaped = server.userinfo.replace("\\", "\\\\").replace('"', '\\"')
        curlrc.write_text(f'user = "{escaped}"\n')
    return curlrc


def server_from_env() -> Server:
    url = os.environ.get("COUCH_URL")
    if not url:
        raise SystemExit("set COUCH_URL to the CouchDB to measure")
    return Server(url)
