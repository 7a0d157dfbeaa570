"""The admin for moderation: every save and delete goes through :mod:`moderation.services`,
so it is checked, audited and live on every worker like the socket and REST paths."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest

from audit.admin import ModerationRecordAdmin
from audit.models import ModerationRecord
from livestream.client_address import request_client_address
from moderation import services
from moderation.models import BlockedTerm, ChannelModerator, ChatBan, SlowMode
from moderation.selectors import moderated_stream_ids
from streams.permissions import can_moderate


class ServiceAdmin(admin.ModelAdmin):
    """Saves and deletes call a service; a refused action is an error, never a silent write."""

    def call(self, request: HttpRequest, action, **kwargs):
        try:
            return action(by=request.user, client_address=request_client_address(request), **kwargs)
        except services.ModerationError as exc:
            raise PermissionDenied(exc.message) from None

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for obj in queryset:
            self.delete_model(request, obj)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # add a new one, or delete: each is one audited action


class KindFilter(admin.SimpleListFilter):
    title = "kind"
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [("ban", "Ban"), ("timeout", "Timeout")]

    def queryset(self, request, queryset):
        if self.value() in ("ban", "timeout"):
            return queryset.filter(expires_at__isnull=self.value() == "ban")
        return queryset


class ChatBanForm(forms.ModelForm):
    seconds = forms.IntegerField(
        min_value=1,
        max_value=services.MAX_TIMEOUT_SECONDS,
        required=False,
        help_text="A timeout of this many seconds; empty bans until lifted.",
    )

    class Meta:
        model = ChatBan
        fields = ["stream", "user", "seconds", "reason"]


@admin.register(ChatBan)
class ChatBanAdmin(ServiceAdmin):
    form = ChatBanForm
    list_display = ["user", "stream", "expires_at", "reason", "created_by", "created_at"]
    list_filter = [KindFilter]
    search_fields = ["user__username", "stream__title", "reason"]
    raw_id_fields = ["stream", "user"]

    def save_model(self, request, obj: ChatBan, form, change) -> None:
        saved = self.call(
            request, services.user_restrict, stream=obj.stream, user=obj.user,
            seconds=form.cleaned_data.get("seconds"), reason=obj.reason,
        )  # fmt: skip
        obj.pk = saved.pk

    def delete_model(self, request, obj: ChatBan) -> None:
        self.call(request, services.user_unban, stream=obj.stream, user=obj.user)


@admin.register(BlockedTerm)
class BlockedTermAdmin(ServiceAdmin):
    """Blocked terms; an empty stream makes a site-wide term (site moderators only)."""

    fields = ["term", "stream"]
    list_display = ["term", "stream", "created_by", "created_at"]
    list_filter = [("stream", admin.EmptyFieldListFilter)]
    search_fields = ["term", "stream__title"]
    raw_id_fields = ["stream"]

    def save_model(self, request, obj: BlockedTerm, form, change) -> None:
        saved = self.call(request, services.blocked_term_add, term=obj.term, stream=obj.stream)
        obj.pk = saved.pk

    def delete_model(self, request, obj: BlockedTerm) -> None:
        self.call(request, services.blocked_term_remove, blocked=obj)


@admin.register(ChannelModerator)
class ChannelModeratorAdmin(ServiceAdmin):
    list_display = ["user", "owner", "created_at"]
    search_fields = ["user__username", "owner__username"]
    raw_id_fields = ["owner", "user"]
    fields = ["owner", "user"]

    def save_model(self, request, obj: ChannelModerator, form, change) -> None:
        saved = self.call(request, services.moderator_add, owner=obj.owner, user=obj.user)
        obj.pk = saved.pk

    def delete_model(self, request, obj: ChannelModerator) -> None:
        self.call(request, services.moderator_remove, owner=obj.owner, user=obj.user)


@admin.register(SlowMode)
class SlowModeAdmin(ServiceAdmin):
    list_display = ["stream", "seconds"]
    search_fields = ["stream__title"]
    raw_id_fields = ["stream"]

    def save_model(self, request, obj: SlowMode, form, change) -> None:
        self.call(request, services.slow_mode_set, stream=obj.stream, seconds=obj.seconds)

    def delete_model(self, request, obj: SlowMode) -> None:
        self.call(request, services.slow_mode_set, stream=obj.stream, seconds=0)


admin.site.unregister(ModerationRecord)


@admin.register(ModerationRecord)
class StreamScopedModerationRecordAdmin(ModerationRecordAdmin):
    """The audit trail: site moderators read all of it, others the records of their streams."""

    list_filter = ["action", ("stream_id", admin.EmptyFieldListFilter)]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        records = super().get_queryset(request)
        if can_moderate(request.user):
            return records
        return records.filter(stream_id__in=moderated_stream_ids(request.user))
