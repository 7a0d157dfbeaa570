"""The WebSocket side of the ASGI application: the Socket.IO endpoint.

There is one endpoint, so the consumer checks the path itself instead of going
through Channels' URLRouter, and the application returns the consumer's
coroutine instead of awaiting it: a copied scope and two suspended call frames
would otherwise stay alive for every open connection (about 2.5 KB each).
"""

from gateway.consumer import EngineIOConsumer


def websocket_application(scope, receive, send):
    """ASGI application serving ``EngineIOConsumer.path`` ("/socket.io/")."""
    return EngineIOConsumer()(scope, receive, send)
