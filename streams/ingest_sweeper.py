"""The periodic sweep of each worker: ends streams whose reconnect grace or liveness ran out.

Started on a worker's event loop by the first ingest hook it handles; every
worker may sweep (``Stream.end`` ends a stream once, whoever gets there first).
After a restart with no hook coming, ``manage.py end_stale_streams`` (cron)
does the same.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging

from channels.db import database_sync_to_async
from django.conf import settings

from livestream.loops import PerLoop
from streams.ingest import ingest_sweep

logger = logging.getLogger(__name__)


async def _sweep_forever() -> None:
    while True:
        await asyncio.sleep(settings.INGEST_SWEEP_INTERVAL_SECONDS)
        try:
            await database_sync_to_async(ingest_sweep)()
        except Exception:
            logger.exception("ingest sweep failed; retrying")


def _start() -> asyncio.Task:
    # A fresh context: the hook's request context holds asgiref's per-request
    # executor, gone once the response is sent.
    return asyncio.get_running_loop().create_task(_sweep_forever(), context=contextvars.Context())


_sweepers: PerLoop[asyncio.Task] = PerLoop(_start)


def ensure_sweeper() -> None:
    """Start this loop's sweep unless it runs."""
    _sweepers.get()
