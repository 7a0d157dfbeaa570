"""Moderation actions: each is checked, stored, audited, then made live on every worker.

Callers (socket events, REST views, admin) say who acts and from which client
address; the service checks the actor may moderate the stream, writes the
change and its audit record in one transaction and, after commit, drops the
Redis copy of the stream's state (:mod:`moderation.hotpath`) and tells the room.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from audit import services as audit
from gateway.rooms import emit_to_room_sync
from livestream.timefmt import iso_z
from moderation import hotpath
from moderation.models import (
    ADD_BLOCKED_TERM,
    ADD_MODERATOR,
    BAN_USER,
    REMOVE_BLOCKED_TERM,
    REMOVE_MODERATOR,
    SET_SLOW_MODE,
    TIMEOUT_USER,
    UNBAN_USER,
    BlockedTerm,
    ChannelModerator,
    ChatBan,
    SlowMode,
)
from moderation.terms import MAX_TERM_LENGTH, normalise
from streams.models import Stream
from streams.permissions import can_moderate

NOT_A_MODERATOR = "You are not a moderator of this stream"
NOT_THE_OWNER = "Only the stream's owner names its moderators"
CANNOT_TARGET = "The owner and moderators of this stream cannot be banned or timed out"
NOT_BANNED = "This user is neither banned nor timed out here"
BAD_TERM = f"A blocked term is 1 to {MAX_TERM_LENGTH} characters of text"
MAX_TIMEOUT_SECONDS = 14 * 24 * 3600
MAX_SLOW_MODE_SECONDS = 3600

USER_TIMED_OUT = "user_timed_out"
USER_BANNED = "user_banned"
USER_UNBANNED = "user_unbanned"
SLOW_MODE_CHANGED = "slow_mode_changed"


class ModerationError(Exception):
    """A refused moderation action; the message is for the client."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def is_stream_moderator(user, stream: Stream) -> bool:
    """The stream's owner, a moderator of the owner's channel, or a site moderator."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.pk == stream.streamer_id or can_moderate(user):
        return True
    return ChannelModerator.objects.filter(owner_id=stream.streamer_id, user=user).exists()


def require_moderator(user, stream: Stream) -> None:
    if not is_stream_moderator(user, stream):
        raise ModerationError(NOT_A_MODERATOR)


def _after_commit(stream: Stream, event: str | None = None, data: dict | None = None) -> None:
    stream_id = str(stream.pk)

    def publish() -> None:
        hotpath.stream_changed([stream_id])
        if event is not None:
            emit_to_room_sync(stream_id, event, {"streamId": stream_id, **(data or {})})

    transaction.on_commit(publish, robust=True)


def user_restrict(
    *,
    stream: Stream,
    user,
    by,
    seconds: int | None,
    reason: str = "",
    client_address: str = audit.LOCAL,
) -> ChatBan:
    """Ban ``user`` from ``stream``'s chat, for ``seconds`` (a timeout) or until lifted (None)."""
    require_moderator(by, stream)
    if user.pk == stream.streamer_id or is_stream_moderator(user, stream):
        raise ModerationError(CANNOT_TARGET)
    expires_at = None if seconds is None else timezone.now() + timedelta(seconds=seconds)
    with transaction.atomic():
        ban, _ = ChatBan.objects.update_or_create(
            stream=stream,
            user=user,
            defaults={"expires_at": expires_at, "reason": reason[:200], "created_by": by},
        )
        detail = f"{seconds} s" if seconds is not None else "until lifted"
        audit.moderation_records(
            actor=by,
            action=TIMEOUT_USER if seconds is not None else BAN_USER,
            targets=[user],
            client_address=client_address,
            detail=f"{detail}: {reason}" if reason else detail,
            stream_id=stream.pk,
        )
        if expires_at is None:
            _after_commit(stream, USER_BANNED, {"userId": str(user.pk)})
        else:
            _after_commit(
                stream, USER_TIMED_OUT, {"userId": str(user.pk), "until": iso_z(expires_at)}
            )
    return ban


def user_unban(*, stream: Stream, user, by, client_address: str = audit.LOCAL) -> None:
    """Lift a ban or timeout of ``user`` in ``stream``."""
    require_moderator(by, stream)
    with transaction.atomic():
        deleted, _ = ChatBan.objects.filter(stream=stream, user=user).delete()
        if not deleted:
            raise ModerationError(NOT_BANNED)
        audit.moderation_records(
            actor=by,
            action=UNBAN_USER,
            targets=[user],
            client_address=client_address,
            stream_id=stream.pk,
        )
        _after_commit(stream, USER_UNBANNED, {"userId": str(user.pk)})


def slow_mode_set(*, stream: Stream, seconds: int, by, client_address: str = audit.LOCAL) -> None:
    """One message per ``seconds`` per user in ``stream``; 0 turns slow mode off."""
    require_moderator(by, stream)
    with transaction.atomic():
        if seconds:
            SlowMode.objects.update_or_create(stream=stream, defaults={"seconds": seconds})
        else:
            SlowMode.objects.filter(stream=stream).delete()
        audit.moderation_records(
            actor=by,
            action=SET_SLOW_MODE,
            targets=[stream],
            client_address=client_address,
            detail=f"{seconds} s",
            stream_id=stream.pk,
        )
        _after_commit(stream, SLOW_MODE_CHANGED, {"seconds": seconds})


def _owner_streams_changed(owner_id) -> None:
    ids = list(
        Stream.objects.filter(streamer_id=owner_id)
        .exclude(status=Stream.Status.ENDED)
        .values_list("pk", flat=True)
    )
    transaction.on_commit(lambda: hotpath.stream_changed(ids), robust=True)


def moderator_add(*, owner, user, by, client_address: str = audit.LOCAL) -> ChannelModerator:
    """Name ``user`` moderator of every stream of ``owner``; only the owner or staff may."""
    if by.pk != owner.pk and not can_moderate(by):
        raise ModerationError(NOT_THE_OWNER)
    with transaction.atomic():
        moderator, created = ChannelModerator.objects.get_or_create(owner=owner, user=user)
        if created:
            audit.moderation_records(
                actor=by, action=ADD_MODERATOR, targets=[user], client_address=client_address,
                detail=f"of {owner.get_username()}'s streams",
            )  # fmt: skip
            _owner_streams_changed(owner.pk)
    return moderator


def moderator_remove(*, owner, user, by, client_address: str = audit.LOCAL) -> bool:
    if by.pk != owner.pk and not can_moderate(by):
        raise ModerationError(NOT_THE_OWNER)
    with transaction.atomic():
        deleted, _ = ChannelModerator.objects.filter(owner=owner, user=user).delete()
        if deleted:
            audit.moderation_records(
                actor=by, action=REMOVE_MODERATOR, targets=[user], client_address=client_address,
                detail=f"of {owner.get_username()}'s streams",
            )  # fmt: skip
            _owner_streams_changed(owner.pk)
    return bool(deleted)


def blocked_term_add(
    *, term: str, by, stream: Stream | None = None, client_address: str = audit.LOCAL
) -> BlockedTerm:
    """Refuse chat messages containing ``term`` in ``stream`` (None: site-wide, staff only)."""
    if stream is None:
        if not can_moderate(by):
            raise ModerationError(NOT_A_MODERATOR)
    else:
        require_moderator(by, stream)
    if not isinstance(term, str) or not 0 < len(term) <= MAX_TERM_LENGTH or not normalise(term):
        raise ModerationError(BAD_TERM)
    with transaction.atomic():
        blocked = BlockedTerm.objects.create(stream=stream, term=term, created_by=by)
        audit.moderation_records(
            actor=by, action=ADD_BLOCKED_TERM, targets=[blocked], client_address=client_address,
            detail=term, stream_id=blocked.stream_id,
        )  # fmt: skip
        transaction.on_commit(hotpath.terms_changed, robust=True)
    return blocked


def blocked_term_remove(*, blocked: BlockedTerm, by, client_address: str = audit.LOCAL) -> None:
    if blocked.stream is None:
        if not can_moderate(by):
            raise ModerationError(NOT_A_MODERATOR)
    else:
        require_moderator(by, blocked.stream)
    with transaction.atomic():
        audit.moderation_records(
            actor=by, action=REMOVE_BLOCKED_TERM, targets=[blocked], client_address=client_address,
            detail=blocked.term, stream_id=blocked.stream_id,
        )  # fmt: skip
        blocked.delete()
        transaction.on_commit(hotpath.terms_changed, robust=True)


def user_by_id(user_id) -> object | None:
    return get_user_model().objects.filter(pk=user_id).first()
