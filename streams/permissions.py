from __future__ import annotations

from rest_framework.permissions import BasePermission


class IsStreamer(BasePermission):
    """Only the stream's own streamer."""

    def has_object_permission(self, request, view, stream) -> bool:
        return request.user.pk == stream.streamer_id


class IsStreamerOrStaff(BasePermission):
    """The stream's streamer, or a moderator (staff)."""

    def has_object_permission(self, request, view, stream) -> bool:
        return request.user.is_staff or request.user.pk == stream.streamer_id
