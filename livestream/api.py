"""Small pieces the apps' REST APIs share."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound
from rest_framework.pagination import CursorPagination

from livestream.timefmt import iso_z


class Conflict(APIException):
    """The request is valid but the resource's current state does not allow it."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The resource's current state does not allow this."
    default_code = "conflict"


class IsoZDateTimeField(serializers.DateTimeField):
    """A read-only timestamp in the same format as the socket events (``iso_z``)."""

    def __init__(self, **kwargs) -> None:
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value: datetime | None) -> str | None:
        return None if value is None else iso_z(value)


class CheckedCursorPagination(CursorPagination):
    """DRF's cursor pagination, answering 404 for a cursor whose position is not a valid value.

    DRF checks a cursor's offset and direction but hands its position straight
    to the query, where a position that is not a timestamp fails as a 500.
    """

    def paginate_queryset(self, queryset, request, view=None):
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            field = self._model._meta.get_field(self.ordering[0].lstrip("-"))
            try:
                field.to_python(cursor.position)
            except ValidationError:
                raise NotFound(self.invalid_cursor_message) from None
        return cursor
