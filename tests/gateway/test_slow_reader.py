"""A client that does not read cannot grow the worker's memory or slow its room.

A raw client with a tiny receive window joins a busy room and stops reading.
The server keeps at most ``SOCKETIO_MAX_BUFFERED_BYTES`` unsent for it, then
drops it (4008 "slow consumer", presence released), while every client that
reads gets every message.

The load comes from a process of its own (``tests/storm.py``): raw WebSocket
clients that read continuously and count frames without parsing them. Readers in
this process (python-socketio, sharing its event loop with the sender and the
test) fell more than ten seconds behind such a storm on a loaded 2-core machine,
so the tests failed for their own slowness. And presence is read from the server
(the REST API's ``viewer_count``), not from count events a lagging reader may
not have reached yet.
"""

import asyncio
import json
import time
from contextlib import asynccontextmanager

import aiohttp
import psutil
import pytest

from tests.raw import RawSocket
from tests.storm import Storm

# A 40 s storm, its drain and the server's start: more than the suite's 120 s default.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

SECONDS = 20
# One client sends 500 messages/s and two read (the sender is one of them). About
# 600 bytes per new_message frame: 300 KB/s towards the slow client.
RATE = 500
MESSAGES = RATE * SECONDS
TEXT = "x" * 400
# The heartbeat's room sends at half the rate for twice as long: the same bytes,
# enough to fill what the kernel buffers for the slow socket (tcp_wmem, up to
# 4 MiB), while its one reader (the sender) answers pings in time.
BLIND_RATE = RATE // 2
BLIND_SECONDS = SECONDS * 2
# Scaled down from the 4 MiB default so 20 s of this room is several times the cap.
BUFFER_CAP = 1024 * 1024
# What the worker's resident memory may grow by over the whole storm (it stores
# 10,000 messages and fans out 20,000 frames); docs/performance.md has the figure.
RSS_GROWTH_BOUND = 48 * 1024 * 1024
# After the storm: how long its readers may take to get the last messages.
DRAIN = 30
SERVER_ENV = {
    "SOCKETIO_MAX_BUFFERED_BYTES": str(BUFFER_CAP),
    # Load-test settings: the per-user chat limits would otherwise (rightly) refuse it.
    "SOCKETIO_CHAT_RATE_MESSAGES": "0",
    "SOCKETIO_CHAT_DUPLICATE_WINDOW_MS": "0",
    "SOCKETIO_EVENT_RATE": "0",
}


async def test_a_socket_that_stops_reading_is_dropped_and_the_room_gets_everything(
    start_server, make_user, make_stream, token_for
):
    server = start_server(**SERVER_ENV)
    worker = psutil.Process(server.process.pid)
    stream_id = str(make_stream().pk)
    readers = [token_for(make_user()) for _ in range(2)]  # the sender and one more
    slow = await _slow_viewer(server, stream_id, token_for(make_user()))
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
        async with _storm(server, stream_id, readers, RATE, SECONDS) as storm:
            report = await storm.report()
            # The slow socket's presence was released: the room counts the readers again.
            await _viewer_count(server, stream_id, len(readers), timeout=10)
            await storm.finish()
    finally:
        sampler.cancel()
    rss_after = worker.memory_info().rss
    print(
        f"worker RSS before {rss_before / 2**20:.1f} MiB, peak {rss_peak / 2**20:.1f} MiB, "
        f"after {rss_after / 2**20:.1f} MiB; storm {report}"
    )

    for client in report:
        assert client["messages"] == MESSAGES  # every message, once
        assert not client["disconnected"]
    assert await slow.closed(timeout=10) in (None, 4008)
    assert "slow consumer" in server.log()
    assert rss_peak - rss_before < RSS_GROWTH_BOUND


async def test_answering_pings_blindly_does_not_keep_a_socket_that_does_not_read(
    start_server, make_user, make_stream, token_for
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
    stream_id = str(make_stream().pk)
    slow = await _slow_viewer(server, stream_id, token_for(make_user()))
    slow.stop_reading()

    async def pong_blindly() -> None:
        while True:
            await slow.send("3")
            await asyncio.sleep(0.2)

    ponger = asyncio.create_task(pong_blindly())
    try:
        # One client, the sender, reads its own messages; it answers every ping at
        # once, so the heartbeat that drops the slow socket keeps it.
        sender = [token_for(make_user())]
        async with _storm(server, stream_id, sender, BLIND_RATE, BLIND_SECONDS) as storm:
            await _viewer_count(server, stream_id, len(sender), timeout=BLIND_SECONDS + 10)
            released = time.monotonic() - storm.went
            report = await storm.report()
            await storm.finish()
    finally:
        ponger.cancel()
        await asyncio.gather(ponger, return_exceptions=True)
    print(f"slow socket released {released:.1f}s into the storm; storm {report}")
    # The one who left is the slow socket: the sender was never disconnected.
    assert [client["disconnected"] for client in report] == [False]
    assert "slow consumer" not in server.log()


async def _slow_viewer(server, stream_id: str, token: str) -> RawSocket:
    """A raw client with a tiny receive window, in the stream's room (counted there)."""
    slow = await RawSocket.open_slow(server.url)
    assert (await slow.connect(token)).startswith("40")
    await slow.send('421["join_stream_room",' + f'{{"streamId":"{stream_id}"}}]')
    while not (frame := await slow.recv()).startswith("431"):
        pass  # a count or the recent history, before the join's ack
    assert json.loads(frame[3:])[0]["ok"], frame
    await _viewer_count(server, stream_id, 1)
    return slow


@asynccontextmanager
async def _storm(server, stream_id: str, tokens: list[str], rate: int, seconds: int):
    """The storm's clients in the room (the server counts them), then its messages start."""
    storm = await Storm.start(
        url=server.url,
        stream=stream_id,
        tokens=tokens,
        rate=rate,
        seconds=seconds,
        text=TEXT,
        drain=DRAIN,
    )
    async with storm:
        assert await storm.joined() == len(tokens)
        await _viewer_count(server, stream_id, len(tokens) + 1)  # and the slow socket
        storm.go()
        yield storm


async def _viewer_count(server, stream_id: str, expected: int, *, timeout: float = 10) -> None:
    """Poll the REST API (anyone may read a stream) until the stream's viewer count is
    ``expected``; the server's own figure, however far behind a reader would be."""
    url = f"{server.url}/api/streams/{stream_id}/"
    seen = None
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(url) as response:
                    assert response.status == 200, (response.status, await response.text())
                    seen = (await response.json())["viewer_count"]
            except (aiohttp.ClientError, TimeoutError) as exc:
                seen = repr(exc)  # a busy server may be slow to answer: ask again
            if seen == expected:
                return
            await asyncio.sleep(0.25)
    raise AssertionError(f"viewer count {seen!r}, not {expected}, after {timeout}s")
