"""A socket watches at most SOCKETIO_MAX_STREAM_ROOMS streams at once (10 by default)."""

import pytest

from streams.presence import count

pytestmark = pytest.mark.django_db(transaction=True)

TOO_MANY_ROOMS = "Too many rooms (max 10)"


def join(client, stream):
    return client.call("join_stream_room", {"streamId": str(stream.pk)})


async def test_joining_an_11th_stream_room_is_refused(server, connect, user, make_stream):
    streams = [make_stream() for _ in range(11)]
    client = await connect(server, user)
    for stream in streams[:10]:
        assert (await join(client, stream))["ok"]

    assert await join(client, streams[10]) == {"ok": False, "message": TOO_MANY_ROOMS}
    assert client.received("room_join_error") == [{"message": TOO_MANY_ROOMS}]
    assert await count(str(streams[10].pk)) == 0
    # Joining a room it is already in is no new room.
    assert (await join(client, streams[0]))["ok"]

    await client.call("leave_stream_room", {"streamId": str(streams[0].pk)})
    assert (await join(client, streams[10]))["ok"]


async def test_the_cap_is_per_socket(server, connect, user, make_stream):
    streams = [make_stream() for _ in range(11)]
    first, second = await connect(server, user), await connect(server, user)
    for stream in streams[:10]:
        assert (await join(first, stream))["ok"]
    assert (await join(second, streams[10]))["ok"]
