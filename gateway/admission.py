"""What a socket may send, frame by frame, before the handlers see it.

Transport-neutral: the WebSocket consumer calls :func:`admit_frame` once per
text frame, and a polling transport calls it once per packet of a payload.
Every check here looks at the first bytes of the frame and its length only, so
a refused frame costs O(1) whatever its size.

Before CONNECT succeeds a socket may send a CONNECT packet of at most
``max_connect_frame`` bytes and PONGs; anything larger closes it with
``CLOSE_TOO_BIG`` and packets that mean nothing yet (UPGRADE, NOOP) close it
with ``CLOSE_POLICY_VIOLATION``. Packets the server ignores (EVENTs before
CONNECT, ACKs, CONNECT_ERRORs, PINGs with a payload) are charged to the
session's event budget like events, so they cannot be sent for free.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from gateway import codec
from gateway.session import CLOSE_POLICY_VIOLATION, CLOSE_TOO_BIG, State
from gateway.settings import realtime_settings

if TYPE_CHECKING:
    from gateway.session import Session

logger = logging.getLogger(__name__)

# A client's PING payload is echoed in the PONG; Engine.IO only ever sends
# "probe" there (the upgrade probe), so anything longer is refused.
MAX_PING_PAYLOAD = 16

_PING, _PONG, _MESSAGE = str(codec.PING), str(codec.PONG), str(codec.MESSAGE)
_CONNECT = str(codec.CONNECT)
# Events (text or binary) mean nothing before CONNECT; a binary one's attachments
# that follow then close the socket as unannounced binary data.
_EVENTS = (str(codec.EVENT), str(codec.BINARY_EVENT))
_IGNORED_PACKETS = (str(codec.ACK), str(codec.CONNECT_ERROR))
# Engine.IO packets that mean nothing before CONNECT on a WebSocket session.
# Hook for the polling transport: its upgrade probe ("2probe", then "5")
# arrives on the new WebSocket before CONNECT and is to be admitted here.
_REFUSED_BEFORE_CONNECT = (str(codec.UPGRADE), str(codec.NOOP))


def exceeds(text: str, limit: int) -> bool:
    """Whether ``text`` is over ``limit`` bytes in UTF-8; encodes only when it could be."""
    return len(text) > limit or (
        len(text) * 4 > limit and len(text.encode("utf-8", "surrogatepass")) > limit
    )


async def admit_frame(session: Session, frame: str) -> bool:
    """Whether ``frame`` is to be decoded and handled; False when it is dropped.

    Closes the session for frames it may not send at all; raises
    :class:`codec.ProtocolError` for a PING payload the server will not echo.
    """
    conf = realtime_settings()
    connected = session.state is State.CONNECTED
    limit = conf.max_payload if connected else min(conf.max_payload, conf.max_connect_frame)
    if exceeds(frame, limit):
        logger.debug("closing %s: frame over %d bytes", session.sid, limit)
        await session.close(CLOSE_TOO_BIG)
        return False
    kind = frame[:1]
    if kind == _PING and len(frame) > 1:
        if len(frame) - 1 > MAX_PING_PAYLOAD:
            raise codec.ProtocolError("PING payload too long")
        return await session.admit_event()
    if kind == _MESSAGE:
        packet = frame[1:2]
        if packet in _IGNORED_PACKETS or (packet in _EVENTS and not connected):
            await session.admit_event()
            return False
        return True
    if not connected and kind in _REFUSED_BEFORE_CONNECT:
        logger.debug("closing %s: Engine.IO packet %s before CONNECT", session.sid, kind)
        await session.close(CLOSE_POLICY_VIOLATION)
        return False
    return True
