"""Creating notifications and pushing them to their recipient's sockets."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from gateway.rooms import emit_to_room_sync
from notifications.models import Notification
from notifications.payloads import notification_payload

NOTIFICATION_EVENT = "notification"


def notification_room(user_id: object) -> str:
    """The room every socket of user ``user_id`` is in."""
    return f"notification:{user_id}"


def notify(user: AbstractBaseUser, kind: str, data: dict) -> Notification:
    """Store a notification for ``user`` and, once committed, push it to their sockets.

    The push is best effort: the notification is stored either way, and the
    client finds it in ``GET /api/notifications/``.
    """
    notification = Notification.objects.create(recipient=user, kind=kind, data=data)
    room, payload = notification_room(user.pk), notification_payload(notification)
    transaction.on_commit(lambda: emit_to_room_sync(room, NOTIFICATION_EVENT, payload), robust=True)
    return notification


def notification_mark_read(*, notification: Notification) -> Notification:
    """Mark as read; a notification already read keeps its first ``read_at``."""
    Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
        read_at=timezone.now()
    )
    notification.refresh_from_db(fields=["read_at"])
    return notification
