"""Every runtime dependency is bounded above (a new major version can break the
tool for every user at once), and the installed versions are inside the bounds."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def runtime_dependencies() -> list[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    dependencies: list[str] = data["project"]["dependencies"]
    return dependencies


def release(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def test_every_runtime_dependency_has_an_upper_bound() -> None:
    dependencies = runtime_dependencies()
    assert dependencies
    unbounded = [spec for spec in dependencies if "<" not in spec]
    assert not unbounded, f"no upper bound: {unbounded}"


def test_installed_versions_are_inside_the_bounds() -> None:
    for spec in runtime_dependencies():
        name = re.split(r"[<>=!~ ]", spec, maxsplit=1)[0]
        installed = release(version(name))
        for operator, bound in re.findall(r"(>=|<)\s*([\d.]+)", spec):
            if operator == "<":
                assert installed < release(bound), f"{name} {version(name)} is not {spec}"
            else:
                assert installed >= release(bound), f"{name} {version(name)} is not {spec}"
