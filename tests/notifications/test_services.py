"""``notify``: stored, then pushed to the recipient's room once committed."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.db import transaction

from livestream.timefmt import iso_z
from notifications.models import Notification
from notifications.services import notification_room, notify
from tests.support import room_listener


def test_room_name_is_the_wire_contract():
    assert notification_room(12) == "notification:12"
    assert notification_room("12") == "notification:12"


@pytest.mark.django_db(transaction=True)
class TestNotify:
    def test_stores_and_pushes_to_the_recipients_room(self, user, make_user):
        other = make_user()

        async def scenario():
            async with (
                room_listener(notification_room(user.pk)) as receive,
                room_listener(notification_room(other.pk), timeout=0.5) as receive_other,
            ):
                # sync_to_async inside async_to_sync: the ORM stays on this test's thread.
                notification = await sync_to_async(notify)(
                    user, "follow", {"message": "Bob follows you"}
                )
                event = await receive()
                with pytest.raises(TimeoutError):
                    await receive_other()
                return notification, event

        notification, event = async_to_sync(scenario)()
        assert event == (
            "notification",
            {
                "id": str(notification.pk),
                "kind": "follow",
                "data": {"message": "Bob follows you"},
                "createdAt": iso_z(notification.created_at),
            },
        )
        stored = Notification.objects.get(pk=notification.pk)
        assert (stored.recipient_id, stored.kind, stored.read_at) == (user.pk, "follow", None)

    def test_pushed_only_after_commit(self, user, monkeypatch):
        pushed = []
        monkeypatch.setattr(
            "notifications.services.emit_to_room_sync",
            lambda room, event, data: pushed.append((room, event, data["kind"])),
        )
        with transaction.atomic():
            notify(user, "hello", {})
            assert pushed == []
        assert pushed == [(f"notification:{user.pk}", "notification", "hello")]

    def test_not_pushed_when_rolled_back(self, user, monkeypatch):
        pushed = []
        monkeypatch.setattr(
            "notifications.services.emit_to_room_sync", lambda *args: pushed.append(args)
        )
        with pytest.raises(RuntimeError), transaction.atomic():
            notify(user, "hello", {})
            raise RuntimeError("abort")
        assert pushed == []
        assert not Notification.objects.exists()

    def test_stored_even_when_the_push_fails(self, user, monkeypatch):
        def down(*args):
            raise ConnectionError("redis is down")

        monkeypatch.setattr("notifications.services.emit_to_room_sync", down)
        notification = notify(user, "hello", {"message": "still here"})
        assert Notification.objects.get().pk == notification.pk
