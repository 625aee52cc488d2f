"""Start-up stays cheap: the CLI imports neither httpx, anyio nor rich tables until
a command needs them, and --version needs not even Typer."""

from __future__ import annotations

import json
import os
import subprocess
import sys

HEAVY = ("httpx", "anyio", "rich.table", "rich.console", "couchctl.client")


def loaded_after(code: str) -> list[str]:
    """The heavy modules loaded after running `code` in a fresh interpreter."""
    probe = (
        f"{code}\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert result.returncode == 0, result.stderr
    loaded: list[str] = json.loads(result.stdout.splitlines()[-1])
    return loaded


def test_importing_the_app_loads_nothing_heavy() -> None:
    assert loaded_after("import couchctl.cli, couchctl.cli._app") == []


def test_building_every_command_loads_nothing_heavy() -> None:
    # Loads every group module and turns every command into a click command.
    code = (
        "import typer.main\n"
        "from couchctl.cli._app import app\n"
        "root = typer.main.get_command(app)\n"
        "assert len([c for g in root.commands.values() for c in g.commands]) > 10\n"
    )
    assert loaded_after(code) == []


def test_version_fast_path_skips_typer() -> None:
    code = (
        "import sys\n"
        "sys.argv = ['couchctl', '--version']\n"
        "from couchctl.cli import main\n"
        "main()\n"
        "assert 'typer' not in sys.modules, 'typer was imported for --version'\n"
    )
    assert loaded_after(code) == []


def test_fast_path_skips_typer_and_rich() -> None:
    # An unreachable server: the request fails at once, and the error is reported
    # through the same mapping, still without Typer.
    code = (
        "import sys\n"
        "sys.argv = ['couchctl', 'db', 'info', 'x', '--json', '--url', 'http://127.0.0.1:9',"
        " '--retries', '0']\n"
        "from couchctl.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 3, exc.code\n"
        "slow = [m for m in ('typer', 'click', 'rich', 'couchctl.cli._app') if m in sys.modules]\n"
        "assert slow == [], slow\n"
        "# sent by the blocking client: no event loop, so neither asyncio nor anyio's backend\n"
        "loop = [m for m in ('asyncio', 'anyio._backends._asyncio') if m in sys.modules]\n"
        "assert loop == [], loop\n"
        "# plain HTTP through http.client (client/_plain.py): not httpx's httpcore and h11\n"
        "wire = [m for m in ('httpcore', 'h11') if m in sys.modules]\n"
        "assert wire == [], wire\n"
        "# a CoreClient: none of the other operation modules\n"
        "others = [m for m in ('_client', '_attachments', '_views', '_bulk', '_replication',"
        " '_users', '_config', '_cluster', '_audit', '_multipart')"
        " if 'couchctl.client.' + m in sys.modules]\n"
        "assert others == [], others\n"
    )
    assert "couchctl.client" in loaded_after(code)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "couchctl", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "NO_COLOR": "1", "TERMINAL_WIDTH": "100"},
    )


def test_version() -> None:
    from couchctl import __version__

    result = run("--version")
    assert result.returncode == 0
    assert result.stdout == f"couchctl {__version__}\n"


def test_help_works() -> None:
    result = run("--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: couchctl" in result.stdout
    for group in ("server", "db", "doc", "att", "view", "find", "bulk"):
        assert f" {group} " in result.stdout
    assert result.stderr == ""


def test_group_help_works() -> None:
    result = run("db", "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: couchctl db" in result.stdout


def test_only_the_invoked_group_and_command_are_built() -> None:
    code = (
        "import sys\n"
        "import typer.main\n"
        "from couchctl.cli._app import GROUPS, _Pending, app\n"
        "root = typer.main.get_command(app)\n"
        "assert not any(m in sys.modules for m in GROUPS.values())\n"
        "db = root.commands.get('db')\n"
        "info = db.commands.get('info')\n"
        "assert info is not None and not isinstance(info, _Pending)\n"
        "others = [n for n in GROUPS.values() if n != 'couchctl.cli.db' and n in sys.modules]\n"
        "assert others == [], others\n"
        "built = [n for n in db.commands if not isinstance(dict.__getitem__(db.commands, n), _Pending)]\n"
        "assert built == ['info'], built\n"
        "assert 'dbb' not in root.commands and sorted(root.commands) == sorted(GROUPS)\n"
    )
    assert loaded_after(code) == []
