"""Public room names and the broadcasts that reach a room on every process.

Room names are the contract on the wire (``notification:12`` or a stream id);
Channels group names are internal and may not contain ``:``, so
:func:`group_name` is the one place that maps one to the other.

A broadcast is encoded once into an Engine.IO text frame and published once on
the channel layer; every process's :mod:`gateway.hub` that has sockets in the
room receives it once and writes the same frame to its local sockets.
"""

from __future__ import annotations

import hashlib
import re
import time

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from gateway import codec, metrics, recovery

_GROUP_SAFE = re.compile(r"[^a-zA-Z0-9_.-]")
# Channels caps group names below 100 characters.
_MAX_GROUP = 90

ROOM_EMIT = "room.emit"
USER_EMIT = "user.emit"
# Every process's hub is in this group: a message for one user's sockets reaches
# every process without a subscription per user (see emit_to_user).
USERS_GROUP = "gateway.users"


def group_name(room: str) -> str:
    safe = "room." + _GROUP_SAFE.sub("_", room)
    if len(safe) > _MAX_GROUP or safe != "room." + room:
        # Keep names distinct when escaping made two rooms look alike.
        digest = hashlib.sha1(room.encode()).hexdigest()[:12]
        safe = f"{safe[: _MAX_GROUP - 13]}.{digest}"
    return safe


async def emit_to_room(
    room: str,
    event: str,
    data: object = None,
    *,
    disconnect: bool = False,
    skip_sid: str | None = None,
) -> None:
    """Send ``event`` to every socket in ``room`` on every process.

    With ``disconnect`` the sockets are then disconnected by the server
    (Socket.IO DISCONNECT and WebSocket close) and leave all their rooms.
    ``skip_sid`` leaves out one socket (one that was told directly).
    """
    message = {
        "type": ROOM_EMIT,
        "room": room,
        "frame": codec.encode_event(event, data),
        "t": time.time(),  # for the fan-out latency (socketio_fanout_seconds)
    }
    if disconnect:
        message["disconnect"] = True
    elif recovery.enabled():
        message["offsets"] = recovery.new_offsets(1)
    if skip_sid is not None:
        message["skip"] = skip_sid
    metrics.BROADCASTS_PUBLISHED.labels("room").inc()
    await get_channel_layer().group_send(group_name(room), message)


async def emit_many_to_room(room: str, event: str, items: list) -> None:
    """Send one ``event`` per item to every socket in ``room``, in order, as one broadcast.

    One channel-layer message and one write per socket for the lot, where
    :func:`emit_to_room` per item would cost one of each per item.
    """
    frames = [codec.encode_event(event, data) for data in items]
    message = {"type": ROOM_EMIT, "room": room, "frames": frames, "t": time.time()}
    if recovery.enabled():
        message["offsets"] = recovery.new_offsets(len(frames))
    metrics.BROADCASTS_PUBLISHED.labels("room").inc()
    await get_channel_layer().group_send(group_name(room), message)


def emit_to_room_sync(
    room: str, event: str, data: object = None, *, disconnect: bool = False
) -> None:
    """:func:`emit_to_room` for synchronous code (views, admin, commands, signals)."""
    async_to_sync(emit_to_room)(room, event, data, disconnect=disconnect)


async def emit_to_user(
    user_id: object, event: str, data: object = None, *, disconnect: bool = False
) -> None:
    """Send ``event`` to every socket of user ``user_id`` on every process.

    For rare, per-user news such as a revocation: each process scans its own
    sessions for the user, so no socket pays a subscription for it at CONNECT.
    With ``disconnect`` the sockets are then disconnected by the server.
    """
    message = {"type": USER_EMIT, "user": str(user_id), "frame": codec.encode_event(event, data)}
    if disconnect:
        message["disconnect"] = True
    metrics.BROADCASTS_PUBLISHED.labels("user").inc()
    await get_channel_layer().group_send(USERS_GROUP, message)


def emit_to_user_sync(
    user_id: object, event: str, data: object = None, *, disconnect: bool = False
) -> None:
    """:func:`emit_to_user` for synchronous code (signals, admin, commands)."""
    async_to_sync(emit_to_user)(user_id, event, data, disconnect=disconnect)
