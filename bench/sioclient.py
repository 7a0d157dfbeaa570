"""A minimal Socket.IO v5 / Engine.IO v4 client over one aiohttp WebSocket.

The load generator runs thousands of these in one process, so the receive path is a
plain loop with no per-frame JSON parsing: frames are handed to a shared ``Sink`` as
text and only the scenario decides what to decode. Pings (``2``) are answered with
``3`` before anything else so a busy scenario does not get clients dropped for a late
pong.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Protocol

import aiohttp

# Engine.IO packet types (first character of a frame).
EIO_OPEN, EIO_CLOSE, EIO_PING, EIO_PONG, EIO_MESSAGE = "0", "1", "2", "3", "4"
# Socket.IO packet types (second character of an Engine.IO message).
SIO_CONNECT, SIO_DISCONNECT, SIO_EVENT, SIO_ACK, SIO_CONNECT_ERROR = "0", "1", "2", "3", "4"


class ProtocolError(Exception):
    """The server sent something other than what the handshake expects."""


class AuthRefused(Exception):
    """The server answered CONNECT with CONNECT_ERROR (``44``)."""


class Sink(Protocol):
    """Receives every event frame (``42[...]``) of every client."""

    def on_event(self, client: SioClient, frame: str) -> None: ...

    def on_closed(self, client: SioClient) -> None: ...


def event_name(frame: str) -> str:
    """The event name of a ``42["name",...]`` frame, without decoding the payload."""
    end = frame.find('"', 4)
    return frame[4:end] if frame.startswith('42["') and end > 0 else ""


def event_payload(frame: str) -> Any:
    """The first argument of a ``42[...]`` frame."""
    args = json.loads(frame[2:])
    return args[1] if len(args) > 1 else None


class SioClient:
    """One Socket.IO connection to the default namespace."""

    __slots__ = (
        "index",
        "ws",
        "sid",
        "sink",
        "closed",
        "close_reason",
        "_acks",
        "_next_ack",
        "_reader",
        "data",
    )

    def __init__(self, index: int, sink: Sink) -> None:
        self.index = index
        self.sink = sink
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.sid: str | None = None
        self.closed = False
        self.close_reason = ""
        self._acks: dict[int, asyncio.Future] = {}
        self._next_ack = 0
        self._reader: asyncio.Task | None = None
        # Per-scenario scratch space (last viewer count, joined flag...).
        self.data: dict[str, Any] = {}

    async def connect(self, http: aiohttp.ClientSession, url: str, token: str) -> None:
        """Open the WebSocket and authenticate; returns once ``40{"sid":..}`` arrived."""
        self.ws = await http.ws_connect(url, autoping=True, max_msg_size=0, compress=0)
        opened = await self._next_text()
        if not opened.startswith(EIO_OPEN):
            raise ProtocolError(f"expected Engine.IO open '0{{...}}', got {opened[:80]!r}")
        await self.ws.send_str("40" + json.dumps({"token": token}))
        while True:
            frame = await self._next_text()
            if frame == EIO_PING:
                await self.ws.send_str(EIO_PONG)
            elif frame.startswith("40"):
                self.sid = json.loads(frame[2:])["sid"]
                break
            elif frame.startswith("44"):
                raise AuthRefused(frame[2:200])
            else:
                raise ProtocolError(f"expected '40{{sid}}' or '44', got {frame[:80]!r}")
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _next_text(self) -> str:
        assert self.ws is not None
        msg = await self.ws.receive()
        if msg.type is not aiohttp.WSMsgType.TEXT:
            raise ProtocolError(f"expected a text frame, got {msg.type.name}")
        return msg.data

    async def _read(self) -> None:
        ws = self.ws
        assert ws is not None
        sink = self.sink
        text = aiohttp.WSMsgType.TEXT
        try:
            while True:
                msg = await ws.receive()
                if msg.type is not text:
                    self.close_reason = f"{msg.type.name} code={ws.close_code} {msg.extra or ''}"
                    break
                frame: str = msg.data
                kind = frame[:2]
                if kind == "42":
                    sink.on_event(self, frame)
                elif kind == EIO_PING:
                    await ws.send_str(EIO_PONG)
                elif kind == "43":
                    self._resolve_ack(frame)
                elif kind == "41" or kind[:1] == EIO_CLOSE:
                    self.close_reason = f"server sent {frame[:60]!r}"
                    break
        except asyncio.CancelledError:
            self.close_reason = "reader cancelled"
        except Exception as exc:
            # Any failure ends this client; the scenario counts it with this reason.
            self.close_reason = f"{type(exc).__name__}: {exc}"[:200]
        finally:
            self._mark_closed()

    def _resolve_ack(self, frame: str) -> None:
        bracket = frame.find("[", 2)
        if bracket < 0:
            return
        fut = self._acks.pop(int(frame[2:bracket]), None)
        if fut is not None and not fut.done():
            args = json.loads(frame[bracket:])
            fut.set_result(args[0] if args else None)

    def _mark_closed(self) -> None:
        if self.closed:
            return
        self.closed = True
        for fut in self._acks.values():
            if not fut.done():
                fut.cancel()
        self._acks.clear()
        self.sink.on_closed(self)

    async def emit(self, event: str, payload: Any) -> None:
        """Send an event without an ack id."""
        assert self.ws is not None
        if self.closed:
            raise ConnectionError(f"client {self.index} is closed ({self.close_reason})")
        await self.ws.send_str("42" + json.dumps([event, payload], separators=(",", ":")))

    async def call(self, event: str, payload: Any) -> asyncio.Future:
        """Send an event with an ack id; the returned future gets the ack's first argument.

        The future is cancelled if the connection closes first; callers bound the wait.
        """
        assert self.ws is not None
        if self.closed:
            raise ConnectionError(f"client {self.index} is closed ({self.close_reason})")
        ack_id = self._next_ack
        self._next_ack += 1
        fut = asyncio.get_running_loop().create_future()
        self._acks[ack_id] = fut
        body = json.dumps([event, payload], separators=(",", ":"))
        await self.ws.send_str(f"42{ack_id}{body}")
        return fut

    async def close(self) -> None:
        """Close the WebSocket gracefully (the server sees a normal disconnect)."""
        if self.ws is not None and not self.ws.closed:
            try:
                await self.ws.close()
            except (TimeoutError, aiohttp.ClientError, ConnectionError):
                pass
        if self._reader is not None:
            self._reader.cancel()
        self._mark_closed()
