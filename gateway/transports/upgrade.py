"""The upgrade of a long-polling session to a WebSocket (Engine.IO v4).

The client probes with ``2probe`` on the new WebSocket, gets ``3probe``, then
sends ``5``. The same :class:`Probe` runs whether the WebSocket is on the
session's own worker or relayed from another one (:mod:`gateway.transports.relay`).
"""

from __future__ import annotations

import asyncio
import logging

from gateway import codec
from gateway.session import CLOSE_NORMAL, Session, State
from gateway.settings import realtime_settings

logger = logging.getLogger(__name__)

PROBE = "probe"
PING_PROBE = codec.PING_FRAME + PROBE
PONG_PROBE = codec.PONG_FRAME + PROBE
UPGRADE_FRAME = str(codec.UPGRADE)

_tasks: set[asyncio.Task] = set()


class Probe:
    """One WebSocket (``target``: ``send_text``/``close``) probing to carry a polling session."""

    __slots__ = ("polling", "target", "_deadline")

    def __init__(self, polling, target) -> None:
        self.polling = polling
        self.target = target
        timeout = realtime_settings().upgrade_timeout_ms / 1000
        self._deadline: asyncio.TimerHandle | None = asyncio.get_running_loop().call_later(
            timeout, self._time_out
        )

    @property
    def pending(self) -> bool:
        return self._deadline is not None

    async def receive(self, text: str | None) -> Session | None:
        """Handle one frame of the probe; the session once the upgrade is complete."""
        session = self.polling.session
        if session is None or session.state is State.CLOSED:
            await self.fail("the session closed")
        elif text == PING_PROBE:
            await self.target.send_text(PONG_PROBE)
            self.polling.pause_for_upgrade()
        elif text == UPGRADE_FRAME:
            self._stop()
            # Whatever the polling queue still holds goes first, then the
            # session writes to the WebSocket: no frame twice, none out of order.
            backlog = self.polling.hand_over()
            session.switch_transport(self.target)
            for frame in backlog:
                await self.target.send_text(frame)
            return session
        else:
            await self.fail(f"unexpected frame while probing: {text!r:.40}")
        return None

    def abandon(self) -> None:
        """The WebSocket went away: long-polling goes on as before."""
        if self.pending:
            self._stop()
            self.polling.resume()

    async def fail(self, reason: str) -> None:
        if not self.pending:
            return
        logger.debug("upgrade probe failed: %s", reason)
        self.abandon()
        await self.target.close(CLOSE_NORMAL)

    def _stop(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _time_out(self) -> None:
        task = asyncio.ensure_future(self.fail("upgrade timeout"))
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)
