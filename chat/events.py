"""Socket events for live chat in a stream's room."""

from __future__ import annotations

import asyncio
from typing import Any

from django.dispatch import receiver

from chat import admission, history, limits, text
from chat.writer import NotSaved, get_writer
from gateway import events
from gateway.events import EventError
from gateway.session import Session
from streams.events import NOT_IN_ROOM, parse_stream_id
from streams.signals import stream_room_joined

INVALID_PAYLOAD = "Invalid message payload"


@events.on("chat_message", error_event="message_error")
async def chat_message(session: Session, payload: Any) -> events.Later:
    if not isinstance(payload, dict) or any(isinstance(v, bytes) for v in payload.values()):
        # Binary content (a Buffer or Blob sent by the client) is not a chat message.
        raise EventError(INVALID_PAYLOAD)
    stream_id = parse_stream_id(payload)
    try:
        body = text.clean(payload.get("message"))
    except text.InvalidText as exc:
        raise EventError(str(exc)) from None
    if stream_id not in session.rooms:
        raise EventError(NOT_IN_ROOM)
    draft = admission.Draft(session.user.id, stream_id, body, session)
    try:
        # Other apps' checks and chat's own limits: one Redis round trip.
        await admission.admit_message(draft, limits.CHECK)
    except limits.Refused as exc:
        raise EventError(exc.reason, limit=True) from None
    # In the write queue now, so in order: the socket reads on while it is stored.
    saving = get_writer().submit(
        user_id=draft.user_id, stream_id=stream_id, text=body, username=session.user.username
    )
    return events.later(_answer(draft, saving))


async def _answer(draft: admission.Draft, saving: asyncio.Future) -> dict:
    """The ack once stored and published with the rest of its write batch."""
    try:
        return await saving
    except NotSaved as exc:
        await admission.forget_message(draft, limits.CHECK)
        raise EventError(exc.reason) from None


@receiver(stream_room_joined, dispatch_uid="chat.send_recent_history")
async def send_recent_history(sender, session: Session, stream_id: str, **kwargs) -> None:
    messages = await history.recent(stream_id)
    await session.emit("recent_chat_history", {"streamId": stream_id, "messages": messages})
