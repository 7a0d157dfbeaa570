"""The database going away while people chat: clear errors, nothing shown unsaved, recovery.

On SQLite the test holds the database's write lock (the server waits 300 ms, then
gives up); on PostgreSQL the server reaches the database through a TCP relay the
test can cut.
"""

import asyncio
import sqlite3
from contextlib import asynccontextmanager

import pytest
from django.db import connection

from chat.models import ChatMessage
from tests.servers import CuttableRelay
from tests.support import database_url

pytestmark = pytest.mark.django_db(transaction=True)


@asynccontextmanager
async def database_outage_rig(start_server):
    """A server, and an async context manager that makes its database unavailable."""
    conf = connection.settings_dict
    if connection.vendor == "sqlite":
        server = start_server(SQLITE_BUSY_TIMEOUT_MS="300")

        @asynccontextmanager
        async def outage():
            blocker = sqlite3.connect(conf["NAME"], timeout=5, isolation_level=None)
            blocker.execute("BEGIN EXCLUSIVE")
            try:
                yield
            finally:
                blocker.execute("ROLLBACK")
                blocker.close()

        yield server, outage
        return
    relay = await CuttableRelay(int(conf["PORT"] or 5432), conf["HOST"] or "127.0.0.1").start()
    url = database_url().replace(
        f"@{conf['HOST']}:{conf['PORT'] or 5432}/", f"@127.0.0.1:{relay.port}/"
    )
    server = start_server(DATABASE_URL=url, DATABASE_CONN_MAX_AGE="60")

    @asynccontextmanager
    async def outage():
        relay.cut()
        try:
            yield
        finally:
            relay.restore()

    try:
        yield server, outage
    finally:
        await relay.stop()


async def test_chat_fails_cleanly_while_the_database_is_down_and_recovers(
    start_server, connect, make_user, make_stream
):
    if connection.vendor not in ("sqlite", "postgresql"):
        pytest.skip(f"no outage rig for {connection.vendor}")
    async with database_outage_rig(start_server) as (server, outage):
        stream = make_stream()
        stream_id = str(stream.pk)
        sender, watcher = await connect(server, make_user()), await connect(server, make_user())
        for client in (sender, watcher):
            assert (await client.call("join_stream_room", {"streamId": stream_id}))["ok"]
        mark = watcher.mark()
        ack = await sender.call("chat_message", {"streamId": stream_id, "message": "before"})
        assert ack["ok"], ack
        await watcher.wait_for("new_message", lambda m: m["message"] == "before", after=mark)

        async with outage():
            ack = await sender.call(
                "chat_message", {"streamId": stream_id, "message": "lost?"}, timeout=15
            )
            assert ack == {"ok": False, "message": "Message could not be saved"}
            assert {"message": "Message could not be saved"} in sender.received("message_error")
            assert sender.sio.connected and server.process.poll() is None

        # Back: the same sockets chat again; the refused message was never shown.
        async def chat_again():
            while True:
                ack = await sender.call(
                    "chat_message", {"streamId": stream_id, "message": "after"}, timeout=15
                )
                if ack["ok"]:
                    return
                await asyncio.sleep(0.3)

        mark = watcher.mark()
        await asyncio.wait_for(chat_again(), 20)
        await watcher.wait_for("new_message", lambda m: m["message"] == "after", after=mark)
        shown = [m["message"] for m in watcher.received("new_message")]
        assert "lost?" not in shown
        stored = [m.text async for m in ChatMessage.objects.filter(stream=stream).order_by("id")]
        assert "lost?" not in stored and stored[0] == "before" and stored[-1] == "after"
