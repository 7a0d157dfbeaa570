"""Socket.IO v5 binary packets (``45…-``): accepted within limits, over both transports."""

from __future__ import annotations

import pytest

from tests.raw import RawSocket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    "transports", [None, ["polling"], ["websocket"]], ids=["default", "polling", "websocket"]
)
async def test_binary_chat_content_is_an_invalid_payload_and_the_socket_stays(
    server, connect, user, make_stream, transports
):
    stream = make_stream()
    client = await connect(server, user, transports=transports)
    await client.call("join_stream_room", {"streamId": str(stream.pk)})
    ack = await client.call("chat_message", {"streamId": str(stream.pk), "message": b"\x00\xff"})
    assert ack == {"ok": False, "message": "Invalid message payload"}
    ack = await client.call("chat_message", {"streamId": str(stream.pk), "message": "text"})
    assert ack["ok"] is True, ack


async def test_attachments_that_never_come_close_the_socket(start_server, user, token_for):
    server = start_server(SOCKETIO_PING_TIMEOUT_MS="300")
    raw = await RawSocket.open(server.url)
    await raw.connect(token_for(user))
    await raw.send('451-["anything",{"_placeholder":true,"num":0}]')
    assert await raw.closed() == 1000


async def test_attachments_over_max_payload_close_the_socket(start_server, user, token_for):
    server = start_server(SOCKETIO_MAX_PAYLOAD="1000")
    raw = await RawSocket.open(server.url)
    await raw.connect(token_for(user))
    await raw.send('452-["anything",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')
    await raw.send(b"x" * 600)
    await raw.send(b"x" * 600)
    assert await raw.closed() == 4009


async def test_more_than_ten_attachments_close_the_socket(server, user, token_for):
    raw = await RawSocket.open(server.url)
    await raw.connect(token_for(user))
    await raw.send('4511-["anything",{"_placeholder":true,"num":0}]')
    assert await raw.closed() == 4002
