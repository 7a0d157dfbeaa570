"""Keeping a process's entries in Redis alive, once per heartbeat period.

Viewer presence (``streams/presence.py``) and connection slots
(``gateway/limits.py``) keep Redis sorted sets of sids scored with the time at
which each entry expires. The process holding the sockets refreshes its own
entries every half heartbeat, so the entries of a process that died free
themselves after one heartbeat period (``pingInterval + pingTimeout``). This
module is that clock, written once: one task per event loop, started on first
use, that survives a failing refresh.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from gateway.settings import realtime_settings

logger = logging.getLogger(__name__)


def entry_ttl_ms() -> int:
    """How long an entry lives without a refresh: one heartbeat period."""
    conf = realtime_settings()
    return conf.ping_interval_ms + conf.ping_timeout_ms


def forget_local(local: dict[str, set[str]], key: str, sid: str) -> bool:
    """Take ``sid`` out of a process's ``key → sids`` entries; whether it was there.

    What is no longer local is no longer refreshed: it expires on its own unless
    removed from Redis too (or another process refreshes it now).
    """
    sids = local.get(key)
    if sids is None or sid not in sids:
        return False
    sids.discard(sid)
    if not sids:
        del local[key]
    return True


class Refresher:
    """Runs ``refresh`` every half ``pingInterval`` on the running event loop."""

    def __init__(self, refresh: Callable[[], Awaitable[None]], *, what: str) -> None:
        self._refresh = refresh
        self._what = what
        self._task: asyncio.Task | None = None

    def ensure_running(self) -> bool:
        """Start the task on this loop unless it runs already; True when started now."""
        loop = asyncio.get_running_loop()
        task = self._task
        if task is not None and not task.done() and task.get_loop() is loop:
            return False
        self._task = loop.create_task(self._run())
        return True

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(realtime_settings().ping_interval_ms / 2000)
            try:
                await self._refresh()
            except Exception:
                logger.exception("%s refresh failed; retrying", self._what)
