"""/metrics counts what happens on a real server, with one worker or several."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import urllib.request

import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import TIMEOUT

pytestmark = pytest.mark.django_db(transaction=True)


def scrape(server) -> dict[tuple[str, frozenset], float]:
    """Every sample of the server's /metrics, keyed by name and labels."""
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=TIMEOUT) as response:
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def eventually(server, check, *, timeout: float = TIMEOUT) -> dict:
    """Scrape until ``check(samples)`` holds; the last scrape's samples."""
    deadline = time.monotonic() + timeout
    while True:
        samples = await asyncio.to_thread(scrape, server)
        if check(samples):
            return samples
        if time.monotonic() > deadline:
            raise AssertionError(f"metrics never matched: {sorted(samples.items())!r:.3000}")
        await asyncio.sleep(0.1)


def sockets(samples: dict, transport: str, state: str = "connected") -> float:
    return value(samples, "socketio_sockets", transport=transport, state=state)


async def test_metrics_follow_connect_join_chat_and_disconnect(
    start_server, connect, make_user, make_stream
):
    server = start_server()
    stream = make_stream()
    stream_id = str(stream.pk)
    before = await asyncio.to_thread(scrape, server)
    assert sockets(before, "websocket") == 0

    viewer = await connect(server, make_user())
    watcher = await connect(server, make_user(), transports=["polling"])
    samples = await eventually(
        server, lambda s: sockets(s, "websocket") == 1 and sockets(s, "polling") == 1
    )
    assert value(samples, "socketio_connects_total", outcome="ok") == 2

    for client in (viewer, watcher):
        assert (await client.call("join_stream_room", {"streamId": stream_id}))["ok"]
    samples = await asyncio.to_thread(scrape, server)
    assert (
        value(samples, "socketio_events_total", event="join_stream_room", outcome="ok", message="")
        == 2
    )
    assert value(samples, "socketio_rooms") == 1
    assert value(samples, "streams_top_viewers", stream=stream_id) == 2
    assert value(samples, "streams_viewers") == 2

    mark = watcher.mark()
    assert (await viewer.call("chat_message", {"streamId": stream_id, "message": "hi"}))["ok"]
    await watcher.wait_for("new_message", after=mark)
    refused = await viewer.call("chat_message", {"streamId": stream_id, "message": "hi"})
    assert refused["ok"] is False  # the same text again within the duplicate window
    assert (await viewer.call("no_such_event", {}))["ok"] is False
    # The fan-out is timed once the frame is written to every local socket.
    samples = await eventually(server, lambda s: value(s, "socketio_fanout_seconds_count") >= 1)
    assert value(samples, "chat_messages_stored_total") == 1
    assert value(samples, "chat_write_batch_size_count") == 1
    assert (
        value(samples, "socketio_events_total", event="chat_message", outcome="ok", message="") == 1
    )
    limited = [
        labels
        for (name, labels), count in samples.items()
        if name == "socketio_events_total" and ("outcome", "refused") in labels and count == 1
    ]
    assert [dict(labels)["event"] for labels in limited] == ["chat_message"]
    assert (
        value(
            samples,
            "socketio_events_total",
            event="(unknown)",
            outcome="error",
            message="Unknown event",
        )
        == 1
    )
    # new_message reached both sockets of the room: one broadcast, two deliveries.
    assert value(samples, "socketio_broadcasts_received_total") >= 1
    assert value(samples, "socketio_deliveries_total") >= 2
    assert value(samples, "socketio_broadcasts_published_total", kind="room") >= 1

    await asyncio.to_thread(urllib.request.urlopen, f"{server.url}/api/streams/", timeout=TIMEOUT)
    samples = await asyncio.to_thread(scrape, server)
    assert value(samples, "livestream_http_requests_total", route="stream-list", status="200") == 1

    await viewer.close()
    await watcher.close()
    # The room is left just after the session closes: wait for both.
    samples = await eventually(
        server,
        lambda s: (
            sockets(s, "websocket") == 0
            and sockets(s, "polling") == 0
            and value(s, "socketio_rooms") == 0
        ),
    )
    assert value(samples, "socketio_closes_total", reason="normal") == 2


async def test_two_workers_add_up_and_a_dead_worker_leaves_the_sums(
    start_server, connect, make_user
):
    # A short heartbeat: sessions orphaned by the kill expire within a test.
    server = start_server(
        workers=2, SOCKETIO_PING_INTERVAL_MS="1000", SOCKETIO_PING_TIMEOUT_MS="1000"
    )
    clients, owners = [], set()
    # Long-polling sids name their worker: connect until both workers hold sockets.
    for _ in range(40):
        client = await connect(server, make_user(), transports=["polling"])
        clients.append(client)
        owners.add(client.sio.eio.sid.rpartition("~")[0])
        if len(owners) == 2 and len(clients) >= 4:
            break
    assert len(owners) == 2, "the kernel gave every connection to one worker"
    await eventually(server, lambda s: sockets(s, "polling") == len(clients))

    workers = psutil.Process(server.process.pid).children()
    assert len(workers) == 2
    os.kill(workers[0].pid, signal.SIGKILL)
    # Its clients find their session gone; the launcher starts another worker
    # and drops the dead one's live gauges, so the sum is the sockets still open.
    deadline = time.monotonic() + 15
    while all(c.sio.connected for c in clients):
        assert time.monotonic() < deadline, "no client noticed its worker died"
        await asyncio.sleep(0.1)
    await eventually(
        server,
        lambda s: sockets(s, "polling") == sum(c.sio.connected for c in clients),
        timeout=15,
    )
