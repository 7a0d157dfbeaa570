"""Announcing viewer counts to a stream's room, coalesced per room across every worker.

A join storm would otherwise send every viewer one message per join (O(N²)); and
coalescing per worker still sends one per worker per window, since each worker's
announcement goes to the whole room (W × N × windows count frames: 1.3 M for
10,000 joins over 4 workers, docs/scaling.md). So one Redis key per room marks a
window, whichever worker the changes happen on. The change that opens it is
announced at once, and its worker owns the window; a change during it only marks
the room dirty. When the window ends, the owner announces the current count once
and keeps the window for another round if anything changed, or closes it. A
joiner always hears the exact count directly.

If the owner dies with the window open, the key expires after two windows and
the next change (or the next presence refresh that sees a new count) announces.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import TYPE_CHECKING

from gateway.rooms import emit_to_room
from gateway.settings import realtime_settings
from gateway.shutdown import on_shutdown
from livestream.redis_clients import LuaScript, get_async_redis, key
from streams import presence

if TYPE_CHECKING:
    from gateway.session import Session

logger = logging.getLogger(__name__)

EVENT = "viewer_count_updated"

# KEYS: window, dirty. ARGV: ttl_ms, owner. 1: the window opened, announce now.
_OPEN = LuaScript(
    """
if redis.call('SET', KEYS[1], ARGV[2], 'NX', 'PX', ARGV[1]) then return 1 end
redis.call('SET', KEYS[2], 1, 'PX', ARGV[1])
return 0
"""
)

# KEYS: window, dirty. ARGV: ttl_ms, owner. 1: something changed, announce and keep
# the window; 0: nothing did, the window is closed; -1: another worker owns it now.
_ROUND = LuaScript(
    """
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[2] then return -1 end
if redis.call('DEL', KEYS[2]) == 1 then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[1])
  return 1
end
redis.call('DEL', KEYS[1])
return 0
"""
)

# KEYS: window, dirty. ARGV: ttl_ms, owner. The window closed if it was ours (or gone);
# 1 if something changed since its last announcement, -1 if another worker owns it.
_RELEASE = LuaScript(
    """
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[2] then return -1 end
redis.call('DEL', KEYS[1])
return redis.call('DEL', KEYS[2])
"""
)

# This process, as a window's owner.
_OWNER = uuid.uuid4().hex
# Windows this process owns: stream id → the timer of its end.
_owned: dict[str, asyncio.TimerHandle] = {}
_tasks: set[asyncio.Task] = set()


def payload(stream_id: str, count: int) -> dict:
    return {"streamId": stream_id, "count": count}


def _keys(stream_id: str) -> list[str]:
    return [key("count-window", stream_id), key("count-window", stream_id, "dirty")]


def _window_ms() -> int:
    return realtime_settings().count_coalesce_ms


async def _run(script: LuaScript, stream_id: str) -> int:
    keys = _keys(stream_id)
    call = script.on(get_async_redis(keys[0]))
    return int(await call(keys=keys, args=[2 * _window_ms(), _OWNER]))


async def announce(stream_id: str, count: int, *, joiner: Session | None = None) -> None:
    """Tell the room about ``count``; ``joiner`` always hears it right away."""
    if joiner is not None:
        # Directly, so it arrives in order with the joiner's other replies.
        await joiner.emit(EVENT, payload(stream_id, count))
    if not _window_ms():
        opened = 1
    else:
        try:
            opened = await _run(_OPEN, stream_id)
        except Exception:
            logger.warning("count window of %s unavailable: announcing", stream_id, exc_info=True)
            opened = 1
    if opened:
        skip = joiner.sid if joiner is not None else None
        await emit_to_room(stream_id, EVENT, payload(stream_id, count), skip_sid=skip)
        _schedule_round(stream_id)


def _schedule_round(stream_id: str) -> None:
    window_ms = _window_ms()
    if not window_ms or stream_id in _owned:
        return
    _owned[stream_id] = asyncio.get_running_loop().call_later(
        window_ms / 1000, _fire_round, stream_id
    )


def _fire_round(stream_id: str) -> None:
    task = asyncio.ensure_future(_round(stream_id))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


async def _round(stream_id: str, *, script: LuaScript = _ROUND) -> None:
    """The end of a window this process owns: the current count once, if anything changed."""
    _owned.pop(stream_id, None)
    try:
        if await _run(script, stream_id) != 1:
            return
        current = await presence.count(stream_id)
        if current == presence.ENDED:
            return
        await emit_to_room(stream_id, EVENT, payload(stream_id, current))
    except Exception:
        logger.exception("could not announce the count of %s", stream_id)
        return
    if script is _ROUND:  # still the owner: the next round closes it or goes on
        _schedule_round(stream_id)


@on_shutdown
async def _send_held_back_counts() -> None:
    """A stopping worker ends the windows it owns: its viewers just left.

    Shutdown hooks run after every session was closed and its presence
    released; a window left to its timer would die with the reactor, and the
    room would keep the count from before the shutdown until the key expired.
    """
    for stream_id, timer in list(_owned.items()):
        timer.cancel()
        await _round(stream_id, script=_RELEASE)  # nobody here would close it


async def _on_refreshed_count(stream_id: str, count: int) -> None:
    await announce(stream_id, count)


presence.count_listeners.append(_on_refreshed_count)
