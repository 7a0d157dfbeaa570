"""The gateway's ASGI applications: the Socket.IO endpoint over both transports.

There is one endpoint, so the WebSocket consumer checks the path itself
instead of going through Channels' URLRouter, and the application returns the
consumer's coroutine instead of awaiting it: a copied scope and two suspended
call frames would otherwise stay alive for every open connection (about 2.5 KB
each). HTTP requests to the endpoint are long-polling; other paths under it get
a 404 that says where the endpoint is; the rest go to Django.
"""

from gateway.transports.polling import PATHS, polling_application, unknown_path_application
from gateway.transports.websocket import EngineIOConsumer

# The route label of the endpoint's HTTP requests (livestream.http_metrics).
SOCKETIO_ROUTE = dict.fromkeys(PATHS, "/socket.io/")


def websocket_application(scope, receive, send):
    """ASGI application serving the Socket.IO path (``PATHS``); others are refused."""
    return EngineIOConsumer()(scope, receive, send)


def http_application(django_app):
    """ASGI HTTP application: long-polling on the Socket.IO path, Django elsewhere."""

    def application(scope, receive, send):
        path = scope.get("path", "")
        if path in PATHS:
            return polling_application(scope, receive, send)
        if path.startswith(PATHS[0]):
            return unknown_path_application(scope, receive, send)
        return django_app(scope, receive, send)

    return application
