"""Who is watching which stream, exact across processes and safe against crashes.

Each stream has a Redis sorted set of the sids watching it, scored with the
time (Redis's own clock) at which the entry expires. The process that holds a
socket refreshes its entries every half heartbeat, so the entries of a worker
that died stop being refreshed and fall out after one heartbeat period
(``pingInterval + pingTimeout``). A tombstone marks ended streams: nothing
joins them any more and their count is 0.
"""

from __future__ import annotations

import logging
import uuid

from gateway.refresher import Refresher, entry_ttl_ms, forget_local
from livestream.redis_clients import (
    LUA_NOW_MS,
    LuaScript,
    by_shard,
    get_async_redis,
    get_redis,
    key,
    local_key,
    shard_clients,
    shard_index,
)

logger = logging.getLogger(__name__)

ENDED = -1
_TOMBSTONE_SECONDS = 7 * 24 * 3600

# KEYS: set, tombstone. ARGV: sid, ttl_ms. Returns {added, count} or -1.
_JOIN = LuaScript(
    LUA_NOW_MS
    + """
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local added = redis.call('ZADD', KEYS[1], now + ARGV[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], 2 * ARGV[2])
return {added, redis.call('ZCARD', KEYS[1])}
"""
)

# KEYS: set, tombstone. ARGV: sid. Returns {removed, count} or -1.
_LEAVE = LuaScript(
    LUA_NOW_MS
    + """
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return {removed, redis.call('ZCARD', KEYS[1])}
"""
)

# KEYS: set, tombstone. ARGV: ttl_ms, mode, sid... Returns the live count or -1.
# Mode "XX" only extends entries still there (a sid that left stays gone);
# mode "ADD" puts them back after Redis lost its data.
_REFRESH = LuaScript(
    LUA_NOW_MS
    + """
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
for i = 3, #ARGV do
  if ARGV[2] == 'XX' then
    redis.call('ZADD', KEYS[1], 'XX', now + ARGV[1], ARGV[i])
  else
    redis.call('ZADD', KEYS[1], now + ARGV[1], ARGV[i])
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if #ARGV > 2 then redis.call('PEXPIRE', KEYS[1], 2 * ARGV[1]) end
return redis.call('ZCARD', KEYS[1])
"""
)

# KEYS: set, tombstone. Returns the live count, or -1 when ended.
_COUNT = LuaScript(
    LUA_NOW_MS
    + """
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
return redis.call('ZCOUNT', KEYS[1], now, '+inf')
"""
)


def _keys(stream_id: str) -> list[str]:
    return [key("presence", stream_id), key("presence", stream_id, "ended")]


# --- async API, used by the socket handlers -------------------------------------


async def join(stream_id: str, sid: str) -> tuple[bool, int] | int:
    """Add ``sid``; returns (added, count), or ENDED."""
    keys = _keys(stream_id)
    client = get_async_redis(keys[0])
    result = await _JOIN.on(client)(keys=keys, args=[sid, entry_ttl_ms()])
    if result == ENDED:
        return ENDED
    _local_viewers(stream_id).add(sid)
    _last_seen[stream_id] = int(result[1])
    if _refresher.ensure_running():
        for shard in shard_clients(asynchronous=True):
            await shard.set(_MARKER, 1, px=entry_ttl_ms())
    return bool(result[0]), int(result[1])


async def leave(stream_id: str, sid: str) -> tuple[bool, int] | int:
    """Remove ``sid``; returns (removed, count), or ENDED."""
    forget_local(_local, stream_id, sid)
    keys = _keys(stream_id)
    result = await _LEAVE.on(get_async_redis(keys[0]))(keys=keys, args=[sid])
    if result == ENDED:
        return ENDED
    _last_seen[stream_id] = int(result[1])
    return bool(result[0]), int(result[1])


def hand_over(stream_id: str, sid: str) -> None:
    """Stop refreshing ``sid`` here without removing it: another worker holds it now."""
    forget_local(_local, stream_id, sid)


async def count(stream_id: str) -> int:
    """The live count, or ENDED."""
    keys = _keys(stream_id)
    return int(await _COUNT.on(get_async_redis(keys[0]))(keys=keys))


# --- sync API, used by REST, admin and the stream-ended receiver -----------------


def viewer_count(stream_id: str) -> int:
    return viewer_counts([stream_id])[stream_id]


def viewer_counts(stream_ids: list[str]) -> dict[str, int]:
    """Live counts of several streams in one round trip per shard (0 for ended ones)."""
    counts: dict[str, int] = {}
    for group in by_shard(stream_ids, lambda stream_id: _keys(stream_id)[0]).values():
        client = get_redis(_keys(group[0])[0])
        count_script = _COUNT.on(client)
        with client.pipeline(transaction=False) as pipe:
            for stream_id in group:
                count_script(keys=_keys(stream_id), client=pipe)
            results = pipe.execute()
        counts.update((sid, max(int(n), 0)) for sid, n in zip(group, results, strict=True))
    return {stream_id: counts[stream_id] for stream_id in stream_ids}


def mark_ended(stream_id: str) -> None:
    """Drop all viewers of an ended stream and refuse new ones."""
    presence_key, tombstone = _keys(stream_id)
    with get_redis(presence_key).pipeline() as pipe:
        pipe.set(tombstone, 1, ex=_TOMBSTONE_SECONDS)
        pipe.delete(presence_key)
        pipe.execute()


# --- keeping this process's entries alive ------------------------------------------

# stream id -> sids of this process's sockets watching it
_local: dict[str, set[str]] = {}
_WORKER_ID = uuid.uuid4().hex
# One per shard: each shard can lose its data on its own.
_MARKER = local_key("presence", "worker", _WORKER_ID)
# Called with (stream_id, count) when a refresh finds a count that changed
# without a join or leave here (e.g. another worker died).
count_listeners: list = []
_last_seen: dict[str, int] = {}


def _local_viewers(stream_id: str) -> set[str]:
    viewers = _local.get(stream_id)
    if viewers is None:
        viewers = _local[stream_id] = set()
    return viewers


async def refresh_once() -> None:
    ttl = entry_ttl_ms()
    # A marker per shard that lives as long as our entries: when it is gone, that
    # shard lost its data (restart) or we stalled past the TTL, so put its entries back.
    shards = shard_clients(asynchronous=True)
    modes = []
    for client in shards:
        mode = "XX" if await client.set(_MARKER, 1, px=ttl, xx=True) else "ADD"
        if mode == "ADD":
            await client.set(_MARKER, 1, px=ttl)
        modes.append(mode)
    for stream_id, sids in list(_local.items()):
        keys = _keys(stream_id)
        shard = shard_index(keys[0])
        refresh = _REFRESH.on(shards[shard])
        result = int(await refresh(keys=keys, args=[ttl, modes[shard], *sids]))
        if result == ENDED:
            _local.pop(stream_id, None)
            _last_seen.pop(stream_id, None)
            continue
        if _last_seen.get(stream_id) not in (None, result):
            for listener in count_listeners:
                await listener(stream_id, result)
        _last_seen[stream_id] = result


_refresher = Refresher(refresh_once, what="presence")
