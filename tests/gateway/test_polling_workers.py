"""Long-polling with no sticky sessions: any worker serves any request of a session.

Two servers share Redis like two machines behind a load balancer; a request
sent to the one that does not hold the session is forwarded to its owner.
Then real clients run through ``WORKERS=2`` on one socket and through the
nginx recipe to two workers.
"""

from __future__ import annotations

import asyncio
import json
import shutil

import aiohttp
import pytest
from asgiref.sync import sync_to_async
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus

from notifications.services import notify
from tests.raw import RawPolling, ws_url
from tests.servers import ProxiedCluster
from tests.sio import SERVER_DISCONNECT, Client

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def http():
    # A new connection per request, so nothing sticks to one worker by keep-alive.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        yield http


def on(server, raw: RawPolling) -> RawPolling:
    """The same session, its requests sent to ``server``."""
    other = RawPolling(raw.http, server.url, f"EIO=4&transport=polling&sid={raw.sid}")
    other.sid = raw.sid
    return other


async def test_a_session_is_served_by_a_worker_that_does_not_hold_it(
    start_server, http, user, token_for
):
    owner, other = start_server(), start_server()
    raw = await RawPolling.open(http, owner.url)
    elsewhere = on(other, raw)

    connected = await elsewhere.connect(token_for(user))  # POST and GET, both forwarded
    assert connected[0].startswith('40{"sid":'), connected
    held = asyncio.ensure_future(elsewhere.get())  # held on the owner, through the other
    await asyncio.sleep(0.2)  # lets the GET be held; the outcome does not depend on it
    assert await raw.post("2a", "2b") == (200, "ok")
    assert (await held)[1].split(RawPolling.SEPARATOR) == ["3a", "3b"]

    assert await elsewhere.post("1") == (200, "ok")  # closes the session on its owner
    status, body = await raw.post("2")
    assert (status, json.loads(body)["code"]) == (400, 1)


async def test_an_oversized_post_on_another_worker_closes_the_session(
    start_server, http, user, token_for
):
    owner = start_server(SOCKETIO_MAX_PAYLOAD="1000")
    other = start_server(SOCKETIO_MAX_PAYLOAD="1000")
    raw = await RawPolling.open(http, owner.url)
    status, _ = await on(other, raw).post("4" + "x" * 1000)
    assert status == 413
    await raw.until_closed()


async def seed_flow(url: str, make_user, make_stream, token_for, transports) -> None:
    stream = make_stream()
    clients = [Client(url, transports=transports) for _ in range(2)]
    try:
        start = clients[0].mark()
        for client in clients:
            await client.connect(token_for(make_user()))
            ack = await client.call("join_stream_room", {"streamId": str(stream.pk)})
            assert ack["ok"] is True, ack
        await clients[0].wait_for("viewer_count_updated", lambda d: d["count"] == 2, after=start)
        for n in range(5):
            ack = await clients[n % 2].call(
                "chat_message", {"streamId": str(stream.pk), "message": f"m{n}"}
            )
            assert ack["ok"] is True, ack
        for client in clients:
            await client.wait_until(lambda c=client: len(c.received("new_message")) == 5)
            assert [m["message"] for m in client.received("new_message")] == [
                f"m{n}" for n in range(5)
            ]
        await sync_to_async(stream.end)()
        for client in clients:
            assert await client.wait_disconnected() == SERVER_DISCONNECT
    finally:
        for client in clients:
            await client.close()


@pytest.mark.parametrize("transports", [["polling"], None], ids=["polling", "default"])
async def test_clients_through_two_workers_on_one_socket(
    start_server, make_user, make_stream, token_for, transports
):
    server = start_server(WORKERS="2")
    await seed_flow(server.url, make_user, make_stream, token_for, transports)


@pytest.mark.parametrize("transports", [["polling"], None], ids=["polling", "default"])
async def test_clients_through_nginx_to_two_workers(
    transactional_db, server_logs, make_user, make_stream, token_for, transports
):
    if not shutil.which("nginx"):
        pytest.skip("nginx is not installed")
    cluster = ProxiedCluster(server_logs, workers=2).start()
    try:
        await seed_flow(cluster.url, make_user, make_stream, token_for, transports)
    finally:
        cluster.stop()


async def test_an_upgrade_landing_on_another_worker_is_relayed_to_the_owner(
    start_server, http, user, token_for
):
    owner, other = start_server(), start_server()
    raw = await RawPolling.open(http, owner.url)
    await raw.connect(token_for(user))
    query = f"EIO=4&transport=websocket&sid={raw.sid}"
    socket = await asyncio.wait_for(ws_connect(ws_url(other.url, query)), 5)
    await socket.send("2probe")
    assert await asyncio.wait_for(socket.recv(), 5) == "3probe"
    assert await raw.post("2a") == (200, "ok")  # queued on the owner for long-polling
    await socket.send("5")
    await socket.send("2b")
    await socket.send('421["join_notification_room"]')
    frames = [await asyncio.wait_for(socket.recv(), 5) for _ in range(4)]
    assert frames[:2] == ["3a", "3b"]
    room = f"notification:{user.pk}"
    assert "431" + json.dumps([{"ok": True, "room": room}], separators=(",", ":")) in frames
    status, body = await raw.get()  # the session left long-polling
    assert (status, json.loads(body)["code"]) == (400, 1)
    await sync_to_async(notify)(user, "follow", {"by": "carol"})
    pushed = await asyncio.wait_for(socket.recv(), 5)
    assert pushed.startswith('42["notification",'), pushed
    await socket.close()


async def test_a_relayed_probe_on_a_closed_session_is_refused(start_server, http):
    owner, other = start_server(), start_server()
    raw = await RawPolling.open(http, owner.url)
    assert await raw.post("1") == (200, "ok")
    query = f"EIO=4&transport=websocket&sid={raw.sid}"
    with pytest.raises(InvalidStatus):
        await asyncio.wait_for(ws_connect(ws_url(other.url, query)), 5)


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_sid_naming_an_owner_that_is_not_alive_is_refused_at_once(
    server, start_server, http, method
):
    """sids come from clients: a forged owner must not hold a request until a timeout."""
    other = start_server()
    raw = await RawPolling.open(http, server.url)  # a real owner, to forge a sibling of
    owner, _, _ = raw.sid.rpartition("~")
    for forged_owner in (owner[:-4] + "dead", "x" * 101, "specific.nobody"):
        forged = RawPolling(http, other.url, f"EIO=4&transport=polling&sid={forged_owner}~abc")
        # RawPolling's request times out after 5 s; a forward would wait ~50 s.
        status, body = await forged.request(method, data=b"3" if method == "POST" else None)
        assert (status, json.loads(body)["message"]) == (400, "Session ID unknown")
