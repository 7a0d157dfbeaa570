"""The Engine.IO v4 / Socket.IO v5 wire protocol, spoken to a real daphne server."""

import asyncio
import json

import pytest
from websockets.exceptions import InvalidStatus

from tests.raw import RawSocket

pytestmark = pytest.mark.django_db(transaction=True)


async def test_open_packet_announces_heartbeat_and_limits(server):
    raw = await RawSocket.open(server.url)
    assert raw.open_packet["upgrades"] == []
    assert raw.open_packet["pingInterval"] == 25000
    assert raw.open_packet["pingTimeout"] == 20000
    assert raw.open_packet["maxPayload"] == 1000000
    assert isinstance(raw.open_packet["sid"], str) and raw.open_packet["sid"]
    await raw.close()


@pytest.mark.parametrize(
    "query",
    [
        "EIO=3&transport=websocket",
        "transport=websocket",
        "EIO=4&transport=carrier-pigeon",
        "EIO=4&transport=websocket&sid=does-not-exist",
    ],
)
async def test_unsupported_handshakes_are_refused(server, query):
    with pytest.raises(InvalidStatus):
        await RawSocket.open(server.url, query)


async def test_connect_answers_with_the_session_id(server, user, token_for):
    raw = await RawSocket.open(server.url)
    reply = await raw.connect(token_for(user))
    assert reply.startswith("40")
    assert json.loads(reply[2:])["sid"]
    await raw.close()


async def test_unknown_namespace_gets_connect_error(server, user, token_for):
    raw = await RawSocket.open(server.url)
    await raw.send("40/admin," + json.dumps({"token": token_for(user)}))
    assert await raw.recv() == '44/admin,{"message":"Invalid namespace"}'
    await raw.close()


async def test_events_before_connect_are_not_dispatched(server, user, token_for):
    raw = await RawSocket.open(server.url)
    await raw.send('421["join_notification_room"]')
    with pytest.raises(asyncio.TimeoutError):
        await raw.recv(timeout=0.5)
    await raw.connect(token_for(user))
    await raw.send('422["join_notification_room"]')
    assert await raw.next_event() == (
        "notification_room_joined",
        {"room": f"notification:{user.pk}"},
    )
    assert await raw.recv() == f'432[{{"ok":true,"room":"notification:{user.pk}"}}]'
    await raw.close()


async def test_unknown_event_with_ack_gets_a_negative_ack(server, user, token_for):
    raw = await RawSocket.open(server.url)
    await raw.connect(token_for(user))
    await raw.send('427["no_such_event",{}]')
    assert await raw.recv() == '437[{"ok":false,"message":"Unknown event"}]'
    await raw.close()


async def test_server_pings_and_drops_a_client_that_stops_answering(start_server, user, token_for):
    server = start_server(SOCKETIO_PING_INTERVAL_MS="300", SOCKETIO_PING_TIMEOUT_MS="300")
    raw = await RawSocket.open(server.url)
    assert raw.open_packet["pingInterval"] == 300
    await raw.connect(token_for(user))
    # Answered pings keep the connection up well past one heartbeat period.
    with pytest.raises(asyncio.TimeoutError):
        await raw.recv(timeout=1.5)
    # Unanswered, the server closes it.
    assert await asyncio.wait_for(raw.ws.recv(), 2) == "2"
    assert await raw.closed(timeout=3) is not None


async def test_client_that_never_connects_is_closed_after_the_connect_timeout(start_server):
    server = start_server(SOCKETIO_CONNECT_TIMEOUT_MS="300")
    raw = await RawSocket.open(server.url)
    assert await raw.closed(timeout=3) is not None


async def test_client_disconnect_packet_ends_the_session(server, user, token_for):
    raw = await RawSocket.open(server.url)
    await raw.connect(token_for(user))
    await raw.send("41")
    assert await raw.closed() is not None


async def test_other_websocket_paths_are_refused(server):
    from websockets.asyncio.client import connect as ws_connect

    url = server.url.replace("http://", "ws://") + "/not-socket.io/?EIO=4&transport=websocket"
    with pytest.raises(InvalidStatus):
        await asyncio.wait_for(ws_connect(url), 5)
