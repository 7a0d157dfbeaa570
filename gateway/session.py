"""A Socket.IO session, independent of the transport that carries it.

The session owns what a connected client is to the server: its sid, the
authenticated user, its rooms, the Engine.IO heartbeat and its lifecycle. A
transport (WebSocket or long-polling, see :mod:`gateway.transports`) only
moves text packets and closes; an upgrade swaps the transport under the session.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import secrets
import time
from typing import TYPE_CHECKING, Any, Protocol

from gateway import codec, events, hub, limits, metrics
from gateway.settings import realtime_settings

if TYPE_CHECKING:
    from gateway.auth import Identity
    from gateway.broadcast import Broadcast
    from gateway.pending import PendingSlot
    from gateway.recovery import Resumable

logger = logging.getLogger(__name__)

# WebSocket close codes the gateway sends. Servers may only send 1000 or an
# application code (3000-4999) themselves; 1009 for oversized frames is sent by
# the WebSocket layer (see livestream.serve). The 4xxx codes mirror the
# standard 100x meaning for clients that log them.
CLOSE_NORMAL = 1000
CLOSE_PROTOCOL_ERROR = 4002
CLOSE_UNSUPPORTED_DATA = 4003
CLOSE_POLICY_VIOLATION = 4008
# A peer that does not read what it is sent breaks the same policy.
CLOSE_SLOW_CONSUMER = CLOSE_POLICY_VIOLATION
CLOSE_TOO_BIG = 4009
CLOSE_INTERNAL_ERROR = 4011

# What each close code means, as the ``socketio_closes`` metric names it.
CLOSE_REASONS = {
    CLOSE_NORMAL: "normal",
    CLOSE_PROTOCOL_ERROR: "protocol_error",
    CLOSE_UNSUPPORTED_DATA: "unsupported_data",
    CLOSE_POLICY_VIOLATION: "policy_violation",
    CLOSE_TOO_BIG: "too_big",
    CLOSE_INTERNAL_ERROR: "internal_error",
}


class Transport(Protocol):
    kind: str  # "websocket" or "polling", for the metrics
    upgrades: tuple[str, ...]  # what the OPEN packet offers to upgrade to

    async def send_text(self, frame: str) -> None: ...

    def deliver(self, broadcast: Broadcast) -> bool:
        """Take a room broadcast without awaiting; False if only send_text can."""

    async def close(self, code: int) -> None: ...


class State(enum.Enum):
    AWAITING_CONNECT = "awaiting connect"
    CONNECTED = "connected"
    # Its connection dropped; kept for connection-state recovery (gateway.recovery).
    PARKED = "parked"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return self.name.lower()


_tasks: set[asyncio.Task] = set()


def _spawn(coro) -> None:
    task = asyncio.ensure_future(coro)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


class Session:
    __slots__ = (
        "sid",
        "engine_sid",
        "transport",
        "user",
        "state",
        "_rooms",
        "_data",
        "_ping_handle",
        "_pong_deadline",
        "_ping_mark",
        "_connect_deadline",
        "_event_tokens",
        "_event_stamp",
        "_pending",
        "binary",
        "client_address",
        "keeps_offsets",
        "recovery",
        "__weakref__",
    )

    def __init__(
        self,
        transport: Transport,
        *,
        sid: str | None = None,
        pending: PendingSlot | None = None,
        keeps_offsets: bool = False,
    ) -> None:
        self.sid = sid or secrets.token_urlsafe(15)
        # The Engine.IO session id, which the transports route by. ``sid`` is the
        # Socket.IO id the apps see: the same, unless a resumed session took its
        # old one back (gateway.recovery).
        self.engine_sid = self.sid
        self.transport = transport
        # Where the socket came from (livestream.client_address), for the audit trail.
        self.client_address = pending.address if pending is not None else ""
        self.user: Identity | None = None
        self.state = State.AWAITING_CONNECT
        # Created on first use: memory per connection is what bounds how many
        # sockets a worker holds, and many never join a room.
        self._rooms: set[str] | None = None
        self._data: dict[str, Any] | None = None
        self._ping_handle: asyncio.TimerHandle | None = None
        self._pong_deadline: asyncio.TimerHandle | None = None
        self._ping_mark: int | None = None
        self._connect_deadline: asyncio.TimerHandle | None = None
        # The client's event budget: a token bucket, refilled as time passes.
        self._event_tokens = float(realtime_settings().event_burst)
        self._event_stamp = time.monotonic()
        # This socket's place among its address's unauthenticated sockets.
        self._pending = pending
        # A binary packet waiting for its attachments (gateway.engine.Attachments).
        self.binary: Any = None
        # Whether the handshake came from a client that takes broadcast offsets
        # (recovery.client_keeps_offsets); the CONNECT may say otherwise.
        self.keeps_offsets = keeps_offsets
        # gateway.recovery.Resumable once connected with recovery on, else None.
        self.recovery: Resumable | None = None

    def __repr__(self) -> str:
        return f"<Session {self.sid} {self.state.value}>"

    @property
    def rooms(self) -> set[str]:
        """Public names of the rooms this session is in."""
        if self._rooms is None:
            self._rooms = set()
        return self._rooms

    @rooms.setter
    def rooms(self, value: set[str]) -> None:
        self._rooms = value

    @property
    def data(self) -> dict[str, Any]:
        """Per-session state owned by the apps, keyed by app label."""
        if self._data is None:
            self._data = {}
        return self._data

    @property
    def is_connected(self) -> bool:
        return self.state is State.CONNECTED

    @property
    def is_parked(self) -> bool:
        return self.state is State.PARKED

    @property
    def is_closed(self) -> bool:
        return self.state is State.CLOSED

    # --- lifecycle ----------------------------------------------------------

    async def open(self) -> None:
        """Send the Engine.IO handshake and start the clocks."""
        metrics.sockets(self.transport.kind, self.state.label).inc()
        conf = realtime_settings()
        await self.transport.send_text(
            codec.encode_open(
                self.sid,
                ping_interval=conf.ping_interval_ms,
                ping_timeout=conf.ping_timeout_ms,
                max_payload=conf.max_payload,
                upgrades=self.transport.upgrades,
            )
        )
        hub.get_hub().register(self)
        loop = asyncio.get_running_loop()
        self._connect_deadline = loop.call_later(
            conf.connect_timeout_ms / 1000, self._expire, "connect timeout"
        )
        self._schedule_ping()

    def connected(self, user: Identity) -> None:
        self._count_state(State.CONNECTED)
        self.user = user
        self.state = State.CONNECTED
        self._release_pending()
        if self._connect_deadline is not None:
            self._connect_deadline.cancel()
            self._connect_deadline = None

    def _release_pending(self) -> None:
        if self._pending is not None:
            self._pending.release()
            self._pending = None

    async def disconnect(self) -> None:
        """Disconnect by the server: the client sees "io server disconnect"."""
        if self.state is State.CLOSED:
            return
        try:
            if self.state is State.CONNECTED:
                await self.transport.send_text(codec.encode_disconnect())
        finally:
            await self.close(CLOSE_NORMAL)

    async def close(self, code: int = CLOSE_NORMAL) -> None:
        """End the session at once and release everything it held. Idempotent."""
        if self.state is State.CLOSED:
            return
        was_parked = self.state is State.PARKED
        was_connected = was_parked or self.state is State.CONNECTED
        if self.recovery is not None:
            from gateway import recovery

            recovery.forget(self)
        self._count_state(State.CLOSED)
        metrics.CLOSES.labels(CLOSE_REASONS.get(code, str(code))).inc()
        self.state = State.CLOSED
        self._stop_clocks()
        try:
            if not was_parked:  # a parked session's connection is already gone
                await self.transport.close(code)
        finally:
            if was_connected:
                await limits.release_connection(self.user.id, self.sid)
                await events.run_disconnect_handlers(self)
            await hub.get_hub().discard(self)

    def _stop_clocks(self) -> None:
        self._release_pending()
        for handle in (self._ping_handle, self._pong_deadline, self._connect_deadline):
            if handle is not None:
                handle.cancel()

    async def lost(self) -> None:
        """The connection dropped without a disconnect: park for recovery, or close."""
        if self.state is State.PARKED:
            return  # the transport's own end, reported again
        if self.state is State.CONNECTED and self.recovery is not None:
            from gateway import recovery

            self._count_state(State.PARKED)
            self.state = State.PARKED
            self._stop_clocks()
            try:
                await self.transport.close(CLOSE_NORMAL)  # what is left of it
            finally:
                await recovery.park(self)
        else:
            await self.close()

    def adopt(self, parked: Session, user: Identity) -> None:
        """Become ``parked`` on this connection (a resumed session): its sid, rooms and state."""
        self.sid = parked.sid
        self.recovery = parked.recovery
        self.rooms = parked.rooms
        self._data = parked._data
        self.connected(user)
        parked.let_go()

    def let_go(self) -> None:
        """Leave without a trace: another session (or worker) carries this one on."""
        self._count_state(State.CLOSED)
        self.state = State.CLOSED
        self._stop_clocks()
        self._rooms = set()

    def switch_transport(self, transport: Transport) -> None:
        """Carry the session on ``transport`` from now on (an upgrade)."""
        if self.state is not State.CLOSED:
            metrics.sockets(self.transport.kind, self.state.label).dec()
            metrics.sockets(transport.kind, self.state.label).inc()
        self.transport = transport

    def _count_state(self, state: State) -> None:
        kind = self.transport.kind
        metrics.sockets(kind, self.state.label).dec()
        if state is not State.CLOSED:
            metrics.sockets(kind, state.label).inc()

    def close_soon(self, code: int) -> None:
        """:meth:`close` from code that cannot wait (a write path)."""
        _spawn(self.close(code))

    # --- client events --------------------------------------------------------

    async def admit_event(self) -> bool:
        """Charge one client event to the session's budget; False when over it.

        Refused events are charged too: a client that keeps sending after being
        refused runs into debt, and one ``event_burst`` deep it is disconnected.
        """
        conf = realtime_settings()
        if not conf.event_rate:
            return True
        now = time.monotonic()
        earned = (now - self._event_stamp) * conf.event_rate
        self._event_tokens = min(self._event_tokens + earned, conf.event_burst) - 1
        self._event_stamp = now
        if self._event_tokens >= 0:
            return True
        if self._event_tokens < -conf.event_burst:
            logger.info("closing %s: too many events", self.sid)
            await self.close(CLOSE_POLICY_VIOLATION)
        return False

    # --- heartbeat ----------------------------------------------------------

    def _schedule_ping(self) -> None:
        conf = realtime_settings()
        self._ping_handle = asyncio.get_running_loop().call_later(
            conf.ping_interval_ms / 1000, self._ping
        )

    def _ping(self) -> None:
        if self.state is State.CLOSED:
            return
        _spawn(self._send_ping())
        conf = realtime_settings()
        self._pong_deadline = asyncio.get_running_loop().call_later(
            conf.ping_timeout_ms / 1000, self._lost, "ping timeout"
        )

    async def _send_ping(self) -> None:
        self._ping_mark = None
        try:
            await self.transport.send_text(codec.PING_FRAME)
        except Exception:
            # The connection went between the timer and the write: the close (or the
            # ping timeout) ends the session; nothing else to do here.
            logger.debug("ping to %s not sent", self.sid, exc_info=True)
            return
        sent_mark = getattr(self.transport, "sent_mark", None)
        if sent_mark is not None:
            self._ping_mark = sent_mark()

    def pong(self) -> None:
        if self._pong_deadline is None or self.state is State.CLOSED:
            return
        if self._ping_mark is not None and not self.transport.delivered(self._ping_mark):
            # An answer to a ping still queued in this worker is a blind one:
            # only a client that reads keeps its socket.
            return
        self._pong_deadline.cancel()
        self._pong_deadline = None
        self._schedule_ping()

    def expire(self, reason: str) -> None:
        """Close the session from a timer (a deadline that passed)."""
        self._expire(reason)

    def _expire(self, reason: str) -> None:
        logger.debug("closing %s: %s", self.sid, reason)
        _spawn(self.close(CLOSE_NORMAL))

    def _lost(self, reason: str) -> None:
        logger.debug("lost %s: %s", self.sid, reason)
        _spawn(self.lost())

    # --- sending ------------------------------------------------------------

    def deliver(self, broadcast: Broadcast) -> bool:
        """Hand a room broadcast to the transport; False if it must be sent (:meth:`texts`)."""
        recovery = self.recovery
        if recovery is not None:
            if recovery.known is not None:  # taken over: late copies of what it has
                broadcast = recovery.unknown(broadcast)
                if broadcast is None:
                    return True
            if recovery.held is not None:  # resuming: after the replay
                recovery.held.extend(
                    zip(broadcast.offsets, broadcast.with_offsets.texts, strict=True)
                )
                return True
            broadcast = broadcast.with_offsets
        if self.state is State.CLOSED or self.state is State.PARKED:
            return True  # a parked session's rooms are logged (gateway.recovery)
        return self.transport.deliver(broadcast)

    def texts(self, broadcast: Broadcast) -> tuple[str, ...]:
        """The frames of ``broadcast`` as this session is sent them."""
        return broadcast.with_offsets.texts if self.recovery is not None else broadcast.texts

    async def send_frame(self, frame: str) -> None:
        if self.state is not State.CLOSED:
            await self.transport.send_text(frame)

    async def emit(self, event: str, data: Any = None) -> None:
        await self.send_frame(codec.encode_event(event, data))

    async def ack(self, ack_id: int, *args: Any) -> None:
        await self.send_frame(codec.encode_ack(ack_id, list(args)))

    # --- rooms --------------------------------------------------------------

    async def join(self, room: str) -> bool:
        """Join ``room``; returns False when the session was already in it."""
        if room in self.rooms or self.state is State.CLOSED:
            return False
        self.rooms.add(room)
        if self.recovery is not None:
            self.recovery.joined[room] = hub.get_hub().seq
        try:
            await hub.get_hub().add(self, room)
        except BaseException:
            self.rooms.discard(room)  # not subscribed: not in the room
            raise
        return True

    async def leave(self, room: str) -> bool:
        """Leave ``room``; returns False when the session was not in it."""
        if room not in self.rooms:
            return False
        self.rooms.discard(room)
        await hub.get_hub().remove(self, room)
        return True
