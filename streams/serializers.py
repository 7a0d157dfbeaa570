from __future__ import annotations

from rest_framework import serializers

from livestream.api import IsoZDateTimeField
from streams.models import Stream
from streams.permissions import may_see_stream_key
from streams.selectors import stream_playback_url, stream_viewer_counts


class StreamSerializer(serializers.ModelSerializer):
    """A stream as the API shows it; ``stream_key`` only to its streamer and moderators.

    A list view puts ``viewer_counts`` (from :func:`stream_viewer_counts`) in
    the context so that a page costs one Redis round trip, not one per stream.
    """

    id = serializers.CharField(read_only=True)
    streamer = serializers.SerializerMethodField()
    viewer_count = serializers.SerializerMethodField()
    playback_url = serializers.SerializerMethodField()
    created_at = IsoZDateTimeField()
    started_at = IsoZDateTimeField()
    ended_at = IsoZDateTimeField()

    class Meta:
        model = Stream
        fields = [
            "id",
            "title",
            "status",
            "streamer",
            "viewer_count",
            "playback_url",
            "created_at",
            "started_at",
            "ended_at",
        ]
        read_only_fields = fields

    def get_streamer(self, stream: Stream) -> dict:
        return {"id": str(stream.streamer_id), "username": stream.streamer.get_username()}

    def get_viewer_count(self, stream: Stream) -> int:
        counts = self.context.get("viewer_counts")
        if counts is None:
            counts = stream_viewer_counts(streams=[stream])
        return counts.get(str(stream.pk), 0)

    def get_playback_url(self, stream: Stream) -> str | None:
        return stream_playback_url(stream=stream)

    def to_representation(self, stream: Stream) -> dict:
        data = super().to_representation(stream)
        request = self.context.get("request")
        if may_see_stream_key(getattr(request, "user", None), stream):
            data["stream_key"] = stream.stream_key
        return data


class StreamCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=Stream._meta.get_field("title").max_length)


class StreamEndSerializer(serializers.Serializer):
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=Stream._meta.get_field("end_reason").max_length,
    )


class StreamListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Stream.Status.choices, required=False)
