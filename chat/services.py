"""Writing chat messages from moderation (admin, commands)."""

from __future__ import annotations

import logging

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from audit import services as audit
from chat.models import ChatMessage
from gateway.rooms import emit_to_room_sync

logger = logging.getLogger(__name__)

MESSAGE_DELETED = "message_deleted"
REMOVE_MESSAGE = "remove chat message"  # the audit trail's name for it


def chat_messages_remove(
    *, messages: QuerySet[ChatMessage], by: AbstractBaseUser, client_address: str = audit.LOCAL
) -> int:
    """Remove ``messages`` from the chat on ``by``'s authority; returns how many were removed.

    Messages already removed are left alone. Each removal is audited (who, from
    ``client_address``) in the same transaction. Once the removal has committed,
    each stream's history cache is dropped and every socket in the stream's
    room gets ``message_deleted {streamId, messageId}``.
    """
    pending = messages.filter(removed_at__isnull=True).order_by()
    candidates = list(pending.values_list("pk", flat=True))
    if not candidates:
        return 0
    with transaction.atomic():
        # Locked and re-checked so that two moderators never both remove a message.
        removed = list(
            ChatMessage.objects.select_for_update()
            .filter(pk__in=candidates, removed_at__isnull=True)
            .order_by("pk")
            .values_list("pk", "stream_id")
        )
        removed_now = ChatMessage.objects.filter(pk__in=[pk for pk, _ in removed])
        removed_now.update(removed_at=timezone.now(), removed_by=by)
        audit.moderation_records(
            actor=by,
            action=REMOVE_MESSAGE,
            targets=removed_now.select_related("user"),
            client_address=client_address,
        )
        transaction.on_commit(lambda: _announce_removed(removed), robust=True)
    return len(removed)


def _announce_removed(removed: list[tuple[int, object]]) -> None:
    by_stream: dict[str, list[str]] = {}
    for pk, stream_id in removed:
        by_stream.setdefault(str(stream_id), []).append(str(pk))
    for stream_id, message_ids in by_stream.items():
        # Cache first: a viewer who reloads on message_deleted must not get it back.
        _invalidate_history(stream_id)
        for message_id in message_ids:
            emit_to_room_sync(
                stream_id, MESSAGE_DELETED, {"streamId": stream_id, "messageId": message_id}
            )


def _invalidate_history(stream_id: str) -> None:
    try:
        from chat import history
    except ModuleNotFoundError as exc:
        if exc.name != "chat.history":
            raise
        return  # no history cache in this deployment
    history.invalidate(stream_id)


CHAT_CLEARED = "chat_cleared"
CLEAR_CHAT = "clear chat"  # the audit trail's name for it


def chat_clear(*, stream, by: AbstractBaseUser, client_address: str = audit.LOCAL) -> int:
    """Remove every visible message of ``stream``; returns how many were removed.

    One audit record for the stream, then, after commit, the history cache is
    dropped and the room gets ``chat_cleared {streamId}``.
    """
    with transaction.atomic():
        count = ChatMessage.objects.filter(stream=stream, removed_at__isnull=True).update(
            removed_at=timezone.now(), removed_by=by
        )
        audit.moderation_records(
            actor=by,
            action=CLEAR_CHAT,
            targets=[stream],
            client_address=client_address,
            detail=f"{count} messages",
            stream_id=stream.pk,
        )
        stream_id = str(stream.pk)
        transaction.on_commit(lambda: _announce_cleared(stream_id), robust=True)
    return count


def _announce_cleared(stream_id: str) -> None:
    _invalidate_history(stream_id)
    emit_to_room_sync(stream_id, CHAT_CLEARED, {"streamId": stream_id})
