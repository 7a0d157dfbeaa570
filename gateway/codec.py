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
import math
import re

from engineio import json as eio_json
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
MAX_DEPTH = 32
# Bounds that keep decoding a frame linear and cheap: arrays and objects per
# packet (each costs an allocation and a step of the depth check), characters
# in a namespace (echoed in CONNECT_ERROR) and in a number literal.
MAX_CONTAINERS = 10_000
MAX_NAMESPACE = 128
MAX_NUMBER_LENGTH = 100

# <type>[/<namespace>,][<ack id>]<JSON>: a namespace without a comma runs to
# the end of the packet. Binary types (5, 6) would carry "<attachments>-" first.
_HEADER = re.compile(r"(?P<type>[0-6])(?:(?P<nsp>/[^,]*)(?:,|\Z))?(?P<id>[0-9]*)")
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_ONE_KIND_OF_BRACKET = bytes.maketrans(b"{}", b"[]")


class ProtocolError(ValueError):
    """A frame that breaks the protocol; the connection that sent it is closed."""


class BinaryNotSupported(ProtocolError):
    """A binary frame or binary packet: this gateway speaks text only."""


def encode_open(
    sid: str,
    *,
    ping_interval: int,
    ping_timeout: int,
    max_payload: int,
    upgrades: tuple[str, ...] = (),
) -> str:
    data = {
        "sid": sid,
        "upgrades": list(upgrades),
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


def encode_connect(sid: str, namespace: str = "/", *, pid: str | None = None) -> str:
    data = {"sid": sid} if pid is None else {"sid": sid, "pid": pid}
    return _message(sio.Packet(CONNECT, data, namespace=namespace, binary=False))


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
    """Decode the Socket.IO packet carried by an Engine.IO MESSAGE.

    Stricter than python-socketio's decoder: the header is ASCII, an ack id is
    an integer in 0 … 2^53−1, attachments are refused rather than awaited, and
    JSON may nest at most ``MAX_DEPTH`` levels.
    """
    header = _HEADER.match(data)
    if header is None:
        raise ProtocolError("unknown Socket.IO packet type")
    packet_type = int(header["type"])
    if packet_type in (BINARY_EVENT, BINARY_ACK):
        raise BinaryNotSupported("binary packets are not supported")
    ack_id = None
    if header["id"]:
        if len(header["id"]) > len(str(MAX_ACK_ID)) or int(header["id"]) > MAX_ACK_ID:
            raise ProtocolError("ack id out of range")
        ack_id = int(header["id"])
    namespace = header["nsp"]
    if namespace is not None and len(namespace) > MAX_NAMESPACE:
        raise ProtocolError(f"namespace longer than {MAX_NAMESPACE} characters")
    body = data[header.end() :]
    return sio.Packet(
        packet_type,
        _loads(body) if body else None,
        namespace=namespace,
        id=ack_id,
        binary=False,
    )


# BINARY_EVENT / BINARY_ACK: "<5|6><attachments>-" then what an EVENT / ACK
# carries, with {"_placeholder":true,"num":i} where attachment i goes.
MAX_ATTACHMENTS = 10
_BINARY_HEADER = re.compile(r"([56])([0-9]{1,3})-")


def decode_binary_socketio(data: str) -> tuple[sio.Packet, int]:
    """A BINARY_EVENT or BINARY_ACK header packet and how many attachments follow."""
    header = _BINARY_HEADER.match(data)
    if header is None:
        raise ProtocolError("malformed binary packet header")
    attachments = int(header[2])
    if not 0 < attachments <= MAX_ATTACHMENTS:
        raise ProtocolError(f"binary packets carry 1 to {MAX_ATTACHMENTS} attachments")
    plain = EVENT if header[1] == str(BINARY_EVENT) else ACK
    packet = decode_socketio(str(plain) + data[header.end() :])
    packet.packet_type = int(header[1])
    return packet, attachments


def fill_placeholders(data: object, attachments: list[bytes]) -> object:
    """``data`` with each attachment placeholder replaced by its bytes."""
    if isinstance(data, list):
        return [fill_placeholders(item, attachments) for item in data]
    if isinstance(data, dict):
        if data.get("_placeholder") is True:
            num = data.get("num")
            if type(num) is not int or not 0 <= num < len(attachments):
                raise ProtocolError("attachment placeholder out of range")
            return attachments[num]
        return {key: fill_placeholders(value, attachments) for key, value in data.items()}
    return data


def _loads(text: str) -> object:
    _check_brackets(text)
    try:
        return eio_json.loads(text, parse_constant=_not_json, parse_float=_finite_float)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"malformed JSON: {exc}") from None


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def _finite_float(literal: str) -> float:
    # json would turn 1e999999 into inf, which no JSON encoder writes back.
    if len(literal) > MAX_NUMBER_LENGTH:
        raise ValueError("number too long")
    number = float(literal)
    if not math.isfinite(number):
        raise ValueError("number out of range")
    return number


def _check_brackets(text: str) -> None:
    """Refuse JSON nested deeper than MAX_DEPTH or with over MAX_CONTAINERS arrays/objects.

    Linear in the text, all in C string operations: no regex that can
    backtrack. Counting brackets settles almost every frame. Otherwise strings
    are cut out (escaped backslashes and quotes first, then every other piece
    between quotes is inside a string) and innermost pairs peeled, one level a
    pass, over at most 2 × MAX_CONTAINERS brackets.
    """
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return
    unescaped = text.replace("\\\\", "").replace('\\"', "")
    outside = "".join(unescaped.split('"')[::2])
    if sum(map(outside.count, "[]{}")) > 2 * MAX_CONTAINERS:
        raise ProtocolError(f"JSON with more than {MAX_CONTAINERS} arrays and objects")
    brackets = _NOT_BRACKETS.sub("", outside)
    nesting = brackets.encode("ascii").translate(_ONE_KIND_OF_BRACKET)
    for _ in range(MAX_DEPTH):
        peeled = nesting.replace(b"[]", b"")
        if len(peeled) == len(nesting):
            break
        nesting = peeled
    if nesting:
        raise ProtocolError(f"JSON nested deeper than {MAX_DEPTH} levels")
