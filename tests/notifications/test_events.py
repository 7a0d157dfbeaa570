"""Personal notifications over the socket."""

import asyncio

import pytest
from asgiref.sync import sync_to_async

from notifications.services import notify
from tests.support import run_manage_py

pytestmark = pytest.mark.django_db(transaction=True)


async def test_join_notification_room_replies_with_the_room_name(server, connect, user):
    client = await connect(server, user)
    ack = await client.call("join_notification_room")
    assert ack == {"ok": True, "room": f"notification:{user.pk}"}
    assert client.received("notification_room_joined") == [{"room": f"notification:{user.pk}"}]


async def test_notify_reaches_every_socket_of_that_user_only(server, connect, make_user):
    alice, bob = make_user(), make_user()
    phones = [await connect(server, alice) for _ in range(2)]
    other = await connect(server, bob)
    for client in (*phones, other):
        await client.call("join_notification_room")
    marks = [phone.mark() for phone in phones]
    notification = await sync_to_async(notify)(alice, "follow", {"by": "carol"})
    for phone, mark in zip(phones, marks, strict=True):
        pushed = await phone.wait_for("notification", after=mark)
        assert pushed["id"] == str(notification.pk)
        assert pushed["kind"] == "follow"
        assert pushed["data"] == {"by": "carol"}
        assert pushed["createdAt"].endswith("Z")
    assert other.received("notification") == []


async def test_send_notification_command_reaches_a_running_server(server, connect, user):
    client = await connect(server, user)
    await client.call("join_notification_room")
    mark = client.mark()
    result = await asyncio.to_thread(
        run_manage_py,
        *("send_notification", "--username", user.username),
        *("--kind", "announcement", "--message", "We are live!"),
    )
    assert result.returncode == 0, result.stderr
    pushed = await client.wait_for("notification", after=mark)
    assert pushed["kind"] == "announcement"
    assert pushed["data"] == {"message": "We are live!"}
