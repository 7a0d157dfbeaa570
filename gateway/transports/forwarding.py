"""Long-polling requests for a session another process owns, forwarded over the channel layer.

No sticky sessions: a session's next GET or POST may land on any worker. The
sid names its owner (``<owner's inbox channel>~<random>``; channel names never
contain ``~`` and every character of both survives ``encodeURIComponent``).
A worker that does not hold the sid sends the request to the owner's inbox
and waits for the answer on its own inbox, matched by a request number. Each
process has one inbox, created with its first long-polling session or its
first forwarded request: one channel-layer subscription per process, not
per request.
"""

from __future__ import annotations

import asyncio
import itertools
import logging

from channels.layers import get_channel_layer

from gateway.inbox import receive_forever
from gateway.refresher import Refresher, entry_ttl_ms
from gateway.settings import realtime_settings
from livestream.loops import PerLoop
from livestream.redis_clients import get_async_redis, key

logger = logging.getLogger(__name__)

OWNER_SEPARATOR = "~"
FORWARD = "eio.forward"
REPLY = "eio.reply"
# Beyond a held GET's longest wait (the next PING), the owner is presumed gone.
GRACE_SECONDS = 5.0


# Channel names are at most 100 characters (channels' own limit).
MAX_CHANNEL_LENGTH = 100


def owner_of(sid: str) -> str | None:
    """The inbox channel of the process that owns ``sid``, if the sid names one."""
    channel, separator, _ = sid.rpartition(OWNER_SEPARATOR)
    if not separator or not channel or len(channel) > MAX_CHANNEL_LENGTH:
        return None
    return channel


def _alive_key(channel: str) -> str:
    return key("eio-inbox", channel)


class Inbox:
    """This process's channel for forwarded requests and their answers."""

    def __init__(self) -> None:
        self.channel: str | None = None
        self._ready = asyncio.Lock()
        self._numbers = itertools.count()
        self._waiting: dict[int, asyncio.Future] = {}
        self._tasks: set[asyncio.Task] = set()
        # The inbox is announced in Redis while this process lives, so a sid
        # naming an owner that is gone (or never was: sids come from clients)
        # is refused at once instead of holding a request until a timeout.
        self._announcer = Refresher(self._announce, what="long-polling inbox")

    async def name(self) -> str:
        if self.channel is None:
            async with self._ready:
                if self.channel is None:
                    layer = get_channel_layer()
                    channel = await layer.new_channel(prefix="eio.")
                    self._spawn(self._receive_forever(layer, channel))
                    self.channel = channel
                    await self._announce()
                    self._announcer.ensure_running()
        return self.channel

    async def _announce(self) -> None:
        alive = _alive_key(self.channel)
        await get_async_redis(alive).set(alive, 1, px=entry_ttl_ms())

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def forward(self, owner: str, request: dict) -> tuple[int, str] | None:
        """Send ``request`` to ``owner``; its (status, body), or None if it never answers."""
        reply_to = await self.name()
        alive = _alive_key(owner)
        if not await get_async_redis(alive).exists(alive):
            return None
        number = next(self._numbers)
        answer = self._waiting[number] = asyncio.get_running_loop().create_future()
        conf = realtime_settings()
        timeout = (conf.ping_interval_ms + conf.ping_timeout_ms) / 1000 + GRACE_SECONDS
        try:
            await get_channel_layer().send(
                owner, {"type": FORWARD, "reply_to": reply_to, "number": number, **request}
            )
            return await asyncio.wait_for(answer, timeout)
        except TimeoutError:
            return None
        finally:
            self._waiting.pop(number, None)

    async def _receive_forever(self, layer, channel: str) -> None:
        async def handle(message: dict) -> None:
            await self._handle(layer, message)

        await receive_forever(layer, channel, handle, what="long-polling inbox")

    async def _handle(self, layer, message: dict) -> None:
        from gateway.transports import polling, relay

        kind = message.get("type")
        if kind == REPLY:
            answer = self._waiting.get(message["number"])
            if answer is not None and not answer.done():
                answer.set_result((message["status"], message["body"]))
        elif kind == FORWARD:
            self._spawn(self._serve(layer, polling, relay, message))
        elif kind == relay.RELAY_IN:
            self._spawn(relay.receive_in(message))  # in order: it takes a per-sid lock first
        elif kind == relay.RELAY_OUT:
            await relay.receive_out(message)  # inline, so frames keep their order

    async def _serve(self, layer, polling, relay, message: dict) -> None:
        try:
            if message["method"] == relay.RELAY_OPEN:
                accepted = await relay.accept(message["sid"], message["reply_to"])
                status, body = (200 if accepted else 400), ""
            else:
                status, body = await polling.serve_local(
                    message["method"], message["sid"], message.get("body"), receive=None
                )
        except Exception:
            logger.exception("forwarded request for %s failed", message.get("sid"))
            status, body = 500, ""
        await layer.send(
            message["reply_to"],
            {"type": REPLY, "number": message["number"], "status": status, "body": body},
        )


get_inbox = PerLoop(Inbox).get
