"""Shell completion: the committed scripts match what the app generates; database
names, document ids, design documents and views complete from the server; a real
bash completes words that it splits at `:`; no server, a silent one or a slow host
name lookup give nothing, quickly."""

from __future__ import annotations

import os
import pty
import select
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from typer.testing import CliRunner

from couchctl.cli import _completion as completion
from couchctl.cli._app import app
from couchctl.cli._completion import SCRIPTS, completion_script
from tests.conftest import Server
from tests.standin import free_port

ROOT = Path(__file__).resolve().parents[1]
COMPLETIONS = ROOT / "completions"


@pytest.mark.parametrize(("shell", "name"), SCRIPTS.items())
def test_committed_scripts_are_current(shell: str, name: str) -> None:
    path = COMPLETIONS / name
    assert path.exists(), f"{path} is missing: run python -m couchctl.cli._completion"
    assert path.read_text(encoding="utf-8") == completion_script(shell), (
        f"{path} is stale: run python -m couchctl.cli._completion"
    )


def test_scripts_call_the_program() -> None:
    assert "_COUCHCTL_COMPLETE=complete_bash" in completion_script("bash")
    assert completion_script("zsh").startswith("#compdef couchctl")
    assert "complete --command couchctl" in completion_script("fish")


# Seconds the tests of what completes give the server (a busy test server may be slower
# than the 1 s a shell gets); the tests of the deadline itself run the real one.
GENEROUS_DEADLINE = 10.0


@pytest.fixture(autouse=True)
def generous_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(completion, "DEADLINE", GENEROUS_DEADLINE)


def complete(words: str, url: str | None = None, env: dict[str, str] | None = None) -> list[str]:
    """Ask the app for bash completions of the command line `words` (cursor at the end)."""
    env = {
        **(env or {}),
        "_COUCHCTL_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split(" ")) - 1),
    }
    if url is not None:
        env["COUCH_URL"] = url
    result = CliRunner().invoke(app, [], env=env, prog_name="couchctl")
    assert result.exit_code == 0, result.output
    return result.stdout.split()


def test_group_and_command_names_complete() -> None:
    assert complete("couchctl d") == ["db", "doc"]
    assert "info" in complete("couchctl server ")


def test_database_names_complete_from_the_server(server: Server, db: str) -> None:
    names = complete(f"couchctl att list {db[:4]}", url=server.url)
    assert db in names
    assert all(name.startswith(db[:4]) for name in names)
    assert complete(f"couchctl att list {db}", url=server.url) == [db]
    assert complete("couchctl att list zz-no-such-prefix", url=server.url) == []


def test_the_url_flag_is_used_for_completion(server: Server, db: str) -> None:
    assert db in complete(f"couchctl --url {server.url} att list {db[:6]}")


def test_database_completion_without_a_server_is_silent_and_quick() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    started = time.monotonic()
    assert complete("couchctl att list ", url=url) == []
    assert time.monotonic() - started < 5


def test_completion_in_a_real_shell_process(server: Server, db: str) -> None:
    env = {
        **os.environ,
        "COUCH_URL": server.url,
        "_COUCHCTL_COMPLETE": "complete_bash",
        "COMP_WORDS": f"couchctl att list {db}",
        "COMP_CWORD": "3",
    }
    code = (
        f"import sys, couchctl.cli._completion as c; c.DEADLINE = {GENEROUS_DEADLINE}; "
        "sys.argv[0] = 'couchctl'; from couchctl.cli import main; main()"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [db]


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_use_typers_protocol(server: Server, db: str, shell: str) -> None:
    # These shells pass the command line in _TYPER_COMPLETE_ARGS, which only Typer's
    # completion classes read: this checks that they are registered on demand.
    env = {
        "_COUCHCTL_COMPLETE": f"complete_{shell}",
        "_TYPER_COMPLETE_ARGS": f"couchctl att list {db}",
        "COUCH_URL": server.url,
    }
    if shell == "fish":
        env["_TYPER_COMPLETE_FISH_ACTION"] = "get-args"
    result = CliRunner().invoke(app, [], env=env, prog_name="couchctl")
    assert result.exit_code == 0, result.output
    assert db in result.stdout


# -- document ids, design documents, views -----------------------------------------------


def put(server: Server, db: str, doc_id: str, body: dict[str, object]) -> None:
    import httpx

    response = httpx.put(
        f"{server.url}/{quote(db, safe='')}/{quote(doc_id, safe='/')}",
        json=body,
        params=server.all_copies(db),
    )
    assert response.status_code in (201, 202), response.text


@pytest.fixture
def filled(server: Server, db: str) -> str:
    """`db` with ids that share prefixes (with `:`), one that needs quoting in a shell,
    and two design documents."""
    for doc_id in ("user:alice", "user:bob", "userx", "other", "my $5 doc"):
        put(server, db, doc_id, {})
    views = {"by_a": {"map": "function (doc) { emit(doc._id, 1); }"}}
    put(server, db, "_design/app", {"views": {**views, "by_b": views["by_a"]}})
    put(server, db, "_design/admin", {"views": {"totals": views["by_a"]}})
    return db


def test_document_ids_complete_by_prefix(server: Server, filled: str) -> None:
    db = filled
    assert complete(f"couchctl doc get {db} user", url=server.url) == [
        "user:alice",
        "user:bob",
        "userx",
    ]
    assert complete(f"couchctl doc get {db} user:", url=server.url) == ["user:alice", "user:bob"]
    assert complete(f"couchctl att list {db} oth", url=server.url) == ["other"]
    assert complete(f"couchctl doc copy {db} user:b", url=server.url) == ["user:bob"]
    assert complete(f"couchctl doc get {db} nothing-like-it", url=server.url) == []
    # every id, design documents included (they are documents too)
    everything = complete(f"couchctl doc delete {db} ", url=server.url)
    assert {"other", "user:alice", "_design/app", "_design/admin"} <= set(everything)


def test_document_ids_of_a_missing_database_complete_nothing(server: Server) -> None:
    assert complete(f"couchctl doc get {server.new_db_name()} u", url=server.url) == []


def test_design_documents_complete_bare_or_with_their_prefix(server: Server, filled: str) -> None:
    db = filled
    assert complete(f"couchctl view query {db} ", url=server.url) == ["admin", "app"]
    assert complete(f"couchctl view info {db} ap", url=server.url) == ["app"]
    assert complete(f"couchctl view info {db} _d", url=server.url) == [
        "_design/admin",
        "_design/app",
    ]
    assert complete(f"couchctl view info {db} _design/ad", url=server.url) == ["_design/admin"]
    assert complete(f"couchctl find index-delete {db} a", url=server.url) == ["admin", "app"]
    assert complete(f"couchctl view info {db} zz", url=server.url) == []


def test_view_names_complete_from_the_design_document(server: Server, filled: str) -> None:
    db = filled
    assert complete(f"couchctl view query {db} app ", url=server.url) == ["by_a", "by_b"]
    assert complete(f"couchctl view query {db} _design/app by_b", url=server.url) == ["by_b"]
    assert complete(f"couchctl view query {db} admin ", url=server.url) == ["totals"]
    assert complete(f"couchctl view query {db} no-such-ddoc ", url=server.url) == []


def test_credentials_come_from_the_environment(server: Server, filled: str) -> None:
    bare, env = split_credentials(server.url)
    line = f"couchctl --url {bare} doc get {filled} user:a"
    assert complete(line, env=env) == ["user:alice"]


def test_credentials_come_from_a_profile_named_on_the_line(
    server: Server, filled: str, tmp_path: Path
) -> None:
    bare, env = split_credentials(server.url)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[lab]\nurl = "{bare}"\n'
        f'user = "{env["COUCHDB_USER"]}"\npassword = "{env["COUCHDB_PASSWORD"]}"\n'
    )
    env = {"COUCHCTL_CONFIG": str(config)}
    assert complete(f"couchctl --profile lab view query {filled} ad", env=env) == ["admin"]
    assert complete(f"couchctl --profile nope view query {filled} ad", env=env) == []


def test_refused_credentials_complete_nothing(server: Server, filled: str) -> None:
    # A user that exists nowhere: CouchDB locks a user out after 5 failed logins, and
    # the server's real accounts must never pay for a test.
    bare, _ = split_credentials(server.url)
    env = {"COUCHDB_USER": f"nobody-{uuid.uuid4().hex}", "COUCHDB_PASSWORD": "wrong"}
    assert complete(f"couchctl --url {bare} doc get {filled} user:a", env=env) == []


# -- no server, a silent server, a wrong server, a slow host name lookup ------------------


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A URL whose server accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()


@pytest.fixture
def wrong_server() -> Iterator[str]:
    """A URL whose server answers every request with JSON of another shape."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"rows": "not rows", "views": [1, 2]}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


LINES = [
    "couchctl att list ",
    "couchctl doc get mydb us",
    "couchctl view query mydb ",
    "couchctl view query mydb app ",
]


@pytest.mark.parametrize("line", LINES)
def test_no_server_or_a_wrong_one_completes_nothing(wrong_server: str, line: str) -> None:
    assert complete(line, url=f"http://127.0.0.1:{free_port()}") == []
    assert complete(line, url=wrong_server) == []


def run_completion(words: str, env: dict[str, str], code: str = "") -> tuple[float, str, str]:
    """Complete `words` in a fresh interpreter (as the shell script does): the seconds
    it took, stdout and stderr. `code` runs first."""
    program = f"{code}\nimport sys; sys.argv[0] = 'couchctl'; from couchctl.cli import main; main()"
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", program],
        env={
            **os.environ,
            **env,
            "_COUCHCTL_COMPLETE": "complete_bash",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split(" ")) - 1),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    return elapsed, result.stdout, result.stderr


def start_up(line: str) -> float:
    """The seconds a completion of `line` takes with nothing listening (refused at once):
    the interpreter's start-up and imports, which the deadline does not cover."""
    elapsed, stdout, _ = run_completion(line, {"COUCH_URL": f"http://127.0.0.1:{free_port()}"})
    assert stdout.split() == []
    return elapsed


@pytest.mark.parametrize("line", LINES)
def test_a_silent_server_completes_nothing_within_the_deadline(
    silent_server: str, line: str
) -> None:
    env = {"COUCH_URL": silent_server}
    before = start_up(line)
    elapsed, stdout, stderr = run_completion(line, env)
    # Start-up is measured on both sides of the run: on a busy machine it alone varies
    # by most of a second from one interpreter to the next.
    baseline = max(before, start_up(line))
    assert (stdout.split(), stderr) == ([], "")
    assert elapsed - baseline < 1.5  # seconds


def test_a_hanging_host_name_lookup_does_not_hold_the_shell() -> None:
    # A host name whose lookup hangs (a resolver that does not answer): the lookup runs
    # in a thread no timeout can cut short, so the process must not wait for it at exit.
    hang = (
        "import socket, time\n"
        "def lookup(*args, **kwargs):\n"
        "    time.sleep(30)\n"
        "socket.getaddrinfo = lookup\n"
    )
    env = {"COUCH_URL": "http://couch.invalid:5984"}
    baseline = start_up("couchctl doc get mydb us")
    elapsed, stdout, stderr = run_completion("couchctl doc get mydb us", env, hang)
    assert (stdout.split(), stderr) == ([], "")
    assert elapsed - baseline < 2.0


# -- a real interactive bash ---------------------------------------------------------------


def shell_tab(shell: str, line: str, env: dict[str, str], tmp_path: Path) -> list[str]:
    """Type `line`, TAB and Enter into an interactive bash or zsh (on a terminal) that
    has loaded its script from completions/; returns the words the command received (a
    shell function `couchctl` prints them; completion runs the program from PATH)."""
    executable = shutil.which(shell)
    if executable is None:
        pytest.skip(f"no {shell}")
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    program = bindir / "couchctl"
    # What these tests check is the words, not the time: a generous deadline keeps a
    # busy test server from turning them into timing tests (those are above).
    code = (
        "import sys, couchctl.cli._completion as completion; "
        f"completion.DEADLINE = {GENEROUS_DEADLINE}; "
        "sys.argv[0] = 'couchctl'; from couchctl.cli import main; main()"
    )
    program.write_text(
        f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -c {shlex.quote(code)} "$@"\n'
    )
    program.chmod(0o755)
    script = shlex.quote(str(COMPLETIONS / SCRIPTS[shell]))
    setup = "autoload -U compinit; compinit -u\n" if shell == "zsh" else ""
    rcfile = tmp_path / (".zshrc" if shell == "zsh" else "bashrc")
    rcfile.write_text(
        f"PS1='ready> '\n{setup}source {script}\n"
        "couchctl() { printf 'argv:%s\\n' \"$@\"; printf 'argv-done\\n'; }\n"
    )
    if shell == "zsh":
        command = [executable, "-i"]
        env = {"ZDOTDIR": str(tmp_path), **env}
    else:
        command = [executable, "--noprofile", "--rcfile", str(rcfile), "-i"]
    full_env = {
        "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(ROOT),
        "HOME": str(tmp_path),
        "TERM": "dumb",
        "INPUTRC": "/dev/null",
        "HISTFILE": "/dev/null",
        **env,
    }
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        command,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=full_env,
        start_new_session=True,
    )
    os.close(terminal)
    output = b""

    def read_until(marker: bytes) -> None:
        nonlocal output
        deadline = time.monotonic() + 30
        while marker not in output:
            assert time.monotonic() < deadline, output.decode(errors="replace")
            ready, _, _ = select.select([controller], [], [], 0.5)
            if ready:
                try:
                    output += os.read(controller, 4096)
                except OSError:
                    break

    try:
        read_until(b"ready> ")
        os.write(controller, line.encode() + b"\t\n")
        read_until(b"argv-done")
        os.write(controller, b"exit\n")
    finally:
        os.close(controller)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    lines = output.decode(errors="replace").replace("\r", "").split("\n")
    return [text.removeprefix("argv:") for text in lines if text.startswith("argv:")]


def split_credentials(url: str) -> tuple[str, dict[str, str]]:
    """The URL without user:password, and the environment that carries them."""
    parts = urlsplit(url)
    bare = urlunsplit(parts._replace(netloc=f"{parts.hostname}:{parts.port}"))
    return bare, {"COUCHDB_USER": parts.username or "", "COUCHDB_PASSWORD": parts.password or ""}


def test_bash_completes_after_a_url_with_colons(
    server: Server, filled: str, tmp_path: Path
) -> None:
    url, env = split_credentials(server.url)
    assert ":" in url
    words = shell_tab("bash", f"couchctl --url {url} doc get {filled[:-3]}", env, tmp_path)
    assert words == ["--url", url, "doc", "get", filled]
    words = shell_tab("bash", f"couchctl --url {url} doc get {filled} user:a", env, tmp_path)
    assert words == ["--url", url, "doc", "get", filled, "user:alice"]
    words = shell_tab("bash", f"couchctl --url={url} view query {filled} ap", env, tmp_path)
    assert words == [f"--url={url}", "view", "query", filled, "app"]


def test_bash_quotes_what_it_completes(server: Server, filled: str, tmp_path: Path) -> None:
    env = {"COUCH_URL": server.url}
    for typed in ("my", '"my', "'my $", "my\\ \\$"):
        words = shell_tab("bash", f"couchctl doc get {filled} {typed}", env, tmp_path)
        assert words == ["doc", "get", filled, "my $5 doc"], typed
    words = shell_tab("bash", f'couchctl doc get {filled} "user:a', env, tmp_path)
    assert words == ["doc", "get", filled, "user:alice"]


def test_bash_completes_with_the_url_in_the_environment(
    server: Server, filled: str, tmp_path: Path
) -> None:
    # user:password given through the environment, in the URL itself
    words = shell_tab(
        "bash", f"couchctl view query {filled} app by_", {"COUCH_URL": server.url}, tmp_path
    )
    assert words == ["view", "query", filled, "app", "by_"]  # two views: no unique completion
    words = shell_tab(
        "bash", f"couchctl view query {filled} admin to", {"COUCH_URL": server.url}, tmp_path
    )
    assert words == ["view", "query", filled, "admin", "totals"]


def test_bash_without_a_server_completes_nothing_and_prints_nothing(tmp_path: Path) -> None:
    env = {"COUCH_URL": f"http://127.0.0.1:{free_port()}"}
    words = shell_tab("bash", "couchctl --url http://127.0.0.1:9 doc get mydb us", env, tmp_path)
    assert words == ["--url", "http://127.0.0.1:9", "doc", "get", "mydb", "us"]


def test_zsh_completes_words_with_colons_and_blanks(
    server: Server, filled: str, tmp_path: Path
) -> None:
    url, env = split_credentials(server.url)
    words = shell_tab("zsh", f"couchctl --url {url} doc get {filled} user:a", env, tmp_path)
    assert words == ["--url", url, "doc", "get", filled, "user:alice"]
    words = shell_tab("zsh", f"couchctl --url {url} doc get {filled} my", env, tmp_path)
    assert words == ["--url", url, "doc", "get", filled, "my $5 doc"]
    words = shell_tab("zsh", f"couchctl --url {url} view query {filled} admin t", env, tmp_path)
    assert words == ["--url", url, "view", "query", filled, "admin", "totals"]
