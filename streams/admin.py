from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from audit.services import moderation_record_for_request
from streams.models import END_STREAM, REGENERATE_KEY, Stream
from streams.permissions import can_moderate
from streams.selectors import stream_viewer_counts

MODERATOR_END_REASON = "Ended by a moderator"


@admin.register(Stream)
class StreamAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "streamer",
        "status",
        "encoder",
        "viewers_now",
        "started_at",
        "ended_at",
    ]
    list_filter = ["status"]
    list_select_related = ["streamer"]
    search_fields = ["title", "streamer__username"]
    raw_id_fields = ["streamer"]
    ordering = ["-created_at"]
    date_hierarchy = "created_at"
    fields = [
        "title",
        "streamer",
        "status",
        "encoder",
        "viewers_now",
        "stream_key",
        "created_at",
        "started_at",
        "ended_at",
        "end_reason",
    ]
    readonly_fields = [
        "status",
        "encoder",
        "viewers_now",
        "stream_key",
        "created_at",
        "started_at",
        "ended_at",
        "end_reason",
    ]
    actions = ["end_streams", "regenerate_keys"]

    def get_changelist_instance(self, request: HttpRequest):
        changelist = super().get_changelist_instance(request)
        # One Redis round trip for the page; the rows are the cached objects.
        page = list(changelist.result_list)
        counts = stream_viewer_counts(streams=page)
        for stream in page:
            stream._viewers_now = counts[str(stream.pk)]
        return changelist

    @admin.display(description="Viewers now")
    def viewers_now(self, stream: Stream) -> int | str:
        if stream.pk is None:
            return "-"
        if not hasattr(stream, "_viewers_now"):
            return stream_viewer_counts(streams=[stream])[str(stream.pk)]
        return stream._viewers_now

    @admin.display(description="Encoder")
    def encoder(self, stream: Stream) -> str:
        """Whether a media server publishes the stream, and since when (streams.ingest)."""
        if stream.is_live and stream.encoder_id and stream.encoder_connected_at:
            return f"connected since {stream.encoder_connected_at:%Y-%m-%d %H:%M:%S} UTC"
        if stream.is_live and stream.encoder_left_at:
            return f"reconnecting since {stream.encoder_left_at:%Y-%m-%d %H:%M:%S} UTC"
        return "-"

    def has_moderate_permission(self, request: HttpRequest) -> bool:
        return can_moderate(request.user)

    def get_fields(self, request: HttpRequest, obj: Stream | None = None) -> list[str]:
        fields = super().get_fields(request, obj)
        if can_moderate(request.user):
            return fields
        return [field for field in fields if field != "stream_key"]

    @admin.action(description="End selected streams", permissions=["moderate"])
    def end_streams(self, request: HttpRequest, queryset: QuerySet[Stream]) -> None:
        ended = 0
        for stream in queryset:
            if stream.end(reason=MODERATOR_END_REASON):
                ended += 1
                moderation_record_for_request(
                    request, action=END_STREAM, target=stream, detail=MODERATOR_END_REASON
                )
        self.message_user(request, f"Ended {ended} stream(s).", messages.SUCCESS)

    @admin.action(description="Regenerate stream key", permissions=["moderate"])
    def regenerate_keys(self, request: HttpRequest, queryset: QuerySet[Stream]) -> None:
        for stream in queryset:
            stream.regenerate_key()
            moderation_record_for_request(request, action=REGENERATE_KEY, target=stream)
        self.message_user(
            request, f"Regenerated the key of {len(queryset)} stream(s).", messages.SUCCESS
        )
