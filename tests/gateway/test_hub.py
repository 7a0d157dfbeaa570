"""The per-process hub survives peers that are already gone when a room closes."""

import asyncio

from gateway.auth import Identity
from gateway.hub import Hub
from gateway.rooms import ROOM_EMIT
from gateway.session import Session, State


class GoneTransport:
    """A WebSocket whose peer has just closed: sending raises, as daphne does."""

    upgrades = ()

    def __init__(self) -> None:
        self.closed_with: int | None = None

    async def send_text(self, frame: str) -> None:
        raise ConnectionError("Attempt to send on a closed protocol")

    def deliver(self, broadcast) -> bool:
        return False

    async def close(self, code: int) -> None:
        self.closed_with = code


class FakeSession:
    def __init__(self, sid: str, *, gone: bool = False) -> None:
        self.sid, self.gone = sid, gone
        self.rooms = {"room"}
        self.disconnected = False

    def deliver(self, broadcast) -> bool:
        return False

    async def send_frame(self, frame: str) -> None:
        if self.gone:
            raise ConnectionError("gone")

    async def disconnect(self) -> None:
        self.disconnected = True
        if self.gone:
            raise ConnectionError("gone")


def closing(room: str = "room") -> dict:
    return {"type": ROOM_EMIT, "room": room, "frame": "42[]", "disconnect": True}


async def test_closing_a_room_disconnects_everyone_even_if_one_peer_is_gone():
    hub = Hub()
    gone, present = FakeSession("a", gone=True), FakeSession("b")
    hub.rooms["room"] = {gone, present}
    await hub.deliver(closing())
    assert gone.disconnected and present.disconnected
    assert "room" not in hub.rooms


async def test_a_failed_delivery_does_not_stop_the_hub_receiving():
    hub = Hub()
    later = FakeSession("b")
    hub.rooms["later"] = {later}
    messages = asyncio.Queue()
    await messages.put({"type": ROOM_EMIT, "room": "broken"})  # no frame: deliver raises
    hub.rooms["broken"] = {FakeSession("a")}
    await messages.put(closing("later"))

    class Layer:
        async def receive(self, channel):
            return await messages.get()

    receiver = asyncio.create_task(hub._receive_forever(Layer(), "hub.test"))
    try:
        await asyncio.wait_for(_until(lambda: later.disconnected), 2)
    finally:
        receiver.cancel()


async def test_server_disconnect_closes_the_session_when_the_peer_is_gone():
    transport = GoneTransport()
    session = Session(transport)
    session.connected(Identity(id="0", username="nobody", is_staff=False))
    try:
        await session.disconnect()
    except ConnectionError:
        pass
    assert session.state is State.CLOSED
    assert transport.closed_with == 1000


async def _until(condition) -> None:
    while not condition():
        await asyncio.sleep(0.01)
