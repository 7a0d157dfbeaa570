"""Announces a stream's end to its room on every process, then closes the room."""

from __future__ import annotations

import logging

from django.dispatch import receiver

from gateway.rooms import emit_to_room_sync
from streams import presence
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
