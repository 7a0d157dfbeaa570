"""The per-process hub: peers already gone when a room closes, channel-layer faults."""

import asyncio

import pytest

from gateway import hub as hub_module
from gateway.auth import Identity
from gateway.hub import Hub, RoomUnavailable, get_hub
from gateway.rooms import ROOM_EMIT, USERS_GROUP, group_name
from gateway.session import Session, State


class GoneTransport:
    """A WebSocket whose peer has just closed: sending raises, as daphne does."""

    kind = "websocket"
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


class FlakyLayer:
    """A channel layer whose ``group_add`` fails ``failures`` times (a Redis blip)."""

    def __init__(self, failures: int = 0, group_expiry: float | None = None) -> None:
        self.failures = failures
        self.added: list[str] = []
        self.discarded: list[str] = []
        if group_expiry is not None:
            self.group_expiry = group_expiry

    async def new_channel(self, prefix: str = "") -> str:
        return prefix + "test"

    async def receive(self, channel: str) -> dict:
        await asyncio.Event().wait()  # nothing is ever broadcast here

    async def group_add(self, group: str, channel: str) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("redis went away")
        self.added.append(group)

    async def group_discard(self, group: str, channel: str) -> None:
        self.discarded.append(group)


class QuietTransport:
    kind = "websocket"

    async def send_text(self, frame: str) -> None:
        pass

    async def close(self, code: int) -> None:
        pass


@pytest.fixture
async def layer(monkeypatch):
    def install(**kwargs) -> FlakyLayer:
        layer = FlakyLayer(**kwargs)
        monkeypatch.setattr(hub_module, "get_channel_layer", lambda: layer)
        monkeypatch.setattr(hub_module, "SUBSCRIBE_BACKOFF_SECONDS", 0.01)
        return layer

    yield install
    for task in (get_hub()._receiver, get_hub()._refresher):
        if task is not None:
            task.cancel()


def connected_session() -> Session:
    session = Session(QuietTransport())
    session.connected(Identity(id="1", username="viewer", is_staff=False))
    return session


async def test_a_join_survives_a_short_channel_layer_blip(layer):
    flaky = layer(failures=hub_module.SUBSCRIBE_ATTEMPTS - 1)
    session = connected_session()
    assert await session.join("room")
    assert session.rooms == {"room"}
    assert get_hub().local_members("room") == {session}
    assert flaky.added == [USERS_GROUP, group_name("room")]


async def test_a_join_that_cannot_subscribe_fails_and_leaves_no_trace(layer):
    flaky = layer(failures=hub_module.SUBSCRIBE_ATTEMPTS)
    first, second = connected_session(), connected_session()
    results = await asyncio.gather(first.join("room"), second.join("room"), return_exceptions=True)
    assert [type(result) for result in results] == [ConnectionError, RoomUnavailable]
    assert first.rooms == set() and second.rooms == set()
    assert "room" not in get_hub().rooms
    assert flaky.added == []
    # Once the layer is back, the room is not stuck: a new join subscribes.
    assert await first.join("room")
    assert flaky.added and get_hub().local_members("room") == {first}


async def test_rooms_are_re_added_before_the_layer_forgets_them(layer):
    flaky = layer(group_expiry=0.2)  # refreshed every 0.05 s
    session = connected_session()
    await session.join("room")
    subscribed = len(flaky.added)
    await asyncio.wait_for(_until(lambda: len(flaky.added) >= subscribed + 4), 2)
    # The room and the process-wide users group, both refreshed, and nothing else.
    assert set(flaky.added) == {USERS_GROUP, group_name("room")}
    assert flaky.added[subscribed:].count(USERS_GROUP) >= 2


async def _until(condition) -> None:
    while not condition():
        await asyncio.sleep(0.01)
