"""Gateway limits: connections per user across processes, events per connection."""

import asyncio
import time

import pytest
import socketio

from tests.raw import RawSocket

pytestmark = pytest.mark.django_db(transaction=True)

TOO_MANY_CONNECTIONS = {"message": "Too many connections"}
TWO_PER_USER = {"SOCKETIO_MAX_CONNECTIONS_PER_USER": "2"}
# Entries live pingInterval + pingTimeout = 0.8 s unless refreshed.
FAST_HEARTBEAT = {"SOCKETIO_PING_INTERVAL_MS": "400", "SOCKETIO_PING_TIMEOUT_MS": "400"}


async def test_the_21st_connection_of_a_user_is_refused(server, connect, make_user, token_for):
    user = make_user()
    for _ in range(20):
        await connect(server, user)
    assert await connect.refused(server, token_for(user)) == TOO_MANY_CONNECTIONS
    # Other users are not affected.
    assert (await connect(server, make_user())).sio.connected


async def test_connections_are_counted_across_processes(start_server, connect, user, token_for):
    first, second = start_server(**TWO_PER_USER), start_server(**TWO_PER_USER)
    await connect(first, user)
    leaving = await connect(second, user)
    for server in (first, second):
        assert await connect.refused(server, token_for(user)) == TOO_MANY_CONNECTIONS
    await leaving.close()
    # A disconnect gives its slot back at once, to any process.
    assert (await connect(first, user)).sio.connected


async def test_slots_of_a_live_worker_stay_and_those_of_a_dead_one_expire(
    start_server, connect, user, token_for
):
    survivor = start_server(**TWO_PER_USER, **FAST_HEARTBEAT)
    victim = start_server(**TWO_PER_USER, **FAST_HEARTBEAT)
    await connect(survivor, user)
    await connect(victim, user)
    # Two entry lifetimes later both slots are still held: their workers refresh them.
    await asyncio.sleep(1.6)
    assert await connect.refused(survivor, token_for(user)) == TOO_MANY_CONNECTIONS

    victim.kill()
    deadline = time.monotonic() + 5
    while True:
        try:
            client = await connect(survivor, user)
            break
        except socketio.exceptions.ConnectionError:
            assert time.monotonic() < deadline, "the dead worker's slot never expired"
            await asyncio.sleep(0.2)
    assert client.sio.connected


async def test_events_over_the_rate_are_refused_and_not_dispatched(
    start_server, connect, user, token_for
):
    server = start_server(SOCKETIO_EVENT_RATE="1", SOCKETIO_EVENT_BURST="3")
    client = await connect(server, user)  # the CONNECT is charged too: 2 tokens left
    acks = [await client.call("join_notification_room") for _ in range(3)]
    assert [ack["ok"] for ack in acks[:2]] == [True, True]
    assert acks[2] == {"ok": False, "message": "Too many events"}
    await client.wait_until(lambda: len(client.received("notification_room_joined")) >= 2)
    await asyncio.sleep(0.2)
    assert len(client.received("notification_room_joined")) == 2
    assert client.sio.connected

    # Persistent flooding: a burst's worth of refused events closes the connection.
    raw = await RawSocket.open(server.url)
    await raw.connect(token_for(user))
    for _ in range(10):
        await raw.send('42["join_notification_room"]')
    assert await raw.closed() == 4008
