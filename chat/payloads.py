"""The wire shape of a chat message, shared by the socket and the REST API."""

from __future__ import annotations

from typing import TYPE_CHECKING

from livestream.timefmt import iso_z

if TYPE_CHECKING:
    from chat.models import ChatMessage


def message_payload(message: ChatMessage, *, username: str | None = None) -> dict:
    return {
        "id": str(message.pk),
        "userId": str(message.user_id),
        "username": username if username is not None else message.user.get_username(),
        "message": message.text,
        "timestamp": iso_z(message.created_at),
        "streamId": str(message.stream_id),
    }
