"""Socket events for the owner and moderators of a stream, and the chat admission check.

Every event answers with an ack like the rest (``{ok: true, ...}``) or with
``moderation_error {message}``; what happened reaches the room as a broadcast
sent by :mod:`moderation.services` after commit, so every worker's sockets see it.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model

from chat import admission
from chat.models import ChatMessage
from chat.services import chat_clear, chat_messages_remove
from gateway import events
from gateway.events import EventError
from gateway.session import Session
from livestream.timefmt import iso_z
from moderation import hotpath, services
from streams.events import parse_stream_id, session_is_moderator
from streams.models import Stream

ERROR_EVENT = "moderation_error"
STREAM_NOT_FOUND = "Stream not found"
USER_NOT_FOUND = "User not found"
MESSAGE_NOT_FOUND = "Message not found"
INVALID_USER_ID = "Invalid userId"
INVALID_MESSAGE_ID = "Invalid messageId"
INVALID_REASON = "Invalid reason"
MAX_ID_DIGITS = 18


def invalid_seconds(low: int, high: int) -> str:
    return f"seconds must be a whole number from {low} to {high}"


def _positive_id(raw: Any, error: str) -> int:
    """A database id sent as a number or a string of digits."""
    if isinstance(raw, str) and 0 < len(raw) <= MAX_ID_DIGITS and raw.isascii() and raw.isdigit():
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 < raw < 10**MAX_ID_DIGITS:
        raise EventError(error)
    return raw


def _seconds(payload: dict, low: int, high: int) -> int:
    seconds = payload.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not low <= seconds <= high:
        raise EventError(invalid_seconds(low, high))
    return seconds


def _reason(payload: dict) -> str:
    reason = payload.get("reason", "")
    if reason is None:
        return ""
    if not isinstance(reason, str) or len(reason) > 200:
        raise EventError(INVALID_REASON)
    return reason


@database_sync_to_async
def _act(session: Session, stream_id: str, action, **kwargs) -> Any:
    """Run ``action`` as the socket's user on the stream, in the database thread."""
    stream = Stream.objects.filter(pk=stream_id).first()
    if stream is None:
        raise EventError(STREAM_NOT_FOUND)
    by = get_user_model().objects.filter(pk=session.user.id).first()
    try:
        return action(stream=stream, by=by, client_address=session.client_address, **kwargs)
    except services.ModerationError as exc:
        raise EventError(exc.message) from None


def _on_user(action, **extra):
    def act(*, stream, by, client_address, user_id, **kwargs):
        user = services.user_by_id(user_id)
        if user is None:
            raise services.ModerationError(USER_NOT_FOUND)
        return action(stream=stream, user=user, by=by, client_address=client_address, **kwargs)

    return act


def _parse_user(payload: Any) -> tuple[str, int]:
    stream_id = parse_stream_id(payload)
    return stream_id, _positive_id(payload.get("userId"), INVALID_USER_ID)


@events.on("moderation_timeout_user", error_event=ERROR_EVENT)
async def moderation_timeout_user(session: Session, payload: Any) -> dict:
    stream_id, user_id = _parse_user(payload)
    seconds = _seconds(payload, 1, services.MAX_TIMEOUT_SECONDS)
    ban = await _act(
        session, stream_id, _on_user(services.user_restrict),
        user_id=user_id, seconds=seconds, reason=_reason(payload),
    )  # fmt: skip
    return {"streamId": stream_id, "userId": str(user_id), "until": iso_z(ban.expires_at)}


@events.on("moderation_ban_user", error_event=ERROR_EVENT)
async def moderation_ban_user(session: Session, payload: Any) -> dict:
    stream_id, user_id = _parse_user(payload)
    await _act(
        session, stream_id, _on_user(services.user_restrict),
        user_id=user_id, seconds=None, reason=_reason(payload),
    )  # fmt: skip
    return {"streamId": stream_id, "userId": str(user_id)}


@events.on("moderation_unban_user", error_event=ERROR_EVENT)
async def moderation_unban_user(session: Session, payload: Any) -> dict:
    stream_id, user_id = _parse_user(payload)
    await _act(session, stream_id, _on_user(services.user_unban), user_id=user_id)
    return {"streamId": stream_id, "userId": str(user_id)}


@events.on("moderation_set_slow_mode", error_event=ERROR_EVENT)
async def moderation_set_slow_mode(session: Session, payload: Any) -> dict:
    stream_id = parse_stream_id(payload)
    seconds = _seconds(payload, 0, services.MAX_SLOW_MODE_SECONDS)
    await _act(session, stream_id, services.slow_mode_set, seconds=seconds)
    return {"streamId": stream_id, "seconds": seconds}


def _delete_message(*, stream, by, client_address, message_id):
    services.require_moderator(by, stream)
    messages = ChatMessage.objects.filter(pk=message_id, stream=stream)
    if not chat_messages_remove(messages=messages, by=by, client_address=client_address):
        raise services.ModerationError(MESSAGE_NOT_FOUND)


@events.on("moderation_delete_message", error_event=ERROR_EVENT)
async def moderation_delete_message(session: Session, payload: Any) -> dict:
    stream_id = parse_stream_id(payload)
    message_id = _positive_id(payload.get("messageId"), INVALID_MESSAGE_ID)
    await _act(session, stream_id, _delete_message, message_id=message_id)
    return {"streamId": stream_id, "messageId": str(message_id)}


def _clear_chat(*, stream, by, client_address) -> int:
    services.require_moderator(by, stream)
    return chat_clear(stream=stream, by=by, client_address=client_address)


@events.on("moderation_clear_chat", error_event=ERROR_EVENT)
async def moderation_clear_chat(session: Session, payload: Any) -> dict:
    stream_id = parse_stream_id(payload)
    removed = await _act(session, stream_id, _clear_chat)
    return {"streamId": stream_id, "removed": removed}


async def _site_moderator(draft: admission.Draft) -> bool:
    return await session_is_moderator(draft.session)


admission.register(hotpath.chat_check(_site_moderator))
