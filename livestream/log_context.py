"""What a log line is about (socket, user, stream), carried along the async call chain.

The gateway opens a context per packet it handles (:func:`session_context`)
and an app adds the stream it works on (:func:`bind`); the JSON log format
(:mod:`livestream.log_format`) writes them into every line logged meanwhile,
including lines of tasks started from there. One ``ContextVar`` set and reset
per packet: nothing is kept per socket.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

FIELDS = ("sid", "user_id", "stream_id")

_context: ContextVar[dict[str, str] | None] = ContextVar("livestream_log_context", default=None)


@contextmanager
def session_context(sid: str, user_id: object = None) -> Iterator[None]:
    fields = {"sid": sid}
    if user_id is not None:
        fields["user_id"] = str(user_id)
    token = _context.set(fields)
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields: object) -> None:
    """Add fields (``stream_id=...``) to the current context, for what is logged next."""
    current = _context.get()
    if current is None:
        current = {}
        _context.set(current)
    current.update((name, str(value)) for name, value in fields.items() if value is not None)


def current() -> dict[str, str]:
    return _context.get() or {}
