"""ASGI entry point: the Socket.IO endpoint (WebSocket and long-polling) to the
realtime gateway, every other HTTP request to Django."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livestream.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from gateway.routing import http_application, websocket_application  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": http_application(django_asgi_app),
        "websocket": websocket_application,
    }
)
