"""Losing a host while viewers watch: they come back through nginx on the other.

The bound is the issue's: within ``2 x (pingInterval + pingTimeout)`` of the
loss, every viewer of the lost host has reconnected and rejoined, and the
viewer count (the REST API, as any client sees it) is the truth again, the
dead host's presence entries having expired. No acked chat message is lost.
"""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
import socketio

from tests.multihost.cluster import HEARTBEAT_S
from tests.sio import Client

_names = itertools.count(1)
VIEWERS = 8


class Viewer(Client):
    """A client that reconnects, as apps do, and rejoins its stream on every connect."""

    def __init__(self, url: str, stream_id: str) -> None:
        super().__init__(url, transports=["websocket"])
        self.sio = socketio.AsyncClient(
            reconnection=True, reconnection_delay=0.2, reconnection_delay_max=1
        )
        self.sio.on("*", self._record)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on("connect_error", self._on_connect_error)
        self.sio.on("connect", self._on_connect)
        self.stream_id = stream_id
        self.joins: list[dict] = []
        self.host: str | None = None
        self._tasks: set[asyncio.Task] = set()

    async def _on_connect(self) -> None:
        # Not inline: an ack cannot arrive while the connect handler holds the reader.
        task = asyncio.create_task(self._join())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _join(self) -> None:
        ack = await self.sio.call("join_stream_room", {"streamId": self.stream_id}, timeout=10)
        self.joins.append(ack)
        self._changed.set()


async def _viewer(cluster, stream_id: str) -> Viewer:
    user = await asyncio.to_thread(cluster.user, f"watcher{next(_names)}")
    viewer = Viewer(cluster.url, stream_id)
    before = cluster.websocket_handshakes()
    await viewer.connect(user["token"])
    after = cluster.websocket_handshakes()
    viewer.host = next(host for host in after if after[host] > before[host])
    await viewer.wait_until(lambda: bool(viewer.joins), timeout=10)
    assert viewer.joins[0]["ok"] is True, viewer.joins
    return viewer


async def _chat(viewer: Viewer, text: str) -> str:
    ack = await viewer.call("chat_message", {"streamId": viewer.stream_id, "message": text})
    assert ack["ok"] is True, ack
    return ack["id"]


def _stored_ids(cluster, stream_id: str) -> set[str]:
    page = cluster.api("GET", f"streams/{stream_id}/messages/")
    return {message["id"] for message in page["results"]}


@pytest.mark.parametrize("loss", ["workers killed", "network cut"])
async def test_viewers_of_a_lost_host_come_back_on_the_other(cluster_to_break, loss):
    cluster = cluster_to_break
    streamer = await asyncio.to_thread(cluster.user, f"streamer{next(_names)}")
    stream_id = await asyncio.to_thread(cluster.live_stream, streamer, "losing a host")
    viewers = [await _viewer(cluster, stream_id) for _ in range(VIEWERS)]
    try:
        lost = [viewer for viewer in viewers if viewer.host == "h1"]
        kept = [viewer for viewer in viewers if viewer.host == "h2"]
        assert lost and kept, [viewer.host for viewer in viewers]
        assert await asyncio.to_thread(cluster.viewer_count, stream_id) == VIEWERS
        acked = {await _chat(viewer, f"before {n}") for n, viewer in enumerate(viewers)}

        started = time.monotonic()
        if loss == "workers killed":
            cluster.kill_host("h1")
        else:
            cluster.topology.cut("h1")
        deadline = started + 2 * HEARTBEAT_S
        # The other host keeps serving its viewers meanwhile.
        acked |= {await _chat(viewer, f"during {n}") for n, viewer in enumerate(kept)}

        async def recovered() -> bool:
            back = all(len(v.joins) >= 2 and v.sio.connected for v in lost)
            return back and await asyncio.to_thread(cluster.viewer_count, stream_id) == VIEWERS

        while not await recovered():
            if time.monotonic() > deadline:
                counts = await asyncio.to_thread(cluster.viewer_count, stream_id)
                joins = [len(v.joins) for v in lost]
                pytest.fail(
                    f"not recovered within 2 x heartbeat ({2 * HEARTBEAT_S}s) after {loss}: "
                    f"count {counts}, joins of the lost viewers {joins}\n{cluster.log()}"
                )
            await asyncio.sleep(0.2)
        assert all(ack["ok"] for viewer in lost for ack in viewer.joins), [v.joins for v in lost]
        assert not any(viewer.disconnect_reasons for viewer in kept)

        # Nothing acked is lost: stored, and in the history the rejoined viewers got.
        assert acked <= await asyncio.to_thread(_stored_ids, cluster, stream_id)
        for viewer in lost:
            history = viewer.received("recent_chat_history")[-1]["messages"]
            before = {m["id"] for m in history if m["message"].startswith("before")}
            assert len(before) == VIEWERS
    finally:
        for viewer in viewers:
            await viewer.close()
