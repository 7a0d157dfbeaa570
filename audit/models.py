from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ModerationRecord(models.Model):
    """One moderation action: who did what to which object, when, and from where.

    The actor's name and the target's description are copied, so the record
    still reads right after the user or the object is deleted.
    """

    at = models.DateTimeField(default=timezone.now, db_index=True, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    actor_name = models.CharField(max_length=150)
    action = models.CharField(max_length=40, db_index=True)
    target_type = models.CharField(max_length=100)
    target_id = models.CharField(max_length=64, db_index=True)
    target_repr = models.CharField(max_length=200)
    detail = models.CharField(max_length=200, blank=True)
    # The stream the action concerned, if any: moderators read the records of their streams.
    stream_id = models.CharField(max_length=64, blank=True, db_index=True)
    # The client address (livestream.client_address), or "local" for a command.
    client_address = models.CharField(max_length=64)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.actor_name} {self.action} {self.target_repr}"
