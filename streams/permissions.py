"""Who may do what to a stream: its streamer, and moderators.

A moderator is a user with the ``streams.moderate_stream`` permission (given
to a user or a group in the admin; active superusers have it). The REST API,
the socket's ``streamKeyForDev`` and the admin all ask this module; ``is_staff``
alone grants nothing here.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db.models import Q
from rest_framework.permissions import BasePermission

MODERATE_STREAM = "streams.moderate_stream"


def can_moderate(user) -> bool:
    """Whether ``user`` (a User, AnonymousUser or None) may moderate any stream."""
    return user is not None and user.is_authenticated and user.has_perm(MODERATE_STREAM)


def moderators_among(user_ids: list) -> set[str]:
    """The ids among ``user_ids`` of users who :func:`can_moderate`, in one query.

    The same rule as ``ModelBackend.has_perm`` (active; superuser, or the
    permission given directly or through a group), for a batch of socket users.
    """
    app_label, codename = MODERATE_STREAM.split(".")
    permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename)
    granted = (
        Q(is_superuser=True)
        | Q(user_permissions__in=permission)
        | Q(groups__permissions__in=permission)
    )
    users = get_user_model().objects.filter(Q(pk__in=user_ids), Q(is_active=True), granted)
    return {str(pk) for pk in users.values_list("pk", flat=True).distinct()}


def may_see_stream_key(user, stream) -> bool:
    return (
        user is not None
        and user.is_authenticated
        and (user.pk == stream.streamer_id or can_moderate(user))
    )


class IsStreamer(BasePermission):
    """Only the stream's own streamer."""

    def has_object_permission(self, request, view, stream) -> bool:
        return request.user.pk == stream.streamer_id


class IsStreamerOrModerator(BasePermission):
    """The stream's streamer, or a moderator."""

    def has_object_permission(self, request, view, stream) -> bool:
        return request.user.pk == stream.streamer_id or can_moderate(request.user)
