"""Redis clients, one pool per shard per process (sync) and per event loop (async).

The project's own keys (presence, connection slots, chat limits and history,
moderation state) may be spread over several plain Redis instances, listed in
``REDIS_URL`` (``settings.REDIS_URLS``). A key names its shard with a hash tag,
as in Redis Cluster: :func:`key` builds ``<prefix>:<kind>:{<id>}:<rest>``, and
the shard is ``CRC16(id) mod 16384`` spread evenly over the shards (the cluster
hash slot), so every key of one stream, user or inbox lives on one shard.

The rule, for anyone adding keys: **the second part given to** :func:`key` **is
the tag** (the stream id, the user id, the inbox name), and every key one Lua
script or transaction touches must share it. :class:`LuaScript` refuses a call
whose keys carry different tags (whatever the number of shards, so a single-shard
test run catches it). A key that must exist on every shard (a per-process
marker, a global version read by per-stream scripts) is built with
:func:`local_key`, has no tag, and is reached shard by shard with
:func:`shard_clients`; a script may read such a key next to its tagged ones.
"""

from __future__ import annotations

import asyncio
import binascii
import hashlib
import threading
import weakref
from collections.abc import Iterable

import redis
import redis.asyncio as aioredis
from django.conf import settings

SLOTS = 16384

_sync_clients: list[redis.Redis] | None = None
_sync_lock = threading.Lock()
_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[aioredis.Redis]] = (
    weakref.WeakKeyDictionary()
)


# Lua prefix: ``now``, Redis's own clock in milliseconds, so every process agrees.
LUA_NOW_MS = "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000) "


class CrossShardKeys(ValueError):
    """One script or transaction was given keys of different hash tags."""


def key(*parts: object) -> str:
    """A project key: ``key(kind, tag, *rest)`` -> ``<prefix>:<kind>:{<tag>}:<rest>``.

    The second part is the hash tag that picks the shard (module docstring).
    A key of one part has no tag and is placed by its whole name.
    """
    names = [settings.REDIS_PREFIX, *map(str, parts)]
    if len(names) > 2:
        names[2] = "{" + names[2] + "}"
    return ":".join(names)


def local_key(*parts: object) -> str:
    """A key without a tag, meant to exist once per shard (see :func:`shard_clients`)."""
    return ":".join([settings.REDIS_PREFIX, *map(str, parts)])


def hash_tag(name: str) -> str | None:
    """The ``{...}`` tag of a key, as Redis Cluster reads it; None when there is none."""
    start = name.find("{")
    if start < 0:
        return None
    end = name.find("}", start + 1)
    if end <= start + 1:
        return None
    return name[start + 1 : end]


def shard_index(name: str) -> int:
    """Which of ``settings.REDIS_URLS`` holds ``name``: its cluster slot, spread evenly."""
    count = len(settings.REDIS_URLS)
    if count == 1:
        return 0
    tag = hash_tag(name)
    slot = binascii.crc_hqx((name if tag is None else tag).encode(), 0) % SLOTS
    return slot * count // SLOTS


def common_tag(keys: Iterable[str]) -> str | None:
    """The one tag shared by ``keys`` (untagged local keys aside); raises otherwise."""
    tags = {hash_tag(name) for name in keys} - {None}
    if len(tags) > 1:
        raise CrossShardKeys(f"keys of one script must share one hash tag, got {sorted(tags)}")
    return next(iter(tags), None)


class LuaScript:
    """A Lua script, registered once on each Redis client (sync or async) that runs it.

    Registration is what lets redis-py send EVALSHA instead of the whole source.
    Keyed by the client object itself (weakly), not its ``id()``: a client of a
    closed event loop that is collected cannot leave its registration to a new
    client that happens to get the same id. Every call checks that its keys
    share one hash tag, so a script never spans shards.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        # What EVALSHA names it by (as redis-py computes it), for calls queued in a pipeline.
        self.sha = hashlib.sha1(source.encode()).hexdigest()
        self._registered: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def on(self, client):
        """The script bound to ``client``: call it with ``keys=`` and ``args=``.

        ``client`` must be the shard of the keys: ``get_redis(keys[0])``.
        """
        script = self._registered.get(client)
        if script is None:
            script = self._registered[client] = client.register_script(self.source)
        return _Checked(script)


class _Checked:
    __slots__ = ("_script",)

    def __init__(self, script) -> None:
        self._script = script

    def __call__(self, keys=(), args=(), client=None):
        common_tag(keys)
        return self._script(keys=keys, args=args, client=client)


def _sync_shards() -> list[redis.Redis]:
    global _sync_clients
    if _sync_clients is None:
        with _sync_lock:
            if _sync_clients is None:
                _sync_clients = [
                    redis.Redis(
                        connection_pool=redis.BlockingConnectionPool.from_url(
                            url,
                            decode_responses=True,
                            max_connections=settings.REDIS_POOL_SIZE,
                            timeout=settings.REDIS_POOL_TIMEOUT_MS / 1000,
                        )
                    )
                    for url in settings.REDIS_URLS
                ]
    return _sync_clients


def _async_shards() -> list[aioredis.Redis]:
    loop = asyncio.get_running_loop()
    clients = _async_clients.get(loop)
    if clients is None:
        # Under load, commands wait for a free connection instead of failing.
        clients = _async_clients[loop] = [
            aioredis.Redis(
                connection_pool=aioredis.BlockingConnectionPool.from_url(
                    url,
                    decode_responses=True,
                    max_connections=settings.REDIS_POOL_SIZE,
                    timeout=settings.REDIS_POOL_TIMEOUT_MS / 1000,
                )
            )
            for url in settings.REDIS_URLS
        ]
    return clients


def get_redis(name: str | None = None) -> redis.Redis:
    """The sync client of the shard holding key ``name`` (the first shard without one)."""
    shards = _sync_shards()
    return shards[0 if name is None else shard_index(name)]


def get_async_redis(name: str | None = None) -> aioredis.Redis:
    """The async client (this event loop's) of the shard holding key ``name``."""
    shards = _async_shards()
    return shards[0 if name is None else shard_index(name)]


def shard_clients(*, asynchronous: bool) -> list:
    """Every shard's client, for keys that exist once per shard (:func:`local_key`)."""
    return list(_async_shards() if asynchronous else _sync_shards())


def by_shard(items: Iterable, name_of) -> dict[int, list]:
    """Group ``items`` by the shard of ``name_of(item)``, for one pipeline per shard."""
    groups: dict[int, list] = {}
    for item in items:
        groups.setdefault(shard_index(name_of(item)), []).append(item)
    return groups
