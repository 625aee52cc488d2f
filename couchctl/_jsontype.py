"""Naming a JSON value's type in messages ("must be a JSON object, got an array")."""

from __future__ import annotations

from typing import Any

__all__ = ["json_type_name"]


def json_type_name(value: Any) -> str:
    """The JSON type of a parsed value, with its article: "an array", "a string", "null"."""
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, dict):
        return "an object"
    return "null" if value is None else type(value).__name__
