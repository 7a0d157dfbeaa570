"""A client that does not read cannot grow the worker's memory or slow its room.

A raw client with a tiny receive window joins a busy room and stops reading.
The server keeps at most ``SOCKETIO_MAX_BUFFERED_BYTES`` unsent for it, then
drops it (4008 "slow consumer", presence released), while every client that
reads gets every message.
"""

import asyncio
import time

import psutil
import pytest

from tests.raw import RawSocket

pytestmark = pytest.mark.django_db(transaction=True)

SECONDS = 20
# Both rooms: one client sends 500 messages/s and two read (the sender is
# one of them), so the test's own process keeps up with what it reads. About 600
# bytes per new_message frame: 300 KB/s towards the slow client.
RATE = 500
MESSAGES = RATE * SECONDS
TEXT = "x" * 400
# The heartbeat's room sends at half the rate for twice as long: the same bytes,
# enough to fill what the kernel buffers for the slow socket (tcp_wmem, up to
# 4 MiB), while its readers, in the test's own process, answer pings in time.
BLIND_RATE = RATE // 2
BLIND_SECONDS = SECONDS * 2
# Scaled down from the 4 MiB default so 20 s of this room is several times the cap.
BUFFER_CAP = 1024 * 1024
# What the worker's resident memory may grow by over the whole storm (it stores
# 10,000 messages and fans out 20,000 frames); docs/performance.md has the figure.
RSS_GROWTH_BOUND = 48 * 1024 * 1024
SERVER_ENV = {
    "SOCKETIO_MAX_BUFFERED_BYTES": str(BUFFER_CAP),
    # Load-test settings: the per-user chat limits would otherwise (rightly) refuse it.
    "SOCKETIO_CHAT_RATE_MESSAGES": "0",
    "SOCKETIO_CHAT_DUPLICATE_WINDOW_MS": "0",
    "SOCKETIO_EVENT_RATE": "0",
}


async def test_a_socket_that_stops_reading_is_dropped_and_the_room_gets_everything(
    start_server, connect, make_user, make_stream, token_for
):
    server = start_server(**SERVER_ENV)
    worker = psutil.Process(server.process.pid)
    stream_id, readers, slow = await _busy_room(
        server, connect, make_user, make_stream, token_for, senders=1
    )
    marks = [len(reader.events) for reader in readers]
    slow.stop_reading()
    rss_before = worker.memory_info().rss
    rss_peak = rss_before

    async def sample_rss() -> None:
        nonlocal rss_peak
        while True:
            rss_peak = max(rss_peak, worker.memory_info().rss)
            await asyncio.sleep(0.25)

    sampler = asyncio.create_task(sample_rss())
    try:
        await _storm(stream_id, readers[:1], RATE, MESSAGES)
        total = MESSAGES
        for reader, mark in zip(readers, marks, strict=True):
            await reader.wait_until(
                lambda r=reader, m=mark: _messages_since(r, m) >= total, timeout=60
            )
    finally:
        sampler.cancel()
    rss_after = worker.memory_info().rss
    print(
        f"worker RSS before {rss_before / 2**20:.1f} MiB, peak {rss_peak / 2**20:.1f} MiB, "
        f"after {rss_after / 2**20:.1f} MiB"
    )

    for reader, mark in zip(readers, marks, strict=True):
        assert _messages_since(reader, mark) == total  # every message, once
        # The slow socket's presence was released: the room counts the readers again.
        assert _counts_since(reader, mark)[-1:] == [len(readers)]
    assert await slow.closed(timeout=10) in (None, 4008)
    assert "slow consumer" in server.log()
    assert rss_peak - rss_before < RSS_GROWTH_BOUND


async def test_answering_pings_blindly_does_not_keep_a_socket_that_does_not_read(
    start_server, connect, make_user, make_stream, token_for
):
    # No byte cap in the way: only the heartbeat can drop this client.
    server = start_server(
        **{
            **SERVER_ENV,
            "SOCKETIO_MAX_BUFFERED_BYTES": "0",
            "SOCKETIO_PING_INTERVAL_MS": "1000",
            "SOCKETIO_PING_TIMEOUT_MS": "2000",
        }
    )
    # The readers must keep up for the whole storm here: the heartbeat that drops
    # the slow socket would drop a lagging reader too.
    stream_id, readers, slow = await _busy_room(
        server, connect, make_user, make_stream, token_for, senders=1
    )
    marks = [len(reader.events) for reader in readers]
    slow.stop_reading()

    async def pong_blindly() -> None:
        while True:
            await slow.send("3")
            await asyncio.sleep(0.2)

    def released(reader, mark) -> bool:
        return _counts_since(reader, mark)[-1:] == [len(readers)]

    ponger = asyncio.create_task(pong_blindly())
    storm = asyncio.create_task(_storm(stream_id, readers[:1], RATE, MESSAGES))
    try:
        for reader, mark in zip(readers, marks, strict=True):
            await reader.wait_until(
                lambda r=reader, m=mark: released(r, m), timeout=BLIND_SECONDS + 10
            )
    finally:
        ponger.cancel()
        storm.cancel()
        await asyncio.gather(ponger, storm, return_exceptions=True)
    assert "slow consumer" not in server.log()


async def _busy_room(server, connect, make_user, make_stream, token_for, *, senders: int):
    """A live stream's room with ``senders`` + 1 reading clients and one slow raw client."""
    stream_id = str(make_stream().pk)
    join = {"streamId": stream_id}
    readers = [await connect(server, make_user()) for _ in range(senders + 1)]
    for reader in readers:
        assert (await reader.call("join_stream_room", join))["ok"]
    slow = await RawSocket.open_slow(server.url)
    assert (await slow.connect(token_for(make_user()))).startswith("40")
    marks = [reader.mark() for reader in readers]
    await slow.send('42["join_stream_room",' + f'{{"streamId":"{stream_id}"}}]')
    for reader, mark in zip(readers, marks, strict=True):
        await reader.wait_for(
            "viewer_count_updated", lambda d: d["count"] == len(readers) + 1, after=mark
        )
    return stream_id, readers, slow


async def _storm(
    stream_id: str, senders, rate: int, messages_per_sender: int, text: str = TEXT
) -> None:
    async def send_all(number: int, client) -> None:
        started = time.monotonic()
        for seq in range(messages_per_sender):
            message = {"streamId": stream_id, "message": f"{number} {seq} {text}"}
            await client.emit("chat_message", message)
            # Pacing only: hold ``rate`` per sender; nothing is asserted on time.
            await asyncio.sleep(max(0, started + (seq + 1) / rate - time.monotonic()))

    await asyncio.wait_for(
        asyncio.gather(*(send_all(n, c) for n, c in enumerate(senders))), timeout=SECONDS * 3
    )


def _messages_since(client, mark: int) -> int:
    return sum(1 for name, _ in client.events[mark:] if name == "new_message")


def _counts_since(client, mark: int) -> list[int]:
    return [data["count"] for name, data in client.events[mark:] if name == "viewer_count_updated"]
