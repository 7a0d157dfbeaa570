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
channel layer (:func:`resume`). A session still connected as far as the server
knows (the client noticed the drop first) is parked on the spot for it: the pid
names the worker that gave it out, which is asked when no record says more.
The holder answers with every logged broadcast of the session's rooms after
``offset``, in the order it wrote them, and lets go; the new worker joins the
rooms first and holds what arrives meanwhile, so an overlap is dropped by
offset and nothing falls in between. Anything that cannot be resumed exactly
(window passed, log trimmed past the offset, worker gone, another user's
token) is a normal new connection.

Which sockets get offsets (:func:`client_keeps_offsets`, :func:`keeps_offsets`):
an offset is an extra event argument, which clients without recovery hand to
their handlers. python-socketio handlers taking one argument would fail, so
sockets from Python's HTTP clients (python-engineio's timestamp, or a
``Python/``/``python-`` User-Agent) get none unless their CONNECT asks with
``auth.recovery: true``; ``auth.recovery: false`` turns them off for any client.
"""

from __future__ import annotations

import asyncio
import base64
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
    from gateway.broadcast import Broadcast
    from gateway.session import Session

logger = logging.getLogger(__name__)

# Worker to worker, on the hub's channel: park it if still connected (and where is it),
# hand it over, and the answer to either.
PREPARE = "recovery.prepare"
CLAIM = "recovery.claim"
STATE = "recovery.state"
CLAIM_TIMEOUT_SECONDS = 3.0
# A pid is ours (see new_pid); anything much longer is not worth a lookup.
_MAX_PID = 160
_MAX_OFFSET = 64
# After a takeover, how many of each room's broadcasts before the client's offset the
# new worker drops if they reach it late, and for how long it watches for them.
_KNOWN_PER_ROOM = 1_000
KNOWN_SECONDS = 30.0


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


def new_pid(channel: str) -> str:
    """A private session id naming the worker (its hub channel) that gave it out."""
    origin = base64.urlsafe_b64encode(channel.encode()).rstrip(b"=").decode()
    return f"{origin}.{secrets.token_urlsafe(16)}"


def _origin(pid: str) -> str | None:
    """The hub channel of the worker that gave out ``pid``."""
    origin = pid.partition(".")[0]
    try:
        return base64.urlsafe_b64decode(origin + "=" * (-len(origin) % 4)).decode()
    except ValueError:
        return None


def _urlsafe(text: str) -> bool:
    """Only what ``new_pid`` makes: nothing a key or a channel name could trip on."""
    return text.isascii() and text.replace("-", "a").replace("_", "a").replace(".", "a").isalnum()


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

    __slots__ = ("pid", "since", "joined", "prelude", "held", "known", "known_until")

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
        # After taking a session over from another worker: offsets the client has
        # (replayed, or before its offset) that this worker may still receive late,
        # when its Redis shards deliver in another order than the other worker's.
        self.known: set[str] | None = None
        self.known_until = 0.0

    def unknown(self, broadcast: Broadcast) -> Broadcast | None:
        """``broadcast`` without what the client already has; None if nothing is left."""
        if asyncio.get_running_loop().time() > self.known_until:
            self.known = None
            return broadcast
        known = self.known
        keep = [offset not in known for offset in broadcast.offsets]
        if all(keep):
            return broadcast
        if not any(keep):
            return None
        from gateway.broadcast import Broadcast  # which imports this module

        texts = [text for text, new in zip(broadcast.texts, keep, strict=True) if new]
        offsets = [offset for offset, new in zip(broadcast.offsets, keep, strict=True) if new]
        return Broadcast(*texts, offsets=offsets)


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

    def before(self, seq: int, most: int) -> list[str]:
        """The offsets of the newest ``most`` entries up to ``seq``."""
        found: list[str] = []
        for entry in reversed(self.entries):
            if entry[0] <= seq:
                found.append(entry[1])
                if len(found) == most:
                    break
        return found

    def after(self, seq: int, sid: str) -> list[tuple]:
        if seq < self.trimmed:
            raise LookupError("trimmed")
        return [entry for entry in self.entries if entry[0] > seq and entry[3] != sid]


class Parking:
    """This process's recovering sessions by pid, connected or parked (those with a timer)."""

    def __init__(self) -> None:
        self.sessions: dict[str, Session] = {}
        self.timers: dict[str, asyncio.TimerHandle] = {}
        self.waiting: dict[str, asyncio.Future] = {}


def register(session: Session) -> None:
    """``session`` (connected, recovering) answers to its pid on this process."""
    _parking().sessions[session.recovery.pid] = session


def forget(session: Session) -> None:
    """``session`` closed: its pid names nothing here any more."""
    pid = session.recovery.pid
    if _parking().sessions.get(pid) is session:
        unpark(pid)


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


async def _held(pid: str, user_id: str) -> Session | None:
    """This process's parked session ``pid`` of ``user_id``, parking it first if still connected.

    A client often knows its connection is gone before the server does (a network switch
    fails its socket at once; the server waits for the heartbeat): its reconnection is
    what tells the server, and the old connection is dropped for it.
    """
    session = _parking().sessions.get(pid)
    if session is None or session.user is None or session.user.id != user_id:
        return None
    if session.is_connected:
        await session.lost()
    return session if session.is_parked else None


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
    found = _replay(session, offset)
    return None if found is None else found[0]


def _replay(session: Session, offset: str | None) -> tuple[list[tuple[str, str]], list[str]] | None:
    """:func:`replay`, and the offsets of the logged broadcasts the client had (the newest)."""
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
    had: list[str] = []
    try:
        for room in session.rooms:
            log = logs.get(room)
            if log is not None:
                entries.extend(log.after(max(start, state.joined.get(room, 0)), session.sid))
                had.extend(log.before(start, _KNOWN_PER_ROOM))
    except LookupError:
        return None
    entries.sort(key=lambda entry: entry[0])
    frames = [(entry[1], with_offset(entry[2], entry[1])) for entry in entries]
    return prelude + frames, had


# --- resuming ----------------------------------------------------------------------


async def resume(session: Session, pid: str, offset: str | None, user: Identity) -> str | None:
    """Make ``session`` the parked session ``pid`` and send what it missed.

    Returns how ("local" or "claimed"), or None when it cannot be resumed exactly.
    """
    from gateway.hub import get_hub

    parked = await _held(pid, user.id)
    if parked is None:
        if pid in _parking().sessions:
            return None  # ours, but another user's or closing
        return "claimed" if await _claim(session, pid, offset, user) else None
    frames = replay(parked, offset)
    unpark(pid)
    if frames is None:
        await parked.close()
        return None
    parked.recovery.held = []
    session.adopt(parked, user)
    get_hub().replace(parked, session)
    register(session)
    await _answer(session, frames, offset)
    await _forget_record(pid)
    return "local"


async def _claim(session: Session, pid: str, offset: str | None, user: Identity) -> bool:
    from gateway import events, limits
    from gateway.hub import get_hub

    hub = get_hub()
    own = await hub.channel()
    record = await _record(pid)
    if record is None:
        # Not parked anywhere: maybe still connected where it began, which has not
        # noticed the drop yet. Asked to, that worker parks it and says where it is.
        origin = _origin(pid)
        if origin is None or origin == own:
            return False
        record = await _ask(origin, {"type": PREPARE, "pid": pid, "user": user.id})
        if not record or not record.get("ok"):
            return False
    if record["channel"] == own:
        return False  # it was ours and is gone (expired or closed)
    session.recovery = Resumable(pid, hub.seq)
    session.recovery.held = []
    joined = []
    try:
        for room in record["rooms"]:
            await session.join(room)
            joined.append(room)
        claim = {"type": CLAIM, "pid": pid, "offset": offset, "user": user.id}
        state = await _ask(record["channel"], claim)
    except Exception:
        logger.info("could not claim parked session %s", pid, exc_info=True)
        state = None
    if not state or not state.get("ok"):
        for room in joined:
            await session.leave(room)
        session.recovery = None
        return False
    if session.is_closed:
        # The new connection went too while we claimed: nobody holds the session now,
        # and its presence entries expire within a heartbeat period.
        return False
    for room in set(joined) - set(state["rooms"]):
        await session.leave(room)
    session.sid = state["sid"]
    session.data.update(_import_data(state["data"]))
    resumed = session.recovery
    resumed.prelude = [tuple(frame) for frame in state["frames"]]
    resumed.known = {*state["known"], *(frame[0] for frame in resumed.prelude)}
    resumed.known_until = asyncio.get_running_loop().time() + KNOWN_SECONDS
    session.connected(user)
    register(session)
    await limits.acquire_connection(user.id, session.sid)
    await events.run_resume_handlers(session)
    await _forget_record(pid)
    await _answer(session, session.recovery.prelude, offset)
    return True


async def _record(pid: str) -> dict | None:
    """Where ``pid`` is parked and its rooms, if it is parked anywhere."""
    try:
        raw = await get_async_redis(_record_key(pid)).get(_record_key(pid))
    except Exception:
        logger.warning("could not look up parked session %s", pid, exc_info=True)
        return None
    return None if raw is None else json.loads(raw)


async def _ask(channel: str, message: dict) -> dict | None:
    """Send ``message`` to another worker's hub; its answer, or None after the timeout."""
    from gateway.hub import get_hub

    reply_id = uuid.uuid4().hex
    waiting = _parking().waiting
    future = waiting[reply_id] = asyncio.get_running_loop().create_future()
    try:
        reply = {"reply": await get_hub().channel(), "id": reply_id}
        await get_channel_layer().send(channel, {**message, **reply})
        return await asyncio.wait_for(future, CLAIM_TIMEOUT_SECONDS)
    except Exception:  # TimeoutError included
        logger.info("%s to %s got no answer", message["type"], channel, exc_info=True)
        return None
    finally:
        waiting.pop(reply_id, None)


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
    known = state.known or set()
    # What arrives while this runs is held until the list is empty, so it stays in order.
    while state.held:
        held, state.held = state.held, []
        for item in held:
            if item[0] is None or (item[0] not in sent and item[0] not in known):
                await session.send_frame(item[1])
    state.held = None


async def handle(message: dict) -> None:
    """A claim from another worker, or the answer to ours (both arrive on the hub's channel)."""
    if message["type"] == STATE:
        future = _parking().waiting.get(message["id"])
        if future is not None and not future.done():
            future.set_result(message)
        return
    if message["type"] == PREPARE:
        await _prepare(message)
    else:
        await _hand_over(message)


async def _prepare(message: dict) -> None:
    from gateway.hub import get_hub

    answer: dict[str, Any] = {"type": STATE, "id": message["id"], "ok": False}
    parked = await _held(message["pid"], message["user"])
    if parked is not None:
        answer.update(ok=True, channel=await get_hub().channel(), rooms=sorted(parked.rooms))
    await get_channel_layer().send(message["reply"], answer)


async def _hand_over(message: dict) -> None:
    from gateway import events, limits
    from gateway.hub import get_hub

    answer: dict[str, Any] = {"type": STATE, "id": message["id"], "ok": False}
    parked = await _held(message["pid"], message["user"])
    if parked is not None:
        found = _replay(parked, message.get("offset"))
        unpark(message["pid"])
        if found is None:
            await parked.close()
        else:
            frames, had = found
            answer.update(
                ok=True,
                sid=parked.sid,
                rooms=sorted(parked.rooms),
                data=_export_data(parked.data),
                frames=[list(frame) for frame in frames],
                known=had,
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
