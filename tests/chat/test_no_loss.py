"""Under concurrent load nothing is lost and nothing is shown that is not stored."""

import asyncio
from collections import Counter

import pytest

from chat.models import ChatMessage

pytestmark = pytest.mark.django_db(transaction=True)

SENDERS = 5
MESSAGES_PER_SENDER = 200
MEMBERS = 50
# Load-test settings: the per-user chat limits would otherwise (rightly) refuse most of it.
UNLIMITED = {
    "SOCKETIO_CHAT_RATE_MESSAGES": "0",
    "SOCKETIO_CHAT_DUPLICATE_WINDOW_MS": "0",
    "SOCKETIO_EVENT_RATE": "0",
}


async def test_every_acked_message_is_stored_once_and_reaches_every_member(
    start_server, connect, make_user, make_stream
):
    servers = [start_server(**UNLIMITED), start_server(**UNLIMITED)]
    stream = make_stream()
    stream_id = str(stream.pk)
    members = []
    for index in range(MEMBERS):
        client = await connect(servers[index % 2], make_user())
        assert (await client.call("join_stream_room", {"streamId": stream_id}))["ok"]
        members.append(client)
    senders = members[:SENDERS]

    async def send_all(number: int, client) -> list[dict]:
        acks = []
        for seq in range(MESSAGES_PER_SENDER):
            text = f"sender {number} message {seq}"
            acks.append(await client.call("chat_message", {"streamId": stream_id, "message": text}))
        return acks

    results = await asyncio.wait_for(
        asyncio.gather(*(send_all(n, c) for n, c in enumerate(senders))), timeout=120
    )
    acks = [ack for sender_acks in results for ack in sender_acks]
    acked_ids = {ack["id"] for ack in acks if ack["ok"]}
    assert len(acked_ids) == SENDERS * MESSAGES_PER_SENDER, [a for a in acks if not a["ok"]][:5]

    stored = Counter([str(pk) async for pk in ChatMessage.objects.values_list("pk", flat=True)])
    assert set(stored) == acked_ids
    assert max(stored.values()) == 1

    expected = len(acked_ids)
    for member in members:
        await member.wait_until(
            lambda m=member: len(m.received("new_message")) >= expected, timeout=30
        )
    for member in members:
        delivered = [message["id"] for message in member.received("new_message")]
        assert len(delivered) == len(set(delivered)) == expected
        assert set(delivered) == acked_ids  # nothing shown that is not stored
        # Each sender's messages arrive in the order they were sent.
        for number in range(SENDERS):
            texts = [
                m["message"]
                for m in member.received("new_message")
                if m["message"].startswith(f"sender {number} ")
            ]
            assert texts == [f"sender {number} message {seq}" for seq in range(MESSAGES_PER_SENDER)]
