"""Viewer presence survives crashed workers: their entries expire, counts converge."""

import asyncio
import time

import pytest

pytestmark = pytest.mark.django_db(transaction=True)

HEARTBEAT = {"SOCKETIO_PING_INTERVAL_MS": "400", "SOCKETIO_PING_TIMEOUT_MS": "400"}


async def test_counts_converge_after_a_worker_is_killed(
    start_server, connect, make_user, make_stream
):
    survivor, victim = start_server(**HEARTBEAT), start_server(**HEARTBEAT)
    stream = make_stream()
    stream_id = str(stream.pk)
    watchers = [await connect(survivor, make_user()) for _ in range(2)]
    for client in watchers:
        await client.call("join_stream_room", {"streamId": stream_id})
    doomed = [await connect(victim, make_user()) for _ in range(3)]
    joining = watchers[0].mark()
    for client in doomed:
        await client.call("join_stream_room", {"streamId": stream_id})
    await watchers[0].wait_for("viewer_count_updated", lambda d: d["count"] == 5, after=joining)

    marks = [client.mark() for client in watchers]
    killed_at = time.monotonic()
    victim.kill()
    # 2 x (pingInterval + pingTimeout) = 1.6 s; allow for the test's own latency.
    await watchers[0].wait_for(
        "viewer_count_updated", lambda d: d["count"] == 2, after=marks[0], timeout=6
    )
    assert time.monotonic() - killed_at < 2 * 0.8 + 1.0
    for client, mark in zip(watchers, marks, strict=True):
        await client.wait_for("viewer_count_updated", lambda d: d["count"] == 2, after=mark)


async def test_a_live_worker_keeps_its_viewers_counted(
    start_server, connect, make_user, make_stream
):
    from asgiref.sync import sync_to_async

    from streams.presence import viewer_count

    # Slower than HEARTBEAT, so a busy machine cannot starve the client's pongs.
    server = start_server(SOCKETIO_PING_INTERVAL_MS="1000", SOCKETIO_PING_TIMEOUT_MS="1000")
    stream = make_stream()
    client = await connect(server, make_user())
    await client.call("join_stream_room", {"streamId": str(stream.pk)})
    # Entries live 2 s; well past that the entry is still there: the worker refreshes it.
    await asyncio.sleep(5)
    assert await sync_to_async(viewer_count)(str(stream.pk)) == 1
