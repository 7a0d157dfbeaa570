"""Reading streams: the public listing and the live viewer counts."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.db.models import QuerySet
from redis import RedisError

from streams.models import Stream

logger = logging.getLogger(__name__)


def stream_list(*, status: str | None = None) -> QuerySet[Stream]:
    """Streams newest first, optionally only those with ``status``."""
    streams = Stream.objects.select_related("streamer").order_by("-created_at", "-pk")
    if status:
        streams = streams.filter(status=status)
    return streams


def stream_playback_url(*, stream: Stream) -> str | None:
    """Where viewers play the stream (``PLAYBACK_URL_TEMPLATE``); None unless it is live."""
    template = settings.PLAYBACK_URL_TEMPLATE
    if not stream.is_live or not template:
        return None
    return template.replace("{stream_id}", str(stream.pk))


def stream_viewer_counts(*, streams: Iterable[Stream]) -> dict[str, int]:
    """Viewers now of each stream, keyed by stream id; one Redis round trip.

    Only live streams are looked up, the others have 0. The counts are
    advisory: when Redis cannot be reached they are 0, so that listings and the
    admin keep working.
    """
    streams = list(streams)
    counts = {str(stream.pk): 0 for stream in streams}
    live = [str(stream.pk) for stream in streams if stream.is_live]
    if not live:
        return counts
    try:
        from streams.presence import viewer_counts
    except ImportError:  # presence is written alongside the gateway
        return counts
    try:
        counts.update(viewer_counts(live))
    except RedisError:
        logger.warning("viewer counts unavailable: Redis did not answer", exc_info=True)
    return counts


def live_stream_viewers() -> list[tuple[Stream, int]]:
    """Every live stream with its viewers now, most watched first (metrics, admin overview)."""
    live = list(stream_list(status=Stream.Status.LIVE))
    counts = stream_viewer_counts(streams=live)
    return sorted(((stream, counts[str(stream.pk)]) for stream in live), key=lambda row: -row[1])
