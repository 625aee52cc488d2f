"""Helpers shared by the load and dump engines."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["Signal", "first_error"]


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


class Signal:
    """Wakes the tasks waiting on it each time it is fired. A fire with nobody waiting
    is not kept, so a task checks its condition, then waits (nothing awaited between)."""

    def __init__(self) -> None:
        self._event: Any = None

    async def wait(self) -> None:
        import anyio

        if self._event is None:
            self._event = anyio.Event()
        await self._event.wait()

    def fire(self) -> None:
        event, self._event = self._event, None
        if event is not None:
            event.set()
