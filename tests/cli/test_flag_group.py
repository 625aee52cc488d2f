"""flag_group: one definition of flags that several commands take (cli/_options.py)."""

from __future__ import annotations

import inspect
from typing import Annotated, Any

import pytest
import typer
from typer.testing import CliRunner

from couchctl.cli._options import flag_group

LimitOpt = Annotated[int | None, typer.Option("--limit", help="At most this many.")]
FastOpt = Annotated[bool, typer.Option("--fast", help="Go fast.")]
GROUP = {"limit": (LimitOpt, None), "fast": (FastOpt, False)}


def make_app(seen: list[Any]) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    @flag_group("flags", GROUP)
    def show(name: str, flags: dict[str, Any], last: bool = False) -> None:
        seen.append((name, flags, last))

    return app


def test_the_group_parameter_becomes_the_flags_in_place() -> None:
    @flag_group("flags", GROUP)
    def command(name: str, flags: dict[str, Any], last: bool = False) -> None:
        """Doc."""

    assert list(inspect.signature(command).parameters) == ["name", "limit", "fast", "last"]
    assert command.__doc__ == "Doc."


@pytest.mark.parametrize(
    ("args", "flags"),
    [
        (["x"], {"limit": None, "fast": False}),
        (["x", "--limit", "3", "--fast"], {"limit": 3, "fast": True}),
    ],
)
def test_the_command_receives_the_values_as_one_dict(
    args: list[str], flags: dict[str, Any]
) -> None:
    seen: list[Any] = []
    result = CliRunner().invoke(make_app(seen), [*args, "--last"])
    assert result.exit_code == 0, result.output
    assert seen == [("x", flags, True)]


def test_a_command_without_the_group_parameter_is_refused() -> None:
    with pytest.raises(TypeError, match="has no parameter 'flags'"):

        @flag_group("flags", GROUP)
        def command(name: str) -> None:
            pass
