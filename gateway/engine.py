"""What a client's Engine.IO packets mean, whichever transport carried them.

Both transports hand each received text packet to :func:`receive`; the
WebSocket transport one per frame, long-polling one per ``\\x1e``-separated
packet of a POST. Binary attachments (WebSocket binary frames, long-polling
``b<base64>`` packets) go to :func:`receive_binary`. The errors a packet can
cause close only its own session.
"""

from __future__ import annotations

import asyncio
import logging

from gateway import admission, auth, codec, events, hub, limits, metrics, recovery
from gateway.session import (
    CLOSE_INTERNAL_ERROR,
    CLOSE_PROTOCOL_ERROR,
    CLOSE_TOO_BIG,
    CLOSE_UNSUPPORTED_DATA,
    Session,
    State,
)
from gateway.settings import realtime_settings
from livestream import log_context

logger = logging.getLogger(__name__)

NAMESPACE = "/"
INVALID_NAMESPACE = "Invalid namespace"
SERVER_UNAVAILABLE = "Server unavailable, please try again"


async def receive(session: Session, text: str) -> None:
    """Handle one Engine.IO text packet; a bad one closes the session."""
    if session.state is not State.CLOSED:
        with _log_context(session):
            await _guarded(session, _admit_and_receive(session, text))


def _log_context(session: Session):
    """What is logged while handling a packet names its socket and user."""
    return log_context.session_context(session.sid, session.user.id if session.user else None)


async def _admit_and_receive(session: Session, text: str) -> None:
    if await admission.admit_frame(session, text):
        await receive_frame(session, text)


async def receive_binary(session: Session, data: bytes | None) -> None:
    """Handle one binary attachment; unexpected binary data closes the session."""
    if session.state is not State.CLOSED:
        with _log_context(session):
            await _guarded(session, _receive_attachment(session, data))


async def _guarded(session: Session, handling) -> None:
    try:
        await handling
    except codec.BinaryNotSupported as exc:
        logger.debug("closing %s: %s", session.sid, exc)
        await session.close(CLOSE_UNSUPPORTED_DATA)
    except codec.ProtocolError as exc:
        logger.debug("closing %s: %s", session.sid, exc)
        await session.close(CLOSE_PROTOCOL_ERROR)
    except Exception:
        # A bug or a dependency failing outside any handler: this session
        # alone is closed, cleanly, and the client may reconnect.
        logger.exception("closing %s after an unexpected error", session.sid)
        await session.close(CLOSE_INTERNAL_ERROR)


async def receive_frame(session: Session, text: str) -> None:
    if session.binary is not None:
        raise codec.ProtocolError("a text packet while binary attachments are awaited")
    kind, data = codec.decode_engineio(text)
    if kind == codec.PONG:
        session.pong()
    elif kind == codec.MESSAGE:
        if data[:1] in ("5", "6"):
            _await_attachments(session, text)
        else:
            await receive_packet(session, codec.decode_socketio(data))
    elif kind == codec.PING:
        await session.send_frame(codec.PONG_FRAME + data)
    elif kind == codec.CLOSE:
        await session.lost()  # Engine.IO's close: "transport close", recoverable
    elif kind == codec.OPEN:
        raise codec.ProtocolError("clients do not send OPEN")
    # UPGRADE and NOOP mean something only to the transports, which act on them.


class Attachments:
    """A binary packet waiting for its attachments (at most ``codec.MAX_ATTACHMENTS``)."""

    __slots__ = ("packet", "expected", "parts", "size", "deadline")

    def __init__(self, packet, expected: int, size: int, deadline) -> None:
        self.packet = packet
        self.expected = expected
        self.parts: list[bytes] = []
        self.size = size
        self.deadline = deadline


def _await_attachments(session: Session, text: str) -> None:
    packet, expected = codec.decode_binary_socketio(text[1:])
    # Attachments that never come: the session is closed after pingTimeout.
    timeout = realtime_settings().ping_timeout_ms / 1000
    deadline = asyncio.get_running_loop().call_later(
        timeout, session.expire, "binary attachments timed out"
    )
    session.binary = Attachments(packet, expected, len(text), deadline)


async def _receive_attachment(session: Session, data: bytes | None) -> None:
    pending = session.binary
    if pending is None or data is None:
        raise codec.BinaryNotSupported("binary data without a binary packet announcing it")
    pending.size += len(data)
    if pending.size > realtime_settings().max_payload:
        pending.deadline.cancel()
        await session.close(CLOSE_TOO_BIG)
        return
    pending.parts.append(data)
    if len(pending.parts) < pending.expected:
        return
    session.binary = None
    pending.deadline.cancel()
    packet = pending.packet
    packet.data = codec.fill_placeholders(packet.data, pending.parts)
    if packet.packet_type == codec.BINARY_EVENT:
        packet.packet_type = codec.EVENT
        await receive_packet(session, packet)
    # A BINARY_ACK is ignored like an ACK: the server never asks clients for acks.


async def receive_packet(session: Session, packet) -> None:
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
        await receive_connect(session, namespace, packet.data)
    elif packet.packet_type == codec.DISCONNECT:
        if namespace == NAMESPACE:
            await session.close()
    elif packet.packet_type in (codec.ACK, codec.CONNECT_ERROR):
        return  # the server never asks clients for acks
    else:
        raise codec.ProtocolError(f"unexpected packet type {packet.packet_type}")


async def receive_connect(session: Session, namespace: str, data) -> None:
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
        # This process hears per-user broadcasts (revocations) before it admits anyone.
        await hub.get_hub().listen()
        identity = await auth.authenticate(data)
        if identity is not None and await _resumed(session, data, identity):
            return
        admitted = identity is not None and await limits.acquire_connection(
            identity.id, session.sid
        )
    except Exception:
        # Database or Redis unavailable: refuse this attempt, keep the session.
        logger.exception("could not authenticate %s", session.sid)
        metrics.CONNECTS.labels("unavailable").inc()
        await session.send_frame(codec.encode_connect_error(SERVER_UNAVAILABLE))
        return
    if identity is None:
        metrics.CONNECTS.labels("authentication_error").inc()
        await session.send_frame(codec.encode_connect_error(auth.AUTHENTICATION_ERROR))
        return
    if not admitted:
        metrics.CONNECTS.labels("too_many_connections").inc()
        await session.send_frame(codec.encode_connect_error(limits.TOO_MANY_CONNECTIONS))
        return
    if session.state is State.CLOSED:
        # The client went away while we were checking; give back its slot.
        await limits.release_connection(identity.id, session.sid)
        return
    metrics.CONNECTS.labels("ok").inc()
    session.connected(identity)
    pid = None
    the_hub = hub.get_hub()
    if recovery.keeps_offsets(session, data) and the_hub.channel_name is not None:
        session.recovery = recovery.Resumable(recovery.new_pid(the_hub.channel_name), the_hub.seq)
        recovery.register(session)
        pid = session.recovery.pid
    await session.send_frame(codec.encode_connect(session.sid, pid=pid))


async def _resumed(session: Session, data, identity) -> bool:
    """Whether the CONNECT resumed a parked session (gateway.recovery), answered already."""
    asked = recovery.requested(data)
    if asked is None or not recovery.keeps_offsets(session, data):
        return False
    pid, offset = asked
    outcome = await recovery.resume(session, pid, offset, identity)
    metrics.RECOVERIES.labels(outcome or "fresh").inc()
    if outcome is not None:
        metrics.CONNECTS.labels("ok").inc()
    return outcome is not None
