"""A chat storm into one room, from a process of its own: ``python -m tests.storm PARAMS``.

Why a process of its own: a test that loads a room must not depend on its own
process keeping up. python-socketio readers in the test's process share its event
loop with the sender, the server fixtures and whatever else the test does, and pay
a JSON parse and a handler call per frame; on a loaded 2-core machine they fell
more than ten seconds behind a 250 msg/s storm of 600-byte frames. A reader that
lags like that misses its heartbeat, or the room's last count, and the test fails
for its own slowness, not the server's. Here each client is a raw WebSocket
(Engine.IO v4 / Socket.IO v5 text frames) that reads continuously, answers every
ping at once, and counts ``new_message`` frames by their prefix without parsing them.

``PARAMS`` is one JSON object: ``url`` (the server's http URL), ``stream`` (the
stream id), ``tokens`` (one access token per client), ``rate`` (messages/s),
``seconds``, ``text``, and optionally ``drain`` (seconds to wait, after sending,
for every client to have every message). The first client sends
``"<n> <seq> <text>"`` at ``rate`` for ``seconds``; every client (the sender
too) reads. The conversation with the parent, one JSON line each way:

1. the child prints ``{"joined": n}`` once every client joined the room;
2. it waits for a line on stdin (go), then storms and drains;
3. it prints ``{"clients": [{"messages": n, "disconnected": bool, "close": ...}]}``;
4. it holds its clients in the room (reading) until stdin closes, so the parent
   can look at the server (the viewer count) while they are still there.

Every wait has a time limit; the parent's :class:`Storm` kills the child in any case.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time

from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

TIMEOUT = 10.0
# How long the child waits for "go" and, after its report, for stdin to close.
PARENT_WAIT = 120.0
NEW_MESSAGE = '42["new_message"'
JOIN_ACK_ID = 1


def ws_url(server_url: str) -> str:
    return server_url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"


class StormClient:
    """One raw client in the room: counts ``new_message`` frames, answers pings."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.messages = 0
        self.expected = 0
        self.disconnected = False  # the server closed the connection or the session
        self.close_code: int | None = None
        self.leaving = False  # closing on our side: not a disconnection
        self.done = asyncio.Event()  # every expected message arrived, or the connection ended

    @classmethod
    async def join(cls, url: str, token: str, stream_id: str) -> StormClient:
        """Open, connect with ``token`` and join the stream's room (its ack says ok)."""
        ws = await asyncio.wait_for(ws_connect(ws_url(url), ping_interval=None), TIMEOUT)
        client = cls(ws)
        assert (await client._until(lambda frame: frame[:1] == "0")).startswith("0{")
        await ws.send("40" + json.dumps({"token": token}))
        connected = await client._until(lambda frame: frame.startswith("4"))
        assert connected.startswith("40"), connected
        await ws.send(
            f"42{JOIN_ACK_ID}" + json.dumps(["join_stream_room", {"streamId": stream_id}])
        )
        ack = await client._until(lambda frame: frame.startswith(f"43{JOIN_ACK_ID}["))
        (answer,) = json.loads(ack[len(f"43{JOIN_ACK_ID}") :])
        assert answer.get("ok"), ack
        return client

    async def _until(self, wanted) -> str:
        """The first frame ``wanted`` accepts, answering pings on the way (setup only)."""

        async def scan() -> str:
            while True:
                frame = await self.ws.recv()
                if frame == "2":
                    await self.ws.send("3")
                elif wanted(frame):
                    return frame

        return await asyncio.wait_for(scan(), TIMEOUT)

    async def read(self) -> None:
        """Read until the connection ends: count messages, answer pings at once."""
        try:
            async for frame in self.ws:
                if frame.startswith(NEW_MESSAGE):
                    self.messages += 1
                    if self.messages >= self.expected:
                        self.done.set()
                elif frame == "2":
                    await self.ws.send("3")
                elif frame in ("1", "41") or frame.startswith("44"):
                    self.disconnected = True  # Engine.IO CLOSE, Socket.IO DISCONNECT
        except ConnectionClosed:
            pass
        if not self.leaving:
            rcvd = self.ws.close_rcvd
            self.close_code = rcvd.code if rcvd else None
            self.disconnected = True
        self.done.set()

    async def leave(self) -> None:
        self.leaving = True
        await self.ws.close()

    def report(self) -> dict:
        return {
            "messages": self.messages,
            "disconnected": self.disconnected,
            "close": self.close_code,
        }


async def send_storm(
    client: StormClient, stream_id: str, rate: int, seconds: float, text: str
) -> None:
    """``rate`` chat messages a second for ``seconds``, paced on the clock (never faster).

    A sender the server drops stops here; its report says it was disconnected.
    """
    started = time.monotonic()
    for seq in range(int(rate * seconds)):
        message = {"streamId": stream_id, "message": f"0 {seq} {text}"}
        try:
            await client.ws.send("42" + json.dumps(["chat_message", message]))
        except ConnectionClosed:
            return
        await asyncio.sleep(max(0, started + (seq + 1) / rate - time.monotonic()))


async def stdin_reader() -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


def say(line: dict) -> None:
    print(json.dumps(line), flush=True)


async def run(params: dict) -> None:
    stream_id, rate, seconds = params["stream"], params["rate"], params["seconds"]
    parent = await stdin_reader()
    clients = [await StormClient.join(params["url"], t, stream_id) for t in params["tokens"]]
    for client in clients:
        client.expected = int(rate * seconds)
    readers = [asyncio.create_task(client.read()) for client in clients]
    say({"joined": len(clients)})
    if not await asyncio.wait_for(parent.readline(), PARENT_WAIT):
        return  # the parent is gone (stdin closed): no storm
    # Twice the storm's length: a loaded machine slows the pacing, nothing more. A
    # storm cut short shows in the counts (every client expects every message).
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(
            send_storm(clients[0], stream_id, rate, seconds, params["text"]), seconds * 2
        )
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(
            asyncio.gather(*(client.done.wait() for client in clients)),
            params.get("drain", 30),
        )
    say({"clients": [client.report() for client in clients]})
    with contextlib.suppress(TimeoutError):
        while await asyncio.wait_for(parent.readline(), PARENT_WAIT):
            pass  # until stdin closes
    for client in clients:
        await asyncio.wait_for(client.leave(), TIMEOUT)
    await asyncio.wait_for(asyncio.gather(*readers, return_exceptions=True), TIMEOUT)


class Storm:
    """The parent's end: start the child, go, read its report, let it go."""

    def __init__(self, process, params: dict) -> None:
        self.process = process
        self.params = params
        self.went = 0.0

    @classmethod
    async def start(cls, *, drain: float = 30, **params) -> Storm:
        # Here, not at the top: the child itself needs no Django.
        from tests.support import ROOT, child_env

        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.storm",
            json.dumps({**params, "drain": drain}),
            cwd=ROOT,
            env=child_env(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(process, {**params, "drain": drain})

    async def _line(self, timeout: float) -> dict:
        try:
            raw = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        except TimeoutError:
            raise AssertionError(f"the storm said nothing for {timeout}s") from None
        if not raw:
            await self.fail("the storm exited")
        return json.loads(raw)

    async def joined(self, timeout: float = 30) -> int:
        """Wait until every client of the storm is in the room; how many."""
        return (await self._line(timeout))["joined"]

    def go(self) -> None:
        self.process.stdin.write(b"go\n")
        self.went = time.monotonic()

    async def report(self) -> list[dict]:
        """Per client: messages received, whether it was disconnected (and the code)."""
        # The child's own limits: twice the storm's length to send, then the drain.
        limit = self.params["seconds"] * 2 + self.params["drain"] + TIMEOUT
        return (await self._line(self.went + limit - time.monotonic()))["clients"]

    async def fail(self, what: str) -> None:
        """Fail with the child's stderr (it explains a crash)."""
        self.kill()
        stderr = await asyncio.wait_for(self.process.stderr.read(), TIMEOUT)
        raise AssertionError(f"{what}:\n{stderr.decode(errors='replace')[-3000:]}")

    async def finish(self, timeout: float = TIMEOUT) -> None:
        """Let the clients leave (stdin closes) and wait for the child to exit."""
        self.process.stdin.close()
        try:
            code = await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            await self.fail(f"the storm did not exit within {timeout}s")
        if code != 0:
            await self.fail(f"the storm exited with {code}")

    def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()

    async def __aenter__(self) -> Storm:
        return self

    async def __aexit__(self, *exc_info) -> None:
        self.kill()
        await asyncio.wait_for(self.process.wait(), TIMEOUT)


if __name__ == "__main__":
    asyncio.run(run(json.loads(sys.argv[1])))
