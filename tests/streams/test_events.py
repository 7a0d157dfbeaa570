"""Watching a stream over the socket: join, leave, disconnect, and the end of a stream."""

import asyncio

import pytest
from asgiref.sync import sync_to_async

from tests.sio import SERVER_DISCONNECT
from tests.support import run_manage_py

pytestmark = pytest.mark.django_db(transaction=True)


def sid(stream) -> str:
    return str(stream.pk)


def count_is(stream, n):
    return lambda data: data == {"streamId": sid(stream), "count": n}


async def test_join_replies_in_order(server, connect, user, make_stream):
    stream = make_stream()
    client = await connect(server, user)
    ack = await client.call("join_stream_room", {"streamId": sid(stream)})
    # All three replies come before the ack.
    assert [name for name, _ in client.events] == [
        "room_joined_successfully",
        "recent_chat_history",
        "viewer_count_updated",
    ]
    playback = f"http://127.0.0.1:8080/hls/{sid(stream)}.m3u8"  # PLAYBACK_URL_TEMPLATE
    assert client.received("room_joined_successfully") == [
        {"streamId": sid(stream), "streamKeyForDev": None, "playbackUrl": playback}
    ]
    assert client.received("recent_chat_history") == [{"streamId": sid(stream), "messages": []}]
    assert client.received("viewer_count_updated") == [{"streamId": sid(stream), "count": 1}]
    assert ack == {
        "ok": True,
        "streamId": sid(stream),
        "streamKeyForDev": None,
        "playbackUrl": playback,
        "count": 1,
    }


async def test_join_broadcasts_the_count_to_everyone_in_the_room(
    server, connect, make_user, make_stream
):
    stream = make_stream()
    first = await connect(server, make_user())
    await first.call("join_stream_room", {"streamId": sid(stream)})
    second = await connect(server, make_user())
    mark = first.mark()
    await second.call("join_stream_room", {"streamId": sid(stream)})
    await first.wait_for("viewer_count_updated", count_is(stream, 2), after=mark)
    await second.wait_for("viewer_count_updated", count_is(stream, 2), after=0)


async def test_stream_id_in_upper_case_is_accepted_and_answered_in_lower_case(
    server, connect, user, make_stream
):
    stream = make_stream()
    client = await connect(server, user)
    await client.call("join_stream_room", {"streamId": sid(stream).upper()})
    joined = await client.wait_for("room_joined_successfully", after=0)
    assert joined["streamId"] == sid(stream)


async def test_joining_twice_does_not_count_twice(server, connect, user, make_stream):
    stream = make_stream()
    client = await connect(server, user)
    await client.call("join_stream_room", {"streamId": sid(stream)})
    ack = await client.call("join_stream_room", {"streamId": sid(stream)})
    assert ack["count"] == 1
    await client.wait_until(lambda: len(client.received("viewer_count_updated")) == 2)
    assert len(client.received("room_joined_successfully")) == 2
    assert client.received("viewer_count_updated") == [{"streamId": sid(stream), "count": 1}] * 2


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (None, "Invalid streamId"),
        ("not an object", "Invalid streamId"),
        ({}, "Invalid streamId"),
        ({"streamId": 42}, "Invalid streamId"),
        ({"streamId": "not-a-uuid"}, "Invalid streamId"),
        ({"streamId": "0b8a3b5e-0000-4000-8000-000000000000"}, "Stream not found"),
    ],
)
async def test_join_errors(server, connect, user, payload, message):
    client = await connect(server, user)
    ack = await client.call("join_stream_room", payload)
    assert ack == {"ok": False, "message": message}
    assert client.received("room_join_error") == [{"message": message}]


@pytest.mark.parametrize("live", [False])
async def test_joining_a_stream_that_is_not_live_fails(server, connect, user, make_stream, live):
    stream = make_stream(live=live)
    client = await connect(server, user)
    ack = await client.call("join_stream_room", {"streamId": sid(stream)})
    assert ack == {"ok": False, "message": "Stream is not live"}
    assert client.received("room_join_error") == [{"message": "Stream is not live"}]


async def test_stream_key_goes_to_the_owner_and_staff_only(
    server, connect, make_user, staff, make_stream
):
    owner = make_user()
    stream = make_stream(streamer=owner)
    for who, expected in [
        (owner, stream.stream_key),
        (staff, stream.stream_key),
        (make_user(), None),
    ]:
        client = await connect(server, who)
        ack = await client.call("join_stream_room", {"streamId": sid(stream)})
        assert ack["streamKeyForDev"] == expected


async def test_stream_key_for_everyone_when_exposed_for_dev(
    start_server, connect, user, make_stream
):
    server = start_server(EXPOSE_STREAM_KEY_FOR_DEV="1")
    stream = make_stream()
    client = await connect(server, user)
    ack = await client.call("join_stream_room", {"streamId": sid(stream)})
    assert ack["streamKeyForDev"] == stream.stream_key


async def test_debug_alone_does_not_expose_the_stream_key(start_server, connect, user, make_stream):
    # The key lets its holder publish: a DEBUG server reached by others keeps it private.
    server = start_server(DEBUG="1")
    stream = make_stream()
    client = await connect(server, user)
    ack = await client.call("join_stream_room", {"streamId": sid(stream)})
    assert ack["streamKeyForDev"] is None


async def test_stream_key_is_never_logged(start_server, connect, make_user, make_stream):
    server = start_server(LOG_LEVEL="DEBUG")
    owner = make_user()
    stream = make_stream(streamer=owner)
    client = await connect(server, owner)
    ack = await client.call("join_stream_room", {"streamId": sid(stream)})
    assert ack["streamKeyForDev"] == stream.stream_key
    await client.call("chat_message", {"streamId": sid(stream), "message": "x" * 501})
    await client.close()
    server.stop()
    assert stream.stream_key not in server.log_path.read_text(errors="replace")


async def test_leave_decreases_the_count_for_the_others(server, connect, make_user, make_stream):
    stream = make_stream()
    stayer, leaver = await connect(server, make_user()), await connect(server, make_user())
    await stayer.call("join_stream_room", {"streamId": sid(stream)})
    joining = stayer.mark()
    await leaver.call("join_stream_room", {"streamId": sid(stream)})
    await stayer.wait_for("viewer_count_updated", count_is(stream, 2), after=joining)
    leaving = stayer.mark()
    ack = await leaver.call("leave_stream_room", {"streamId": sid(stream)})
    assert ack == {"ok": True, "streamId": sid(stream), "count": 1}
    await stayer.wait_for("viewer_count_updated", count_is(stream, 1), after=leaving)


async def test_leaving_a_room_one_is_not_in_changes_nothing(
    server, connect, make_user, make_stream
):
    stream = make_stream()
    watcher, stranger = await connect(server, make_user()), await connect(server, make_user())
    await watcher.call("join_stream_room", {"streamId": sid(stream)})
    ack = await stranger.call("leave_stream_room", {"streamId": sid(stream)})
    assert ack == {"ok": False, "message": "You are not in this stream room"}
    await asyncio.sleep(0.3)
    assert watcher.received("viewer_count_updated") == [{"streamId": sid(stream), "count": 1}]


async def test_disconnect_leaves_every_joined_room(server, connect, make_user, make_stream):
    first, second = make_stream(), make_stream()
    watcher = await connect(server, make_user())
    for stream in (first, second):
        await watcher.call("join_stream_room", {"streamId": sid(stream)})
    goner = await connect(server, make_user())
    joining = watcher.mark()
    for stream in (first, second):
        await goner.call("join_stream_room", {"streamId": sid(stream)})
        await watcher.wait_for("viewer_count_updated", count_is(stream, 2), after=joining)
    leaving = watcher.mark()
    await goner.close()
    for stream in (first, second):
        await watcher.wait_for("viewer_count_updated", count_is(stream, 1), after=leaving)


async def test_viewer_count_is_served_by_the_rest_api(server, connect, make_user, make_stream):
    from streams.presence import viewer_count

    stream = make_stream()
    for _ in range(3):
        client = await connect(server, make_user())
        await client.call("join_stream_room", {"streamId": sid(stream)})
    assert await sync_to_async(viewer_count)(sid(stream)) == 3


async def _watchers(server, connect, make_user, stream, n=2):
    clients = [await connect(server, make_user()) for _ in range(n)]
    for client in clients:
        await client.call("join_stream_room", {"streamId": sid(stream)})
    await clients[0].wait_for("viewer_count_updated", count_is(stream, n), after=0)
    return clients


async def test_stream_end_notifies_and_disconnects_the_room(
    server, connect, make_user, make_stream
):
    stream = make_stream()
    clients = await _watchers(server, connect, make_user, stream)
    bystander_stream = make_stream()
    bystander = await connect(server, make_user())
    await bystander.call("join_stream_room", {"streamId": sid(bystander_stream)})

    marks = [client.mark() for client in clients]
    await sync_to_async(stream.end)()

    for client, mark in zip(clients, marks, strict=True):
        notice = await client.wait_for("stream_ended_notification", after=mark)
        assert notice == {"roomId": sid(stream), "message": "Stream has ended"}
        assert await client.wait_disconnected() == SERVER_DISCONNECT
        # Nothing about the ended stream's count after the notification.
        after = client.events[client.events.index(("stream_ended_notification", notice)) + 1 :]
        assert [name for name, _ in after] == []
    assert bystander.sio.connected
    assert bystander.received("stream_ended_notification") == []


async def test_stream_end_message_carries_the_reason(server, connect, make_user, make_stream):
    stream = make_stream()
    (client, _) = await _watchers(server, connect, make_user, stream)
    mark = client.mark()
    await sync_to_async(stream.end)(reason="Streamer went offline")
    notice = await client.wait_for("stream_ended_notification", after=mark)
    assert notice["message"] == "Streamer went offline"


async def test_after_the_end_the_count_is_zero_and_joining_fails(
    server, connect, make_user, make_stream
):
    from streams.presence import viewer_count

    stream = make_stream()
    (client, _) = await _watchers(server, connect, make_user, stream)
    await sync_to_async(stream.end)()
    await client.wait_disconnected()
    assert await sync_to_async(viewer_count)(sid(stream)) == 0
    latecomer = await connect(server, make_user())
    ack = await latecomer.call("join_stream_room", {"streamId": sid(stream)})
    assert ack == {"ok": False, "message": "Stream is not live"}


async def test_end_stream_command_in_another_process_disconnects_the_room(
    server, connect, make_user, make_stream
):
    stream = make_stream()
    clients = await _watchers(server, connect, make_user, stream)
    marks = [client.mark() for client in clients]
    result = await asyncio.to_thread(
        run_manage_py,
        "end_stream",
        sid(stream),
    )
    assert result.returncode == 0, result.stderr
    for client, mark in zip(clients, marks, strict=True):
        notice = await client.wait_for("stream_ended_notification", after=mark)
        assert notice["roomId"] == sid(stream)
        assert await client.wait_disconnected() == SERVER_DISCONNECT


async def test_two_servers_share_rooms_counts_and_the_end(
    server, start_server, connect, make_user, make_stream
):
    other = start_server()
    stream = make_stream()
    here, there = await connect(server, make_user()), await connect(other, make_user())
    await here.call("join_stream_room", {"streamId": sid(stream)})
    joining = here.mark()
    await there.call("join_stream_room", {"streamId": sid(stream)})
    await here.wait_for("viewer_count_updated", count_is(stream, 2), after=joining)
    await there.wait_for("viewer_count_updated", count_is(stream, 2), after=0)

    await there.call("chat_message", {"streamId": sid(stream), "message": "hello from afar"})
    assert (await here.wait_for("new_message", after=joining))["message"] == "hello from afar"

    marks = [client.mark() for client in (here, there)]
    await sync_to_async(stream.end)()
    for client, mark in zip((here, there), marks, strict=True):
        await client.wait_for("stream_ended_notification", after=mark)
        assert await client.wait_disconnected() == SERVER_DISCONNECT


async def test_a_viewer_that_stops_answering_pings_is_released(
    start_server, connect, make_user, make_stream, token_for
):
    from tests.raw import RawSocket

    server = start_server(SOCKETIO_PING_INTERVAL_MS="300", SOCKETIO_PING_TIMEOUT_MS="300")
    stream = make_stream()
    watcher = await connect(server, make_user())
    await watcher.call("join_stream_room", {"streamId": sid(stream)})
    silent = await RawSocket.open(server.url)
    await silent.connect(token_for(make_user()))
    joining = watcher.mark()
    await silent.send(f'42["join_stream_room",{{"streamId":"{sid(stream)}"}}]')
    await watcher.wait_for("viewer_count_updated", count_is(stream, 2), after=joining)
    # The raw socket never reads again, so it never answers a ping.
    released = watcher.mark()
    await watcher.wait_for("viewer_count_updated", count_is(stream, 1), after=released, timeout=5)


async def test_forced_disconnect_is_a_socketio_disconnect_packet(
    server, make_user, make_stream, token_for
):
    from tests.raw import RawSocket

    stream = make_stream()
    raw = await RawSocket.open(server.url)
    await raw.connect(token_for(make_user()))
    await raw.send(f'42["join_stream_room",{{"streamId":"{sid(stream)}"}}]')
    while (await raw.next_event())[0] != "viewer_count_updated":
        pass
    await sync_to_async(stream.end)()
    assert await raw.next_event() == (
        "stream_ended_notification",
        {"roomId": sid(stream), "message": "Stream has ended"},
    )
    assert await raw.recv() == "41"
    assert await raw.closed() == 1000
