"""Reading chat messages."""

from __future__ import annotations

from django.db.models import QuerySet

from chat.models import ChatMessage
from streams.models import Stream


def chat_message_list(*, stream: Stream) -> QuerySet[ChatMessage]:
    """The messages of ``stream`` that moderators have not removed, newest first."""
    return (
        ChatMessage.objects.visible()
        .filter(stream=stream)
        .select_related("user")
        .order_by("-created_at", "-id")
    )
