"""Chat limits per user, across sockets and processes: message rate and duplicates."""

import asyncio

import pytest

from chat.models import ChatMessage
from streams.models import Stream

pytestmark = pytest.mark.django_db(transaction=True)

TOO_FAST = "You are sending messages too fast"
DUPLICATE = "You already sent this message"
# Two back to back, then one a second: slow enough that the test's own pace never refills.
TWO_PER_2S = {
    "SOCKETIO_CHAT_RATE_MESSAGES": "2",
    "SOCKETIO_CHAT_RATE_WINDOW_MS": "2000",
    "SOCKETIO_CHAT_RATE_BURST": "2",
}


def sid(stream) -> str:
    return str(stream.pk)


async def joined(connect, server, user, stream):
    client = await connect(server, user)
    ack = await client.call("join_stream_room", {"streamId": sid(stream)})
    assert ack["ok"], ack
    return client


async def say(client, stream, text: str) -> dict:
    return await client.call("chat_message", {"streamId": sid(stream), "message": text})


async def test_rate_limit_holds_across_the_sockets_of_a_user(
    start_server, connect, make_user, make_stream
):
    server = start_server(**TWO_PER_2S)
    stream, user = make_stream(), make_user()
    first, second = [await joined(connect, server, user, stream) for _ in range(2)]
    watcher = await joined(connect, server, make_user(), stream)

    assert (await say(first, stream, "one"))["ok"]
    assert (await say(second, stream, "two"))["ok"]
    assert await say(first, stream, "three") == {"ok": False, "message": TOO_FAST}
    assert first.received("message_error") == [{"message": TOO_FAST}]
    assert await say(second, stream, "four") == {"ok": False, "message": TOO_FAST}
    # Other users chat on.
    mark = watcher.mark()
    assert (await say(watcher, stream, "five"))["ok"]
    await watcher.wait_for("new_message", lambda m: m["message"] == "five", after=mark)
    assert [m["message"] for m in watcher.received("new_message")] == ["one", "two", "five"]
    assert await ChatMessage.objects.filter(user=user).acount() == 2

    await asyncio.sleep(1.1)  # one message's worth of rate comes back
    assert (await say(first, stream, "six"))["ok"]


async def test_rate_limit_holds_across_processes(start_server, connect, make_user, make_stream):
    here, there = start_server(**TWO_PER_2S), start_server(**TWO_PER_2S)
    stream, user = make_stream(), make_user()
    near, far = (
        await joined(connect, here, user, stream),
        await joined(connect, there, user, stream),
    )
    assert (await say(near, stream, "one"))["ok"]
    assert (await say(far, stream, "two"))["ok"]
    assert await say(near, stream, "three") == {"ok": False, "message": TOO_FAST}
    assert await say(far, stream, "four") == {"ok": False, "message": TOO_FAST}
    assert await ChatMessage.objects.filter(user=user).acount() == 2


async def test_the_same_text_twice_within_a_second_is_refused(
    server, connect, make_user, make_stream
):
    stream, user = make_stream(), make_user()
    client = await joined(connect, server, user, stream)
    other_socket = await joined(connect, server, user, stream)
    assert (await say(client, stream, "hello"))["ok"]
    assert await say(client, stream, "hello") == {"ok": False, "message": DUPLICATE}
    assert client.received("message_error") == [{"message": DUPLICATE}]
    # The same after trimming, from another socket of the same user: still a duplicate.
    assert await say(other_socket, stream, " hello\n") == {"ok": False, "message": DUPLICATE}
    assert (await say(client, stream, "hello!"))["ok"]
    other_user = await joined(connect, server, make_user(), stream)
    assert (await say(other_user, stream, "hello"))["ok"]
    assert await ChatMessage.objects.filter(user=user, text="hello").acount() == 1

    await asyncio.sleep(1.1)
    assert (await say(client, stream, "hello"))["ok"]


async def test_a_message_that_could_not_be_stored_may_be_sent_again(
    server, connect, make_user, make_stream
):
    stream = make_stream()
    client = await joined(connect, server, make_user(), stream)
    # End it behind the gateway's back: the room is still joined, the stream is not live.
    await Stream.objects.filter(pk=stream.pk).aupdate(status=Stream.Status.ENDED)
    for _ in range(2):
        assert await say(client, stream, "anyone?") == {
            "ok": False,
            "message": "Stream is not live",
        }
