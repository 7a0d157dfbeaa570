"""Writing ready-made frames to many sockets cheaply: cork, then send directly.

Twisted's ``transport.write`` registers the socket with the selector for every
write and sends on the next turn: two ``epoll_ctl`` calls and a ``send`` per
frame per socket, most of a broadcast's cost. Here the frames for a socket are
gathered for a couple of milliseconds (several broadcasts become one ``send``),
then sent straight on the socket when Twisted has nothing queued for it;
whatever the kernel does not take goes to ``transport.write`` as usual,
so ordering and back-pressure stay Twisted's.
"""

from __future__ import annotations

import asyncio
import logging
import time

logger = logging.getLogger(__name__)

# How long frames wait to share a send: under load a socket's frames of several
# broadcasts go out in one syscall; when idle it only delays a frame this much.
# The window follows the cost of the last flush (twice as long, within bounds),
# so a worker busy fanning out to thousands of sockets batches more.
MIN_CORK_SECONDS = 0.002
MAX_CORK_SECONDS = 0.025
_cork_seconds = MIN_CORK_SECONDS

_pending: dict[object, list[bytes]] = {}
_flush_scheduled = False


def write(transport, data: bytes) -> None:
    """Queue ``data`` for ``transport``; it goes out within the cork window."""
    global _flush_scheduled
    chunks = _pending.get(transport)
    if chunks is None:
        _pending[transport] = [data]
    else:
        chunks.append(data)
    if not _flush_scheduled:
        _flush_scheduled = True
        asyncio.get_running_loop().call_later(_cork_seconds, flush)


def flush() -> None:
    global _flush_scheduled, _cork_seconds
    _flush_scheduled = False
    started = time.perf_counter()
    pending = list(_pending.items())
    _pending.clear()
    for transport, chunks in pending:
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        try:
            _send(transport, data)
        except Exception:
            logger.exception("writing to %r failed", transport)
    spent = time.perf_counter() - started
    _cork_seconds = min(MAX_CORK_SECONDS, max(MIN_CORK_SECONDS, 2 * spent))


def _send(transport, data: bytes) -> None:
    if not transport.connected or transport.disconnecting:
        return
    if getattr(transport, "TLS", False) or transport._tempDataLen or transport.dataBuffer:
        transport.write(data)  # keep order behind what Twisted already holds
        return
    try:
        sent = transport.socket.send(data)
    except BlockingIOError:
        sent = 0
    except OSError:
        # Let Twisted find the error on its next write and close the connection.
        sent = 0
    if sent < len(data):
        transport.write(data[sent:])
