from __future__ import annotations

from django.db.models import Q

from moderation.models import ChannelModerator
from streams.models import Stream


def moderated_stream_ids(user) -> list[str]:
    """Ids of the streams ``user`` owns or moderates as a channel moderator."""
    owners = ChannelModerator.objects.filter(user=user).values("owner_id")
    streams = Stream.objects.filter(Q(streamer=user) | Q(streamer__in=owners))
    return [str(pk) for pk in streams.values_list("pk", flat=True)]
