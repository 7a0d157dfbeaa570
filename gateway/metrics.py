"""The gateway's counters: sockets, events, broadcasts and closes (no domain knowledge).

Counting stays off the per-frame path: one counter step per event or state
change, one add per broadcast for all the sockets it reached. Label values
come from a closed set (registered event names, session states, close codes),
never from what a client sends; error messages are folded to their template
(digits become ``N``) so a countdown does not mint a label per second.
"""

from __future__ import annotations

import re

from prometheus_client import Counter, Gauge, Histogram

SOCKETS = Gauge(
    "socketio_sockets",
    "Open Socket.IO sessions by transport and state (summed over workers)",
    ["transport", "state"],
    multiprocess_mode="livesum",
)
ROOMS = Gauge(
    "socketio_rooms",
    "Rooms with local sockets, one per room per worker (summed over workers)",
    multiprocess_mode="livesum",
)
EVENTS = Counter(
    "socketio_events",
    "Client events received, by name and outcome (ok, error or refused by a limit)",
    ["event", "outcome", "message"],
)
CONNECTS = Counter(
    "socketio_connects",
    "Socket.IO CONNECT attempts by outcome",
    ["outcome"],
)
BROADCASTS_PUBLISHED = Counter(
    "socketio_broadcasts_published",
    "Broadcasts published on the channel layer, to a room or to one user's sockets",
    ["kind"],
)
BROADCASTS_RECEIVED = Counter(
    "socketio_broadcasts_received",
    "Room broadcasts a worker received while it had sockets in the room",
)
DELIVERIES = Counter(
    "socketio_deliveries",
    "Broadcast frames written to (or queued for) local sockets",
)
FANOUT_SECONDS = Histogram(
    "socketio_fanout_seconds",
    "From publishing a room broadcast to having written it to a worker's sockets",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
CLOSES = Counter(
    "socketio_closes",
    "Sessions closed, by reason (the close code's meaning)",
    ["reason"],
)
SLOW_CONSUMER_CLOSES = Counter(
    "socketio_slow_consumer_closes",
    "Sockets dropped for not reading what they were sent (SOCKETIO_MAX_BUFFERED_BYTES)",
    ["transport"],
)
RECOVERIES = Counter(
    "socketio_recoveries",
    "CONNECTs asking to recover a session, by outcome (local, claimed from another worker, fresh)",
    ["outcome"],
)

OK = "ok"
ERROR = "error"
REFUSED = "refused"
UNKNOWN_EVENT = "(unknown)"

_DIGITS = re.compile(r"\d+")
_MAX_MESSAGE = 80


def message_label(message: str) -> str:
    """An error message as a label: its template, bounded in length."""
    return _DIGITS.sub("N", message[:_MAX_MESSAGE])


_ok_events: dict[str, Counter] = {}


def event_ok(event: str) -> None:
    child = _ok_events.get(event)
    if child is None:
        child = _ok_events[event] = EVENTS.labels(event, OK, "")
    child.inc()


def event_failed(event: str, outcome: str, message: str) -> None:
    EVENTS.labels(event, outcome, message_label(message)).inc()


_sockets: dict[tuple[str, str], Gauge] = {}


def sockets(transport: str, state: str) -> Gauge:
    """The gauge child of ``(transport, state)``, looked up once."""
    child = _sockets.get((transport, state))
    if child is None:
        child = _sockets[(transport, state)] = SOCKETS.labels(transport, state)
    return child
