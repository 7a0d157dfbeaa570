"""The per-process room hub: one channel-layer subscription per room per process.

Channels' usual pattern gives every consumer its own channel and sends one
channel-layer message per socket for each broadcast. The hub instead joins the
room's group once for the whole process and, when a broadcast arrives, writes
the already-encoded frame to each local socket of the room directly.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from channels.layers import get_channel_layer

from gateway import metrics, recovery
from gateway.broadcast import Broadcast
from gateway.inbox import receive_forever
from gateway.rooms import ROOM_EMIT, USER_EMIT, USERS_GROUP, group_name
from livestream.loops import PerLoop

if TYPE_CHECKING:
    from gateway.session import Session

logger = logging.getLogger(__name__)

SUBSCRIBE_ATTEMPTS = 3
SUBSCRIBE_BACKOFF_SECONDS = 0.2
# Layers that forget a group's members after ``group_expiry`` (channels-redis'
# RedisChannelLayer) get every room re-added at this fraction of it.
REFRESH_FRACTION = 0.25


class RoomUnavailable(Exception):
    """This process could not subscribe to a room, so a join must fail."""

    def __init__(self, room: str) -> None:
        super().__init__(f"could not subscribe to room {room!r}")


def _broadcast(message: dict) -> Broadcast:
    """A ``frame``, or ``frames`` in order (several packets published as one message)."""
    frames = message.get("frames")
    texts = frames if frames is not None else [message["frame"]]
    return Broadcast(*texts, offsets=message.get("offsets"))


class Hub:
    def __init__(self) -> None:
        # Every open session of this process, for shutdown and per-process limits.
        self.sessions: set[Session] = set()
        self.rooms: dict[str, set[Session]] = {}
        # Subscriptions in flight, so concurrent first joins wait for the same one.
        self._subscribing: dict[str, asyncio.Future] = {}
        self._channel: str | None = None
        self._channel_ready: asyncio.Lock = asyncio.Lock()
        self._receiver: asyncio.Task | None = None
        self._refresher: asyncio.Task | None = None
        # Room broadcasts handled so far (one per frame), and each room's recent
        # ones for connection-state recovery (gateway.recovery).
        self.seq = 0
        self.logs: dict[str, recovery.RoomLog] = {}

    async def _ensure_channel(self) -> str:
        if self._channel is None:
            async with self._channel_ready:
                if self._channel is None:
                    layer = get_channel_layer()
                    channel = await layer.new_channel(prefix="hub.")
                    await self._group_add(USERS_GROUP, channel)
                    self._receiver = asyncio.create_task(self._receive_forever(layer, channel))
                    expiry = getattr(layer, "group_expiry", None)
                    if expiry:
                        self._refresher = asyncio.create_task(
                            self._refresh_forever(layer, channel, expiry * REFRESH_FRACTION)
                        )
                    self._channel = channel
        return self._channel

    async def listen(self) -> None:
        """Make sure this process hears broadcasts (per-user ones included); cheap once done."""
        await self._ensure_channel()

    @property
    def channel_name(self) -> str | None:
        """:meth:`channel` once made (it is, once anyone connected)."""
        return self._channel

    async def channel(self) -> str:
        """This process's channel: where other workers send what is meant for it."""
        return await self._ensure_channel()

    async def add(self, session: Session, room: str) -> None:
        """Put ``session`` in ``room``, subscribing this process to it first if needed.

        Raises when the subscription cannot be made (the channel layer is
        down): then no session is left in a room this process does not hear.
        """
        members = self.rooms.get(room)
        if members is None:
            members = self.rooms[room] = set()
            metrics.ROOMS.inc()
            members.add(session)
            future = asyncio.get_running_loop().create_future()
            self._subscribing[room] = future
            try:
                await self._subscribe(room)
            except BaseException:
                if self.rooms.get(room) is members:
                    del self.rooms[room]
                    metrics.ROOMS.dec()
                future.set_exception(RoomUnavailable(room))
                future.exception()  # joiners waiting on it see it; nobody else must
                raise
            else:
                future.set_result(None)
            finally:
                del self._subscribing[room]
            return
        members.add(session)
        pending = self._subscribing.get(room)
        if pending is not None:
            await pending

    async def _subscribe(self, room: str) -> None:
        channel = await self._ensure_channel()
        await self._group_add(group_name(room), channel)

    async def _group_add(self, group: str, channel: str) -> None:
        # A Redis blip should not fail a join: a few quick retries first.
        for attempt in range(1, SUBSCRIBE_ATTEMPTS + 1):
            try:
                await get_channel_layer().group_add(group, channel)
                return
            except Exception:
                if attempt == SUBSCRIBE_ATTEMPTS:
                    logger.exception("could not subscribe to %s", group)
                    raise
                logger.warning("subscribing to %s failed; retrying", group, exc_info=True)
                await asyncio.sleep(SUBSCRIBE_BACKOFF_SECONDS * attempt)

    async def remove(self, session: Session, room: str) -> None:
        members = self.rooms.get(room)
        if members is None:
            return
        members.discard(session)
        if not members and room not in self._subscribing:
            del self.rooms[room]
            self.logs.pop(room, None)
            metrics.ROOMS.dec()
            if self._channel is not None:
                await get_channel_layer().group_discard(group_name(room), self._channel)

    def replace(self, old: Session, new: Session) -> None:
        """``new`` takes ``old``'s place in every room (a resumed session)."""
        self.sessions.discard(old)
        self.sessions.add(new)
        for room in new.rooms:
            members = self.rooms.get(room)
            if members is not None:
                members.discard(old)
                members.add(new)

    def register(self, session: Session) -> None:
        self.sessions.add(session)
        if len(self.sessions) == 1:
            from gateway import workers  # imports this module

            workers.ensure_reporting()

    async def discard(self, session: Session) -> None:
        """Forget a closed session and take it out of every room it was in."""
        self.sessions.discard(session)
        rooms, session.rooms = session.rooms, set()
        for room in rooms:
            await self.remove(session, room)

    def local_members(self, room: str) -> set[Session]:
        return self.rooms.get(room, set())

    async def deliver(self, message: dict) -> None:
        room = message["room"]
        members = self.rooms.get(room)
        if not members:
            return
        broadcast = _broadcast(message)  # each form built once for all sockets
        skip = message.get("skip")
        self._log(room, broadcast, skip)
        delivered = 0
        for session in list(members):
            if session.sid == skip:
                continue
            try:
                if not session.deliver(broadcast):
                    for text in session.texts(broadcast):
                        await session.send_frame(text)
                delivered += 1
            except Exception:
                logger.exception("delivery to %s failed", session.sid)
        metrics.BROADCASTS_RECEIVED.inc()
        metrics.DELIVERIES.inc(delivered * len(broadcast.texts))
        published = message.get("t")
        if published is not None:
            # Written means handed to the socket (or corked for it); clocks of
            # other machines may differ by their skew.
            metrics.FANOUT_SECONDS.observe(max(0.0, time.time() - published))
        if message.get("disconnect"):
            for session in list(members):
                # The room is closing: leaving it first means disconnect
                # handlers do not announce anything more for it.
                session.rooms.discard(room)
                try:
                    await session.disconnect()
                except Exception:
                    # Typically the peer closed first; the session is closed anyway.
                    logger.debug("disconnecting %s failed", session.sid, exc_info=True)
            await self.remove_room(room)

    async def deliver_to_user(self, message: dict) -> None:
        """A broadcast to one user's sockets: rare, so a scan of this process's sessions."""
        user_id = message["user"]
        sessions = [s for s in self.sessions if s.user is not None and s.user.id == user_id]
        broadcast = _broadcast(message)
        for session in sessions:
            try:
                if not session.deliver(broadcast):
                    for text in session.texts(broadcast):
                        await session.send_frame(text)
                if message.get("disconnect"):
                    await session.disconnect()
            except Exception:
                logger.debug("delivery to %s failed", session.sid, exc_info=True)

    def _log(self, room: str, broadcast: Broadcast, skip: str | None) -> None:
        if broadcast.offsets[0] is None:
            return  # sent without recovery (off, or a disconnecting broadcast)
        log = self.logs.get(room)
        if log is None:
            log = self.logs[room] = recovery.RoomLog()
        stamp = time.monotonic()
        for text, offset in zip(broadcast.texts, broadcast.offsets, strict=True):
            self.seq += 1
            log.append(self.seq, offset, text, skip, stamp)

    async def remove_room(self, room: str) -> None:
        self.logs.pop(room, None)
        if self.rooms.pop(room, None) is None:
            return
        metrics.ROOMS.dec()
        if self._channel is not None:
            await get_channel_layer().group_discard(group_name(room), self._channel)

    async def _receive_forever(self, layer, channel: str) -> None:
        await receive_forever(layer, channel, self._handle, what="hub")

    async def _handle(self, message: dict) -> None:
        kind = message.get("type")
        if kind == ROOM_EMIT:
            await self.deliver(message)
        elif kind == USER_EMIT:
            await self.deliver_to_user(message)
        elif kind in (recovery.PREPARE, recovery.CLAIM, recovery.STATE):
            await recovery.handle(message)

    async def _refresh_forever(self, layer, channel: str, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            for group in [USERS_GROUP, *map(group_name, list(self.rooms))]:
                try:
                    await layer.group_add(group, channel)
                except Exception:
                    logger.exception("refreshing group %s failed; next round retries", group)


# The hub of the running event loop: one per daphne process.
get_hub = PerLoop(Hub).get
