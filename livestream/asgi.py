"""ASGI entry point: the operators' endpoints (/healthz, /readyz, /metrics), the
Socket.IO endpoint (WebSocket and long-polling) to the realtime gateway, every
other HTTP request to Django; each HTTP response counted by route and status."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livestream.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from gateway.routing import SOCKETIO_ROUTE, http_application, websocket_application  # noqa: E402
from livestream import ops  # noqa: E402
from livestream.http_metrics import count_requests  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": count_requests(
            ops.router(http_application(django_asgi_app)),
            fixed_routes={**SOCKETIO_ROUTE, **{path: path for path in ops.PATHS}},
        ),
        "websocket": websocket_application,
    }
)
