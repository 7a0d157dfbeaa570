"""Which workers are up and how many sockets each holds, for the admin overview.

Every worker with sockets writes its counts into one Redis hash (field: host
and pid) every half heartbeat, stamped with when the entry stops being true
(one heartbeat period later); readers skip, and remove, entries past that, so
a worker that died drops out by itself. Workers on other machines behind the
same Redis appear too, which per-process metrics could not show in one place.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time

from gateway.hub import get_hub
from gateway.refresher import Refresher, entry_ttl_ms
from livestream.redis_clients import get_async_redis, get_redis, key

WORKER = f"{socket.gethostname()}:{os.getpid()}"
STARTED = time.time()

_tasks: set[asyncio.Task] = set()


def _hash() -> str:
    return key("gateway", "workers")


def _counts() -> dict[str, int]:
    counts = {"sockets": 0, "connected": 0, "websocket": 0, "polling": 0}
    for session in get_hub().sessions:
        counts["sockets"] += 1
        counts["connected"] += session.is_connected
        kind = session.transport.kind
        counts[kind] = counts.get(kind, 0) + 1
    return counts


async def report_once() -> None:
    entry = {**_counts(), "started": STARTED, "expires": time.time() + entry_ttl_ms() / 1000}
    await get_async_redis().hset(_hash(), WORKER, json.dumps(entry))


_refresher = Refresher(report_once, what="worker report")


def ensure_reporting() -> None:
    """Start this worker's reports (on its first socket); cheap once running."""
    if _refresher.ensure_running():
        task = asyncio.ensure_future(report_once())  # seen at once, not after a period
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)
        task.add_done_callback(lambda done: done.cancelled() or done.exception())


def worker_list() -> list[dict]:
    """The workers reporting now, by name: ``{"worker", "sockets", "connected", ...}``."""
    client = get_redis()
    now = time.time()
    workers, stale = [], []
    for name, raw in client.hgetall(_hash()).items():
        entry = json.loads(raw)
        if entry.get("expires", 0) < now:
            stale.append(name)
        else:
            workers.append({"worker": name, **entry})
    if stale:
        client.hdel(_hash(), *stale)
    return sorted(workers, key=lambda entry: entry["worker"])
