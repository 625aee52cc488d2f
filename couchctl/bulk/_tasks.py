"""Helpers shared by the load and dump engines."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["first_error"]


@contextmanager
def first_error() -> Iterator[None]:
    """Raise the error that stopped a task group rather than the group."""
    try:
        yield
    except BaseExceptionGroup as group:
        error: BaseException = group
        while isinstance(error, BaseExceptionGroup):
            error = error.exceptions[0]
        raise error from None
