from __future__ import annotations

from rest_framework import serializers

from audit.models import ModerationRecord
from livestream.api import IsoZDateTimeField
from moderation import services
from moderation.models import BlockedTerm, ChannelModerator, ChatBan
from moderation.terms import MAX_TERM_LENGTH


class ChatBanSerializer(serializers.ModelSerializer):
    userId = serializers.CharField(source="user_id", read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)
    until = IsoZDateTimeField(source="expires_at")
    createdAt = IsoZDateTimeField(source="created_at")

    class Meta:
        model = ChatBan
        fields = ["userId", "username", "until", "reason", "createdAt"]


class RestrictSerializer(serializers.Serializer):
    """``seconds`` makes a timeout; without it the user is banned until lifted."""

    userId = serializers.IntegerField(min_value=1)
    seconds = serializers.IntegerField(
        min_value=1, max_value=services.MAX_TIMEOUT_SECONDS, required=False, allow_null=True
    )
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class SlowModeSerializer(serializers.Serializer):
    seconds = serializers.IntegerField(min_value=0, max_value=services.MAX_SLOW_MODE_SECONDS)


class UserIdSerializer(serializers.Serializer):
    userId = serializers.IntegerField(min_value=1)


class ModeratorSerializer(serializers.ModelSerializer):
    userId = serializers.CharField(source="user_id", read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = ChannelModerator
        fields = ["userId", "username"]


class BlockedTermSerializer(serializers.ModelSerializer):
    siteWide = serializers.SerializerMethodField()
    term = serializers.CharField(max_length=MAX_TERM_LENGTH)

    class Meta:
        model = BlockedTerm
        fields = ["id", "term", "siteWide"]

    def get_siteWide(self, term: BlockedTerm) -> bool:  # noqa: N802  (the wire's camelCase)
        return term.stream_id is None


class ModerationRecordSerializer(serializers.ModelSerializer):
    at = IsoZDateTimeField()
    actor = serializers.CharField(source="actor_name")
    target = serializers.CharField(source="target_repr")
    targetType = serializers.CharField(source="target_type")
    targetId = serializers.CharField(source="target_id")
    streamId = serializers.CharField(source="stream_id")
    clientAddress = serializers.CharField(source="client_address")

    class Meta:
        model = ModerationRecord
        fields = [
            "at", "actor", "action", "targetType", "targetId", "target", "streamId", "detail",
            "clientAddress",
        ]  # fmt: skip
