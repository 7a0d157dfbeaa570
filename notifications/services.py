"""Personal notifications: stored first, then pushed to the user's room."""

from __future__ import annotations

from django.db import transaction

from gateway.rooms import emit_to_room_sync
from livestream.timefmt import iso_z
from notifications.models import Notification


def notification_room(user_id: object) -> str:
    """The public name of a user's private room."""
    return f"notification:{user_id}"


def notification_payload(notification: Notification) -> dict:
    return {
        "id": str(notification.pk),
        "kind": notification.kind,
        "data": notification.data,
        "createdAt": iso_z(notification.created_at),
    }


def notify(user, kind: str, data: dict) -> Notification:
    """Store a notification for ``user`` and push it to their sockets, from any process."""
    notification = Notification.objects.create(recipient=user, kind=kind, data=data)
    transaction.on_commit(
        lambda: emit_to_room_sync(
            notification_room(user.pk), "notification", notification_payload(notification)
        )
    )
    return notification
