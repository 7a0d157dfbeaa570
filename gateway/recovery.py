"""Connection-state recovery (Socket.IO 4.6+): a dropped socket comes back as itself.

The CONNECT answer gives a recovering client a private id (``pid``); every room
broadcast it receives ends with an offset, the broadcast's id. When its
connection drops (not a disconnect it or the server asked for), its session is
*parked* on the worker that held it for ``SOCKETIO_RECOVERY_WINDOW_MS``: still
in its rooms and in presence, so nobody sees a count change, and its rooms'
broadcasts keep being logged by the hub (:class:`RoomLog`, per room and
process, bounded by the window and ``SOCKETIO_RECOVERY_MAX_PACKETS``).

A CONNECT carrying ``pid`` and ``offset`` (and a token that still authenticates
the same user) resumes the parked session on whichever worker the client
reached: locally by adopting it, on another worker by *claiming* it over the
channel layer (:func:`resume`). The holder answers with every logged broadcast
of the session's rooms after ``offset``, in the order it wrote them, and lets
go; the new worker joins the rooms first and holds what arrives meanwhile, so
an overlap is dropped by offset and nothing falls in between. Anything that
cannot be resumed exactly (window passed, log trimmed past the offset, worker
gone, another user's token) is a normal new connection.

Which sockets get offsets (:func:`client_keeps_offsets`, :func:`keeps_offsets`):
an offset is an extra event argument, which clients without recovery hand to
their handlers. python-socketio handlers taking one argument would fail, so
sockets from Python's HTTP clients (python-engineio's timestamp, or a
``Python/``/``python-`` User-Agent) get none unless their CONNECT asks with
``auth.recovery: true``; ``auth.recovery: false`` turns them off for any client.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import logging
import secrets
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from channels.layers import get_channel_layer

from gateway.settings import realtime_settings
from livestream.loops import PerLoop
from livestream.redis_clients import get_async_redis, key

if TYPE_CHECKING:
    from gateway.auth import Identity
    from gateway.session import Session

logger = logging.getLogger(__name__)

CLAIM = "recovery.claim"
STATE = "recovery.state"
CLAIM_TIMEOUT_SECONDS = 3.0
# A pid is ours (token_urlsafe(16)); anything much longer is not worth a lookup.
_MAX_PID = 64
_MAX_OFFSET = 64


def enabled() -> bool:
    return realtime_settings().recovery_window_ms > 0


# --- offsets ----------------------------------------------------------------------

# Offsets are unique across processes: a random prefix per process and a counter.
_prefix = secrets.token_urlsafe(6)
_counter = itertools.count(1)


def new_offsets(count: int) -> list[str]:
    """Ids for ``count`` broadcasts, the same on every worker that delivers them."""
    return [f"{_prefix}.{next(_counter):x}" for _ in range(count)]


def with_offset(text: str, offset: str) -> str:
    """``42["event",data]`` → ``42["event",data,"offset"]`` (offsets need no escaping)."""
    return f'{text[:-1]},"{offset}"]'


# --- who keeps offsets ------------------------------------------------------------


def client_keeps_offsets(scope: dict) -> bool:
    """Whether the handshake came from a client that can take an extra event argument."""
    if not enabled():
        return False
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if "." in query.get("t", [""])[0]:
        return False  # python-engineio stamps requests with time.time()
    for name, value in scope.get("headers", ()):
        if name == b"user-agent":
            return not value.lower().startswith((b"python/", b"python-"))
    return True


def keeps_offsets(session: Session, auth: Any) -> bool:
    """The handshake's answer unless the CONNECT says otherwise (``recovery``, or a ``pid``)."""
    if not enabled():
        return False
    if isinstance(auth, dict):
        asked = auth.get("recovery")
        if isinstance(asked, bool):
            return asked
        if "pid" in auth:
            return True  # only a client that recovers sends one
    return session.keeps_offsets


def new_pid() -> str:
    return secrets.token_urlsafe(16)


def _urlsafe(text: str) -> bool:
    """Only what ``secrets.token_urlsafe`` makes: our pids, nothing a key could trip on."""
    return text.isascii() and text.replace("-", "a").replace("_", "a").isalnum()


def requested(auth: Any) -> tuple[str, str | None] | None:
    """The ``(pid, offset)`` of a CONNECT that asks to recover, if well-formed."""
    if not isinstance(auth, dict):
        return None
    pid, offset = auth.get("pid"), auth.get("offset")
    if not isinstance(pid, str) or not 0 < len(pid) <= _MAX_PID or not _urlsafe(pid):
        return None
    if not isinstance(offset, str) or not 0 < len(offset) <= _MAX_OFFSET:
        offset = None  # no broadcast reached the client yet
    return pid, offset


# --- per-session state -------------------------------------------------------------


class Resumable:
    """What a recovering session needs to be resumed: its pid and its places in the logs."""

    __slots__ = ("pid", "since", "joined", "prelude", "held")

    def __init__(self, pid: str, since: int) -> None:
        self.pid = pid
        # Hub sequence numbers: when the session connected and joined each room.
        self.since = since
        self.joined: dict[str, int] = {}
        # Frames another worker replayed when this one took the session over, for
        # a client that drops again before the next heartbeat confirms it read them.
        self.prelude: list[tuple[str, str]] = []
        # While resuming: room frames that arrived before the replay was sent.
        self.held: list[tuple[str, str]] | None = None


class RoomLog:
    """The recent broadcasts of one room on this process.

    Entries are ``(seq, offset, text, skip, time)``: ``text`` is the frame every
    socket got (shared with the broadcast, so no copy), its offset added on replay.
    """

    __slots__ = ("entries", "trimmed")

    def __init__(self) -> None:
        self.entries: collections.deque = collections.deque()
        self.trimmed = 0  # the seq of the last entry dropped: positions before it are lost

    def append(self, seq: int, offset: str, text: str, skip: str | None, now: float) -> None:
        conf = realtime_settings()
        entries = self.entries
        entries.append((seq, offset, text, skip, now))
        oldest = now - conf.recovery_window_ms / 1000
        while entries and (len(entries) > conf.recovery_max_packets or entries[0][4] < oldest):
            self.trimmed = entries.popleft()[0]

    def find(self, offset: str) -> int | None:
        for entry in self.entries:
            if entry[1] == offset:
                return entry[0]
        return None

    def after(self, seq: int, sid: str) -> list[tuple]:
        if seq < self.trimmed:
            raise LookupError("trimmed")
        return [entry for entry in self.entries if entry[0] > seq and entry[3] != sid]


class Parking:
    """This process's parked sessions, by pid."""

    def __init__(self) -> None:
        self.sessions: dict[str, Session] = {}
        self.timers: dict[str, asyncio.TimerHandle] = {}
        self.waiting: dict[str, asyncio.Future] = {}


_parking = PerLoop(Parking).get


def _record_key(pid: str) -> str:
    return key("recovery", pid)


async def park(session: Session) -> None:
    """Keep ``session`` for the window; it closes as usual if nobody resumes it."""
    from gateway.hub import get_hub

    parking = _parking()
    pid = session.recovery.pid
    window = realtime_settings().recovery_window_ms
    parking.sessions[pid] = session
    parking.timers[pid] = asyncio.get_running_loop().call_later(
        window / 1000, lambda: asyncio.ensure_future(_expire(pid))
    )
    record = json.dumps({"channel": await get_hub().channel(), "rooms": sorted(session.rooms)})
    try:
        await get_async_redis(_record_key(pid)).set(_record_key(pid), record, px=window)
    except Exception:
        # Without the record only this worker can resume it; it still expires.
        logger.warning("could not record parked session %s", session.sid, exc_info=True)


async def _expire(pid: str) -> None:
    session = unpark(pid)
    if session is not None:
        await session.close()
        await _forget_record(pid)


def unpark(pid: str) -> Session | None:
    parking = _parking()
    timer = parking.timers.pop(pid, None)
    if timer is not None:
        timer.cancel()
    return parking.sessions.pop(pid, None)


async def _forget_record(pid: str) -> None:
    try:
        await get_async_redis(_record_key(pid)).delete(_record_key(pid))
    except Exception:
        logger.debug("could not delete the record of %s", pid, exc_info=True)


# --- replay ------------------------------------------------------------------------


def replay(session: Session, offset: str | None) -> list[tuple[str, str]] | None:
    """Every logged broadcast of ``session``'s rooms after ``offset``, in order; None if lost."""
    from gateway.hub import get_hub

    logs = get_hub().logs
    state = session.recovery
    prelude: list[tuple[str, str]] = []
    start = state.since
    if offset is not None:
        offsets = [item[0] for item in state.prelude]
        if offset in offsets:
            prelude = state.prelude[offsets.index(offset) + 1 :]
        else:
            found = None
            for room in [*session.rooms, *logs]:
                log = logs.get(room)
                if log is not None and (found := log.find(offset)) is not None:
                    break
            if found is None:
                return None
            start = found
    elif state.prelude:
        prelude = list(state.prelude)
    entries: list[tuple] = []
    try:
        for room in session.rooms:
            log = logs.get(room)
            if log is not None:
                entries.extend(log.after(max(start, state.joined.get(room, 0)), session.sid))
    except LookupError:
        return None
    entries.sort(key=lambda entry: entry[0])
    return prelude + [(entry[1], with_offset(entry[2], entry[1])) for entry in entries]


# --- resuming ----------------------------------------------------------------------


async def resume(session: Session, pid: str, offset: str | None, user: Identity) -> str | None:
    """Make ``session`` the parked session ``pid`` and send what it missed.

    Returns how ("local" or "claimed"), or None when it cannot be resumed exactly.
    """
    from gateway.hub import get_hub

    parked = _parking().sessions.get(pid)
    if parked is None:
        return "claimed" if await _claim(session, pid, offset, user) else None
    if parked.user.id != user.id:
        return None
    frames = replay(parked, offset)
    unpark(pid)
    if frames is None:
        await parked.close()
        return None
    parked.recovery.held = []
    session.adopt(parked, user)
    get_hub().replace(parked, session)
    await _answer(session, frames, offset)
    await _forget_record(pid)
    return "local"


async def _claim(session: Session, pid: str, offset: str | None, user: Identity) -> bool:
    from gateway import events, limits
    from gateway.hub import get_hub

    hub = get_hub()
    try:
        raw = await get_async_redis(_record_key(pid)).get(_record_key(pid))
    except Exception:
        logger.warning("could not look up parked session %s", pid, exc_info=True)
        return False
    if raw is None:
        return False
    record = json.loads(raw)
    own = await hub.channel()
    if record["channel"] == own:
        return False  # it was ours and is gone (expired or closed)
    session.recovery = Resumable(pid, hub.seq)
    session.recovery.held = []
    joined = []
    try:
        for room in record["rooms"]:
            await session.join(room)
            joined.append(room)
        reply_id = uuid.uuid4().hex
        waiting = _parking().waiting
        future = waiting[reply_id] = asyncio.get_running_loop().create_future()
        try:
            await get_channel_layer().send(
                record["channel"],
                {
                    "type": CLAIM,
                    "pid": pid,
                    "offset": offset,
                    "user": user.id,
                    "reply": own,
                    "id": reply_id,
                },
            )
            state = await asyncio.wait_for(future, CLAIM_TIMEOUT_SECONDS)
        finally:
            waiting.pop(reply_id, None)
    except Exception:
        logger.info("could not claim parked session %s", pid, exc_info=True)
        state = None
    if not state or not state.get("ok"):
        for room in joined:
            await session.leave(room)
        session.recovery = None
        return False
    for room in set(joined) - set(state["rooms"]):
        await session.leave(room)
    session.sid = state["sid"]
    session.data.update(_import_data(state["data"]))
    session.recovery.prelude = [tuple(frame) for frame in state["frames"]]
    session.connected(user)
    await limits.acquire_connection(user.id, session.sid)
    await events.run_resume_handlers(session)
    await _forget_record(pid)
    await _answer(session, session.recovery.prelude, offset)
    return True


async def _answer(session: Session, frames: list[tuple[str, str]], offset: str | None) -> None:
    """The CONNECT answer, the missed frames, then what arrived meanwhile (once each).

    What arrived meanwhile may start with broadcasts this worker was still catching
    up on, older than the client's ``offset``: those it has, up to that offset.
    """
    from gateway import codec

    state = session.recovery
    await session.send_frame(codec.encode_connect(session.sid, pid=state.pid))
    sent = set()
    for item in frames:
        sent.add(item[0])
        await session.send_frame(item[1])
    offsets = [item[0] for item in state.held or ()]
    if offset is not None and offset in offsets:
        del state.held[: offsets.index(offset) + 1]
    # What arrives while this runs is held until the list is empty, so it stays in order.
    while state.held:
        held, state.held = state.held, []
        for item in held:
            if item[0] is None or item[0] not in sent:
                await session.send_frame(item[1])
    state.held = None


async def handle(message: dict) -> None:
    """A claim from another worker, or the answer to ours (both arrive on the hub's channel)."""
    if message["type"] == STATE:
        future = _parking().waiting.get(message["id"])
        if future is not None and not future.done():
            future.set_result(message)
        return
    await _hand_over(message)


async def _hand_over(message: dict) -> None:
    from gateway import events, limits
    from gateway.hub import get_hub

    answer: dict[str, Any] = {"type": STATE, "id": message["id"], "ok": False}
    parked = _parking().sessions.get(message["pid"])
    if parked is not None and parked.user.id == message["user"]:
        frames = replay(parked, message.get("offset"))
        unpark(message["pid"])
        if frames is None:
            await parked.close()
        else:
            answer.update(
                ok=True,
                sid=parked.sid,
                rooms=sorted(parked.rooms),
                data=_export_data(parked.data),
                frames=[list(frame) for frame in frames],
            )
            await events.run_handoff_handlers(parked)
            limits.forget_connection(parked.user.id, parked.sid)
            await get_hub().discard(parked)  # before let_go(), which forgets its rooms
            parked.let_go()
    await get_channel_layer().send(message["reply"], answer)


def _export_data(data: dict) -> dict:
    """``session.data`` as the channel layer carries it (sets become tagged lists)."""
    return {
        name: {"set": sorted(v)} if isinstance(v, set) else {"v": v} for name, v in data.items()
    }


def _import_data(data: dict) -> dict:
    return {name: set(v["set"]) if "set" in v else v["v"] for name, v in data.items()}
