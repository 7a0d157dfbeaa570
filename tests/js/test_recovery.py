"""Connection-state recovery with the official JS client, its connection cut by a proxy.

The client (``recovery_client.mjs``) reaches the server through a ``CuttableRelay``;
the test cuts every connection (no FIN, no close frame: a phone in a tunnel), keeps
new ones out while chat, a notification and a count change happen, then lets the
client back in, to the same worker or to another one. The client must come back
with ``socket.recovered``, its old id, and every missed event once, in order.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async

from notifications.services import notify
from tests.servers import CuttableRelay, ProxiedCluster
from tests.sio import assert_no_flap
from tests.support import child_env

pytestmark = pytest.mark.django_db(transaction=True)

JS_DIR = Path(__file__).resolve().parent
WAIT = 15.0


class JsClient:
    def __init__(self, process) -> None:
        self.process = process
        self.lines: list[dict] = []

    async def next(self, predicate) -> dict:
        async def read():
            while True:
                raw = await self.process.stdout.readline()
                assert raw, f"the JS client exited: {await self.process.stderr.read()!r}"
                line = json.loads(raw)
                self.lines.append(line)
                if predicate(line):
                    return line

        return await asyncio.wait_for(read(), WAIT)

    def events(self, after: int) -> list[tuple[str, dict]]:
        return [(line["event"], line["args"]) for line in self.lines[after:] if "event" in line]


@pytest.fixture
async def js_client():
    node = shutil.which("node")
    if node is None or not (JS_DIR / "node_modules" / "socket.io-client").is_dir():
        pytest.skip("node and tests/js/node_modules are needed (npm ci in tests/js)")
    started = []

    async def start(url: str, token: str, stream_id: str, transports: str | None) -> JsClient:
        env = child_env(LIVESTREAM_URL=url, LIVESTREAM_TOKEN=token, LIVESTREAM_STREAM=stream_id)
        if transports:
            env["LIVESTREAM_TRANSPORTS"] = transports
        process = await asyncio.create_subprocess_exec(
            node,
            str(JS_DIR / "recovery_client.mjs"),
            cwd=JS_DIR,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        started.append(process)
        return JsClient(process)

    yield start
    for process in started:
        if process.returncode is None:
            process.kill()
            await process.wait()


def _message(text):
    return lambda line: line.get("event") == "new_message" and line["args"][0]["message"] == text


async def _drop_and_recover(phone, proxy, other, third, viewer, stream, upstream=None) -> None:
    """Cut the client off, make it miss chat, a notification and a count change, let it back."""
    stream_id = str(stream.pk)
    sid = [line for line in phone.lines if "connect" in line][-1]["connect"]["sid"]
    await other.call("chat_message", {"streamId": stream_id, "message": "before"})
    await phone.next(_message("before"))
    mark, counts_mark = len(phone.lines), other.mark()
    proxy.cut()
    await phone.next(lambda line: "disconnect" in line)
    for text in ("away 1", "away 2"):
        await other.call("chat_message", {"streamId": stream_id, "message": text})
    await sync_to_async(notify)(viewer, "gift", {"from": "talker"})
    await third.call("join_stream_room", {"streamId": stream_id})
    await other.call("chat_message", {"streamId": stream_id, "message": "away 3"})
    proxy.restore(upstream)

    again = await phone.next(lambda line: "connect" in line)
    assert again["connect"] == {"sid": sid, "recovered": True}
    await phone.next(_message("away 3"))
    await other.call("chat_message", {"streamId": stream_id, "message": "after"})
    await phone.next(_message("after"))
    events = phone.events(mark)
    messages = [args[0]["message"] for name, args in events if name == "new_message"]
    assert messages == ["away 1", "away 2", "away 3", "after"]
    assert [args[0]["kind"] for name, args in events if name == "notification"] == ["gift"]
    assert all(isinstance(args[-1], str) for _, args in events)  # the offsets
    # Nobody saw the viewer leave and come back: the one change is the third viewer's.
    await assert_no_flap(other, counts_mark, viewers=2, then=3)
    await third.call("leave_stream_room", {"streamId": stream_id})
    await other.wait_for("viewer_count_updated", lambda d: d["count"] == 2, after=counts_mark)


async def _watching(js_client, url, transports, server, connect, make_user, stream, token_for):
    """The phone (the JS client) watching with ``other``, who joined first; ``third`` idle."""
    viewer, talker, late = make_user(), make_user(), make_user()
    # The others first: counts are coalesced, and a count from before someone joined may
    # still reach them after it; the phone's arrival is then the last change they hear.
    other = await connect(server, talker)
    await other.call("join_stream_room", {"streamId": str(stream.pk)})
    third = await connect(server, late)
    mark = other.mark()
    phone = await js_client(url, token_for(viewer), str(stream.pk), transports)
    first = await phone.next(lambda line: "connect" in line)
    assert first["connect"]["recovered"] is False
    await phone.next(lambda line: line.get("joined"))
    await other.wait_for("viewer_count_updated", lambda d: d["count"] == 2, after=mark)
    return phone, other, third, viewer


@pytest.mark.parametrize(
    ("transports", "other_worker"),
    [("websocket", False), ("websocket", True), (None, True), ("polling", True)],
    ids=[
        "websocket-same-worker",
        "websocket-other-worker",
        "defaults-other-worker",
        # The server cannot tell a cut long-polling client from a slow one until
        # the heartbeat: the reconnection takes the old session over.
        "polling-other-worker",
    ],
)
async def test_the_official_client_recovers(
    transports, other_worker, start_server, connect, make_user, make_stream, token_for, js_client
):
    first_worker = start_server()
    second_worker = start_server() if other_worker else first_worker
    stream = make_stream()
    proxy = await CuttableRelay(first_worker.port).start()
    try:
        phone, other, third, viewer = await _watching(
            js_client, proxy.url, transports, second_worker, connect, make_user, stream, token_for
        )
        await _drop_and_recover(phone, proxy, other, third, viewer, stream, second_worker.port)
    finally:
        await proxy.stop()


def _websockets_per_worker(cluster) -> list[int]:
    return [len(re.findall(r'"WSCONNECTING /socket.io/"', w.log())) for w in cluster.workers]


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
async def test_the_official_client_recovers_on_the_other_worker_behind_nginx(
    server_logs, connect, make_user, make_stream, token_for, js_client
):
    cluster = ProxiedCluster(server_logs, workers=2).start()
    stream = make_stream()
    proxy = await CuttableRelay(cluster.proxy.port).start()
    try:
        # The others talk to one worker directly: nginx balances the phone alone,
        # least_conn with no connection open is round robin, so it alternates.
        phone, other, third, viewer = await _watching(
            js_client,
            proxy.url,
            "websocket",
            cluster.workers[0],
            connect,
            make_user,
            stream,
            token_for,
        )
        counts = _websockets_per_worker(cluster)
        counts[0] -= 2  # the other two viewers
        holder = counts.index(1)
        moved = False
        for _ in range(3):  # round robin: the first reconnection should already move
            before = _websockets_per_worker(cluster)
            await _drop_and_recover(phone, proxy, other, third, viewer, stream)
            after = _websockets_per_worker(cluster)
            landed = [b - a for a, b in zip(before, after, strict=True)].index(1)
            moved, holder = landed != holder, landed
            if moved:
                break
        assert moved, "nginx sent every reconnection back to the worker holding the session"
    finally:
        await proxy.stop()
        cluster.stop()


async def test_past_the_window_the_official_client_gets_a_new_session(
    start_server, connect, make_user, make_stream, token_for, js_client
):
    server = start_server(SOCKETIO_RECOVERY_WINDOW_MS="1000")
    stream = make_stream()
    proxy = await CuttableRelay(server.port).start()
    try:
        phone, other, _, _ = await _watching(
            js_client, proxy.url, "websocket", server, connect, make_user, stream, token_for
        )
        sid = phone.lines[0]["connect"]["sid"]
        mark = other.mark()
        proxy.cut()
        # The window passes: the viewer leaves the count like any disconnect.
        await other.wait_for("viewer_count_updated", lambda d: d["count"] == 1, after=mark)
        proxy.restore()
        again = await phone.next(lambda line: "connect" in line)
        assert again["connect"]["recovered"] is False
        assert again["connect"]["sid"] != sid
    finally:
        await proxy.stop()


async def test_a_revoked_user_is_refused_instead_of_recovered(
    start_server, connect, make_user, make_stream, token_for, js_client
):
    server = start_server()
    stream = make_stream()
    proxy = await CuttableRelay(server.port).start()
    try:
        phone, other, _, viewer = await _watching(
            js_client, proxy.url, "websocket", server, connect, make_user, stream, token_for
        )
        mark = other.mark()
        proxy.cut()
        viewer.is_active = False
        await sync_to_async(viewer.save)()  # revocation: the parked session is closed too
        await other.wait_for("viewer_count_updated", lambda d: d["count"] == 1, after=mark)
        proxy.restore()
        refused = await phone.next(lambda line: "connect_error" in line or "connect" in line)
        assert refused == {"connect_error": "Authentication error"}
    finally:
        await proxy.stop()
