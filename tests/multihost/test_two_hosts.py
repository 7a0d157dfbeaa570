"""The service on two hosts behind nginx (least_conn, no sticky sessions).

Each host runs ``python -m livestream.serve`` with 2 workers in its own
network namespace; PostgreSQL and two Redis shards run on a third. Clients
reach nothing but nginx, which spreads their WebSockets and even the
requests of one long-polling session over both hosts.
"""

from __future__ import annotations

import asyncio
import itertools
import re

from tests.sio import SERVER_DISCONNECT, Client

_names = itertools.count(1)


def _name(prefix: str) -> str:
    return f"{prefix}{next(_names)}"


async def _users(cluster, count: int, prefix: str = "viewer") -> list[dict]:
    return [await asyncio.to_thread(cluster.user, _name(prefix)) for _ in range(count)]


async def _viewers(cluster, users, transports) -> list[Client]:
    """Connected clients; a WebSocket client's ``host`` is the host that accepted it."""
    clients = []
    for user, transport in zip(users, transports, strict=True):
        client = Client(cluster.url, transports=[transport])
        before = cluster.websocket_handshakes()
        await client.connect(user["token"])
        after = cluster.websocket_handshakes()
        client.host = next((h for h in after if after[h] > before[h]), None)
        clients.append(client)
    return clients


def _hosts(clients) -> set[str]:
    return {client.host for client in clients if client.host}


async def _join_all(clients, stream_id: str) -> None:
    for client in clients:
        ack = await client.call("join_stream_room", {"streamId": stream_id})
        assert ack["ok"] is True, ack


async def _count_everywhere(cluster, clients, stream_id: str, expected: int) -> None:
    def is_expected(data):
        return data == {"streamId": stream_id, "count": expected}

    for client in clients:
        if not any(is_expected(data) for data in client.received("viewer_count_updated")):
            await client.wait_for("viewer_count_updated", is_expected, after=0, timeout=10)
    assert await asyncio.to_thread(cluster.viewer_count, stream_id) == expected


def _id_is(message_id: str):
    return lambda message: message["id"] == message_id


async def _close(clients) -> None:
    for client in clients:
        await client.close()


async def test_seed_flow_over_both_hosts_with_exact_counts(cluster):
    streamer, *users = await _users(cluster, 7)
    stream_id = await asyncio.to_thread(cluster.live_stream, streamer, "two hosts")
    clients = await _viewers(cluster, users, ["websocket"] * 4 + ["polling"] * 2)
    try:
        # least_conn put the WebSockets on both hosts.
        assert _hosts(clients) == {"h1", "h2"}
        await _join_all(clients, stream_id)
        await _count_everywhere(cluster, clients, stream_id, 6)

        # Chat from a WebSocket and from a polling client reaches every viewer.
        mark = [client.mark() for client in clients]
        acks = [
            await clients[0].call("chat_message", {"streamId": stream_id, "message": "from ws"}),
            await clients[4].call("chat_message", {"streamId": stream_id, "message": "by poll"}),
        ]
        assert all(ack["ok"] for ack in acks), acks
        for client, after in zip(clients, mark, strict=True):
            for ack in acks:
                await client.wait_for(
                    "new_message", lambda m, a=ack: m["id"] == a["id"], after=after
                )

        # The requests of one polling session landed on both hosts.
        polling_sid = clients[4].sio.eio.sid
        assert cluster.hosts_that_served(rf"sid={re.escape(polling_sid)}") == {"h1", "h2"}

        # A viewer leaving on one host is counted on the other.
        mark = clients[1].mark()
        await clients[0].close()
        await clients[1].wait_for(
            "viewer_count_updated", lambda d: d["count"] == 5, after=mark, timeout=10
        )
        assert await asyncio.to_thread(cluster.viewer_count, stream_id) == 5
    finally:
        await _close(clients)


async def test_a_command_on_one_host_ends_the_stream_for_viewers_on_both(cluster):
    streamer, *users = await _users(cluster, 9)
    stream_id = await asyncio.to_thread(cluster.live_stream, streamer, "ending")
    clients = await _viewers(cluster, users, ["websocket"] * 6 + ["polling"] * 2)
    try:
        assert _hosts(clients) == {"h1", "h2"}
        await _join_all(clients, stream_id)
        await _count_everywhere(cluster, clients, stream_id, 8)

        done = await asyncio.to_thread(
            cluster.manage_py, "h1", "end_stream", stream_id, "--reason", "Good night"
        )
        assert done.returncode == 0, done.stderr
        for client in clients:
            ended = await client.wait_for("stream_ended_notification", after=0, timeout=10)
            assert ended == {"roomId": stream_id, "message": "Good night"}
            assert await client.wait_disconnected(timeout=10) == SERVER_DISCONNECT
    finally:
        await _close(clients)


async def test_a_notification_sent_on_one_host_reaches_sockets_on_the_other(cluster):
    users = await _users(cluster, 4, prefix="notified")
    clients = await _viewers(cluster, users, ["websocket"] * 3 + ["polling"])
    try:
        for client in clients:
            ack = await client.call("join_notification_room")
            assert ack["ok"] is True, ack
        hosts = ["h2", "h1", "h2", "h1"]
        for host, user, client in zip(hosts, users, clients, strict=True):
            mark = client.mark()
            done = await asyncio.to_thread(
                cluster.manage_py,
                host,
                "send_notification",
                "--username",
                user["username"],
                "--kind",
                "system",
                "--message",
                f"hello from {host}",
            )
            assert done.returncode == 0, done.stderr
            got = await client.wait_for("notification", after=mark, timeout=10)
            assert got["data"] == {"message": f"hello from {host}"}
    finally:
        await _close(clients)
