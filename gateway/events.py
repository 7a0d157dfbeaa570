"""Event handler registry: how apps plug their socket events into the gateway.

An app registers a coroutine per event name::

    @events.on("join_stream_room", error_event="room_join_error")
    async def join_stream_room(session, payload):
        ...
        return {"streamId": stream_id}        # becomes the ack {ok: true, ...}

Raising :class:`EventError` sends ``error_event {message}`` to the socket and
acks ``{ok: false, message}`` (``limit=True`` when a limit refused it, which
the metrics count apart). The gateway knows nothing of what the events mean.

A socket's events are handled one at a time, in order. A handler whose answer
waits on something slow that keeps order by itself (a write queue) may return
:func:`later` with that awaitable once its in-order part is done: the socket
reads on, and the ack (or the error) follows when the awaitable ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway import metrics

if TYPE_CHECKING:
    from gateway.session import Session

logger = logging.getLogger(__name__)

Handler = Callable[["Session", Any], Awaitable[dict | None]]
SessionHandler = Callable[["Session"], Awaitable[None]]

INTERNAL_ERROR = "Something went wrong, please try again"
UNKNOWN_EVENT = "Unknown event"
TOO_MANY_EVENTS = "Too many events"


class EventError(Exception):
    """An error the client should see, as ``{message}``; ``limit`` when a limit refused it."""

    def __init__(self, message: str, *, limit: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.limit = limit


@dataclass(frozen=True, slots=True)
class Registration:
    handler: Handler
    error_event: str | None


class Later:
    """An answer still to come (see :func:`later`)."""

    __slots__ = ("awaitable",)

    def __init__(self, awaitable: Awaitable[dict | None]) -> None:
        self.awaitable = awaitable


def later(awaitable: Awaitable[dict | None]) -> Later:
    """Return this from a handler: the socket reads on, the ack follows ``awaitable``."""
    return Later(awaitable)


_handlers: dict[str, Registration] = {}
_answering: set[asyncio.Task] = set()
_disconnect_handlers: list[SessionHandler] = []
_handoff_handlers: list[SessionHandler] = []
_resume_handlers: list[SessionHandler] = []


def on(event: str, *, error_event: str | None = None) -> Callable[[Handler], Handler]:
    """Register ``handler`` for the client event ``event``."""

    def register(handler: Handler) -> Handler:
        if event in _handlers:
            raise ValueError(f"a handler for {event!r} is already registered")
        _handlers[event] = Registration(handler, error_event)
        return handler

    return register


def registered() -> dict[str, str | None]:
    """Each client event with a handler, and its error event (``docs/asyncapi.yaml`` lists them)."""
    return {event: registration.error_event for event, registration in _handlers.items()}


def on_disconnect(handler: SessionHandler) -> SessionHandler:
    """Register ``handler`` to run once when any session ends, however it ends."""
    _disconnect_handlers.append(handler)
    return handler


def on_handoff(handler: SessionHandler) -> SessionHandler:
    """Register ``handler`` for a parked session another worker resumes (gateway.recovery).

    The session goes on elsewhere with the same sid and rooms: drop what this
    process keeps for it, announce nothing (no disconnect handler runs).
    """
    _handoff_handlers.append(handler)
    return handler


def on_resume(handler: SessionHandler) -> SessionHandler:
    """Register ``handler`` for a session this process took over from another worker.

    ``session.data`` and ``session.rooms`` are restored; set up what this process
    keeps for such a session (what a join or CONNECT would have), announcing nothing.
    """
    _resume_handlers.append(handler)
    return handler


async def run_handoff_handlers(session: Session) -> None:
    await _run_all(_handoff_handlers, session)


async def run_resume_handlers(session: Session) -> None:
    await _run_all(_resume_handlers, session)


async def dispatch(session: Session, event: str, payload: Any, ack_id: int | None) -> None:
    registration = _handlers.get(event)
    # Only registered names become metric labels: clients choose the rest.
    name = event if registration is not None else metrics.UNKNOWN_EVENT
    if not await session.admit_event():
        metrics.event_failed(name, metrics.REFUSED, TOO_MANY_EVENTS)
        if ack_id is not None:
            await session.ack(ack_id, {"ok": False, "message": TOO_MANY_EVENTS})
        return
    if registration is None:
        metrics.event_failed(name, metrics.ERROR, UNKNOWN_EVENT)
        if ack_id is not None:
            await session.ack(ack_id, {"ok": False, "message": UNKNOWN_EVENT})
        return
    await _answer(session, event, registration, ack_id, registration.handler(session, payload))


async def _answer(
    session: Session,
    event: str,
    registration: Registration,
    ack_id: int | None,
    pending: Awaitable[dict | None],
) -> None:
    try:
        result = await pending
        if isinstance(result, Later):
            task = asyncio.ensure_future(
                _answer(session, event, registration, ack_id, result.awaitable)
            )
            _answering.add(task)
            task.add_done_callback(_answering.discard)
            return
    except EventError as exc:
        metrics.event_failed(event, metrics.REFUSED if exc.limit else metrics.ERROR, exc.message)
        await _fail(session, registration, ack_id, exc.message)
    except Exception:
        logger.exception("handler for %r failed (sid=%s)", event, session.sid)
        metrics.event_failed(event, metrics.ERROR, INTERNAL_ERROR)
        await _fail(session, registration, ack_id, INTERNAL_ERROR)
    else:
        metrics.event_ok(event)
        if ack_id is not None:
            await session.ack(ack_id, {"ok": True, **(result or {})})


async def _fail(
    session: Session, registration: Registration, ack_id: int | None, message: str
) -> None:
    if registration.error_event:
        await session.emit(registration.error_event, {"message": message})
    if ack_id is not None:
        await session.ack(ack_id, {"ok": False, "message": message})


async def run_disconnect_handlers(session: Session) -> None:
    await _run_all(_disconnect_handlers, session)


async def _run_all(handlers: list[SessionHandler], session: Session) -> None:
    for handler in handlers:
        try:
            await handler(session)
        except Exception:
            logger.exception("session handler %s failed (sid=%s)", handler, session.sid)
