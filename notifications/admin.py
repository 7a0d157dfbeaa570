from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["kind", "recipient", "created_at", "read_at"]
    list_filter = ["kind", ("read_at", admin.EmptyFieldListFilter)]
    list_select_related = ["recipient"]
    search_fields = ["kind", "recipient__username"]
    ordering = ["-created_at", "-id"]
    date_hierarchy = "created_at"
    fields = ["recipient", "kind", "data", "created_at", "read_at"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        # notify() stores and pushes; see the send_notification command.
        return False
