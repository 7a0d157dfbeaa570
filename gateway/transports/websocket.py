"""The Engine.IO v4 WebSocket transport, as a Channels consumer.

The consumer turns WebSocket frames into text packets for
:func:`gateway.engine.receive` and text packets into WebSocket frames; what
the session's events mean is up to the handlers the apps register. With
``sid=`` in the query it upgrades a long-polling session (``2probe`` →
``3probe``, then ``5``, see :mod:`gateway.transports.upgrade`) and carries that
session from then on: directly when this process owns it, otherwise relaying
frames to and from the owner (:mod:`gateway.transports.relay`).
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs

from channels.consumer import AsyncConsumer
from channels.exceptions import StopConsumer

from gateway import engine, metrics, recovery, wsframe
from gateway import wire as wire_writer
from gateway.origins import origin_allowed
from gateway.pending import pending_acquire
from gateway.session import (
    CLOSE_POLICY_VIOLATION,
    CLOSE_PROTOCOL_ERROR,
    CLOSE_SLOW_CONSUMER,
    Session,
    State,
)
from gateway.settings import realtime_settings
from gateway.transports import polling, relay
from gateway.transports.upgrade import Probe
from livestream.client_address import scope_client_address

logger = logging.getLogger(__name__)


def _daphne_protocol(send):
    """The daphne WebSocket protocol behind an ASGI ``send``, if that is what it is.

    daphne's ``send`` is ``functools.partial(server.handle_reply, protocol)``.
    Writing ready-made frames to the protocol's transport skips autobahn's
    per-message work (checks, framing, statistics): the fan-out hot path.
    """
    from daphne.ws_protocol import WebSocketProtocol

    args = getattr(send, "args", ())
    protocol = args[0] if args else None
    return protocol if isinstance(protocol, WebSocketProtocol) else None


class EngineIOConsumer(AsyncConsumer):
    """One WebSocket connection carrying one Engine.IO session."""

    kind = "websocket"
    upgrades = ()
    # While probing an upgrade of a polling session of this worker; or the sid
    # of a session of another worker whose frames this WebSocket relays. Class
    # defaults, so a plain WebSocket carries no per-instance slots for them.
    _probe: Probe | None = None
    _relayed: str | None = None
    _queued = 0  # bytes queued for the peer, for the heartbeat
    _dropped = False  # aborted as a slow consumer

    async def __call__(self, scope, receive, send) -> None:
        # Unlike AsyncConsumer, no channel-layer channel per socket (room
        # broadcasts reach sockets through the per-process hub), so there is
        # one source to read: no await_many_dispatch task per message.
        self.scope = scope
        self.base_send = send
        self.session: Session | None = None
        self._wire = _daphne_protocol(send)
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass

    async def dispatch(self, message: dict) -> None:
        # Skips AsyncConsumer's per-message hop to the sync thread to close
        # stale database connections; database work goes through
        # database_sync_to_async, which does that itself.
        kind = message["type"]
        if kind == "websocket.receive":
            await self.websocket_receive(message)
        elif kind == "websocket.connect":
            await self.websocket_connect(message)
        elif kind == "websocket.disconnect":
            await self.websocket_disconnect(message)

    # --- transport interface used by the session -----------------------------

    async def send_text(self, frame: str) -> None:
        wire = wsframe.text_frame(frame)
        if self.write_wire(wire):
            return
        wire_writer.flush()  # what was corked goes first
        protocol = self._wire
        limit = realtime_settings().max_buffered_bytes
        if protocol is not None and limit and wire_writer.buffered(protocol) > limit:
            self._drop_slow_consumer()
            return
        self._queued += len(wire)  # as sent uncompressed; compressed, less
        await self.base_send({"type": "websocket.send", "text": frame})

    def deliver(self, broadcast) -> bool:
        return self.write_wire(broadcast.wire)

    def write_wire(self, wire: bytes) -> bool:
        """Write a ready-made WebSocket frame; False when only ASGI send can."""
        protocol = self._wire
        if (
            protocol is None
            or protocol.state != protocol.STATE_OPEN
            or protocol._perMessageCompress is not None
            or protocol.transport is None
        ):
            return False
        if self._dropped:
            return True
        if wire_writer.write(protocol, wire, realtime_settings().max_buffered_bytes):
            self._queued += len(wire)
        else:
            self._drop_slow_consumer()
        return True

    def sent_mark(self) -> int:
        """How many bytes were queued for the peer so far (see :meth:`delivered`)."""
        return self._queued

    def delivered(self, mark: int) -> bool:
        """Whether everything queued up to ``mark`` has left the worker for the kernel."""
        protocol = self._wire
        if protocol is None:
            return True
        return self._queued - wire_writer.buffered(protocol) >= mark

    def _drop_slow_consumer(self) -> None:
        """Drop a socket whose peer does not read, before it holds more than its cap.

        A close frame cannot get through a full buffer, so the connection is
        aborted after offering one; the session then closes as usual (presence
        released, disconnect handlers run).
        """
        if self._dropped:
            return
        self._dropped = True
        metrics.SLOW_CONSUMER_CLOSES.labels(self.kind).inc()
        protocol = self._wire
        session = self.session
        logger.warning(
            "closing %s: slow consumer, %d bytes unsent (limit %d)",
            session.sid if session is not None else "?",
            wire_writer.buffered(protocol),
            realtime_settings().max_buffered_bytes,
        )
        wire_writer.abort(protocol, wsframe.close_frame(CLOSE_SLOW_CONSUMER, "slow consumer"))
        if session is not None:
            session.close_soon(CLOSE_SLOW_CONSUMER)

    async def close(self, code: int) -> None:
        if self._dropped:
            return  # the connection is gone already; nothing may be sent
        wire_writer.flush()  # frames corked for this turn precede the close frame
        await self.base_send({"type": "websocket.close", "code": code})

    # --- WebSocket events ---------------------------------------------------

    async def websocket_connect(self, message: dict) -> None:
        if self.scope.get("path") not in polling.PATHS:
            await self.base_send({"type": "websocket.close", "code": CLOSE_POLICY_VIOLATION})
            return
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        if query.get("EIO") != ["4"] or query.get("transport") != ["websocket"]:
            # EIO 3 and unknown transports are refused during the handshake.
            await self.base_send({"type": "websocket.close", "code": CLOSE_PROTOCOL_ERROR})
            return
        if not origin_allowed(self.scope.get("headers", ())):
            # Closing before accepting refuses the handshake with HTTP 403.
            await self.base_send({"type": "websocket.close", "code": CLOSE_POLICY_VIOLATION})
            return
        if "sid" in query:
            await self._start_probe(query["sid"][0])
            return
        pending = pending_acquire(scope_client_address(self.scope))
        if pending is None:
            # Too many unauthenticated sockets from this address: HTTP 403.
            await self.base_send({"type": "websocket.close", "code": CLOSE_POLICY_VIOLATION})
            return
        await self.base_send({"type": "websocket.accept"})
        self.session = Session(
            self, pending=pending, keeps_offsets=recovery.client_keeps_offsets(self.scope)
        )
        await self.session.open()

    async def websocket_disconnect(self, message: dict) -> None:
        if self._probe is not None:
            self._probe.abandon()  # a failed probe leaves the polling session as it was
        if self._relayed is not None:
            await relay.gone(self._relayed)
        if self.session is not None:
            await self.session.lost()  # closes it, unless it is kept for recovery
        raise StopConsumer()

    async def websocket_receive(self, message: dict) -> None:
        if self._probe is not None:
            self.session = await self._probe.receive(message.get("text"))
            if self.session is not None or not self._probe.pending:
                self._probe = None
            return
        if self._relayed is not None:
            await relay.send_in(self._relayed, message.get("text"), message.get("bytes"))
            return
        session = self.session
        if session is None or session.state is State.CLOSED:
            return
        text = message.get("text")
        if text is None:
            await engine.receive_binary(session, message.get("bytes"))
            return
        await engine.receive(session, text)

    # --- upgrade of a long-polling session ------------------------------------

    async def _start_probe(self, sid: str) -> None:
        transport = polling.upgradable(sid)
        if transport is not None:
            await self.base_send({"type": "websocket.accept"})
            self._probe = Probe(transport, self)
        elif await relay.ask_owner(self, sid):
            await self.base_send({"type": "websocket.accept"})
            self._relayed = sid
        else:
            # Unknown, closed, already upgraded or upgrading: refused with HTTP 403.
            await self.base_send({"type": "websocket.close", "code": CLOSE_PROTOCOL_ERROR})
