"""Reading chat messages."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, QuerySet
from django.utils import timezone

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


def chat_messages_per_minute(*, stream_ids: list[str]) -> dict[str, int]:
    """Messages stored in the last minute, per stream (0 for quiet ones); one indexed query."""
    since = timezone.now() - timedelta(minutes=1)
    counts = dict.fromkeys(stream_ids, 0)
    rows = (
        ChatMessage.objects.filter(stream_id__in=stream_ids, created_at__gte=since)
        .values("stream_id")
        .annotate(count=Count("id"))
        .order_by()
    )
    for row in rows:
        counts[str(row["stream_id"])] = row["count"]
    return counts
