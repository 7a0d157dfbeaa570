"""Moderation state of streams: the database is the authority, Redis the hot-path copy."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

# Names of moderation actions in the audit trail (audit.ModerationRecord.action).
TIMEOUT_USER = "timeout user"
BAN_USER = "ban user"
UNBAN_USER = "unban user"
SET_SLOW_MODE = "set slow mode"
ADD_MODERATOR = "add moderator"
REMOVE_MODERATOR = "remove moderator"
ADD_BLOCKED_TERM = "add blocked term"
REMOVE_BLOCKED_TERM = "remove blocked term"


class ChannelModerator(models.Model):
    """``user`` moderates every stream of ``owner`` (a channel), now and later."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="moderates"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "user"], name="channel_moderator_once")
        ]

    def __str__(self) -> str:
        return f"{self.user} moderates {self.owner}'s streams"


class ChatBan(models.Model):
    """``user`` may not chat in ``stream``: until ``expires_at`` (a timeout) or until lifted."""

    stream = models.ForeignKey("streams.Stream", on_delete=models.CASCADE, related_name="bans")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    expires_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["stream", "user"], name="chat_ban_once")]

    def __str__(self) -> str:
        kind = "banned" if self.expires_at is None else f"timed out until {self.expires_at:%c}"
        return f"{self.user} {kind} in {self.stream}"

    @property
    def is_timeout(self) -> bool:
        return self.expires_at is not None


class SlowMode(models.Model):
    """At most one message per ``seconds`` per user in ``stream`` (owner and moderators exempt)."""

    stream = models.OneToOneField(
        "streams.Stream", on_delete=models.CASCADE, primary_key=True, related_name="slow_mode"
    )
    seconds = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.stream}: one message per {self.seconds} s"


class BlockedTerm(models.Model):
    """A term refused in chat: in one stream, or everywhere when ``stream`` is empty."""

    stream = models.ForeignKey(
        "streams.Stream", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    term = models.CharField(max_length=100)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["term"]

    def __str__(self) -> str:
        return f"{self.term!r} ({'site-wide' if self.stream_id is None else self.stream})"
