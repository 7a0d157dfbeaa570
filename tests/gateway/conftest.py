"""Fixtures for the gateway tests: a real Twisted TCP transport without a running reactor."""

import socket

import pytest
from twisted.internet import tcp
from twisted.protocols import policies


class IdleReactor:
    """Just enough reactor for a transport that is written to but never run."""

    def __init__(self) -> None:
        self.later: list = []

    def addWriter(self, selectable) -> None:
        pass

    def removeWriter(self, selectable) -> None:
        pass

    def addReader(self, selectable) -> None:
        pass

    def removeReader(self, selectable) -> None:
        pass

    def callLater(self, delay, function, *args):
        self.later.append((function, args))


@pytest.fixture
def twisted_tcp():
    """A twisted tcp.Server on one end of a socket pair, and the (non-blocking) other end."""
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    theirs.setblocking(False)
    transport = tcp.Server(ours, policies.ProtocolWrapper, ("127.0.0.1", 1), None, 1, IdleReactor())
    yield transport, theirs
    ours.close()
    theirs.close()
