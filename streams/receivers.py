"""Announces a stream's end to its room on every process, then closes the room.

A live stream that is deleted (admin, a user's deletion, the shell) is ended
first, so its viewers are told and disconnected like for any other end.
"""

from __future__ import annotations

import logging

from django.db.models.signals import pre_delete
from django.dispatch import receiver

from gateway.rooms import emit_to_room_sync
from streams import presence
from streams.models import Stream
from streams.signals import stream_ended

logger = logging.getLogger(__name__)

DEFAULT_END_MESSAGE = "Stream has ended"


@receiver(stream_ended, dispatch_uid="streams.broadcast_stream_end")
def broadcast_stream_end(sender, stream, reason: str = "", **kwargs) -> None:
    stream_id = str(stream.pk)
    try:
        presence.mark_ended(stream_id)
        emit_to_room_sync(
            stream_id,
            "stream_ended_notification",
            {"roomId": stream_id, "message": reason or DEFAULT_END_MESSAGE},
            disconnect=True,
        )
    except Exception:
        # The stream has ended in the database either way; a Redis outage must
        # not turn that into an error for whoever ended it.
        logger.exception("could not announce the end of stream %s", stream_id)


DELETED_END_MESSAGE = "Stream was deleted"


@receiver(pre_delete, sender=Stream, dispatch_uid="streams.end_before_delete")
def end_before_delete(sender, instance: Stream, **kwargs) -> None:
    if instance.is_live:
        instance.end(reason=DELETED_END_MESSAGE)
