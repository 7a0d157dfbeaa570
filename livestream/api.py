"""Small pieces the apps' REST APIs share."""

from __future__ import annotations

from datetime import datetime

from rest_framework import serializers, status
from rest_framework.exceptions import APIException

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
