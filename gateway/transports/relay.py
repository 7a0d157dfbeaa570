"""A WebSocket upgrade that lands on a worker other than the session's owner.

No sticky sessions, so the upgrading WebSocket may reach any worker. That
worker (the relay) accepts it only if the owner agrees, then forwards each
client frame to the owner's inbox; the owner runs the probe and, after the
upgrade, the session with a :class:`RelayTransport` that sends each frame back
to the relay's inbox, which writes it to the WebSocket. The session stays on
its owner (rooms, presence and timers do not move); the cost is one
channel-layer message per frame each way.

Order: the relay's inbox writes frames as they arrive, and the owner handles
a session's incoming frames one at a time, in arrival order.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from channels.layers import get_channel_layer

from gateway import engine
from gateway.session import Session
from gateway.transports import forwarding, polling
from gateway.transports.upgrade import Probe

if TYPE_CHECKING:
    from gateway.transports.websocket import EngineIOConsumer

logger = logging.getLogger(__name__)

RELAY_OPEN = "WS"  # a forwarded "method": open a relay for this sid
RELAY_IN = "eio.relay.in"  # relay -> owner: a client frame, or the WebSocket went away
RELAY_OUT = "eio.relay.out"  # owner -> relay: a frame for the client, or a close

# On the relay: sid -> the WebSocket consumer carrying it.
relayed_here: dict[str, EngineIOConsumer] = {}
# On the owner: sid -> the session's relay state.
relayed_away: dict[str, Relayed] = {}


class RelayTransport:
    """The owner's transport for a session whose WebSocket is on another worker."""

    __slots__ = ("relay", "sid", "_lock")
    kind = "websocket"
    upgrades = ()

    def __init__(self, relay: str, sid: str) -> None:
        self.relay = relay
        self.sid = sid
        self._lock = asyncio.Lock()  # frames leave in the order they were sent

    async def send_text(self, frame: str) -> None:
        await self._send({"text": frame})

    def deliver(self, broadcast) -> bool:
        return False  # the hub awaits send_text instead

    async def close(self, code: int) -> None:
        relayed_away.pop(self.sid, None)
        await self._send({"close": code})

    async def _send(self, fields: dict) -> None:
        async with self._lock:
            await get_channel_layer().send(
                self.relay, {"type": RELAY_OUT, "sid": self.sid, **fields}
            )


class Relayed:
    """On the owner: a relayed WebSocket, probing or carrying the session."""

    __slots__ = ("transport", "probe", "session", "lock")

    def __init__(self, transport: RelayTransport, probe: Probe) -> None:
        self.transport = transport
        self.probe = probe
        self.session: Session | None = None
        self.lock = asyncio.Lock()


# --- on the worker that received the WebSocket ----------------------------------


async def ask_owner(consumer: EngineIOConsumer, sid: str) -> bool:
    """Ask the owner of ``sid`` to let ``consumer`` relay its upgrade; whether it agreed."""
    owner = forwarding.owner_of(sid)
    inbox = forwarding.get_inbox()
    if owner is None or owner == inbox.channel:
        return False
    relayed_here[sid] = consumer  # before asking: the owner's first frame may come at once
    answer = await inbox.forward(owner, {"method": RELAY_OPEN, "sid": sid, "body": b""})
    if answer is None or answer[0] != 200:
        relayed_here.pop(sid, None)
        return False
    return True


async def send_in(sid: str, text: str | None, data: bytes | None = None) -> None:
    owner = forwarding.owner_of(sid)
    message = {"type": RELAY_IN, "sid": sid, "text": text, "bytes": data}
    await get_channel_layer().send(owner, message)


async def gone(sid: str) -> None:
    if relayed_here.pop(sid, None) is not None:
        owner = forwarding.owner_of(sid)
        await get_channel_layer().send(owner, {"type": RELAY_IN, "sid": sid, "gone": True})


async def receive_out(message: dict) -> None:
    """A frame or close from the owner, written to the WebSocket."""
    consumer = relayed_here.get(message["sid"])
    if consumer is None:
        return
    if "close" in message:
        relayed_here.pop(message["sid"], None)
        await consumer.close(message["close"])
    else:
        await consumer.send_text(message["text"])


# --- on the owner -----------------------------------------------------------------


async def accept(sid: str, relay: str) -> bool:
    """A relay asks to carry ``sid``'s upgrade."""
    transport = polling.upgradable(sid)
    if transport is None:
        return False
    relay_transport = RelayTransport(relay, sid)
    relayed_away[sid] = Relayed(relay_transport, Probe(transport, relay_transport))
    return True


async def receive_in(message: dict) -> None:
    """A client frame (or the WebSocket's end) from the relay, handled in arrival order."""
    relayed = relayed_away.get(message["sid"])
    if relayed is None:
        return
    async with relayed.lock:
        if message.get("gone"):
            relayed_away.pop(message["sid"], None)
            relayed.probe.abandon()
            if relayed.session is not None:
                await relayed.session.close()
            return
        text = message.get("text")
        if relayed.session is None:
            relayed.session = await relayed.probe.receive(text)
        elif text is None:
            await engine.receive_binary(relayed.session, message.get("bytes"))
        else:
            await engine.receive(relayed.session, text)
