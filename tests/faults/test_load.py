"""The load of bench/load.py, scaled down: 8 `couchctl bulk load` processes at once.

bench/load.py runs 8 x 50,000 documents against a real CouchDB (figures in
tests/faults/README.md); here 8 x 2,000, so that CI stays quick. Every load
must finish with exit 0, every document be on the server once, and each
process stay under 64 MB of peak RSS.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from tests.conftest import Server

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "load.py"


def test_eight_loads_at_once(server: Server) -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--url", server.url, "--processes", "8", "--docs", "2000",
         "--batch-size", "500", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stderr
    summary = json.loads(result.stdout)
    loads = summary["loads"]
    assert len(loads) == 8
    assert len({load["db"] for load in loads}) == 8
    for load in loads:
        assert load["exit"] == 0, load
        assert (load["found"], load["missing"], load["doubled"]) == (2000, 0, 0), load
        assert 0 < load["peak_rss_mb"] < 64, load
    assert summary["ok"] is True
    assert result.returncode == 0
    password = urlsplit(server.url).password
    if password and len(password) >= 4:
        assert password not in result.stdout + result.stderr
