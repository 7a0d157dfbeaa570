from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from chat.models import ChatMessage
from chat.services import chat_messages_remove
from livestream.client_address import request_client_address


@admin.register(ChatMessage)
class ChatMessageAdmin(admin.ModelAdmin):
    list_display = ["text", "user", "stream", "created_at", "removed_at"]
    list_filter = [
        ("stream", admin.RelatedOnlyFieldListFilter),
        ("removed_at", admin.EmptyFieldListFilter),
    ]
    list_select_related = ["user", "stream"]
    search_fields = ["text", "user__username"]
    ordering = ["-created_at", "-id"]
    date_hierarchy = "created_at"
    fields = ["stream", "user", "text", "created_at", "removed_at", "removed_by"]
    readonly_fields = fields
    actions = ["remove_messages"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Messages come from the chat; adding one here would skip its broadcast.
        return False

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        # Removing keeps the record and tells the viewers; deleting does neither.
        actions.pop("delete_selected", None)
        return actions

    @admin.action(description="Remove selected messages", permissions=["change"])
    def remove_messages(self, request: HttpRequest, queryset: QuerySet[ChatMessage]) -> None:
        removed = self._remove(request, queryset)
        self.message_user(request, f"Removed {removed} message(s).", messages.SUCCESS)

    def delete_model(self, request: HttpRequest, obj: ChatMessage) -> None:
        # The delete button removes like the action: the record stays, the viewers are told.
        self._remove(request, ChatMessage.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ChatMessage]) -> None:
        self._remove(request, queryset)

    def _remove(self, request: HttpRequest, queryset: QuerySet[ChatMessage]) -> int:
        return chat_messages_remove(
            messages=queryset, by=request.user, client_address=request_client_address(request)
        )
