"""Start and stop the stand-in CouchDB server (pouchdb-server 4.2.0) for tests and the tour.

pouchdb-server is installed from the lockfile in tests/server (`npm ci
--ignore-scripts`: its prebuilt leveldown needs no compiler) and started on a free
port from a scratch directory, because it writes config.json and log.txt into its
working directory. On a taken port it exits with status 0, so readiness means both
`GET /` answering and the process still alive.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

SERVER_DIR = Path(__file__).resolve().parent / "server"
BIN = SERVER_DIR / "node_modules" / "pouchdb-server" / "bin" / "pouchdb-server"
ADMIN_USER = "admin"
ADMIN_PASSWORD = "couchctl-test-secret"


class StandInError(RuntimeError):
    pass


def install() -> None:
    """`npm ci --ignore-scripts` unless the lockfile's packages are already there."""
    marker = SERVER_DIR / "node_modules" / ".package-lock.json"
    lock = SERVER_DIR / "package-lock.json"
    if BIN.exists() and marker.exists() and marker.stat().st_mtime >= lock.stat().st_mtime:
        return
    npm = shutil.which("npm")
    if npm is None:
        raise StandInError("npm is not installed: it is needed to install pouchdb-server")
    result = subprocess.run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=SERVER_DIR,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0 or not BIN.exists():
        raise StandInError(f"npm ci failed in {SERVER_DIR}:\n{result.stdout}\n{result.stderr}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class StandIn:
    process: subprocess.Popen[bytes]
    workdir: Path
    port: int

    @property
    def url(self) -> str:
        """The server URL, without credentials."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin_url(self) -> str:
        return f"http://{ADMIN_USER}:{ADMIN_PASSWORD}@127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.workdir, ignore_errors=True)


def start(*, with_admin: bool = True, attempts: int = 3) -> StandIn:
    """Install if needed, then start pouchdb-server in memory on a free port."""
    install()
    node = shutil.which("node")
    if node is None:
        raise StandInError("node is not installed: it is needed to run pouchdb-server")
    last_error = "did not start"
    for _ in range(attempts):
        workdir = Path(tempfile.mkdtemp(prefix="couchctl-standin-"))
        config = workdir / "config.json"
        config.write_text(
            json.dumps({"admins": {ADMIN_USER: ADMIN_PASSWORD}} if with_admin else {}),
            encoding="utf-8",
        )
        port = free_port()
        log = (workdir / "stdout.log").open("wb")
        process = subprocess.Popen(
            [
                node,
                "--unhandled-rejections=warn",
                str(BIN),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--in-memory",
                "--no-stdout-logs",
                "--config",
                str(config),
            ],
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "NODE_ENV": "production"},
        )
        log.close()
        server = StandIn(process, workdir, port)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                last_error = (workdir / "stdout.log").read_text(errors="replace")[-2000:]
                break
            try:
                with urllib.request.urlopen(server.url + "/", timeout=2) as response:
                    if response.status == 200:
                        return server
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        else:
            last_error = "no answer on GET / within 30 s"
        server.stop()
    raise StandInError(f"pouchdb-server did not start: {last_error}")


def is_couchdb(url: str) -> bool:
    """True for a real CouchDB (its welcome says "couchdb": "Welcome")."""
    request = urllib.request.Request(url.rstrip("/") + "/", headers={"Accept": "application/json"})
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.username:
        import base64

        bare = url.replace(f"{parts.username}:{parts.password}@", "")
        request = urllib.request.Request(
            bare.rstrip("/") + "/", headers={"Accept": "application/json"}
        )
        token = base64.b64encode(f"{parts.username}:{parts.password or ''}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read()).get("couchdb") == "Welcome"
