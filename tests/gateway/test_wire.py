"""The write path's rules on a real Twisted TCP transport: nothing after a close
frame, no frame lost silently, and a bound on what a socket may hold unsent."""

import socket

import pytest

from gateway import wire

OPEN, CLOSING = 3, 4


class Protocol:
    """What wire.py reads of a WebSocket protocol (autobahn's names)."""

    STATE_OPEN = OPEN

    def __init__(self, transport) -> None:
        self.state = OPEN
        self.transport = transport


@pytest.fixture
def peer(twisted_tcp):
    """A WebSocket protocol stand-in on a real tcp.Server, and the socket at the other end."""
    transport, theirs = twisted_tcp
    return Protocol(transport), theirs


def received(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except BlockingIOError:
        return b""


async def test_corked_frames_go_out_on_flush(peer):
    protocol, theirs = peer
    assert wire.write(protocol, b"one", 0) and wire.write(protocol, b"two", 0)
    wire.flush()
    assert received(theirs) == b"onetwo"


async def test_frames_corked_when_the_close_frame_went_out_are_dropped(peer):
    protocol, theirs = peer
    wire.write(protocol, b"late frame", 0)
    protocol.state = CLOSING  # autobahn sent its own close frame (1007, 1009, ...)
    wire.flush()
    assert received(theirs) == b""


async def test_a_write_over_the_cap_is_refused_and_counts_what_is_corked(peer):
    protocol, _ = peer
    assert wire.write(protocol, b"x" * 600, 1000)
    assert wire.buffered(protocol) == 600
    assert not wire.write(protocol, b"y" * 600, 1000)
    assert wire.buffered(protocol) == 600
    wire.flush()
    assert wire.buffered(protocol) == 0  # the kernel took it


async def test_what_twisted_holds_counts_towards_the_cap(peer):
    protocol, _ = peer
    protocol.transport.write(b"z" * 900)  # queued in Twisted, as autobahn's own writes are
    assert wire.buffered(protocol) == 900
    assert not wire.write(protocol, b"y" * 200, 1000)


async def test_a_flush_that_fails_drops_the_connection_instead_of_the_frames(peer):
    protocol, theirs = peer

    class BrokenSocket:
        def send(self, data):
            raise RuntimeError("the socket is in a state nobody expected")

    protocol.transport.socket = BrokenSocket()
    wire.write(protocol, b"frame", 0)
    wire.flush()
    assert protocol.transport._aborting  # the client reconnects; nothing is skipped silently
