"""The operators' endpoints, answered before Django: /healthz, /readyz, /metrics.

They skip Django's middleware on purpose: a load balancer's probe carries
whatever Host header it likes (ALLOWED_HOSTS would refuse it) and should cost
next to nothing. ``/metrics`` is served only to ``METRICS_ALLOWED_NETWORKS``
(the client address as :mod:`livestream.client_address` sees it) or to a
request carrying ``Authorization: Bearer <METRICS_TOKEN>``.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from functools import partial

from channels.db import database_sync_to_async
from django.conf import settings

from livestream import health, metrics
from livestream.client_address import scope_client_address

PATHS = ("/healthz", "/readyz", "/metrics")
METRICS_REFUSED = (
    "metrics are served to METRICS_ALLOWED_NETWORKS, or with 'Authorization: Bearer <token>' "
    "when METRICS_TOKEN is set"
)


def router(app):
    """ASGI HTTP application: the endpoints above, everything else to ``app``."""

    async def application(scope, receive, send) -> None:
        path = scope.get("path")
        if path not in PATHS:
            return await app(scope, receive, send)
        method = scope.get("method")
        if method not in ("GET", "HEAD"):
            allow = [(b"allow", b"GET, HEAD")]
            return await _respond(send, 405, _json({"error": "use GET"}), extra=allow)
        respond = partial(_respond, send, head=method == "HEAD")
        if path == "/healthz":
            return await respond(200, _json({"status": "alive"}))
        if path == "/readyz":
            result = await health.readiness()
            return await respond(200 if result.ready else 503, _json(result.as_json()))
        if not metrics_allowed(scope):
            return await respond(403, _json({"error": METRICS_REFUSED}))
        body = await database_sync_to_async(metrics.render)()
        return await respond(200, body, content_type=metrics.CONTENT_TYPE.encode())

    return application


def metrics_allowed(scope: dict) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        for name, value in scope.get("headers", ()):
            if name.lower() == b"authorization" and hmac.compare_digest(
                value, f"Bearer {token}".encode()
            ):
                return True
    try:
        address = ipaddress.ip_address(scope_client_address(scope))
    except ValueError:
        return False
    return any(address in network for network in _allowed_networks())


_networks: tuple | None = None


def _allowed_networks() -> tuple:
    global _networks
    if _networks is None:
        _networks = tuple(
            ipaddress.ip_network(net, strict=False) for net in settings.METRICS_ALLOWED_NETWORKS
        )
    return _networks


def _json(value: dict) -> bytes:
    return json.dumps(value).encode()


async def _respond(
    send,
    status: int,
    body: bytes,
    *,
    content_type: bytes = b"application/json",
    extra=(),
    head: bool = False,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": b"" if head else body})
