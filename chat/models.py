from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ChatMessageQuerySet(models.QuerySet):
    def visible(self) -> ChatMessageQuerySet:
        return self.filter(removed_at__isnull=True)


class ChatMessage(models.Model):
    stream = models.ForeignKey("streams.Stream", on_delete=models.CASCADE, related_name="messages")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_messages"
    )
    text = models.CharField(max_length=settings.CHAT_MESSAGE_MAX_LENGTH)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    removed_at = models.DateTimeField(null=True, blank=True, editable=False)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    objects = ChatMessageQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["stream", "created_at"])]

    def __str__(self) -> str:
        return f"{self.user}: {self.text[:50]}"
