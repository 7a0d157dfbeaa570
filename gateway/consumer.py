"""The Engine.IO v4 WebSocket transport, as a Channels consumer.

The consumer parses frames and drives a :class:`~gateway.session.Session`;
what the session's events mean is up to the handlers the apps register.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs

from channels.consumer import AsyncConsumer
from channels.exceptions import StopConsumer

from gateway import admission, auth, codec, events, limits, wsframe
from gateway import wire as wire_writer
from gateway.origins import origin_allowed
from gateway.pending import pending_acquire
from gateway.session import (
    CLOSE_INTERNAL_ERROR,
    CLOSE_POLICY_VIOLATION,
    CLOSE_PROTOCOL_ERROR,
    CLOSE_SLOW_CONSUMER,
    CLOSE_UNSUPPORTED_DATA,
    Session,
    State,
)
from gateway.settings import realtime_settings
from livestream.client_address import scope_client_address

logger = logging.getLogger(__name__)

NAMESPACE = "/"

# Sockets dropped for not reading, since the process started (metrics later).
slow_consumers_dropped = 0


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


INVALID_NAMESPACE = "Invalid namespace"
SERVER_UNAVAILABLE = "Server unavailable, please try again"


class EngineIOConsumer(AsyncConsumer):
    """One WebSocket connection carrying one Engine.IO session."""

    path = "/socket.io/"  # the Socket.IO clients' default path; others are refused

    async def __call__(self, scope, receive, send) -> None:
        # Unlike AsyncConsumer, no channel-layer channel per socket (room
        # broadcasts reach sockets through the per-process hub), so there is
        # one source to read: no await_many_dispatch task per message.
        self.scope = scope
        self.base_send = send
        self.session: Session | None = None
        self._wire = _daphne_protocol(send)
        self._queued = 0  # bytes queued for the peer, for the heartbeat
        self._dropped = False  # aborted as a slow consumer
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
        global slow_consumers_dropped
        if self._dropped:
            return
        self._dropped = True
        slow_consumers_dropped += 1
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
        if self.scope.get("path") not in (self.path, self.path.rstrip("/")):
            await self.base_send({"type": "websocket.close", "code": CLOSE_POLICY_VIOLATION})
            return
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        if query.get("EIO") != ["4"] or query.get("transport") != ["websocket"] or "sid" in query:
            # EIO 3, unknown transports and upgrades of polling sessions
            # (this server has none) are refused during the handshake.
            await self.base_send({"type": "websocket.close", "code": CLOSE_PROTOCOL_ERROR})
            return
        if not origin_allowed(self.scope.get("headers", ())):
            # Closing before accepting refuses the handshake with HTTP 403.
            await self.base_send({"type": "websocket.close", "code": CLOSE_POLICY_VIOLATION})
            return
        pending = pending_acquire(scope_client_address(self.scope))
        if pending is None:
            # Too many unauthenticated sockets from this address: HTTP 403.
            await self.base_send({"type": "websocket.close", "code": CLOSE_POLICY_VIOLATION})
            return
        await self.base_send({"type": "websocket.accept"})
        self.session = Session(self, pending)
        await self.session.open()

    async def websocket_disconnect(self, message: dict) -> None:
        if self.session is not None:
            await self.session.close()
        raise StopConsumer()

    async def websocket_receive(self, message: dict) -> None:
        session = self.session
        if session is None or session.state is State.CLOSED:
            return
        text = message.get("text")
        if text is None:
            await session.close(CLOSE_UNSUPPORTED_DATA)
            return
        try:
            if await admission.admit_frame(session, text):
                await self.receive_frame(session, text)
        except codec.BinaryNotSupported as exc:
            logger.debug("closing %s: %s", session.sid, exc)
            await session.close(CLOSE_UNSUPPORTED_DATA)
        except codec.ProtocolError as exc:
            logger.debug("closing %s: %s", session.sid, exc)
            await session.close(CLOSE_PROTOCOL_ERROR)
        except Exception:
            # A bug or a dependency failing outside any handler: this socket
            # alone is closed, cleanly, and the client may reconnect.
            logger.exception("closing %s after an unexpected error", session.sid)
            await session.close(CLOSE_INTERNAL_ERROR)

    async def receive_frame(self, session: Session, text: str) -> None:
        kind, data = codec.decode_engineio(text)
        if kind == codec.PONG:
            session.pong()
        elif kind == codec.MESSAGE:
            await self.receive_packet(session, codec.decode_socketio(data))
        elif kind == codec.PING:
            await session.send_frame(codec.PONG_FRAME + data)
        elif kind == codec.CLOSE:
            await session.close()
        elif kind == codec.OPEN:
            raise codec.ProtocolError("clients do not send OPEN")
        # UPGRADE and NOOP mean nothing on a WebSocket-only session.

    async def receive_packet(self, session: Session, packet) -> None:
        namespace = packet.namespace or NAMESPACE
        if packet.packet_type == codec.EVENT:
            if session.state is not State.CONNECTED or namespace != NAMESPACE:
                return
            args = packet.data
            if not isinstance(args, list) or not args or not isinstance(args[0], str):
                raise codec.ProtocolError("an EVENT needs an array starting with its name")
            payload = args[1] if len(args) > 1 else None
            await events.dispatch(session, args[0], payload, packet.id)
        elif packet.packet_type == codec.CONNECT:
            await self.receive_connect(session, namespace, packet.data)
        elif packet.packet_type == codec.DISCONNECT:
            if namespace == NAMESPACE:
                await session.close()
        elif packet.packet_type in (codec.ACK, codec.CONNECT_ERROR):
            return  # the server never asks clients for acks
        else:
            raise codec.ProtocolError(f"unexpected packet type {packet.packet_type}")

    async def receive_connect(self, session: Session, namespace: str, data) -> None:
        # Another namespace is refused whatever the state: a client multiplexing
        # namespaces asks for it after "/" is connected, which breaks nothing.
        if namespace != NAMESPACE:
            await session.send_frame(codec.encode_connect_error(INVALID_NAMESPACE, namespace))
            return
        if session.state is State.CONNECTED:
            raise codec.ProtocolError("already connected")
        if not await session.admit_event():
            return  # CONNECT attempts share the event budget: no free token checks
        try:
            identity = await auth.authenticate(data)
            admitted = identity is not None and await limits.acquire_connection(
                identity.id, session.sid
            )
        except Exception:
            # Database or Redis unavailable: refuse this attempt, keep the socket.
            logger.exception("could not authenticate %s", session.sid)
            await session.send_frame(codec.encode_connect_error(SERVER_UNAVAILABLE))
            return
        if identity is None:
            await session.send_frame(codec.encode_connect_error(auth.AUTHENTICATION_ERROR))
            return
        if not admitted:
            await session.send_frame(codec.encode_connect_error(limits.TOO_MANY_CONNECTIONS))
            return
        if session.state is State.CLOSED:
            # The socket went away while we were checking; give back its slot.
            await limits.release_connection(identity.id, session.sid)
            return
        session.connected(identity)
        # Apps' connect handlers (e.g. the user's own room) before the client is told;
        # one that fails closes this socket like any unexpected error.
        await events.run_connect_handlers(session)
        await session.send_frame(codec.encode_connect(session.sid))
