"""Viewer counts are coalesced per room across workers, and the last word is exact."""

from __future__ import annotations

import asyncio

import pytest

pytestmark = pytest.mark.django_db(transaction=True)

# Long enough that every join below falls in the window the first one opens.
WINDOW_MS = "3000"


async def test_joins_on_two_workers_cost_one_count_per_window_not_one_per_worker(
    start_server, connect, make_user, make_stream
):
    workers = [start_server(SOCKETIO_COUNT_COALESCE_MS=WINDOW_MS) for _ in range(2)]
    stream_id = str(make_stream().pk)
    watcher = await connect(workers[0], make_user())
    await watcher.call("join_stream_room", {"streamId": stream_id})
    mark = watcher.mark()
    joiners = [await connect(workers[n % 2], make_user()) for n in range(6)]
    acks = await asyncio.gather(
        *(j.call("join_stream_room", {"streamId": stream_id}) for j in joiners)
    )
    assert all(ack["ok"] for ack in acks), acks
    await watcher.wait_for("viewer_count_updated", lambda d: d["count"] == 7, after=mark)
    await asyncio.sleep(int(WINDOW_MS) / 1000 + 0.5)  # any other worker's round comes by then
    counts = [d["count"] for name, d in watcher.events[mark:] if name == "viewer_count_updated"]
    # One window: the change that opened it (if the watcher's own had closed) and one
    # round at its end. Coalescing per worker sent at least one per worker and round.
    assert len(counts) <= 2 and counts[-1] == 7, counts


async def test_a_change_on_another_worker_during_a_window_is_announced_at_its_end(
    start_server, connect, make_user, make_stream
):
    first, second = (start_server(SOCKETIO_COUNT_COALESCE_MS="1000") for _ in range(2))
    stream_id = str(make_stream().pk)
    watcher = await connect(first, make_user())
    await watcher.call("join_stream_room", {"streamId": stream_id})
    mark = watcher.mark()
    # The first worker opens a window with a join; the second's leave falls inside it.
    guest = await connect(second, make_user())
    await guest.call("join_stream_room", {"streamId": stream_id})
    await guest.call("leave_stream_room", {"streamId": stream_id})
    await watcher.wait_for("viewer_count_updated", lambda d: d["count"] == 1, after=mark)
