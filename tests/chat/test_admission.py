"""Before storage a chat message costs one Redis round trip for all its checks, shared with
the messages of the same loop turn."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest
import redis
from django.conf import settings

from chat import admission, limits
from livestream.redis_clients import LuaScript, get_async_redis, key, shard_index

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


def _evalsha_clients(client) -> set[str]:
    """Ids of the connections whose last command was a script call, in this test's db."""
    db = client.connection_pool.connection_kwargs.get("db", 0)
    return {c["id"] for c in client.client_list() if c["cmd"] == "evalsha" and c["db"] == str(db)}


async def test_messages_of_one_loop_turn_share_one_pipeline_with_their_own_results(
    make_user, make_stream
):
    stream = make_stream()
    users = [make_user() for _ in range(8)]
    drafts = [admission.Draft(str(u.pk), str(stream.pk), f"hello {n}") for n, u in enumerate(users)]
    # The first user's same text again, later in the same turn: refused as it would be alone.
    drafts.append(admission.Draft(str(users[0].pk), str(stream.pk), "hello 0"))
    sync = redis.Redis.from_url(settings.REDIS_URLS[shard_index(key("chat", stream.pk))])
    before = _evalsha_clients(sync)

    results = await asyncio.gather(
        *(admission.run([limits.CHECK], draft) for draft in drafts), return_exceptions=True
    )

    assert results[:8] == [None] * 8, results
    assert isinstance(results[8], limits.Refused) and results[8].reason == limits.DUPLICATE
    # One connection carried all nine script calls (alone, each would take its own).
    assert len(_evalsha_clients(sync) - before) == 1


async def test_a_script_unknown_to_redis_is_loaded_and_an_error_stays_with_its_call(make_stream):
    stream_key = key("chat", make_stream().pk)
    calls = admission._calls(get_async_redis(stream_key))
    # Sources Redis has never seen: the pipeline gets NOSCRIPT, loads them and runs them again.
    echo = LuaScript(f"return ARGV[1] -- {uuid.uuid4()}")
    broken = LuaScript(f"return redis.call('INCR', KEYS[1]) -- {uuid.uuid4()}")
    sync = redis.Redis.from_url(settings.REDIS_URLS[shard_index(stream_key)])
    sync.set(stream_key, "not a number")
    try:
        results = await asyncio.gather(
            calls.call(echo, [], ["one"]),
            calls.call(broken, [stream_key], []),
            calls.call(echo, [], ["two"]),
            return_exceptions=True,
        )
    finally:
        sync.delete(stream_key)
    assert results[0] == "one" and results[2] == "two", results
    assert isinstance(results[1], redis.ResponseError), results


async def test_a_caller_cancelled_while_its_call_is_out_leaves_no_call_waiting():
    calls = admission._Calls(get_async_redis())
    echo = LuaScript("return ARGV[1]")
    first = asyncio.ensure_future(calls.call(echo, [], ["one"]))
    await asyncio.sleep(0)  # sent at once: it is out now
    second = asyncio.ensure_future(calls.call(echo, [], ["two"]))
    await asyncio.sleep(0)  # queued behind it
    first.cancel()  # as when its socket closes
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(first, 5)
    assert await asyncio.wait_for(second, 5) == "two"
    assert await asyncio.wait_for(calls.call(echo, [], ["three"]), 5) == "three"
