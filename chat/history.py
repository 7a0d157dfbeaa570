"""The last messages of a stream, served from a Redis cache kept in step with writes.

A reconnect storm of V viewers on S streams would otherwise cost V database
queries. The cache is a list of encoded payloads (newest first) plus a
``filled`` marker; every write or removal bumps a version, and a fill only
lands when the version did not move while the database was read, so a
message committed during a fill is never missing from the cache.
"""

from __future__ import annotations

import asyncio
import json

from channels.db import database_sync_to_async
from django.conf import settings

from chat.models import ChatMessage
from chat.payloads import message_payload
from livestream.redis_clients import LuaScript, get_async_redis, get_redis, key

_TTL_SECONDS = 3600

# KEYS: list, filled, version. ARGV: size, ttl, payloads (oldest first)...
_PUSH = LuaScript("""
redis.call('INCR', KEYS[3])
redis.call('EXPIRE', KEYS[3], ARGV[2])
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('LPUSH', KEYS[1], unpack(ARGV, 3))
  redis.call('LTRIM', KEYS[1], 0, ARGV[1] - 1)
end
""")

# KEYS: list, filled, version. ARGV: expected version, ttl, payloads (newest first)...
_FILL = LuaScript("""
if (redis.call('GET', KEYS[3]) or '0') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if #ARGV > 2 then redis.call('RPUSH', KEYS[1], unpack(ARGV, 3)) end
redis.call('SET', KEYS[2], 1, 'EX', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
""")

# KEYS: list, filled. Returns false when not filled, else the payloads.
_READ = LuaScript("""
if redis.call('EXISTS', KEYS[2]) == 0 then return false end
return redis.call('LRANGE', KEYS[1], 0, -1)
""")


def _keys(stream_id: str) -> list[str]:
    return [
        key("history", stream_id),
        key("history", stream_id, "filled"),
        key("history", stream_id, "v"),
    ]


def _size() -> int:
    return settings.CHAT_HISTORY_SIZE


def _from_database(stream_id: str) -> list[dict]:
    newest = (
        ChatMessage.objects.visible()
        .filter(stream_id=stream_id)
        .select_related("user")
        .order_by("-created_at", "-id")[: _size()]
    )
    return [message_payload(message) for message in newest]


_fills: dict[str, asyncio.Future] = {}


async def recent(stream_id: str) -> list[dict]:
    """The newest messages of the stream, oldest first, removed ones left out."""
    keys = _keys(stream_id)
    client = get_async_redis(keys[0])
    cached = await _READ.on(client)(keys=keys[:2])
    if cached is not None:
        return [json.loads(item) for item in reversed(cached)]
    # One fill per stream per process at a time; the others wait for it.
    pending = _fills.get(stream_id)
    if pending is not None:
        return await asyncio.shield(pending)
    future = asyncio.get_running_loop().create_future()
    _fills[stream_id] = future
    try:
        version = await client.get(keys[2]) or "0"
        newest = await database_sync_to_async(_from_database)(stream_id)
        encoded = [json.dumps(payload, separators=(",", ":")) for payload in newest]
        await _FILL.on(client)(keys=keys, args=[version, _TTL_SECONDS, *encoded])
        result = list(reversed(newest))
        future.set_result(result)
        return result
    except BaseException as exc:
        future.set_exception(exc)
        future.exception()  # the waiters, if any, see it; nobody else must
        raise
    finally:
        del _fills[stream_id]


async def remember(stream_id: str, payloads: list[dict]) -> None:
    """Add just-committed messages of one stream (oldest first) to its cache: one round trip."""
    # The newest ``size`` are all the cache keeps; fewer arguments keep a huge batch cheap.
    newest = payloads[-_size() :]
    keys = _keys(stream_id)
    await _PUSH.on(get_async_redis(keys[0]))(
        keys=keys,
        args=[_size(), _TTL_SECONDS, *(json.dumps(p, separators=(",", ":")) for p in newest)],
    )


def invalidate(stream_id: str) -> None:
    """Forget the cache after removals; the next reader refills it."""
    list_key, filled, version = _keys(str(stream_id))
    with get_redis(list_key).pipeline() as pipe:
        pipe.delete(list_key, filled)
        pipe.incr(version)
        pipe.expire(version, _TTL_SECONDS)
        pipe.execute()
