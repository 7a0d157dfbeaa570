"""Batched lookups: many concurrent ``load(key)`` calls, one database query.

In a connect or join storm thousands of coroutines each want one row. Each
would cost a query and a hop to the database thread; instead, keys asked for
while a query is in flight wait for the next one, which fetches them all with
``pk__in`` (the DataLoader pattern). Nothing is cached between batches, so an
answer is never staler than the query that produced it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from typing import Any

from channels.db import database_sync_to_async

MAX_BATCH = 500


class BatchLoader:
    def __init__(self, fetch: Callable[[list[Hashable]], dict[Hashable, Any]]) -> None:
        """``fetch`` runs in the database thread: keys in, {key: row} out."""
        self._fetch = database_sync_to_async(fetch)
        self._waiting: dict[asyncio.AbstractEventLoop, dict[Hashable, list[asyncio.Future]]] = {}
        self._running: dict[asyncio.AbstractEventLoop, asyncio.Task] = {}

    async def load(self, key: Hashable) -> Any:
        """The row for ``key``, or None when there is none."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._waiting.setdefault(loop, {}).setdefault(key, []).append(future)
        if loop not in self._running:
            self._running[loop] = loop.create_task(self._run(loop))
        return await future

    async def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            while waiting := self._waiting.get(loop):
                keys = list(waiting)[:MAX_BATCH]
                batch = {key: waiting.pop(key) for key in keys}
                try:
                    rows = await self._fetch(keys)
                except Exception as exc:
                    for futures in batch.values():
                        for future in futures:
                            if not future.done():
                                future.set_exception(exc)
                    continue
                for key, futures in batch.items():
                    for future in futures:
                        if not future.done():
                            future.set_result(rows.get(key))
        finally:
            del self._running[loop]
            if not self._waiting.get(loop):
                self._waiting.pop(loop, None)
