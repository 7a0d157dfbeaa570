"""Writing ready-made frames to many sockets cheaply, within a bound per socket.

Twisted's ``transport.write`` registers the socket with the selector for every
write and sends on the next turn: two ``epoll_ctl`` calls and a ``send`` per
frame per socket, most of a broadcast's cost. Here the frames for a socket are
gathered for a couple of milliseconds (several broadcasts become one ``send``),
then sent straight on the socket when Twisted has nothing queued for it;
whatever the kernel does not take goes to ``transport.write`` as usual,
so ordering and back-pressure stay Twisted's.

What a socket may hold unsent (corked here plus queued in Twisted) is capped:
:func:`write` refuses a frame that would take a socket over the cap, and the
caller drops that socket (a peer that does not read cannot grow the worker).

The fast path relies on internals of Twisted (``tcp.Connection.socket``,
``dataBuffer``, ``offset``, ``_tempDataLen``; ``TLSMemoryBIOProtocol``'s
``_appSendBuffer``) and of autobahn (``state``, ``STATE_OPEN``); their versions
are pinned in requirements.txt and tests/gateway/test_internals.py fails if
any of them moves.
"""

from __future__ import annotations

import asyncio
import logging
import time

from twisted.internet import tcp
from twisted.protocols import tls

from livestream.loops import PerLoop

logger = logging.getLogger(__name__)

# How long frames wait to share a send: under load a socket's frames of several
# broadcasts go out in one syscall; when idle it only delays a frame this much.
# The window follows the cost of the last flush (twice as long, within bounds),
# so a worker busy fanning out to thousands of sockets batches more.
MIN_CORK_SECONDS = 0.002
MAX_CORK_SECONDS = 0.025


class _Cork:
    """Frames waiting to share a send, per WebSocket protocol, for one event loop."""

    __slots__ = ("pending", "sizes", "flush_scheduled", "seconds")

    def __init__(self) -> None:
        self.pending: dict[object, list[bytes]] = {}
        self.sizes: dict[object, int] = {}
        self.flush_scheduled = False
        self.seconds = MIN_CORK_SECONDS


_cork = PerLoop(_Cork).get


def held_by_twisted(transport) -> int:
    """Bytes Twisted holds for ``transport`` that the kernel has not taken yet."""
    if isinstance(transport, tls.TLSMemoryBIOProtocol):
        pending = sum(len(chunk) for chunk in transport._appSendBuffer)
        return pending + held_by_twisted(transport.transport)
    if isinstance(transport, tcp.Connection):
        return len(transport.dataBuffer) - transport.offset + transport._tempDataLen
    return 0


def buffered(protocol) -> int:
    """Bytes queued for ``protocol``'s peer and not yet handed to the kernel."""
    transport = protocol.transport
    corked = _cork().sizes.get(protocol, 0)
    return corked + (held_by_twisted(transport) if transport is not None else 0)


def write(protocol, data: bytes, limit: int) -> bool:
    """Queue ``data`` for ``protocol``'s transport; it goes out within the cork window.

    Returns False, queueing nothing, when the socket would then hold more than
    ``limit`` unsent bytes (0: no limit).
    """
    cork = _cork()
    if limit and buffered(protocol) + len(data) > limit:
        return False
    chunks = cork.pending.get(protocol)
    if chunks is None:
        cork.pending[protocol] = [data]
        cork.sizes[protocol] = len(data)
    else:
        chunks.append(data)
        cork.sizes[protocol] += len(data)
    if not cork.flush_scheduled:
        cork.flush_scheduled = True
        asyncio.get_running_loop().call_later(cork.seconds, flush)
    return True


def flush() -> None:
    """Send every corked frame of this loop now (before a close frame, say)."""
    cork = _cork()
    cork.flush_scheduled = False
    started = time.perf_counter()
    pending = list(cork.pending.items())
    cork.pending.clear()
    cork.sizes.clear()
    for protocol, chunks in pending:
        # Once the close frame is out (ours or autobahn's own 1002/1007/1009),
        # nothing more may follow it.
        if protocol.state != protocol.STATE_OPEN or protocol.transport is None:
            continue
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        try:
            _send(protocol.transport, data)
        except Exception:
            # Frames must not vanish from the middle of a stream: this socket
            # is dropped and its client reconnects.
            logger.exception("writing to %r failed; dropping the connection", protocol)
            abort(protocol)
    spent = time.perf_counter() - started
    cork.seconds = min(MAX_CORK_SECONDS, max(MIN_CORK_SECONDS, 2 * spent))


def abort(protocol, last_words: bytes = b"") -> None:
    """Drop ``protocol``'s connection now, discarding what is queued for it.

    ``last_words`` (a close frame) is offered to the kernel first when nothing
    is queued ahead of it; a peer that does not read gets no more than that.
    """
    cork = _cork()
    cork.pending.pop(protocol, None)
    cork.sizes.pop(protocol, None)
    transport = protocol.transport
    if transport is None:
        return
    if last_words and _is_plain_tcp(transport) and not held_by_twisted(transport):
        try:
            transport.socket.send(last_words)
        except OSError:
            pass
    transport.abortConnection()


def _is_plain_tcp(transport) -> bool:
    # A TLS wrapper forwards attribute lookups (``TLS``, ``socket``) to the TCP
    # transport under it, so only the type tells plaintext from TLS.
    return isinstance(transport, tcp.Connection) and not transport.TLS


def _send(transport, data: bytes) -> None:
    if not transport.connected or transport.disconnecting:
        return
    if not _is_plain_tcp(transport) or held_by_twisted(transport):
        transport.write(data)  # TLS, or keep order behind what Twisted already holds
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
