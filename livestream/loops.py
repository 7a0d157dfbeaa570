"""Process-wide objects that belong to one event loop (daphne runs one per worker)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerLoop(Generic[T]):
    """One ``factory()`` instance per running event loop, forgotten with closed loops.

    Tests run many short-lived loops; an object holding futures or tasks of one
    loop must never be used from another.
    """

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._instances: dict[asyncio.AbstractEventLoop, T] = {}

    def get(self) -> T:
        loop = asyncio.get_running_loop()
        instance = self._instances.get(loop)
        if instance is None:
            for stale in [known for known in self._instances if known.is_closed()]:
                del self._instances[stale]
            instance = self._instances[loop] = self._factory()
        return instance

    def values(self) -> list[T]:
        return list(self._instances.values())
