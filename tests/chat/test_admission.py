"""Before storage a chat message costs one Redis round trip for all its checks."""

from __future__ import annotations

import threading

import pytest
import redis
from django.conf import settings

from livestream.redis_clients import key, shard_index

pytestmark = pytest.mark.django_db(transaction=True)


class RedisMonitor:
    """The commands clients send to the server's Redis (MONITOR), commands run by Lua left out."""

    END = "monitor-end-of-test"

    def __init__(self, shard: int = 0) -> None:
        self.commands: list[str] = []
        # The stream's shard: the admission script runs where the stream's keys live.
        self._client = redis.Redis.from_url(settings.REDIS_URLS[shard], socket_timeout=10)
        self._monitor = self._client.monitor()
        self._monitor.__enter__()  # MONITOR is on once this returns
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        try:
            while True:
                command = self._monitor.next_command()
                if self.END in command["command"]:
                    return
                if command["client_type"] != "lua":
                    self.commands.append(command["command"])
        except (redis.RedisError, OSError) as exc:
            self.commands.append(f"monitor failed: {exc!r}")

    def stop(self) -> list[str]:
        """Everything sent until now (an ECHO marks the end, MONITOR keeps the order)."""
        self._client.echo(self.END)
        self._thread.join(10)
        self._monitor.connection.disconnect()
        return self.commands


async def test_moderation_and_rate_limit_are_checked_in_one_script_call(
    server, connect, make_user, make_stream
):
    stream, user = make_stream(), make_user()
    client = await connect(server, user)
    assert (await client.call("join_stream_room", {"streamId": str(stream.pk)}))["ok"]
    # The first message fills moderation's state and terms caches; the second is the steady state.
    assert (await client.call("chat_message", {"streamId": str(stream.pk), "message": "one"}))["ok"]

    monitor = RedisMonitor(shard_index(key("mod", stream.pk)))
    try:
        ack = await client.call("chat_message", {"streamId": str(stream.pk), "message": "two"})
    finally:
        commands = monitor.stop()
    assert ack["ok"], ack

    slow_key = f"mod:{{{stream.pk}}}:slow:{user.pk}"
    rate_key = f"chat-rate:{{{stream.pk}}}:{user.pk}"
    admission = [c for c in commands if slow_key in c or rate_key in c]
    assert len(admission) == 1, commands
    assert slow_key in admission[0] and rate_key in admission[0]
