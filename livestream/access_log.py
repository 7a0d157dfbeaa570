"""The access log, with the real client address (:mod:`livestream.client_address`).

daphne's own access log only knows the TCP peer, which behind nginx is nginx.
This ASGI middleware writes one NCSA-style line per HTTP response and per
WebSocket handshake instead, naming the client the way throttles, limits and
the audit trail do. A WebSocket's ``send`` is passed on untouched: the
gateway's fast path writes frames through daphne's own ``send``.
"""

from __future__ import annotations

import logging
import time

from livestream.client_address import scope_client_address

logger = logging.getLogger("livestream.access")


def _line(scope: dict, request: str, status: object = "-", size: object = "-") -> str:
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S", time.gmtime())
    return f'{scope_client_address(scope)} - - [{stamp}] "{request}" {status} {size}'


class AccessLogMiddleware:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        kind = scope["type"]
        if kind == "websocket":
            logger.info(_line(scope, f"WSCONNECTING {scope.get('path', '')}"))
            return await self.app(scope, receive, send)
        if kind != "http":
            return await self.app(scope, receive, send)
        status: list[int] = []
        size = 0

        async def logged_send(message: dict) -> None:
            nonlocal size
            if message["type"] == "http.response.start":
                status.append(message["status"])
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
                if not message.get("more_body"):
                    path = scope.get("path", "")
                    request = f"{scope.get('method', '-')} {path}"
                    logger.info(_line(scope, request, status[0] if status else "-", size))
            await send(message)

        await self.app(scope, receive, logged_send)
