"""Everything outside the client (the CLI, the bulk engines, the workflows, settings,
the benchmarks) is built on the client's public API only (`couchctl.client`, never
its private modules), so the library can be reorganised without touching them.
The client's own unit tests may reach into its private modules: they test them."""

from __future__ import annotations

import ast
from pathlib import Path

import couchctl.cli
import couchctl.client

CLI = Path(couchctl.cli.__file__).parent
PACKAGE = CLI.parent
CLIENT = PACKAGE / "client"
BENCH = PACKAGE.parent / "bench"
NOT_YET: set[str] = set()


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
    return found


def _outside_the_client() -> list[Path]:
    paths = [p for p in PACKAGE.rglob("*.py") if CLIENT not in p.parents]
    return sorted([*paths, *BENCH.glob("*.py")])


def test_only_the_client_imports_its_private_modules() -> None:
    private = []
    for path in _outside_the_client():
        for module, names in _imports(path):
            if module.startswith("couchctl.client."):
                private.append(f"{path.name}: {module}")
            elif module == "couchctl.client":
                private.extend(f"{path.name}: {name}" for name in names if name.startswith("_"))
    assert len(_outside_the_client()) > 20
    assert set(private) <= NOT_YET, private


def test_every_name_the_cli_imports_is_exported() -> None:
    used = {
        name
        for path in CLI.glob("*.py")
        for module, names in _imports(path)
        if module == "couchctl.client"
        for name in names
    }
    assert used
    assert used <= set(couchctl.client.__all__), sorted(used - set(couchctl.client.__all__))


LONG_NOT_YET: set[str] = set()


def test_no_cli_module_is_over_500_lines() -> None:
    long = {
        path.name
        for path in CLI.glob("*.py")
        if len(path.read_text(encoding="utf-8").splitlines()) > 500
    }
    assert long <= LONG_NOT_YET, sorted(long - LONG_NOT_YET)
