"""Shared fixtures: the real server for integration tests, CLI runners, recorded exchanges.

Integration tests run against COUCHCTL_TEST_URL when it is set (any CouchDB 3.x,
credentials in the URL), else against pouchdb-server started here. Tests marked
`couchdb_only` are skipped on the stand-in. With COUCHCTL_REQUIRE_SERVER=1 (CI),
a server that cannot be started fails the run instead of skipping.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

# Deterministic rendering for CliRunner output (Typer's own test setup).
os.environ["TERMINAL_WIDTH"] = "3000"
os.environ["_TYPER_FORCE_DISABLE_TERMINAL"] = "1"
for _name in (
    "COUCH_URL",
    "COUCHDB_URL",
    "COUCHDB_USER",
    "COUCHDB_PASSWORD",
    "COUCHDB_TOKEN",
    "COUCHCTL_PROFILE",
    "COUCHCTL_TIMEOUT",
):
    os.environ.pop(_name, None)


# Isolate the tests from the user's own config file: an empty one of the suite's own
# (a COUCHCTL_CONFIG naming a missing file is an error).
def _empty_config() -> str:
    import atexit
    import tempfile

    handle, path = tempfile.mkstemp(prefix="couchctl-tests-", suffix=".toml")
    os.close(handle)
    atexit.register(lambda: Path(path).unlink(missing_ok=True))
    return path


os.environ["COUCHCTL_CONFIG"] = _empty_config()

# Real CouchDB 3.4.3 exchanges, recorded once and kept as data (tests/recorded/README.md).
RECORDED = Path(__file__).resolve().parent / "recorded"


@dataclass
class Server:
    url: str  # with admin credentials
    couchdb: bool  # a real CouchDB (False: the pouchdb-server stand-in)

    def new_db_name(self, prefix: str = "t") -> str:
        return f"{prefix}-{uuid.uuid4().hex[:12]}"

    def all_copies(self, db: str) -> dict[str, str]:
        """Query parameters that make a test's own setup write reach every copy of `db`.

        On a cluster, a write returns once a quorum of copies has it, and `_all_docs`,
        views, `_changes` and `_find` may read a copy that has not caught up yet: CouchDB
        promises eventual consistency across copies, not read-your-writes. Setup writes
        ask for `w` = the database's `n`, so what a test then reads is on every copy.
        """
        if not self.couchdb:
            return {}
        from urllib.parse import quote

        import httpx

        info = httpx.get(f"{self.url}/{quote(db, safe='')}", headers={"Accept": "application/json"})
        n = info.json().get("cluster", {}).get("n") if info.status_code == 200 else None
        return {"w": str(n)} if n else {}

    def w_option(self, db: str) -> list[str]:
        """The same for a write made through the CLI: `--w n`, or nothing off a cluster."""
        params = self.all_copies(db)
        return ["--w", params["w"]] if params else []

    def read_repaired(self, db: str, doc_id: str) -> None:
        """Read `doc_id` from every copy of `db` (`r` = n), which repairs lagging copies."""
        params = self.all_copies(db)
        if not params:
            return
        from urllib.parse import quote

        import httpx

        path = "/".join(quote(part, safe="") for part in doc_id.split("/", 1))
        response = httpx.get(
            f"{self.url}/{quote(db, safe='')}/{path}",
            params={"r": params["w"]},
            headers={"Accept": "application/json"},
        )
        assert response.status_code == 200, response.text


T = TypeVar("T")


def eventually(read: Callable[[], T], holds: Callable[[T], bool], seconds: float = 15) -> T:
    """`read()` until its result `holds`, for at most `seconds`; the last result either way.

    For a read of what was just written where the write could not ask for every copy:
    on a cluster it returns once a quorum of copies has it, and the read may meet a
    copy that has not caught up yet (CouchDB promises eventual consistency). The
    caller's check of the returned result still fails when the data never arrives.
    """
    import time

    deadline = time.monotonic() + seconds
    result = read()
    while not holds(result) and time.monotonic() < deadline:
        time.sleep(0.2)
        result = read()
    return result


def pytest_configure(config: pytest.Config) -> None:
    # Some tests interrupt a couchctl with SIGINT, as Ctrl-C does. A suite started as a
    # background job of a non-interactive shell (`cmd &` in a script, as some CI runners
    # do) has SIGINT ignored, and an ignored signal stays ignored in every child: those
    # couchctl processes would never see it. A handled one is reset to the default when
    # a child starts, so the children are interruptible again.
    import signal

    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        in_folder = "tests/integration" in str(item.fspath).replace(os.sep, "/")
        # A test elsewhere that needs the server is an integration test all the same.
        if in_folder or "server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def _plain_transport_mocked(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pytest-httpx mocks httpx's own transports. A blocking client on plain HTTP
    sends through couchctl's own (client/_plain.py): in a test that mocks, it goes
    to the same mock."""
    if "httpx_mock" not in request.fixturenames:
        return
    import httpx

    from couchctl.client._plain import PlainTransport

    def mocked(transport: PlainTransport, sent: httpx.Request) -> httpx.Response:
        return httpx.HTTPTransport.handle_request(transport, sent)  # type: ignore[arg-type]

    monkeypatch.setattr(PlainTransport, "handle_request", mocked)


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    """The real server of the integration suite."""
    url = os.environ.get("COUCHCTL_TEST_URL")
    if url:
        from tests.standin import is_couchdb

        yield Server(url.rstrip("/"), is_couchdb(url))
        return
    from tests.standin import StandInError, start

    try:
        standin = start()
    except StandInError as exc:
        if os.environ.get("COUCHCTL_REQUIRE_SERVER") == "1":
            pytest.fail(f"no server for the integration tests: {exc}")
        pytest.skip(f"no server for the integration tests: {exc}")
    try:
        yield Server(standin.admin_url, couchdb=False)
    finally:
        standin.stop()


@pytest.fixture(autouse=True)
def _couchdb_only(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("couchdb_only"):
        srv: Server = request.getfixturevalue("server")
        if not srv.couchdb:
            pytest.skip("needs a real CouchDB 3.x (set COUCHCTL_TEST_URL)")


@pytest.fixture(autouse=True)
def _cluster_only(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("cluster") and not os.environ.get("COUCHCTL_TEST_CLUSTER"):
        pytest.skip("needs CouchDB cluster nodes (set COUCHCTL_TEST_CLUSTER to their URLs)")


@pytest.fixture
def cluster_urls() -> list[str]:
    """The URLs of the cluster nodes (COUCHCTL_TEST_CLUSTER, comma-separated), first
    the coordinator."""
    return [
        u.strip().rstrip("/")
        for u in os.environ.get("COUCHCTL_TEST_CLUSTER", "").split(",")
        if u.strip()
    ]


@pytest.fixture
def db(server: Server) -> Iterator[str]:
    """A new, empty database on the real server, deleted afterwards."""
    import httpx

    name = server.new_db_name()
    response = httpx.put(f"{server.url}/{name}", headers={"Accept": "application/json"})
    assert response.status_code in (201, 202), response.text
    try:
        yield name
    finally:
        httpx.delete(f"{server.url}/{name}", headers={"Accept": "application/json"})


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def jsonl(self) -> list[Any]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


CliRun = Callable[..., CliResult]


def _invoke(
    args: list[str], url: str | None, input: str | bytes | None, env: dict[str, str] | None
) -> CliResult:
    from typer.testing import CliRunner

    from couchctl.cli._app import app

    runner = CliRunner()
    full_env = {"NO_COLOR": "1"}
    if url is not None:
        full_env["COUCH_URL"] = url
    full_env.update(env or {})
    result = runner.invoke(app, args, input=input, env=full_env, catch_exceptions=False)
    return CliResult(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def cli(server: Server) -> CliRun:
    """Run the CLI in-process (CliRunner) against the real server: cli("db", "info", name)."""

    def run(
        *args: str,
        input: str | bytes | None = None,
        env: dict[str, str] | None = None,
        url: str | None = None,
    ) -> CliResult:
        return _invoke(list(args), url or server.url, input, env)

    return run


@pytest.fixture
def cli_offline() -> CliRun:
    """Run the CLI in-process with no server configured (usage errors, help)."""

    def run(
        *args: str,
        input: str | bytes | None = None,
        env: dict[str, str] | None = None,
        url: str | None = None,
    ) -> CliResult:
        return _invoke(list(args), url, input, env)

    return run


def run_couchctl(
    *args: str,
    url: str | None = None,
    input: bytes | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[bytes]:
    """Run the real entry point in a subprocess (`python -m couchctl`)."""
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    if url is not None:
        full_env["COUCH_URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "couchctl", *args],
        input=input,
        capture_output=True,
        env=full_env,
        timeout=timeout,
        check=False,
    )


def recorded(name: str) -> dict[str, Any]:
    """One recorded CouchDB 3.4.3 exchange by file name (without .json)."""
    path = RECORDED / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"no recorded exchange {name!r} in {RECORDED}")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def recorded_body(name: str) -> bytes:
    """The exact response body bytes of a recorded exchange."""
    import base64

    response = recorded(name)["response"]
    if "body_raw_text" in response:
        return str(response["body_raw_text"]).encode()
    if "body_json" in response:
        return (
            json.dumps(response["body_json"], separators=(",", ":"), ensure_ascii=False) + "\n"
        ).encode()
    if "body_text" in response:
        return str(response["body_text"]).encode()
    if "body_base64" in response:
        return base64.b64decode(response["body_base64"])
    return b""


def recorded_response(name: str) -> dict[str, Any]:
    """Keyword arguments for pytest-httpx's add_response from a recorded exchange."""
    response = recorded(name)["response"]
    headers = {
        k: v
        for k, v in response["headers"].items()
        if k.lower() not in ("content-length", "transfer-encoding", "content-encoding")
    }
    return {"status_code": response["status"], "headers": headers, "content": recorded_body(name)}


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio (`@pytest.mark.anyio`)."""
    return "asyncio"
