"""The encoder drives the stream: what the media server's publish hooks mean.

One service under the three media-server adapters (``streams/ingest_views.py``):
a publish with a stream's key starts it (or resumes it within the reconnect
grace), the end of a publish starts the grace, an update refreshes liveness,
and the sweep ends what the grace or the liveness timeout left behind. Going
live and ending are :meth:`Stream.start` and :meth:`Stream.end`, as for REST,
admin and commands. The state sits on the stream's row, so any worker handles
any hook and a restart loses nothing.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from gateway.rooms import emit_to_room_sync
from streams.models import Stream, StreamStateError

logger = logging.getLogger(__name__)

STOPPED_REASON = "The broadcaster stopped streaming"
SILENT_REASON = "The broadcaster's connection was lost"
STATUS_EVENT = "stream_status"
RECONNECTING = "reconnecting"
LIVE = "live"

_KEY_MAX = Stream._meta.get_field("stream_key").max_length
_ENCODER_MAX = Stream._meta.get_field("encoder_id").max_length


class IngestRefused(Exception):
    """A hook the backend says no to; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


UNKNOWN_KEY = IngestRefused(403, "unknown stream key")
ENDED = IngestRefused(403, "the stream has ended")
INACTIVE = IngestRefused(403, "the streamer's account is deactivated")
BUSY = IngestRefused(409, "the stream is being published from another connection")


@dataclass(frozen=True)
class Encoder:
    """Who is publishing: the media server's id of the connection (e.g. nginx-rtmp's
    ``clientid``), prefixed by the adapter so ids of different servers never meet."""

    id: str

    @classmethod
    def of(cls, server: str, connection: str) -> Encoder:
        return cls(f"{server}:{connection}"[:_ENCODER_MAX])


def _stream_by_key(key: str) -> Stream:
    if not key or len(key) > _KEY_MAX:
        raise UNKNOWN_KEY
    stream = Stream.objects.select_related("streamer").filter(stream_key=key).first()
    # The lookup found a row by the key; comparing again in constant time keeps
    # the final yes/no from leaking how much of a guess was right.
    if stream is None or not hmac.compare_digest(stream.stream_key, key):
        raise UNKNOWN_KEY
    return stream


def _stale(stream: Stream, now: datetime) -> bool:
    seen = stream.encoder_seen_at
    return seen is None or now - seen > timedelta(seconds=settings.INGEST_LIVENESS_TIMEOUT_SECONDS)


def ingest_publish(
    *, key: str, encoder: Encoder, stream_id: str | None = None, reports_liveness: bool = True
) -> Stream:
    """A media server asks whether ``key`` may publish; the stream goes live.

    ``reports_liveness``: the server calls :func:`ingest_update` periodically
    (nginx-rtmp); for the others the liveness timeout does not apply.

    Refused (:class:`IngestRefused`) for an unknown key, an ended stream, a
    deactivated streamer, or a stream another live connection publishes.
    ``stream_id``: the stream the publish names, when the key came apart from it.
    """
    stream = _stream_by_key(key)
    if stream_id is not None and stream_id != str(stream.pk):
        raise UNKNOWN_KEY
    if not stream.streamer.is_active:
        raise INACTIVE
    now = timezone.now()
    with transaction.atomic():
        locked = Stream.objects.select_for_update().get(pk=stream.pk)
        if locked.encoder_id and locked.encoder_id != encoder.id and not _stale(locked, now):
            raise BUSY
        resumed = locked.encoder_left_at is not None and locked.is_live
        try:
            locked.start()  # the one rule for going live: an ended stream never does
        except StreamStateError:
            raise ENDED from None
        locked.encoder_id = encoder.id
        locked.encoder_connected_at = now if not resumed else locked.encoder_connected_at or now
        locked.encoder_seen_at = now if reports_liveness else None
        locked.encoder_left_at = None
        locked.save(
            update_fields=[
                "encoder_id",
                "encoder_connected_at",
                "encoder_seen_at",
                "encoder_left_at",
            ]
        )
        if resumed:
            _announce_after_commit(locked, LIVE)
    logger.info("stream %s: encoder %s publishing", locked.pk, encoder.id)
    return locked


def _held_by(stream_id: str, encoder: Encoder):
    return Stream.objects.filter(pk=stream_id, encoder_id=encoder.id, status=Stream.Status.LIVE)


def ingest_publish_done(*, stream_id: str, encoder: Encoder) -> None:
    """The encoder stopped; the stream ends unless it publishes again within the grace."""
    with transaction.atomic():
        stream = _held_by(stream_id, encoder).select_for_update().first()
        if stream is None:
            return  # a refused publish, or a connection that lost the stream already
        stream.encoder_id = ""
        stream.encoder_left_at = timezone.now()
        stream.save(update_fields=["encoder_id", "encoder_left_at"])
        _announce_after_commit(stream, RECONNECTING)
    logger.info("stream %s: encoder %s stopped; grace begins", stream_id, encoder.id)
    if settings.INGEST_RECONNECT_GRACE_SECONDS == 0:
        ingest_sweep()


def ingest_update(*, stream_id: str, encoder: Encoder) -> bool:
    """The media server still has the publish; False when it no longer holds the stream."""
    return bool(_held_by(stream_id, encoder).update(encoder_seen_at=timezone.now()))


def ingest_sweep(*, now: datetime | None = None) -> int:
    """End the streams whose grace ran out or whose media server went silent; how many."""
    now = now or timezone.now()
    grace = now - timedelta(seconds=settings.INGEST_RECONNECT_GRACE_SECONDS)
    silent = now - timedelta(seconds=settings.INGEST_LIVENESS_TIMEOUT_SECONDS)
    stale = Stream.objects.filter(status=Stream.Status.LIVE).filter(
        Q(encoder_left_at__lte=grace) | Q(encoder_left_at=None, encoder_seen_at__lte=silent)
    )
    ended = 0
    for stream in stale:
        reason = STOPPED_REASON if stream.encoder_left_at else SILENT_REASON
        if stream.end(reason=reason):
            ended += 1
            logger.info("stream %s ended by the sweep: %s", stream.pk, reason)
    return ended


def _announce_after_commit(stream: Stream, status: str) -> None:
    stream_id = str(stream.pk)

    def announce() -> None:
        try:
            emit_to_room_sync(stream_id, STATUS_EVENT, {"streamId": stream_id, "status": status})
        except Exception:
            logger.exception("could not announce %s of stream %s", status, stream_id)

    transaction.on_commit(announce)
