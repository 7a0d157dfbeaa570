from __future__ import annotations

from rest_framework import serializers

from notifications.payloads import notification_item


class NotificationSerializer(serializers.BaseSerializer):
    """A notification in its API shape (:func:`notifications.payloads.notification_item`)."""

    def to_representation(self, notification) -> dict:
        return notification_item(notification)
