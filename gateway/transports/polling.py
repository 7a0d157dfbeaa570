"""The Engine.IO v4 HTTP long-polling transport, as an ASGI HTTP application.

``GET /socket.io/?EIO=4&transport=polling`` opens a session; with ``&sid=`` a
GET is held until packets are queued (the session's PING comes every
``pingInterval``, so a GET never waits longer) and a POST delivers the
client's packets, ``\\x1e``-separated, each through :func:`gateway.engine.receive`
like a WebSocket frame. A session lives in this process's registry until it
closes or upgrades to WebSocket (:mod:`gateway.transports.websocket`).

Errors answer like the reference servers (engine.io, python-engineio):
HTTP 400 with ``{"code": …, "message": …}``, plus a ``detail`` that tells a
person reading it (curl, a browser, a client's debug log) what to do.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import secrets
from urllib.parse import parse_qs

from gateway import codec, engine, metrics, recovery
from gateway.origins import origin_allowed, request_origin
from gateway.pending import pending_acquire
from gateway.session import (
    CLOSE_PROTOCOL_ERROR,
    CLOSE_SLOW_CONSUMER,
    CLOSE_TOO_BIG,
    CLOSE_UNSUPPORTED_DATA,
    Session,
    State,
)
from gateway.settings import realtime_settings
from gateway.transports import forwarding
from livestream.client_address import scope_client_address

logger = logging.getLogger(__name__)

PATHS = ("/socket.io/", "/socket.io")
SEPARATOR = "\x1e"  # between packets of one HTTP body (Engine.IO v4)
NOOP_FRAME = str(codec.NOOP)
CLOSE_FRAME = str(codec.CLOSE)

# The reference servers' error codes and messages.
UNKNOWN_TRANSPORT = (0, "Transport unknown")
UNKNOWN_SID = (1, "Session ID unknown")
BAD_HANDSHAKE_METHOD = (2, "Bad handshake method")
BAD_REQUEST = (3, "Bad request")
FORBIDDEN = (4, "Forbidden")
UNSUPPORTED_PROTOCOL_VERSION = (5, "Unsupported protocol version")

CLIENTS = "socket.io-client 3.x/4.x, python-socketio 5.x or another Socket.IO v5 client"
DETAILS = {
    UNKNOWN_TRANSPORT[0]: (
        "transport must be 'polling' (HTTP) or 'websocket' (a WebSocket upgrade request); "
        f"connect with {CLIENTS} (docs/events.md)"
    ),
    UNKNOWN_SID[0]: (
        "this session is closed, expired or unknown to every worker: "
        "open a new one (a GET without sid); clients reconnect by themselves"
    ),
    BAD_HANDSHAKE_METHOD[0]: "a session is opened with a GET without sid",
    BAD_REQUEST[0]: "a session takes a GET (to receive) or a POST (to send) with its sid",
    FORBIDDEN[0]: "this request was refused",
    UNSUPPORTED_PROTOCOL_VERSION[0]: (
        f"this server speaks Engine.IO 4 (Socket.IO v5) only (EIO=4): connect with {CLIENTS}"
    ),
}
ORIGIN_REFUSED = "this page's Origin is not in ALLOWED_ORIGINS"
TOO_MANY_PENDING = (
    "too many sockets from your address have not sent CONNECT yet "
    "(SOCKETIO_MAX_PENDING_PER_IP); try again in a moment"
)
UNKNOWN_PATH = (
    "the Socket.IO endpoint is /socket.io/ (a client's default path); "
    "this server serves no client bundle: load socket.io-client from npm or a CDN"
)

# sid -> transport of the long-polling sessions of this process (one event loop).
registry: dict[str, PollingTransport] = {}


def upgradable(sid: str) -> PollingTransport | None:
    """The long-polling transport of session ``sid``, if it is open and not upgrading."""
    transport = registry.get(sid)
    if transport is None or transport._closing or transport._upgrading:
        return None
    return transport


class PollingTransport:
    """The long-polling side of one session: a queue of text packets and the held GET."""

    __slots__ = (
        "session",
        "_queue",
        "_queued_bytes",
        "_waiter",
        "_closing",
        "_upgrading",
        "_linger",
        "__weakref__",
    )

    kind = "polling"
    upgrades = ("websocket",)

    def __init__(self) -> None:
        self.session: Session | None = None
        self._queue: list[str] | None = None  # created on first use: most polls are idle
        self._queued_bytes = 0  # characters waiting for a GET (SOCKETIO_MAX_BUFFERED_BYTES)
        self._waiter: asyncio.Future | None = None  # the held GET
        self._closing = False
        self._upgrading = False  # a WebSocket answered the probe: GETs are not held
        self._linger: asyncio.TimerHandle | None = None

    # --- transport interface used by the session -----------------------------

    async def send_text(self, frame: str) -> None:
        self._push(frame)

    def deliver(self, broadcast) -> bool:
        for text in broadcast.texts:
            self._push(text)
        return True

    async def close(self, code: int) -> None:
        # The client learns of the close from its next GET (with whatever was
        # still queued, e.g. a DISCONNECT); if it never comes, forget the sid.
        if self._closing:
            return
        self._closing = True
        self._push(CLOSE_FRAME)
        if self._waiter is None and self.session is not None:
            linger = realtime_settings().ping_timeout_ms / 1000
            self._linger = asyncio.get_running_loop().call_later(linger, self._forget)

    # --- queue ----------------------------------------------------------------

    def _push(self, frame: str) -> None:
        if self._queue is None:
            self._queue = []
        self._queued_bytes += len(frame)
        limit = realtime_settings().max_buffered_bytes
        if limit and self._queued_bytes > limit and not self._closing:
            self._drop_slow_consumer()
            return
        self._queue.append(frame)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _take(self) -> list[str]:
        queue, self._queue = self._queue or [], None
        self._queued_bytes = 0
        return queue

    def _drop_slow_consumer(self) -> None:
        """A client that stops polling cannot make its queue grow without bound.

        What is queued is dropped and the session closed (4008, "slow
        consumer", like a WebSocket that does not read); a GET that still comes
        gets the CLOSE packet.
        """
        session = self.session
        metrics.SLOW_CONSUMER_CLOSES.labels(self.kind).inc()
        logger.warning(
            "closing %s: slow consumer, %d characters waiting for a GET",
            session.sid if session is not None else "?",
            self._queued_bytes,
        )
        self._queue, self._queued_bytes = [], 0
        if session is not None:
            session.close_soon(CLOSE_SLOW_CONSUMER)

    def _forget(self) -> None:
        if self.session is not None and registry.get(self.session.engine_sid) is self:
            del registry[self.session.engine_sid]
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None

    # --- upgrade to WebSocket ---------------------------------------------------

    def pause_for_upgrade(self) -> None:
        """A probe succeeded: GETs are answered at once (a NOOP if nothing else).

        The client pauses polling after its pending GET returns; which GET that
        is depends on when ``3probe`` reaches it, so none may be held until the
        upgrade completes or fails (the reference server re-sends NOOPs instead).
        """
        self._upgrading = True
        if self._waiter is not None:
            self._push(NOOP_FRAME)

    def resume(self) -> None:
        """The probe failed: long-polling goes on as before."""
        self._upgrading = False

    def hand_over(self) -> list[str]:
        """The upgrade completed: leave the registry; the packets still queued, in order."""
        self._push(NOOP_FRAME)  # a GET still held returns at once
        self._forget()
        self.session = None
        return [frame for frame in self._take() if frame != NOOP_FRAME]

    # --- HTTP requests ------------------------------------------------------------

    async def poll(self, receive) -> tuple[int, str]:
        """A GET: the queued packets, once there are any."""
        if self._waiter is not None:
            # Two GETs at once break the protocol (the spec closes the session).
            await self.session.close(CLOSE_PROTOCOL_ERROR)
            return 400, _error_body(BAD_REQUEST)
        if not self._queue and not self._upgrading:
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            gone = asyncio.ensure_future(_disconnected(receive))  # never, when forwarded
            try:
                await asyncio.wait((waiter, gone), return_when=asyncio.FIRST_COMPLETED)
            finally:
                self._waiter = None
                gone.cancel()
            if not waiter.done():
                return 0, ""  # the client went away; the queue waits for its next GET
        frames = self._take() or [NOOP_FRAME]  # empty when an upgrade took them
        if self._closing and frames[-1] == CLOSE_FRAME:
            if len(frames) > 1:
                # The close goes in a response of its own, as the reference
                # server does: the JS client handles Socket.IO packets a tick
                # later, so a DISCONNECT sharing a payload with the close would
                # be read as "transport close" instead of "io server disconnect".
                self._queue = [CLOSE_FRAME]
                frames.pop()
            else:
                self._forget()
        return 200, SEPARATOR.join(frames)

    async def post(self, body: bytes | None) -> tuple[int, str]:
        """A POST's body (None: over the limit); each packet handled like a WebSocket frame."""
        session = self.session
        if body is None:
            await session.close(CLOSE_TOO_BIG)
            return 413, _error_body(BAD_REQUEST)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            await session.close(CLOSE_UNSUPPORTED_DATA)
            return 400, _error_body(BAD_REQUEST)
        for packet in text.split(SEPARATOR):
            if session.state is State.CLOSED:
                break
            if packet.startswith("b"):
                # A binary attachment, base64 over long-polling.
                try:
                    data = base64.b64decode(packet[1:], validate=True)
                except binascii.Error:
                    await session.close(CLOSE_UNSUPPORTED_DATA)
                    break
                await engine.receive_binary(session, data)
            else:
                await engine.receive(session, packet)
        return 200, "ok"


async def _disconnected(receive) -> None:
    if receive is None:
        await asyncio.Event().wait()  # a forwarded GET: the forwarding worker watches
    while (await receive())["type"] != "http.disconnect":
        pass


async def _read_body(receive, limit: int) -> bytes | None:
    """The request body, or None as soon as it passes ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _error_body(error: tuple[int, str], detail: str | None = None) -> str:
    code, message = error
    return json.dumps({"code": code, "message": message, "detail": detail or DETAILS[code]})


# --- the ASGI application -------------------------------------------------------


async def polling_application(scope, receive, send) -> None:
    """ASGI HTTP application for ``/socket.io/`` (see :mod:`livestream.asgi`)."""
    headers = scope.get("headers", ())
    origin = request_origin(headers)
    cors: list[tuple[bytes, bytes]] = []
    if origin is not None:
        if not origin_allowed(headers):
            await _respond(send, 403, _error_body(FORBIDDEN, ORIGIN_REFUSED), json_body=True)
            return
        cors = [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-credentials", b"true"),
        ]
    method = scope["method"]
    if method == "OPTIONS":
        await _respond(send, 204, "", extra=cors + _preflight_headers(headers))
        return
    status, body = await _handle(scope, receive, method)
    if status:
        await _respond(send, status, body, extra=cors, json_body=status >= 400)


async def unknown_path_application(scope, receive, send) -> None:
    """Any other path under /socket.io/: a 404 that says where the endpoint is."""
    body = json.dumps({"code": 404, "message": "Not found", "detail": UNKNOWN_PATH})
    await _respond(send, 404, body, json_body=True)


async def _handle(scope, receive, method: str) -> tuple[int, str]:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if query.get("EIO") != ["4"]:
        return 400, _error_body(UNSUPPORTED_PROTOCOL_VERSION)
    if query.get("transport") != ["polling"]:
        return 400, _error_body(UNKNOWN_TRANSPORT)
    sid = query.get("sid")
    if sid is None:
        if method != "GET":
            return 400, _error_body(BAD_HANDSHAKE_METHOD)
        pending = pending_acquire(scope_client_address(scope))
        if pending is None:
            # Too many unauthenticated sessions from this address.
            return 403, _error_body(FORBIDDEN, TOO_MANY_PENDING)
        return 200, await _open(pending, scope)
    sid = sid[0]
    if method not in ("GET", "POST"):
        return 400, _error_body(BAD_REQUEST)
    # None: over the limit (the owner closes the session and answers 413).
    body = await _read_body(receive, realtime_settings().max_payload) if method == "POST" else b""
    owner = forwarding.owner_of(sid)
    if sid not in registry and owner is not None and owner != forwarding.get_inbox().channel:
        answer = await forwarding.get_inbox().forward(
            owner, {"method": method, "sid": sid, "body": body}
        )
        return answer if answer is not None else (400, _error_body(UNKNOWN_SID))
    return await serve_local(method, sid, body, receive=receive)


async def serve_local(method: str, sid: str, body: bytes | None, *, receive) -> tuple[int, str]:
    """A GET or POST for a session of this process (``receive`` None when forwarded)."""
    transport = registry.get(sid)
    if transport is None or transport.session is None:
        return 400, _error_body(UNKNOWN_SID)
    if method == "GET":
        return await transport.poll(receive)
    if transport._closing:
        return 400, _error_body(UNKNOWN_SID)
    return await transport.post(body)


async def _open(pending, scope) -> str:
    owner = await forwarding.get_inbox().name()
    transport = PollingTransport()
    sid = f"{owner}{forwarding.OWNER_SEPARATOR}{secrets.token_urlsafe(15)}"
    session = transport.session = Session(
        transport, sid=sid, pending=pending, keeps_offsets=recovery.client_keeps_offsets(scope)
    )
    registry[session.engine_sid] = transport
    await session.open()  # queues the OPEN packet
    return SEPARATOR.join(transport._take())


def _preflight_headers(headers) -> list[tuple[bytes, bytes]]:
    requested = b"content-type"
    for name, value in headers:
        if name.lower() == b"access-control-request-headers":
            requested = value
    return [
        (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
        (b"access-control-allow-headers", requested),
    ]


async def _respond(send, status: int, body: str, *, extra=(), json_body: bool = False) -> None:
    content_type = b"application/json" if json_body else b"text/plain; charset=UTF-8"
    data = body.encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(data)).encode()),
                (b"cache-control", b"no-store"),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
