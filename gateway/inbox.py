"""Reading a process's own channel-layer channel for as long as the process lives.

The hub (room broadcasts) and the long-polling inbox (forwarded requests and
relayed frames) each own one channel per process. Either reader must outlive
a Redis blip: a failed read is logged and retried, and a message whose
handling fails is logged and dropped, never ending the loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)

RETRY_SECONDS = 0.5


async def receive_forever(
    layer, channel: str, handle: Callable[[dict], Awaitable[None]], *, what: str
) -> None:
    """Hand every message of ``channel`` to ``handle``, in order, until cancelled."""
    while True:
        try:
            message = await layer.receive(channel)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("%s receive failed; retrying", what)
            await asyncio.sleep(RETRY_SECONDS)
            continue
        try:
            await handle(message)
        except Exception:
            logger.exception("%s could not handle a %s message", what, message.get("type"))
