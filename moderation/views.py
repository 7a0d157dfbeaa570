"""REST for a stream's moderation: the same services as the socket events and the admin."""

from __future__ import annotations

from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.fields import IntegerField
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.models import ModerationRecord
from chat.models import ChatMessage
from chat.services import chat_clear, chat_messages_remove
from livestream.client_address import request_client_address
from moderation import serializers, services
from moderation.models import BlockedTerm, ChannelModerator, ChatBan, SlowMode
from streams.models import Stream

_FORBIDDEN = {services.NOT_A_MODERATOR, services.NOT_THE_OWNER}
_NO_CONTENT = {204: OpenApiResponse(description="Done.")}
_REMOVED = inline_serializer("ChatCleared", {"removed": IntegerField()})


class StreamModeration:
    """Loads the URL's stream, lets only its moderators in, and turns service errors into HTTP."""

    permission_classes = [IsAuthenticated]

    def stream(self) -> Stream:
        stream = get_object_or_404(Stream, pk=self.kwargs["stream_id"])
        if not services.is_stream_moderator(self.request.user, stream):
            raise PermissionDenied(services.NOT_A_MODERATOR)
        return stream

    def act(self, action, **kwargs):
        try:
            return action(
                by=self.request.user, client_address=request_client_address(self.request), **kwargs
            )
        except services.ModerationError as exc:
            if exc.message in _FORBIDDEN:
                raise PermissionDenied(exc.message) from None
            if exc.message == services.NOT_BANNED:
                raise NotFound(exc.message) from None
            raise ValidationError({"detail": exc.message}) from None

    def target_user(self, user_id) -> object:
        user = services.user_by_id(user_id)
        if user is None:
            raise NotFound("User not found")
        return user


class BanList(StreamModeration, generics.ListAPIView):
    """Active bans and timeouts of a stream; POST bans (no ``seconds``) or times out a user."""

    serializer_class = serializers.ChatBanSerializer

    def get_queryset(self):
        active = Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
        return ChatBan.objects.filter(active, stream=self.stream()).select_related("user")

    @extend_schema(
        request=serializers.RestrictSerializer, responses={201: serializers.ChatBanSerializer}
    )
    def post(self, request, stream_id):
        stream = self.stream()
        params = serializers.RestrictSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        ban = self.act(
            services.user_restrict, stream=stream, user=self.target_user(data["userId"]),
            seconds=data.get("seconds"), reason=data["reason"],
        )  # fmt: skip
        body = serializers.ChatBanSerializer(ban).data
        return Response(body, status=status.HTTP_201_CREATED)


class BanDetail(StreamModeration, APIView):
    @extend_schema(responses=_NO_CONTENT)
    def delete(self, request, stream_id, user_id):
        stream = self.stream()
        self.act(services.user_unban, stream=stream, user=self.target_user(user_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SlowModeView(StreamModeration, APIView):
    @extend_schema(responses=serializers.SlowModeSerializer)
    def get(self, request, stream_id):
        stream = self.stream()
        seconds = SlowMode.objects.filter(stream=stream).values_list("seconds", flat=True).first()
        return Response({"seconds": seconds or 0})

    @extend_schema(request=serializers.SlowModeSerializer, responses=serializers.SlowModeSerializer)
    def put(self, request, stream_id):
        stream = self.stream()
        params = serializers.SlowModeSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        self.act(services.slow_mode_set, stream=stream, **params.validated_data)
        return Response(params.validated_data)


class ClearChat(StreamModeration, APIView):
    @extend_schema(request=None, responses=_REMOVED)
    def post(self, request, stream_id):
        removed = self.act(chat_clear, stream=self.stream())
        return Response({"removed": removed})


class MessageDetail(StreamModeration, APIView):
    @extend_schema(responses=_NO_CONTENT)
    def delete(self, request, stream_id, message_id):
        messages = ChatMessage.objects.filter(pk=message_id, stream=self.stream())
        if not self.act(chat_messages_remove, messages=messages):
            raise NotFound("Message not found")
        return Response(status=status.HTTP_204_NO_CONTENT)


class BlockedTermList(StreamModeration, generics.ListAPIView):
    """The stream's blocked terms and the site-wide ones; POST adds one to the stream."""

    serializer_class = serializers.BlockedTermSerializer

    def get_queryset(self):
        return BlockedTerm.objects.filter(Q(stream=self.stream()) | Q(stream__isnull=True))

    @extend_schema(responses={201: serializers.BlockedTermSerializer})
    def post(self, request, stream_id):
        stream = self.stream()
        params = serializers.BlockedTermSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        term = self.act(
            services.blocked_term_add, stream=stream, term=params.validated_data["term"]
        )
        body = serializers.BlockedTermSerializer(term).data
        return Response(body, status=status.HTTP_201_CREATED)


class BlockedTermDetail(StreamModeration, APIView):
    @extend_schema(responses=_NO_CONTENT)
    def delete(self, request, stream_id, term_id):
        term = get_object_or_404(BlockedTerm, pk=term_id, stream=self.stream())
        self.act(services.blocked_term_remove, blocked=term)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ModeratorList(StreamModeration, generics.ListAPIView):
    """Moderators of every stream of this stream's owner; POST (the owner) names one."""

    serializer_class = serializers.ModeratorSerializer

    def get_queryset(self):
        owner_id = self.stream().streamer_id
        return ChannelModerator.objects.filter(owner_id=owner_id).select_related("user")

    @extend_schema(
        request=serializers.UserIdSerializer, responses={201: serializers.ModeratorSerializer}
    )
    def post(self, request, stream_id):
        stream = self.stream()
        params = serializers.UserIdSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        moderator = self.act(
            services.moderator_add,
            owner=stream.streamer,
            user=self.target_user(params.validated_data["userId"]),
        )
        body = serializers.ModeratorSerializer(moderator).data
        return Response(body, status=status.HTTP_201_CREATED)


class ModeratorDetail(StreamModeration, APIView):
    @extend_schema(responses=_NO_CONTENT)
    def delete(self, request, stream_id, user_id):
        stream = self.stream()
        if not self.act(
            services.moderator_remove, owner=stream.streamer, user=self.target_user(user_id)
        ):
            raise NotFound("Not a moderator")
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuditList(StreamModeration, generics.ListAPIView):
    """Every moderation action on this stream, newest first."""

    serializer_class = serializers.ModerationRecordSerializer

    def get_queryset(self):
        return ModerationRecord.objects.filter(stream_id=str(self.stream().pk))
