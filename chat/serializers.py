from __future__ import annotations

from rest_framework import serializers

from chat.payloads import message_payload


class ChatMessageSerializer(serializers.BaseSerializer):
    """A chat message in its wire shape (:func:`chat.payloads.message_payload`)."""

    def to_representation(self, message) -> dict:
        return message_payload(message)
