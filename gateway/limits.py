"""Connections per user, counted across every server process.

Each user has a Redis sorted set of the sids of their connected sockets,
scored with the time (Redis's own clock) at which the entry expires. A CONNECT
takes a slot, a disconnect gives it back, and the process holding a socket
refreshes its entries every half heartbeat, so the slots of a worker that died
free themselves after one heartbeat period (``pingInterval + pingTimeout``),
as viewer presence does (``streams/presence.py``).
"""

from __future__ import annotations

import logging

from gateway.refresher import Refresher, entry_ttl_ms, forget_local
from gateway.settings import realtime_settings
from livestream.redis_clients import LUA_NOW_MS, LuaScript, by_shard, get_async_redis, key

logger = logging.getLogger(__name__)

TOO_MANY_CONNECTIONS = "Too many connections"

# KEYS: set. ARGV: sid, ttl_ms, max. Returns 1 when the sid holds a slot, else 0.
_ACQUIRE = LuaScript(
    LUA_NOW_MS
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1])
   and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + ARGV[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], 2 * ARGV[2])
return 1
"""
)

# KEYS: set. ARGV: ttl_ms, sid...
_REFRESH = LuaScript(
    LUA_NOW_MS
    + """
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', now + ARGV[1], ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], 2 * ARGV[1])
"""
)


def _key(user_id: str) -> str:
    return key("connections", user_id)


# user id -> sids of this process's sockets holding a slot
_local: dict[str, set[str]] = {}


async def acquire_connection(user_id: str, sid: str) -> bool:
    """Take one of ``user_id``'s connection slots for ``sid``; False when all are taken."""
    limit = realtime_settings().max_connections_per_user
    if not limit:
        return True
    acquire = _ACQUIRE.on(get_async_redis(_key(user_id)))
    if not await acquire(keys=[_key(user_id)], args=[sid, entry_ttl_ms(), limit]):
        return False
    _local.setdefault(user_id, set()).add(sid)
    _refresher.ensure_running()
    return True


async def release_connection(user_id: str, sid: str) -> None:
    """Give back the slot of ``sid``. Never raises: the entry would expire anyway."""
    if not forget_local(_local, user_id, sid):
        return
    try:
        await get_async_redis(_key(user_id)).zrem(_key(user_id), sid)
    except Exception:
        logger.warning("could not release a connection slot of user %s", user_id, exc_info=True)


def forget_connection(user_id: str, sid: str) -> None:
    """Stop refreshing ``sid``'s slot here: another worker holds the socket now."""
    forget_local(_local, user_id, sid)


async def refresh_once() -> None:
    ttl = entry_ttl_ms()
    for group in by_shard(list(_local.items()), lambda item: _key(item[0])).values():
        client = get_async_redis(_key(group[0][0]))
        refresh = _REFRESH.on(client)
        async with client.pipeline(transaction=False) as pipe:
            for user_id, sids in group:
                await refresh(keys=[_key(user_id)], args=[ttl, *sids], client=pipe)
            await pipe.execute()


async def _refresh_if_any() -> None:
    if _local:
        await refresh_once()


_refresher = Refresher(_refresh_if_any, what="connection slot")
