"""flag_group: one definition of flags that several commands take (cli/_options.py)."""

from __future__ import annotations

import inspect
from typing import Annotated, Any

import pytest
import typer
from typer.testing import CliRunner

from couchctl.cli._options import flag_group, output_options
from couchctl.render import Mode

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


# -- output_options: the one --json / --jsonl group ------------------------------------------


def make_output_app(seen: list[Any], *, jsonl: bool) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    @output_options(jsonl=jsonl)
    def show(ctx: typer.Context, name: str, mode: Mode = "human", last: bool = False) -> None:
        seen.append((name, mode, last))

    return app


def test_output_options_puts_the_flags_where_mode_stood() -> None:
    @output_options(jsonl=True)
    def command(ctx: typer.Context, name: str, mode: Mode = "human", last: bool = False) -> None:
        """Doc."""

    parameters = list(inspect.signature(command).parameters)
    assert parameters == ["ctx", "name", "json_flag", "jsonl_flag", "last"]
    assert command.__doc__ == "Doc."


@pytest.mark.parametrize(
    ("jsonl", "args", "mode"),
    [
        (False, [], "human"),
        (False, ["--json"], "json"),
        (True, [], "human"),
        (True, ["--json"], "json"),
        (True, ["--jsonl"], "jsonl"),
    ],
)
def test_output_options_gives_the_mode(jsonl: bool, args: list[str], mode: str) -> None:
    seen: list[Any] = []
    result = CliRunner().invoke(make_output_app(seen, jsonl=jsonl), ["x", *args, "--last"])
    assert result.exit_code == 0, result.output
    assert seen == [("x", mode, True)]


def test_output_options_without_jsonl_has_no_jsonl_flag() -> None:
    seen: list[Any] = []
    result = CliRunner().invoke(make_output_app(seen, jsonl=False), ["x", "--jsonl"])
    assert result.exit_code == 2
    assert seen == []


def test_json_and_jsonl_together_exit_2_before_the_command_runs() -> None:
    seen: list[Any] = []
    result = CliRunner().invoke(make_output_app(seen, jsonl=True), ["x", "--json", "--jsonl"])
    assert result.exit_code == 2
    assert "--json and --jsonl cannot be used together" in result.output
    assert seen == []


def test_output_options_needs_ctx() -> None:
    with pytest.raises(TypeError, match="has no parameter 'ctx'"):

        @output_options()
        def command(name: str, mode: Mode = "human") -> None:
            pass
