from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from moderation import services


@pytest.fixture
def channel(server, connect, make_user, make_stream):
    """A live stream, its owner, and ``join(user)``: a connected socket in its room."""
    owner = make_user()
    stream = make_stream(streamer=owner)

    async def join(user=None, *, on=None):
        client = await connect(on or server, user or make_user())
        ack = await client.call("join_stream_room", {"streamId": str(stream.pk)})
        assert ack["ok"], ack
        return client

    join.stream, join.owner, join.sid = stream, owner, str(stream.pk)
    return join


@pytest.fixture
def name_moderator(channel):
    async def name(user):
        await sync_to_async(services.moderator_add)(
            owner=channel.owner, user=user, by=channel.owner
        )
        return user

    return name


async def say(client, stream_id: str, text: str) -> dict:
    """Send a chat message; the ack."""
    return await client.call("chat_message", {"streamId": stream_id, "message": text})
