"""One Redis connection pool per process (sync) and per event loop (async)."""

from __future__ import annotations

import asyncio
import threading
import weakref

import redis
import redis.asyncio as aioredis
from django.conf import settings

POOL_SIZE = 32

_sync_client: redis.Redis | None = None
_sync_lock = threading.Lock()
_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = (
    weakref.WeakKeyDictionary()
)


# Lua prefix: ``now``, Redis's own clock in milliseconds, so every process agrees.
LUA_NOW_MS = "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000) "


class LuaScript:
    """A Lua script, registered once on each Redis client (sync or async) that runs it.

    Registration is what lets redis-py send EVALSHA instead of the whole source.
    Keyed by the client object itself (weakly), not its ``id()``: a client of a
    closed event loop that is collected cannot leave its registration to a new
    client that happens to get the same id.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self._registered: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def on(self, client):
        """The script bound to ``client``: call it with ``keys=`` and ``args=``."""
        script = self._registered.get(client)
        if script is None:
            script = self._registered[client] = client.register_script(self.source)
        return script


def key(*parts: object) -> str:
    """Namespace a Redis key with the configured prefix."""
    return ":".join([settings.REDIS_PREFIX, *map(str, parts)])


def get_redis() -> redis.Redis:
    global _sync_client
    if _sync_client is None:
        with _sync_lock:
            if _sync_client is None:
                pool = redis.BlockingConnectionPool.from_url(
                    settings.REDIS_URL, decode_responses=True, max_connections=POOL_SIZE
                )
                _sync_client = redis.Redis(connection_pool=pool)
    return _sync_client


def get_async_redis() -> aioredis.Redis:
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        # Under load, commands wait for a free connection instead of failing.
        pool = aioredis.BlockingConnectionPool.from_url(
            settings.REDIS_URL, decode_responses=True, max_connections=POOL_SIZE, timeout=10
        )
        client = aioredis.Redis(connection_pool=pool)
        _async_clients[loop] = client
    return client
