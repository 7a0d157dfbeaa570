"""The Twisted, autobahn and daphne internals the fast write path relies on.

gateway/wire.py and gateway/transports/websocket.py reach below the public APIs (pinned in
requirements.txt). When an upgrade moves any of these, this fails loudly
instead of the server writing garbage or losing its bound on unsent bytes.
"""

import functools
import inspect
import socket

from autobahn.websocket.protocol import WebSocketProtocol as AutobahnProtocol
from daphne.server import Server
from daphne.ws_protocol import WebSocketProtocol
from twisted.internet import tcp
from twisted.protocols import policies, tls

from gateway import wire
from gateway.transports.websocket import _daphne_protocol


def test_a_twisted_tcp_transport_exposes_its_socket_and_buffers(twisted_tcp):
    transport, _ = twisted_tcp
    assert isinstance(transport.socket, socket.socket)
    for name in ("dataBuffer", "offset", "_tempDataLen", "connected", "disconnecting", "TLS"):
        assert hasattr(transport, name), f"twisted tcp transports have no {name} any more"
    assert transport.TLS is False
    transport.write(b"x" * 1000)
    assert wire.held_by_twisted(transport) == 1000  # counted before the reactor sends it


def test_a_tls_wrapper_is_told_from_plain_tcp_by_its_type(twisted_tcp):
    transport, _ = twisted_tcp
    assert wire._is_plain_tcp(transport)
    # The wrapper forwards attribute lookups (TLS, socket) to the TCP transport
    # under it, which is why a type check, not ``transport.TLS``, says "TLS".
    assert issubclass(tls.TLSMemoryBIOProtocol, policies.ProtocolWrapper)
    assert not issubclass(tls.TLSMemoryBIOProtocol, tcp.Connection)
    assert "_appSendBuffer = []" in inspect.getsource(tls.TLSMemoryBIOProtocol.makeConnection)
    assert hasattr(tls.TLSMemoryBIOProtocol, "abortConnection")


def test_autobahn_protocols_keep_their_state_and_compression_attributes():
    assert issubclass(WebSocketProtocol, AutobahnProtocol)
    assert isinstance(AutobahnProtocol.STATE_OPEN, int)
    assert AutobahnProtocol.STATE_OPEN != AutobahnProtocol.STATE_CLOSING
    made = inspect.getsource(AutobahnProtocol._connectionMade)
    assert "self._perMessageCompress = None" in made
    assert "self.state = " in made


def test_daphne_send_is_a_partial_of_handle_reply_on_the_protocol():
    assert "partial(self.handle_reply, protocol)" in inspect.getsource(Server.create_application)
    protocol = WebSocketProtocol.__new__(WebSocketProtocol)
    server = Server.__new__(Server)
    assert _daphne_protocol(functools.partial(server.handle_reply, protocol)) is protocol
