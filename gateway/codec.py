"""Engine.IO v4 / Socket.IO v5 frames, on top of python-engineio's and
python-socketio's packet codecs. Pure: imports no Django.

An Engine.IO text frame is one packet-type digit followed by its data; a
Socket.IO packet travels inside an Engine.IO MESSAGE (``4``)::

    0{"sid":"…",…}   OPEN            2 / 3   PING / PONG
    40{"sid":"…"}    CONNECT         42["event",{…}]     EVENT
    43<id>[…]        ACK             44{"message":"…"}   CONNECT_ERROR
"""

from __future__ import annotations

import json

from engineio import packet as eio
from socketio import packet as sio

OPEN, CLOSE, PING, PONG, MESSAGE, UPGRADE, NOOP = (
    eio.OPEN,
    eio.CLOSE,
    eio.PING,
    eio.PONG,
    eio.MESSAGE,
    eio.UPGRADE,
    eio.NOOP,
)
CONNECT, DISCONNECT, EVENT, ACK, CONNECT_ERROR, BINARY_EVENT, BINARY_ACK = (
    sio.CONNECT,
    sio.DISCONNECT,
    sio.EVENT,
    sio.ACK,
    sio.CONNECT_ERROR,
    sio.BINARY_EVENT,
    sio.BINARY_ACK,
)

PING_FRAME = "2"
PONG_FRAME = "3"
MAX_ACK_ID = 2**53 - 1


class ProtocolError(ValueError):
    """A frame that breaks the protocol; the connection that sent it is closed."""


def encode_open(sid: str, *, ping_interval: int, ping_timeout: int, max_payload: int) -> str:
    data = {
        "sid": sid,
        "upgrades": [],
        "pingInterval": ping_interval,
        "pingTimeout": ping_timeout,
        "maxPayload": max_payload,
    }
    return str(OPEN) + json.dumps(data, separators=(",", ":"))


def _message(packet: sio.Packet) -> str:
    return str(MESSAGE) + packet.encode()


def encode_event(event: str, data: object = None) -> str:
    args = [event] if data is None else [event, data]
    return _message(sio.Packet(EVENT, args, binary=False))


def encode_ack(ack_id: int, args: list) -> str:
    return _message(sio.Packet(ACK, args, id=ack_id, binary=False))


def encode_connect(sid: str, namespace: str = "/") -> str:
    return _message(sio.Packet(CONNECT, {"sid": sid}, namespace=namespace, binary=False))


def encode_connect_error(message: str, namespace: str = "/") -> str:
    return _message(
        sio.Packet(CONNECT_ERROR, {"message": message}, namespace=namespace, binary=False)
    )


def encode_disconnect(namespace: str = "/") -> str:
    return _message(sio.Packet(DISCONNECT, namespace=namespace, binary=False))


def decode_engineio(frame: str) -> tuple[int, str]:
    """Split a text frame into its Engine.IO packet type and data."""
    if not frame:
        raise ProtocolError("empty frame")
    kind = frame[0]
    if kind not in "0123456":
        raise ProtocolError(f"unknown Engine.IO packet type {kind!r}")
    return int(kind), frame[1:]


def decode_socketio(data: str) -> sio.Packet:
    """Decode the Socket.IO packet carried by an Engine.IO MESSAGE."""
    if not data or data[0] not in "0123456":
        raise ProtocolError("unknown Socket.IO packet type")
    try:
        packet = sio.Packet(encoded_packet=data)
    except (ValueError, TypeError) as exc:
        raise ProtocolError(f"malformed Socket.IO packet: {exc}") from None
    if packet.packet_type in (BINARY_EVENT, BINARY_ACK):
        raise ProtocolError("binary packets are not supported")
    if packet.id is not None and not 0 <= packet.id <= MAX_ACK_ID:
        raise ProtocolError("ack id out of range")
    return packet
