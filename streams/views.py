from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from audit.services import moderation_record_for_request
from livestream.api import Conflict
from streams.models import END_STREAM, Stream, StreamStateError
from streams.permissions import IsStreamer, IsStreamerOrModerator
from streams.selectors import stream_list, stream_viewer_counts
from streams.serializers import (
    StreamCreateSerializer,
    StreamEndSerializer,
    StreamListQuerySerializer,
    StreamSerializer,
)
from streams.services import stream_create

_NOT_IDLE = OpenApiResponse(
    description="The stream is not idle (already live or ended): `{detail}`."
)


class StreamViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Streams: anyone reads, a signed-in user creates, its streamer starts and ends."""

    queryset = Stream.objects.select_related("streamer")
    serializer_class = StreamSerializer

    def get_permissions(self):
        if self.action == "create":
            return [IsAuthenticated()]
        if self.action in ("list", "retrieve"):
            return [AllowAny()]
        return super().get_permissions()

    @extend_schema(parameters=[StreamListQuerySerializer])
    def list(self, request: Request) -> Response:
        query = StreamListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = self.paginate_queryset(stream_list(status=query.validated_data.get("status")))
        context = {
            **self.get_serializer_context(),
            "viewer_counts": stream_viewer_counts(streams=page),
        }
        return self.get_paginated_response(
            self.get_serializer(page, many=True, context=context).data
        )

    @extend_schema(request=StreamCreateSerializer, responses={201: StreamSerializer})
    def create(self, request: Request) -> Response:
        params = StreamCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        stream = stream_create(streamer=request.user, **params.validated_data)
        return Response(self.get_serializer(stream).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: StreamSerializer, 409: _NOT_IDLE})
    @action(detail=True, methods=["post"], permission_classes=[IsAuthenticated, IsStreamer])
    def start(self, request: Request, pk: str | None = None) -> Response:
        stream = self.get_object()
        try:
            stream.start()
        except StreamStateError as exc:
            raise Conflict(str(exc)) from None
        return Response(self.get_serializer(stream).data)

    @extend_schema(request=StreamEndSerializer, responses=StreamSerializer)
    @action(
        detail=True, methods=["post"], permission_classes=[IsAuthenticated, IsStreamerOrModerator]
    )
    def end(self, request: Request, pk: str | None = None) -> Response:
        stream = self.get_object()
        params = StreamEndSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        reason = params.validated_data["reason"]
        if stream.end(reason=reason) and request.user.pk != stream.streamer_id:
            moderation_record_for_request(request, action=END_STREAM, target=stream, detail=reason)
        return Response(self.get_serializer(stream).data)
