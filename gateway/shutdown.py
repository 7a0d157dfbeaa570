"""Graceful shutdown of a worker: stop accepting, close every session, drain.

On SIGTERM (or SIGINT) the worker stops listening, closes each WebSocket with
code 1000 and no Socket.IO DISCONNECT, so official clients reconnect (to
another worker), runs the usual disconnect handling for each session (their
presence is released at once), then runs the apps' shutdown hooks (chat
finishes storing the messages in flight) before the reactor stops.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable

from gateway.hub import get_hub
from gateway.session import CLOSE_NORMAL

logger = logging.getLogger(__name__)

GRACE_SECONDS = 10
# Frames already read off the sockets are still handled before sessions close.
DRAIN_SECONDS = 0.25

ShutdownHook = Callable[[], Awaitable[None]]
_hooks: list[ShutdownHook] = []
_started = False


def on_shutdown(hook: ShutdownHook) -> ShutdownHook:
    """Register a coroutine to run once the sessions are closed."""
    _hooks.append(hook)
    return hook


def install_signal_handlers(server) -> None:
    loop = asyncio.get_event_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, lambda: asyncio.ensure_future(shutdown(server)))


async def close_all_sessions() -> None:
    sessions = list(get_hub().sessions)
    await asyncio.gather(*(session.close(CLOSE_NORMAL) for session in sessions))


async def shutdown(server) -> None:
    global _started
    if _started:
        return
    _started = True
    from twisted.internet import reactor

    for listener in server.listeners:
        port = getattr(listener, "result", None)
        if port is not None and hasattr(port, "stopListening"):
            port.stopListening()
    try:
        await asyncio.sleep(DRAIN_SECONDS)
        await asyncio.wait_for(close_all_sessions(), GRACE_SECONDS)
        for hook in _hooks:
            await asyncio.wait_for(hook(), GRACE_SECONDS)
    except Exception:
        logger.exception("graceful shutdown did not finish cleanly")
    finally:
        reactor.stop()
