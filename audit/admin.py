from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from audit.models import ModerationRecord


@admin.register(ModerationRecord)
class ModerationRecordAdmin(admin.ModelAdmin):
    """The audit trail, read-only: nobody edits or deletes history from the admin."""

    list_display = [
        "at", "actor_name", "action", "target_repr", "stream_id", "client_address", "detail",
    ]  # fmt: skip
    list_filter = ["action"]
    search_fields = ["actor_name", "target_id", "target_repr", "client_address", "stream_id"]
    date_hierarchy = "at"
    fields = [
        "at", "actor", "actor_name", "action", "target_type", "target_id", "target_repr",
        "stream_id", "detail", "client_address",
    ]  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
