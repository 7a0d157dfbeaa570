"""Live chat over the socket: broadcast after commit, history, validation, moderation."""

import re

import pytest
from asgiref.sync import sync_to_async

from chat.models import ChatMessage

pytestmark = pytest.mark.django_db(transaction=True)

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def sid(stream) -> str:
    return str(stream.pk)


@pytest.fixture
def room(server, connect, make_user, make_stream):
    """A live stream and a helper that connects a user and joins its room."""
    stream = make_stream()

    async def join(user=None):
        client = await connect(server, user or make_user())
        ack = await client.call("join_stream_room", {"streamId": sid(stream)})
        assert ack["ok"], ack
        return client

    join.stream = stream
    return join


async def test_message_reaches_everyone_in_the_room_including_the_sender(room, make_user):
    author = make_user("bob")
    sender, other = await room(author), await room()
    marks = [sender.mark(), other.mark()]
    ack = await sender.call("chat_message", {"streamId": sid(room.stream), "message": "  hello  "})
    assert ack["ok"] is True
    for client, mark in zip((sender, other), marks, strict=True):
        message = await client.wait_for("new_message", after=mark)
        assert message == {
            "id": ack["id"],
            "userId": str(author.pk),
            "username": "bob",
            "message": "hello",
            "timestamp": message["timestamp"],
            "streamId": sid(room.stream),
        }
        assert ISO_Z.match(message["timestamp"])
        assert isinstance(message["id"], str)


async def test_a_broadcast_message_is_already_stored(room):
    sender = await room()
    mark = sender.mark()
    await sender.emit("chat_message", {"streamId": sid(room.stream), "message": "persist me"})
    message = await sender.wait_for("new_message", after=mark)
    stored = await ChatMessage.objects.aget(pk=int(message["id"]))
    assert stored.text == "persist me"
    assert str(stored.stream_id) == sid(room.stream)


async def test_sockets_outside_the_room_do_not_get_its_messages(room, server, connect, make_user):
    sender = await room()
    outsider = await connect(server, make_user())
    mark = sender.mark()
    await sender.call("chat_message", {"streamId": sid(room.stream), "message": "inside"})
    await sender.wait_for("new_message", after=mark)
    assert outsider.received("new_message") == []


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (None, "Invalid message payload"),
        ([1, 2], "Invalid message payload"),
        ({"message": "hi"}, "Invalid streamId"),
        ({"streamId": 7, "message": "hi"}, "Invalid streamId"),
        ({"streamId": "STREAM"}, "Message must be a string"),
        ({"streamId": "STREAM", "message": 12}, "Message must be a string"),
        ({"streamId": "STREAM", "message": "   \n\t "}, "Message cannot be empty"),
        ({"streamId": "STREAM", "message": "x" * 501}, "Message too long (max 500 characters)"),
    ],
)
async def test_invalid_messages_get_message_error_and_are_not_stored(room, payload, error):
    client = await room()
    if isinstance(payload, dict) and payload.get("streamId") == "STREAM":
        payload = {**payload, "streamId": sid(room.stream)}
    ack = await client.call("chat_message", payload)
    assert ack == {"ok": False, "message": error}
    assert client.received("message_error") == [{"message": error}]
    assert await ChatMessage.objects.acount() == 0


async def test_message_of_exactly_500_characters_is_accepted(room):
    client = await room()
    ack = await client.call("chat_message", {"streamId": sid(room.stream), "message": "é" * 500})
    assert ack["ok"] is True


async def test_chatting_in_a_room_one_has_not_joined_fails(server, connect, make_user, make_stream):
    stream = make_stream()
    client = await connect(server, make_user())
    ack = await client.call("chat_message", {"streamId": sid(stream), "message": "hi"})
    assert ack == {"ok": False, "message": "You are not in this stream room"}
    assert client.received("message_error") == [{"message": "You are not in this stream room"}]


async def test_chatting_after_the_stream_ended_fails(room):
    client = await room()
    # End it behind the gateway's back: the room is still joined, the stream is not live.
    from streams.models import Stream

    await Stream.objects.filter(pk=room.stream.pk).aupdate(status=Stream.Status.ENDED)
    ack = await client.call("chat_message", {"streamId": sid(room.stream), "message": "too late"})
    assert ack == {"ok": False, "message": "Stream is not live"}
    assert await ChatMessage.objects.acount() == 0


async def test_history_has_the_20_newest_oldest_first_without_removed_ones(room, make_user):
    author = make_user()
    messages = [
        ChatMessage.objects.create(stream=room.stream, user=author, text=f"m{i}") for i in range(25)
    ]
    removed = messages[-1]
    removed.removed_at = removed.created_at
    removed.save()
    client = await room()
    # The history is sent once, while the client joins.
    history = (await client.wait_for("recent_chat_history", after=0))["messages"]
    assert [m["message"] for m in history] == [f"m{i}" for i in range(4, 24)]
    assert history[0] == {
        "id": str(messages[4].pk),
        "userId": str(author.pk),
        "username": author.username,
        "message": "m4",
        "timestamp": history[0]["timestamp"],
        "streamId": sid(room.stream),
    }


async def test_history_includes_messages_sent_since_it_was_cached(room):
    first = await room()
    for text in ("one", "two"):
        await first.call("chat_message", {"streamId": sid(room.stream), "message": text})
    second = await room()
    history = (await second.wait_for("recent_chat_history", after=0))["messages"]
    assert [m["message"] for m in history] == ["one", "two"]
    await first.call("chat_message", {"streamId": sid(room.stream), "message": "three"})
    third = await room()
    history = (await third.wait_for("recent_chat_history", after=0))["messages"]
    assert [m["message"] for m in history] == ["one", "two", "three"]


async def test_removing_a_message_tells_the_room_and_drops_it_from_history(room, staff):
    from chat.services import chat_messages_remove

    client = await room()
    ack = await client.call("chat_message", {"streamId": sid(room.stream), "message": "spam"})
    await client.call("chat_message", {"streamId": sid(room.stream), "message": "fine"})
    mark = client.mark()
    await sync_to_async(chat_messages_remove)(
        messages=ChatMessage.objects.filter(pk=int(ack["id"])), by=staff
    )
    deleted = await client.wait_for("message_deleted", after=mark)
    assert deleted == {"streamId": sid(room.stream), "messageId": ack["id"]}
    newcomer = await room()
    history = (await newcomer.wait_for("recent_chat_history", after=0))["messages"]
    assert [m["message"] for m in history] == ["fine"]
