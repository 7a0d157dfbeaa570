"""A worker stopped with SIGTERM lets its clients go cleanly and keeps nothing."""

import asyncio

import pytest

from chat.models import ChatMessage

pytestmark = pytest.mark.django_db(transaction=True)


async def test_sigterm_closes_clients_releases_presence_and_saves_messages(
    server, start_server, connect, make_user, make_stream
):
    stream = make_stream()
    stream_id = str(stream.pk)
    doomed_server = start_server(
        SOCKETIO_PING_INTERVAL_MS="60000", SOCKETIO_PING_TIMEOUT_MS="60000"
    )
    watcher = await connect(server, make_user())
    await watcher.call("join_stream_room", {"streamId": stream_id})
    leavers = [await connect(doomed_server, make_user()) for _ in range(3)]
    joining = watcher.mark()
    for client in leavers:
        await client.call("join_stream_room", {"streamId": stream_id})
    await watcher.wait_for("viewer_count_updated", lambda d: d["count"] == 4, after=joining)

    # Messages the worker has received when it is told to stop are still stored:
    # each is broadcast once handled, so the watcher hearing all three means the
    # worker has them (stored or being stored) before it is told to stop.
    talking = watcher.mark()
    for index, client in enumerate(leavers):
        await client.emit("chat_message", {"streamId": stream_id, "message": f"last words {index}"})
    for index in range(len(leavers)):
        await watcher.wait_for(
            "new_message", lambda m, i=index: m["message"] == f"last words {i}", after=talking
        )
    leaving = watcher.mark()
    doomed_server.process.terminate()

    for client in leavers:
        reason = await client.wait_disconnected(timeout=10)
        # A plain transport close, not a Socket.IO DISCONNECT: clients reconnect.
        assert reason != "server disconnect"
    # Presence is released at once, not after a heartbeat timeout (60 s here).
    await watcher.wait_for(
        "viewer_count_updated", lambda d: d["count"] == 1, after=leaving, timeout=10
    )
    assert await asyncio.to_thread(doomed_server.process.wait, 15) == 0
    stored = [m.text async for m in ChatMessage.objects.filter(stream=stream).order_by("id")]
    assert sorted(stored) == ["last words 0", "last words 1", "last words 2"]
