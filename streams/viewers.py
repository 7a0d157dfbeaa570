"""Announcing viewer counts to a stream's room, coalesced per room.

A join storm would otherwise send every viewer one message per join (O(N²)).
Per room and process, the first change in a window goes out at once; changes
inside the window are folded into one trailing announcement that re-reads the
count, so the last word is always the current count.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from gateway.rooms import emit_to_room
from gateway.settings import realtime_settings
from gateway.shutdown import on_shutdown
from streams import presence

if TYPE_CHECKING:
    from gateway.session import Session

EVENT = "viewer_count_updated"


def payload(stream_id: str, count: int) -> dict:
    return {"streamId": stream_id, "count": count}


class _Window:
    __slots__ = ("last_sent", "trailing")

    def __init__(self) -> None:
        self.last_sent = 0.0
        self.trailing: asyncio.TimerHandle | None = None


_windows: dict[str, _Window] = {}
_tasks: set[asyncio.Task] = set()


async def announce(stream_id: str, count: int, *, joiner: Session | None = None) -> None:
    """Tell the room about ``count``; ``joiner`` always hears it right away."""
    window_s = realtime_settings().count_coalesce_ms / 1000
    window = _windows.get(stream_id)
    if window is None:
        window = _windows[stream_id] = _Window()
    now = time.monotonic()
    if joiner is not None:
        # Directly, so it arrives in order with the joiner's other replies.
        await joiner.emit(EVENT, payload(stream_id, count))
    if window.trailing is None and now - window.last_sent >= window_s:
        window.last_sent = now
        skip = joiner.sid if joiner is not None else None
        await emit_to_room(stream_id, EVENT, payload(stream_id, count), skip_sid=skip)
        return
    if window.trailing is None:
        delay = max(0.0, window.last_sent + window_s - now)
        window.trailing = asyncio.get_running_loop().call_later(delay, _fire_trailing, stream_id)


def _fire_trailing(stream_id: str) -> None:
    task = asyncio.ensure_future(_send_trailing(stream_id))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


async def _send_trailing(stream_id: str) -> None:
    window = _windows.get(stream_id)
    if window is None:
        return
    window.trailing = None
    window.last_sent = time.monotonic()
    current = await presence.count(stream_id)
    if current == presence.ENDED:
        _windows.pop(stream_id, None)
        return
    await emit_to_room(stream_id, EVENT, payload(stream_id, current))


@on_shutdown
async def _send_held_back_counts() -> None:
    """A stopping worker sends the counts it holds back: its viewers just left.

    Shutdown hooks run after every session was closed and its presence
    released; a trailing announcement left to its timer would die with the
    reactor, and the room would keep the count from before the shutdown.
    """
    for stream_id, window in list(_windows.items()):
        if window.trailing is not None:
            window.trailing.cancel()
            await _send_trailing(stream_id)


async def _on_refreshed_count(stream_id: str, count: int) -> None:
    await announce(stream_id, count)


presence.count_listeners.append(_on_refreshed_count)
