"""A sender's socket reads on while its message is being stored; the ack follows the write."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="holds SQLite's write lock")
async def test_the_next_event_is_answered_while_a_message_waits_for_the_database(
    server, connect, make_user, make_stream
):
    stream = make_stream()
    sid = str(stream.pk)
    client = await connect(server, make_user())
    assert (await client.call("join_stream_room", {"streamId": sid}))["ok"]

    blocker = sqlite3.connect(connection.settings_dict["NAME"], timeout=5, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # the server's write now waits (busy timeout 20 s)
    try:
        first = asyncio.get_running_loop().create_future()
        # Sent (written to the WebSocket) before the next event, unlike a call in a task.
        await client.sio.emit(
            "chat_message",
            {"streamId": sid, "message": "stored later"},
            callback=lambda *args: first.set_result(args[0] if args else None),
        )
        # Answered at once although the message before it is not stored yet.
        second = await client.call("chat_message", {"streamId": sid, "message": " "}, timeout=5)
        assert second == {"ok": False, "message": "Message cannot be empty"}
        assert not first.done()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    ack = await asyncio.wait_for(first, 30)
    assert ack["ok"] and ack["message"] == "stored later"
