"""Reference peer: the same socket API written the way python-socketio users write it.

It exists so every benchmark figure of our server has a baseline from the most common
Python Socket.IO stack (python-socketio AsyncServer on uvicorn, uvloop when installed).
Everything lives in memory; nothing here is shared with the Django project.

Auth: any non-empty ``auth.token`` string is accepted. The user is derived from it:
``"user-17"`` becomes userId ``"17"`` / username ``"user-17"``; any other token string
is used as both userId and username. A missing or empty token gets
``44{"message":"Authentication error"}``.

Streams: every non-empty streamId (string or integer) is live; the room is created on the
first join. Viewer counts are ``len`` of the room's participants and are broadcast to the
room on every join and leave, without coalescing.

Run: ``python bench/peers/pysio_server.py --port 8001``.
"""

from __future__ import annotations

import argparse
import itertools
import secrets
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import socketio
import uvicorn

CHAT_MESSAGE_MAX_LENGTH = 500
CHAT_HISTORY_SIZE = 20
AUTH_ERROR = "Authentication error"

sio = socketio.AsyncServer(
    async_mode="asgi",
    cors_allowed_origins="*",
    ping_interval=25,
    ping_timeout=20,
    max_http_buffer_size=1_000_000,
    logger=False,
    engineio_logger=False,
)
app = socketio.ASGIApp(sio, socketio_path="socket.io")


@dataclass(slots=True)
class User:
    id: str
    username: str


users: dict[str, User] = {}
history: defaultdict[str, deque[dict[str, Any]]] = defaultdict(
    lambda: deque(maxlen=CHAT_HISTORY_SIZE)
)
message_ids = itertools.count(1)


def room_for(stream_id: str) -> str:
    return f"stream:{stream_id}"


def user_from_token(token: str) -> User:
    user_id = token.removeprefix("user-") if token.startswith("user-") else token
    return User(id=user_id, username=token)


def stream_id_from(payload: Any) -> str | None:
    stream_id = payload.get("streamId") if isinstance(payload, dict) else None
    if isinstance(stream_id, bool) or not isinstance(stream_id, (str, int)):
        return None
    return str(stream_id) if str(stream_id) else None


def viewer_count(room: str) -> int:
    return sum(1 for _ in sio.manager.get_participants("/", room))


async def broadcast_count(stream_id: str) -> None:
    room = room_for(stream_id)
    await sio.emit(
        "viewer_count_updated", {"streamId": stream_id, "count": viewer_count(room)}, room=room
    )


@sio.event
async def connect(sid: str, environ: dict, auth: Any = None) -> None:
    token = auth.get("token") if isinstance(auth, dict) else None
    if not isinstance(token, str) or not token:
        raise socketio.exceptions.ConnectionRefusedError(AUTH_ERROR)
    users[sid] = user_from_token(token)


@sio.event
async def disconnect(sid: str, *reason: Any) -> None:
    # Leave explicitly so the counts broadcast below no longer include this socket.
    for room in [r for r in sio.rooms(sid) if r.startswith("stream:")]:
        await sio.leave_room(sid, room)
        await broadcast_count(room.removeprefix("stream:"))
    users.pop(sid, None)


@sio.event
async def join_stream_room(sid: str, payload: Any) -> dict[str, Any]:
    stream_id = stream_id_from(payload)
    if stream_id is None:
        return await fail(sid, "room_join_error", "Stream not found or not live")
    await sio.enter_room(sid, room_for(stream_id))
    await sio.emit(
        "room_joined_successfully",
        {"streamId": stream_id, "streamKeyForDev": f"dev-{secrets.token_hex(8)}"},
        to=sid,
    )
    await sio.emit(
        "recent_chat_history",
        {"streamId": stream_id, "messages": list(history[stream_id])},
        to=sid,
    )
    await broadcast_count(stream_id)
    return {"ok": True, "streamId": stream_id}


@sio.event
async def leave_stream_room(sid: str, payload: Any) -> dict[str, Any]:
    stream_id = stream_id_from(payload)
    if stream_id is None or room_for(stream_id) not in sio.rooms(sid):
        return {"ok": True}
    await sio.leave_room(sid, room_for(stream_id))
    await broadcast_count(stream_id)
    return {"ok": True, "streamId": stream_id}


@sio.event
async def chat_message(sid: str, payload: Any) -> dict[str, Any]:
    stream_id = stream_id_from(payload)
    text = payload.get("message") if isinstance(payload, dict) else None
    if stream_id is None or room_for(stream_id) not in sio.rooms(sid):
        return await fail(sid, "message_error", "Join the stream before chatting")
    if not isinstance(text, str) or not text.strip():
        return await fail(sid, "message_error", "Message cannot be empty")
    if len(text) > CHAT_MESSAGE_MAX_LENGTH:
        return await fail(sid, "message_error", "Message is too long")
    user = users[sid]
    message = {
        "id": next(message_ids),
        "userId": user.id,
        "username": user.username,
        "message": text,
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "streamId": stream_id,
    }
    history[stream_id].append(message)
    await sio.emit("new_message", message, room=room_for(stream_id))
    return {"ok": True, "id": message["id"]}


async def fail(sid: str, error_event: str, message: str) -> dict[str, Any]:
    await sio.emit(error_event, {"message": message}, to=sid)
    return {"ok": False, "message": message}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--backlog", type=int, default=2048)
    args = parser.parse_args()
    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        loop=loop,
        backlog=args.backlog,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )


if __name__ == "__main__":
    main()
