"""Two workers behind deploy/'s nginx recipe act as one service."""

import asyncio
import re
import shutil

import pytest
from asgiref.sync import sync_to_async

from notifications.services import notify
from tests.servers import ProxiedCluster
from tests.sio import SERVER_DISCONNECT

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed"),
]


@pytest.fixture
def cluster(transactional_db, server_logs):
    cluster = ProxiedCluster(server_logs, workers=2).start()
    yield cluster
    cluster.stop()


def connections_per_worker(cluster) -> list[int]:
    return [len(re.findall(r'"WSCONNECTING /socket.io/"', w.log())) for w in cluster.workers]


async def test_rooms_counts_chat_notifications_and_the_end_span_the_workers(
    cluster, connect, make_user, make_stream
):
    stream = make_stream()
    stream_id = str(stream.pk)
    users = [make_user() for _ in range(4)]
    clients = [await connect(cluster, user) for user in users]
    # least_conn spreads the sockets over both workers.
    assert all(n >= 1 for n in connections_per_worker(cluster)), connections_per_worker(cluster)

    for client in clients:
        await client.call("join_stream_room", {"streamId": stream_id})
    for client in clients:
        await client.wait_for("viewer_count_updated", lambda d: d["count"] == 4, after=0)

    marks = [client.mark() for client in clients]
    await clients[0].call("chat_message", {"streamId": stream_id, "message": "across workers"})
    for client, mark in zip(clients, marks, strict=True):
        assert (await client.wait_for("new_message", after=mark))["message"] == "across workers"

    for client in clients:
        await client.call("join_notification_room")
    mark = clients[3].mark()
    await sync_to_async(notify)(users[3], "ping", {"n": 1})
    assert (await clients[3].wait_for("notification", after=mark))["kind"] == "ping"

    marks = [client.mark() for client in clients]
    await sync_to_async(stream.end)()
    for client, mark in zip(clients, marks, strict=True):
        await client.wait_for("stream_ended_notification", after=mark)
        assert await client.wait_disconnected() == SERVER_DISCONNECT
    await asyncio.sleep(0)
