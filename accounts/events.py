"""Every admitted socket joins its user's own room, so a revocation can reach it."""

from __future__ import annotations

from accounts.revocation import user_room
from gateway import events
from gateway.session import Session


@events.on_connect
async def join_user_room(session: Session) -> None:
    await session.join(user_room(session.user.id))
