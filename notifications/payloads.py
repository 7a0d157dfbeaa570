"""The wire shape of a notification, shared by the socket push and the REST API."""

from __future__ import annotations

from typing import TYPE_CHECKING

from livestream.timefmt import iso_z

if TYPE_CHECKING:
    from notifications.models import Notification


def notification_payload(notification: Notification) -> dict:
    """What the socket pushes when a notification is created."""
    return {
        "id": str(notification.pk),
        "kind": notification.kind,
        "data": notification.data,
        "createdAt": iso_z(notification.created_at),
    }


def notification_item(notification: Notification) -> dict:
    """A notification in the REST API: the pushed payload plus ``readAt``."""
    read_at = notification.read_at
    return {
        **notification_payload(notification),
        "readAt": None if read_at is None else iso_z(read_at),
    }
