"""The OpenAPI 3 document of the REST API (drf-spectacular), served at ``/api/schema/``.

The errors every endpoint may answer follow from how it is built, so they are
derived here once instead of being repeated on each view: 400 when it reads a
body or query, 401 when it authenticates, 403 when a permission beyond "signed
in" guards it, 404 when its path names an object, 429 when it is throttled.
The apps' views only declare what cannot be inferred (bodies that are not a
serializer, 409). The two serializers that are plain functions of a model
(chat messages and notifications share their wire shape with the socket) get
their schema from :class:`WireShapeExtension`.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework.permissions import AllowAny, IsAuthenticated

_STRING = {"type": "string"}
_ISO_Z = {"type": "string", "format": "date-time", "example": "2026-01-01T12:00:00.000Z"}

ERROR = {
    "type": "object",
    "description": "An error as DRF words it; `detail` is meant for people.",
    "properties": {"detail": _STRING},
    "required": ["detail"],
}
VALIDATION_ERROR = {
    "type": "object",
    "description": "Field name (or `detail`, `non_field_errors`) to what is wrong with it.",
    "additionalProperties": {"oneOf": [{"type": "array", "items": _STRING}, _STRING]},
}
_ERRORS = {
    400: ("ValidationError", VALIDATION_ERROR, "Invalid input; each field says what is wrong."),
    401: ("Error", ERROR, "No valid access token (missing where required, expired, malformed)."),
    403: ("Error", ERROR, "Signed in, but not allowed to do this (e.g. not the streamer)."),
    404: ("Error", ERROR, "No such object (or an invalid cursor)."),
    429: ("Error", ERROR, "Throttled: too many requests from this client; retry later."),
}

CHAT_MESSAGE = {
    "type": "object",
    "properties": {
        "id": _STRING,
        "userId": _STRING,
        "username": _STRING,
        "message": _STRING,
        "timestamp": _ISO_Z,
        "streamId": {"type": "string", "format": "uuid"},
    },
    "required": ["id", "userId", "username", "message", "timestamp", "streamId"],
}
NOTIFICATION = {
    "type": "object",
    "properties": {
        "id": _STRING,
        "kind": _STRING,
        "data": {"type": "object", "additionalProperties": True},
        "createdAt": _ISO_Z,
        "readAt": {**_ISO_Z, "nullable": True},
    },
    "required": ["id", "kind", "data", "createdAt", "readAt"],
}


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's schema plus the error responses each endpoint can give."""

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation.setdefault("responses", {})
        for status in self._error_statuses(path, method, operation):
            name, schema, description = _ERRORS[status]
            responses.setdefault(str(status), {"description": description})
            if status == 400:
                responses["400"]["content"] = _json(_component(registry, name, schema))
        error = _component(registry, "Error", ERROR)
        for status, response in responses.items():
            # An error a view declares with a description only (409) has DRF's shape too.
            if status.startswith("4") and "content" not in response:
                response["content"] = _json(error)
        return operation

    def _error_statuses(self, path: str, method: str, operation: dict) -> list[int]:
        statuses = []
        filters = [
            p for p in operation.get("parameters", ())
            if p["in"] == "query" and p["name"] not in ("page", "cursor")
        ]  # fmt: skip
        if "requestBody" in operation or filters:
            statuses.append(400)
        if self.view.get_authenticators():
            statuses.append(401)
        basic = (AllowAny, IsAuthenticated)
        if any(not isinstance(p, basic) for p in self.view.get_permissions()):
            statuses.append(403)
        if "{" in path:
            statuses.append(404)
        if self.view.get_throttles():
            statuses.append(429)
        return statuses


def _component(registry, name: str, schema: dict) -> dict:
    component = ResolvedComponent(
        name=name, type=ResolvedComponent.SCHEMA, object=name, schema=schema
    )
    registry.register_on_missing(component)
    return component.ref


def _json(ref: dict) -> dict:
    return {"application/json": {"schema": ref}}


class ChatMessageShape(OpenApiSerializerExtension):
    """``ChatMessageSerializer`` returns :func:`chat.payloads.message_payload`."""

    target_class = "chat.serializers.ChatMessageSerializer"

    def get_name(self, auto_schema=None, direction=None) -> str:
        return "ChatMessage"

    def map_serializer(self, auto_schema, direction) -> dict:
        return CHAT_MESSAGE


class NotificationShape(OpenApiSerializerExtension):
    """``NotificationSerializer`` returns :func:`notifications.payloads.notification_item`."""

    target_class = "notifications.serializers.NotificationSerializer"

    def get_name(self, auto_schema=None, direction=None) -> str:
        return "Notification"

    def map_serializer(self, auto_schema, direction) -> dict:
        return NOTIFICATION


def document_owner_only_fields(result: dict, generator, request, public) -> dict:
    """Fields a serializer adds for some readers only, which introspection cannot see."""
    stream = result.get("components", {}).get("schemas", {}).get("Stream")
    if stream is not None:
        stream["properties"]["stream_key"] = {
            "type": "string",
            "description": "The RTMP stream key; only for the stream's streamer and moderators.",
        }
    return result
