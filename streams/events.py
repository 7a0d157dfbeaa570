"""Socket events for watching a stream: join, leave, and leaving on disconnect."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from django.conf import settings

from gateway import events
from gateway.events import EventError
from gateway.session import Session
from gateway.settings import realtime_settings
from livestream import log_context
from livestream.batching import BatchLoader
from livestream.loops import PerLoop
from streams import presence, viewers
from streams.models import Stream
from streams.permissions import moderators_among
from streams.selectors import stream_playback_url
from streams.signals import stream_room_joined

logger = logging.getLogger(__name__)

INVALID_STREAM_ID = "Invalid streamId"
STREAM_NOT_FOUND = "Stream not found"
STREAM_NOT_LIVE = "Stream is not live"
NOT_IN_ROOM = "You are not in this stream room"


def too_many_rooms(limit: int) -> str:
    return f"Too many rooms (max {limit})"


def parse_stream_id(payload: Any) -> str:
    """The canonical (lower-case) stream id of a ``{streamId}`` payload."""
    if not isinstance(payload, dict):
        raise EventError(INVALID_STREAM_ID)
    raw = payload.get("streamId")
    if not isinstance(raw, str) or len(raw) > 64:
        raise EventError(INVALID_STREAM_ID)
    try:
        stream_id = str(uuid.UUID(raw))
    except ValueError:
        raise EventError(INVALID_STREAM_ID) from None
    log_context.bind(stream_id=stream_id)  # what this event logs names the stream
    return stream_id


def joined_streams(session: Session) -> set[str]:
    return session.data.setdefault("streams", set())


async def _key_for(session: Session, stream: Stream) -> str | None:
    if settings.EXPOSE_STREAM_KEY_FOR_DEV or str(stream.streamer_id) == session.user.id:
        return stream.stream_key
    return stream.stream_key if await session_is_moderator(session) else None


async def session_is_moderator(session: Session) -> bool:
    """Whether the socket's user may moderate every stream (:func:`can_moderate`).

    Asked once per socket, like authentication: later questions cost no query.
    """
    moderator = session.data.get("moderator")
    if moderator is None:
        moderator = session.data["moderator"] = await _moderators.load(session.user.id)
    return moderator


def _fetch_moderators(user_ids: list[str]) -> dict[str, bool]:
    moderators = moderators_among(user_ids)
    return {user_id: user_id in moderators for user_id in user_ids}


_moderators = BatchLoader(_fetch_moderators)


def _fetch_streams(stream_ids: list[str]) -> dict[str, Stream]:
    streams = Stream.objects.filter(pk__in=stream_ids).only("status", "streamer_id", "stream_key")
    return {str(stream.pk): stream for stream in streams}


# A join storm costs a query per batch of joins, not one per socket.
_streams = BatchLoader(_fetch_streams)


# Entering a room makes several Redis calls one after another. When thousands of
# joins come at once (a stream announced to its followers), they take turns here,
# first come first served, at most half the worker's Redis pool at a time: waiting
# in the pool instead, where a freed connection goes to any asker, some waited past
# its timeout and failed (10,000 joins on two workers, docs/scaling.md).
_join_gate: PerLoop[asyncio.Semaphore] = PerLoop(
    lambda: asyncio.Semaphore(max(1, settings.REDIS_POOL_SIZE // 2))
)


@events.on("join_stream_room", error_event="room_join_error")
async def join_stream_room(session: Session, payload: Any) -> dict:
    stream_id = parse_stream_id(payload)
    joined = joined_streams(session)
    limit = realtime_settings().max_stream_rooms
    if limit and stream_id not in joined and len(joined) >= limit:
        raise EventError(too_many_rooms(limit), limit=True)
    stream = await _streams.load(stream_id)  # batched, so before the gate
    if stream is None:
        raise EventError(STREAM_NOT_FOUND)
    if not stream.is_live:
        raise EventError(STREAM_NOT_LIVE)
    reply = {
        "streamId": stream_id,
        "streamKeyForDev": await _key_for(session, stream),  # batched too
        "playbackUrl": stream_playback_url(stream=stream),
    }
    async with _join_gate.get():
        return await _enter(session, stream_id, reply)


async def _enter(session: Session, stream_id: str, reply: dict) -> dict:
    """Count the socket in the room and tell it so; ``reply`` is room_joined_successfully's."""
    newly = await session.join(stream_id)
    try:
        result = await presence.join(stream_id, session.sid)
    except BaseException:
        if newly:
            await session.leave(stream_id)  # not counted, so not in the room either
        raise
    if result == presence.ENDED:
        await session.leave(stream_id)
        raise EventError(STREAM_NOT_LIVE)
    joined_streams(session).add(stream_id)
    added, count = result
    await session.emit("room_joined_successfully", reply)
    try:
        await stream_room_joined.asend(sender=Stream, session=session, stream_id=stream_id)
        if added:
            await viewers.announce(stream_id, count, joiner=session)
        else:
            await session.emit(viewers.EVENT, viewers.payload(stream_id, count))
    except Exception:
        # The socket is in the room and counted, and was told so: the join stands
        # (its ack carries the count) even if the history or the count could not follow.
        logger.exception("joined %s, but the history or the count did not follow", stream_id)
    return {**reply, "count": count}


@events.on("leave_stream_room")
async def leave_stream_room(session: Session, payload: Any) -> dict:
    stream_id = parse_stream_id(payload)
    if stream_id not in joined_streams(session) or not await session.leave(stream_id):
        raise EventError(NOT_IN_ROOM)
    joined_streams(session).discard(stream_id)
    result = await presence.leave(stream_id, session.sid)
    if result == presence.ENDED:
        return {"streamId": stream_id, "count": 0}
    removed, count = result
    if removed:
        await viewers.announce(stream_id, count)
    return {"streamId": stream_id, "count": count}


@events.on_disconnect
async def leave_all_streams(session: Session) -> None:
    # Rooms closed by a stream's end are already gone from session.rooms.
    for stream_id in joined_streams(session) & session.rooms:
        result = await presence.leave(stream_id, session.sid)
        if result != presence.ENDED and result[0]:
            await viewers.announce(stream_id, result[1])


@events.on_handoff
async def hand_over_streams(session: Session) -> None:
    # The socket is resumed on another worker, which refreshes its presence from now on.
    for stream_id in joined_streams(session):
        presence.hand_over(stream_id, session.sid)


@events.on_resume
async def take_over_streams(session: Session) -> None:
    # Joining again is idempotent: the entry is there, so nobody hears a count change.
    for stream_id in joined_streams(session) & session.rooms:
        result = await presence.join(stream_id, session.sid)
        if result != presence.ENDED and result[0]:
            await viewers.announce(stream_id, result[1])
