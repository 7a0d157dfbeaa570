"""A socket's rooms: at most SOCKETIO_MAX_STREAM_ROOMS at once (10 by default), and
join/leave storms that leave the counts exact."""

import asyncio

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


async def test_join_leave_bursts_leave_the_count_exact_and_the_room_usable(
    start_server, connect, make_user, make_stream
):
    # Event limits off: this is about presence under a toggle storm, not the limiter.
    server = start_server(SOCKETIO_EVENT_RATE="0")
    stream = make_stream()
    stream_id = str(stream.pk)
    watcher, toggler = await connect(server, make_user()), await connect(server, make_user())
    await watcher.call("join_stream_room", {"streamId": stream_id})
    storm = watcher.mark()
    for _ in range(200):
        await toggler.emit("join_stream_room", {"streamId": stream_id})
        await toggler.emit("leave_stream_room", {"streamId": stream_id})
    # Events of one socket are handled in order: after this ack, all 400 are done.
    ack = await toggler.call("join_stream_room", {"streamId": stream_id})
    assert ack["ok"] and ack["count"] == 2
    await watcher.wait_for(
        "viewer_count_updated", lambda d: d["count"] == 2, after=storm, timeout=5
    )
    await asyncio.sleep(1.2)  # let a coalesced trailing count go out
    assert watcher.received("viewer_count_updated")[-1]["count"] == 2
    # Coalesced: far fewer count messages than the 401 changes.
    assert len(watcher.received("viewer_count_updated")) < 50
    # The room still works.
    mark = watcher.mark()
    await toggler.call("chat_message", {"streamId": stream_id, "message": "still here"})
    assert (await watcher.wait_for("new_message", after=mark))["message"] == "still here"
    leave = await toggler.call("leave_stream_room", {"streamId": stream_id})
    assert leave == {"ok": True, "streamId": stream_id, "count": 1}
