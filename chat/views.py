from __future__ import annotations

from rest_framework import generics

from chat.selectors import chat_message_list
from chat.serializers import ChatMessageSerializer
from livestream.api import CheckedCursorPagination
from streams.models import Stream


class NewestFirstCursor(CheckedCursorPagination):
    ordering = ("-created_at", "-id")


class StreamMessageList(generics.ListAPIView):
    """A stream's chat history, newest first, one cursor page at a time."""

    serializer_class = ChatMessageSerializer
    pagination_class = NewestFirstCursor

    def get_queryset(self):
        stream = generics.get_object_or_404(Stream.objects.only("pk"), pk=self.kwargs["stream_id"])
        return chat_message_list(stream=stream)
