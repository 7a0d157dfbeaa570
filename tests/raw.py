"""A raw Engine.IO/Socket.IO WebSocket client, for tests of the wire protocol itself."""

from __future__ import annotations

import asyncio
import json
import socket
from urllib.parse import urlsplit

from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

TIMEOUT = 5.0


def ws_url(server_url: str, query: str = "EIO=4&transport=websocket") -> str:
    return server_url.replace("http://", "ws://") + f"/socket.io/?{query}"


class RawSocket:
    def __init__(self, ws) -> None:
        self.ws = ws
        self.open_packet: dict | None = None

    @classmethod
    async def open(cls, server_url: str, query: str = "EIO=4&transport=websocket", **kwargs):
        ws = await asyncio.wait_for(ws_connect(ws_url(server_url, query), **kwargs), TIMEOUT)
        raw = cls(ws)
        first = await raw.recv()
        assert first.startswith("0"), first
        raw.open_packet = json.loads(first[1:])
        return raw

    @classmethod
    async def open_slow(cls, server_url: str, receive_buffer: int = 4096) -> RawSocket:
        """A client with a tiny TCP receive window, for :meth:`stop_reading` later.

        The buffer is set before connecting, so the window the server sees is small.
        WebSocket keepalive pings are off: a client that stops reading cannot answer them.
        """
        address = urlsplit(server_url)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        await asyncio.wait_for(
            asyncio.get_running_loop().sock_connect(sock, (address.hostname, address.port)),
            TIMEOUT,
        )
        return await cls.open(server_url, sock=sock, ping_interval=None, max_queue=4)

    def stop_reading(self) -> None:
        """Read nothing more from the socket: the server's frames pile up on its side."""
        self.ws.transport.pause_reading()

    async def send(self, frame: str | bytes) -> None:
        await self.ws.send(frame)

    async def recv(self, timeout: float = TIMEOUT) -> str:
        """The next frame, answering server pings on the way."""

        async def next_frame():
            while True:
                frame = await self.ws.recv()
                if frame != "2":
                    return frame
                await self.ws.send("3")

        return await asyncio.wait_for(next_frame(), timeout)

    async def connect(self, token: str | None) -> str:
        await self.send("40" + json.dumps({"token": token}))
        return await self.recv()

    async def closed(self, timeout: float = TIMEOUT) -> int | None:
        """Wait until the server closes the connection; its close code."""
        # A paused transport (stop_reading) would never notice the connection end.
        self.ws.transport.resume_reading()

        async def drain():
            while True:
                await self.ws.recv()

        try:
            await asyncio.wait_for(drain(), timeout)
        except ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd else None
        raise AssertionError("unreachable")

    async def next_event(self, timeout: float = TIMEOUT) -> tuple[str, object]:
        async def next_event():
            while True:
                frame = await self.recv(timeout)
                if frame.startswith("42"):
                    name, *args = json.loads(frame[2:])
                    return name, (args[0] if args else None)

        return await asyncio.wait_for(next_event(), timeout)

    async def close(self) -> None:
        await self.ws.close()


class RawPolling:
    """A raw Engine.IO long-polling client (aiohttp), for tests of the HTTP transport."""

    SEPARATOR = "\x1e"

    def __init__(self, http, server_url: str, query: str = "EIO=4&transport=polling") -> None:
        self.http = http
        self.url = f"{server_url}/socket.io/?{query}"
        self.sid: str | None = None
        self.open_packet: dict | None = None

    @classmethod
    async def open(cls, http, server_url: str, **headers: str) -> RawPolling:
        raw = cls(http, server_url)
        status, body = await raw.request("GET", raw.url, headers=headers)
        assert status == 200 and body.startswith("0"), (status, body)
        raw.open_packet = json.loads(body[1:])
        raw.sid = raw.open_packet["sid"]
        raw.url += f"&sid={raw.sid}"
        return raw

    async def request(self, method: str, url: str | None = None, data=None, headers=None):
        async def go():
            async with self.http.request(
                method, url or self.url, data=data, headers=headers
            ) as response:
                return response.status, await response.text()

        return await asyncio.wait_for(go(), TIMEOUT)

    async def get(self) -> tuple[int, str]:
        return await self.request("GET")

    async def packets(self) -> list[str]:
        """One long-poll's packets (a 200 is expected)."""
        status, body = await self.get()
        assert status == 200, (status, body)
        return body.split(self.SEPARATOR)

    async def post(self, *packets: str | bytes) -> tuple[int, str]:
        if len(packets) == 1 and isinstance(packets[0], bytes):
            return await self.request("POST", data=packets[0])
        return await self.request("POST", data=self.SEPARATOR.join(packets).encode())

    async def connect(self, token: str | None) -> list[str]:
        assert await self.post("40" + json.dumps({"token": token})) == (200, "ok")
        return await self.packets()

    async def until_closed(self, polls: int = 5) -> list[str]:
        """GET until the server's CLOSE (``1``); every packet received on the way."""
        received: list[str] = []
        for _ in range(polls):
            received += await self.packets()
            if received[-1] == "1":
                return received
        raise AssertionError(f"no CLOSE within {polls} polls: {received}")
