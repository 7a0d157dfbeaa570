from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from streams.signals import stream_ended


def new_stream_key() -> str:
    return secrets.token_urlsafe(32)


# Names of moderation actions in the audit trail (audit.ModerationRecord.action).
END_STREAM = "end stream"
REGENERATE_KEY = "regenerate stream key"


class StreamStateError(Exception):
    """A transition the stream's state machine does not allow."""


class Stream(models.Model):
    class Status(models.TextChoices):
        IDLE = "idle", "Idle"
        LIVE = "live", "Live"
        ENDED = "ended", "Ended"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    streamer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="streams"
    )
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=5, choices=Status.choices, default=Status.IDLE)
    stream_key = models.CharField(
        max_length=64, unique=True, default=new_stream_key, editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True, editable=False)
    ended_at = models.DateTimeField(null=True, blank=True, editable=False)
    end_reason = models.CharField(max_length=200, blank=True, editable=False)
    # The media server's publishing connection (streams.ingest): which one holds
    # the stream, since when, when it last reported, and when it dropped (the
    # reconnect grace runs from then). Kept in the database so that any worker
    # handles the next hook and a restart forgets nothing.
    encoder_id = models.CharField(max_length=100, blank=True, editable=False)
    encoder_connected_at = models.DateTimeField(null=True, blank=True, editable=False)
    encoder_seen_at = models.DateTimeField(null=True, blank=True, editable=False)
    encoder_left_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        # The one permission of moderators: REST, socket and admin (streams.permissions).
        permissions = [("moderate_stream", "Can end any stream and see its stream key")]
        indexes = [models.Index(fields=["status", "-created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["idle", "live", "ended"]),
                name="stream_status_valid",
            )
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_live(self) -> bool:
        return self.status == self.Status.LIVE

    def start(self) -> bool:
        """Go live. Returns False when the stream was already live (no-op)."""
        with transaction.atomic():
            locked = Stream.objects.select_for_update().get(pk=self.pk)
            if locked.status == self.Status.ENDED:
                raise StreamStateError("An ended stream cannot be started again.")
            changed = locked.status == self.Status.IDLE
            if changed:
                locked.status = self.Status.LIVE
                locked.started_at = timezone.now()
                locked.save(update_fields=["status", "started_at"])
        self._copy_state(locked)
        return changed

    def end(self, reason: str = "") -> bool:
        """End the stream; the only way a stream ends.

        Returns False when it had already ended. ``stream_ended`` is sent after
        the transaction commits, exactly once per stream.
        """
        with transaction.atomic():
            locked = Stream.objects.select_for_update().get(pk=self.pk)
            if locked.status == self.Status.ENDED:
                self._copy_state(locked)
                return False
            locked.status = self.Status.ENDED
            locked.ended_at = timezone.now()
            locked.end_reason = reason[:200]
            locked.save(update_fields=["status", "ended_at", "end_reason"])
            transaction.on_commit(
                lambda: stream_ended.send(sender=Stream, stream=locked, reason=locked.end_reason)
            )
        self._copy_state(locked)
        return True

    def regenerate_key(self) -> str:
        self.stream_key = new_stream_key()
        Stream.objects.filter(pk=self.pk).update(stream_key=self.stream_key)
        return self.stream_key

    def _copy_state(self, other: Stream) -> None:
        for field in ("status", "started_at", "ended_at", "end_reason"):
            setattr(self, field, getattr(other, field))
