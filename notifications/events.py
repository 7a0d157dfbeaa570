"""Socket event for a user's private notification room."""

from __future__ import annotations

from typing import Any

from gateway import events
from gateway.session import Session
from notifications.services import notification_room


@events.on("join_notification_room", error_event="notification_room_join_error")
async def join_notification_room(session: Session, payload: Any) -> dict:
    room = notification_room(session.user.id)
    await session.join(room)
    await session.emit("notification_room_joined", {"room": room})
    return {"room": room}
