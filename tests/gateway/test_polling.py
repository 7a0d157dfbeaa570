"""Engine.IO v4 long-polling and the upgrade to WebSocket, against a real server.

The official python-socketio client with its default transports (polling,
then the upgrade) and with polling only runs the seed flow; a raw HTTP client
checks the protocol's edge cases and bad input, next to a bystander.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from asgiref.sync import sync_to_async
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus

from notifications.services import notify
from tests.raw import RawPolling, RawSocket, ws_url
from tests.sio import SERVER_DISCONNECT

pytestmark = pytest.mark.django_db(transaction=True)

UNKNOWN_SID = {"code": 1, "message": "Session ID unknown"}


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


def sid_of(stream) -> str:
    return str(stream.pk)


# --- the official python-socketio client --------------------------------------


@pytest.mark.parametrize(
    ("transports", "carried_by"),
    [(None, "websocket"), (["polling"], "polling")],
    ids=["default-transports", "polling-only"],
)
async def test_python_client_runs_the_seed_flow(
    server, connect, make_user, make_stream, transports, carried_by
):
    viewer, other = make_user(), make_user()
    stream = make_stream()
    client = await connect(server, viewer, transports=transports)
    assert client.sio.transport() == carried_by
    peer = await connect(server, other, transports=["polling"])

    start = client.mark()
    for someone in (client, peer):
        ack = await someone.call("join_stream_room", {"streamId": sid_of(stream)})
        assert ack["ok"] is True, ack
    history = await client.wait_for("recent_chat_history", after=start)
    assert history == {"streamId": sid_of(stream), "messages": []}
    await client.wait_for("viewer_count_updated", lambda d: d["count"] == 2, after=start)

    marks = {someone: someone.mark() for someone in (client, peer)}
    ack = await client.call("chat_message", {"streamId": sid_of(stream), "message": " chào "})
    assert ack["ok"] is True, ack
    for someone in (client, peer):
        message = await someone.wait_for("new_message", after=marks[someone])
        assert message["message"] == "chào"
        assert message["id"] == ack["id"]

    assert (await client.call("join_notification_room"))["ok"] is True
    mark = client.mark()
    sent = await sync_to_async(notify)(viewer, "follow", {"by": "carol"})
    assert (await client.wait_for("notification", after=mark))["id"] == str(sent.pk)

    marks = {someone: someone.mark() for someone in (client, peer)}
    await sync_to_async(stream.end)()
    for someone in (client, peer):
        await someone.wait_for("stream_ended_notification", after=marks[someone])
        assert await someone.wait_disconnected() == SERVER_DISCONNECT


# --- the handshake and its errors -------------------------------------------------


async def test_handshake_offers_the_websocket_upgrade(server, http):
    raw = await RawPolling.open(http, server.url)
    assert raw.open_packet["upgrades"] == ["websocket"]
    assert raw.open_packet["maxPayload"] > 0


@pytest.mark.parametrize(
    ("method", "query", "answer"),
    [
        ("GET", "EIO=4&transport=polling&sid=nope", UNKNOWN_SID),
        ("POST", "EIO=4&transport=polling&sid=nope", UNKNOWN_SID),
        ("GET", "EIO=4&transport=pigeon", {"code": 0, "message": "Transport unknown"}),
        ("GET", "EIO=4", {"code": 0, "message": "Transport unknown"}),
        ("POST", "EIO=4&transport=polling", {"code": 2, "message": "Bad handshake method"}),
        ("PUT", "EIO=4&transport=polling", {"code": 2, "message": "Bad handshake method"}),
        ("GET", "EIO=3&transport=polling", {"code": 5, "message": "Unsupported protocol version"}),
    ],
    ids=[
        "bad-sid-get",
        "bad-sid-post",
        "unknown-transport",
        "no-transport",
        "post-handshake",
        "put-handshake",
        "eio3",
    ],
)
async def test_bad_requests_get_the_reference_errors(server, http, method, query, answer):
    raw = RawPolling(http, server.url, query)
    status, body = await raw.request(method)
    assert status == 400
    reply = json.loads(body)
    assert {"code": reply["code"], "message": reply["message"]} == answer
    assert reply["detail"]  # what to do, for a person reading it


async def test_wrong_method_on_a_session_is_a_bad_request(server, http):
    raw = await RawPolling.open(http, server.url)
    status, body = await raw.request("PUT")
    assert (status, json.loads(body)["code"], json.loads(body)["message"]) == (
        400,
        3,
        "Bad request",
    )


# --- long-polling ---------------------------------------------------------------------


async def test_packets_in_one_post_are_answered_in_order(server, http, user, token_for):
    raw = await RawPolling.open(http, server.url)
    assert (await raw.connect(token_for(user)))[0].startswith('40{"sid":')
    assert await raw.post("2a", "2b", "2c") == (200, "ok")
    assert await raw.packets() == ["3a", "3b", "3c"]


async def test_two_concurrent_gets_close_the_session(server, http):
    raw = await RawPolling.open(http, server.url)
    first = asyncio.ensure_future(raw.get())
    await asyncio.sleep(0.2)  # lets the first GET be held; the outcome does not depend on it
    status, body = await raw.get()
    assert status == 400
    assert await first == (200, "1")
    status, body = await raw.post("40{}")
    assert (status, json.loads(body)["code"]) == (400, UNKNOWN_SID["code"])


async def test_post_after_close_is_refused(server, http):
    raw = await RawPolling.open(http, server.url)
    assert await raw.post("1") == (200, "ok")
    status, body = await raw.post("2")
    assert (status, json.loads(body)["code"]) == (400, UNKNOWN_SID["code"])


async def test_a_post_over_max_payload_gets_413_and_closes(start_server, http):
    server = start_server(SOCKETIO_MAX_PAYLOAD="1000")
    raw = await RawPolling.open(http, server.url)
    status, _ = await raw.post("4" + "x" * 1000)
    assert status == 413
    await raw.until_closed()
    assert (await raw.get())[0] == 400


async def test_heartbeat_over_polling(start_server, http):
    server = start_server(SOCKETIO_PING_INTERVAL_MS="300", SOCKETIO_PING_TIMEOUT_MS="300")
    raw = await RawPolling.open(http, server.url)
    assert await raw.packets() == ["2"]  # the held GET returns with the server's PING
    assert await raw.post("3") == (200, "ok")
    assert await raw.packets() == ["2"]
    # No PONG this time: the session is closed after pingTimeout.
    assert await raw.packets() == ["1"]
    assert (await raw.get())[0] == 400


async def test_connect_timeout_applies_over_polling(start_server, http):
    server = start_server(SOCKETIO_CONNECT_TIMEOUT_MS="300")
    raw = await RawPolling.open(http, server.url)
    assert await raw.packets() == ["1"]


# --- CORS ------------------------------------------------------------------------------


async def test_cors_echoes_an_allowed_origin_with_credentials(server, http):
    origin = "http://localhost:5173"
    raw = await RawPolling.open(http, server.url, Origin=origin)
    async with http.get(raw.url, headers={"Origin": origin}) as response:
        assert response.headers["Access-Control-Allow-Origin"] == origin
        assert response.headers["Access-Control-Allow-Credentials"] == "true"
        await response.read()
    preflight = {"Origin": origin, "Access-Control-Request-Method": "POST"}
    async with http.options(raw.url, headers=preflight) as response:
        assert response.status == 204
        assert response.headers["Access-Control-Allow-Origin"] == origin
        assert "POST" in response.headers["Access-Control-Allow-Methods"]


async def test_cors_refuses_other_origins(server, http):
    raw = RawPolling(http, server.url)
    async with http.get(raw.url, headers={"Origin": "https://evil.example"}) as response:
        assert response.status == 403
        assert "Access-Control-Allow-Origin" not in response.headers


# --- the upgrade ----------------------------------------------------------------------


async def upgrade_probe(server, raw: RawPolling) -> RawSocket:
    query = f"EIO=4&transport=websocket&sid={raw.sid}"
    socket = RawSocket(await asyncio.wait_for(ws_connect(ws_url(server.url, query)), 5))
    await socket.send("2probe")
    assert await socket.ws.recv() == "3probe"
    return socket


async def test_upgrade_carries_the_queue_first_and_in_order(server, http, user, token_for):
    raw = await RawPolling.open(http, server.url)
    await raw.connect(token_for(user))
    held = asyncio.ensure_future(raw.get())
    socket = await upgrade_probe(server, raw)
    assert await held == (200, "6")  # the held GET is released with a NOOP
    # Answers queued after the release wait for the switch, then come first.
    assert await raw.post("2a", "2b") == (200, "ok")
    await socket.send("5")
    await socket.send("2c")
    assert [await socket.ws.recv() for _ in range(3)] == ["3a", "3b", "3c"]
    status, body = await raw.get()
    assert (status, json.loads(body)["code"]) == (400, UNKNOWN_SID["code"])
    await socket.close()


async def test_probe_on_a_closed_session_is_refused(server, http):
    raw = await RawPolling.open(http, server.url)
    assert await raw.post("1") == (200, "ok")
    with pytest.raises(InvalidStatus):
        await upgrade_probe(server, raw)


async def test_upgrade_timeout_closes_the_probe_and_polling_goes_on(start_server, http):
    server = start_server(SOCKETIO_UPGRADE_TIMEOUT_MS="300")
    raw = await RawPolling.open(http, server.url)
    socket = await upgrade_probe(server, raw)
    assert await socket.closed() == 1000
    assert await raw.post("2x") == (200, "ok")
    assert await raw.packets() == ["3x"]


# --- bad input, next to a bystander --------------------------------------------------

BAD_PAYLOADS = {
    "empty": b"",
    "not-a-packet": b"hello, server",
    "unknown-type": b"7",
    "malformed-json": b'421["chat_message",{"streamId":',
    "invalid-utf8": b'42["chat_message","\xff\xfe"]',
    "binary-garbage": b"\x00\x01\x02\xff",
    "base64-binary": b"bAQIDBA==",
    "empty-between-separators": b"2\x1e\x1e2",
}


@pytest.mark.parametrize("payload", list(BAD_PAYLOADS.values()), ids=list(BAD_PAYLOADS))
async def test_bad_payloads_close_only_their_session(
    server, http, connect, make_user, make_stream, token_for, payload
):
    stream = make_stream()
    bystander = await connect(server, make_user())
    await bystander.call("join_stream_room", {"streamId": sid_of(stream)})
    raw = await RawPolling.open(http, server.url)
    await raw.connect(token_for(make_user()))

    await raw.post(payload)
    await raw.until_closed()
    assert (await raw.get())[0] == 400

    ack = await bystander.call(
        "chat_message", {"streamId": sid_of(stream), "message": "still here"}
    )
    assert ack["ok"] is True, ack


async def test_a_flood_of_posts_is_cut_off_by_the_event_budget(
    start_server, http, connect, make_user, make_stream, token_for
):
    server = start_server(SOCKETIO_EVENT_RATE="1", SOCKETIO_EVENT_BURST="5")
    stream = make_stream()
    bystander = await connect(server, make_user())
    await bystander.call("join_stream_room", {"streamId": sid_of(stream)})
    raw = await RawPolling.open(http, server.url)
    await raw.connect(token_for(make_user()))

    event = '42["leave_stream_room",{"streamId":"' + sid_of(stream) + '"}]'
    for _ in range(20):
        status, _ = await raw.post(event)
        if status != 200:
            break
    assert status == 400
    await raw.until_closed()
    ack = await bystander.call("chat_message", {"streamId": sid_of(stream), "message": "ok"})
    assert ack["ok"] is True, ack


# --- a client that stops polling ------------------------------------------------


async def test_a_client_that_stops_polling_is_dropped_at_the_byte_cap(
    start_server, http, connect, make_user, make_stream, token_for
):
    server = start_server(SOCKETIO_MAX_BUFFERED_BYTES="1500")
    stream = make_stream()
    join = {"streamId": sid_of(stream)}
    sender = await connect(server, make_user())
    assert (await sender.call("join_stream_room", join))["ok"] is True
    idle = await RawPolling.open(http, server.url)
    assert (await idle.connect(token_for(make_user())))[0].startswith("40")
    mark = sender.mark()
    assert await idle.post("42" + json.dumps(["join_stream_room", join])) == (200, "ok")
    await sender.wait_for("viewer_count_updated", lambda d: d["count"] == 2, after=mark)

    # The idle client polls no more while the room gets more than the cap for it.
    mark = sender.mark()
    for n in range(5):
        message = {"streamId": sid_of(stream), "message": f"{n} " + "x" * 400}
        assert (await sender.call("chat_message", message))["ok"] is True
    await sender.wait_for("viewer_count_updated", lambda d: d["count"] == 1, after=mark)
    assert len([e for e in sender.events[mark:] if e[0] == "new_message"]) == 5
    assert await idle.packets() == ["1"]  # what was queued is gone; the session closed
    assert "slow consumer" in server.log()
