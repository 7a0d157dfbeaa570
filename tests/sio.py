"""A python-socketio client that records what it receives, for assertions."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import socketio

DEFAULT_TIMEOUT = 5.0
# python-socketio's name for what the JS client calls "io server disconnect":
# the server sent a Socket.IO DISCONNECT packet.
SERVER_DISCONNECT = socketio.AsyncClient.reason.SERVER_DISCONNECT


class PayloadLog:
    """What the suite's clients received and what their acked events carried.

    ``tests/contracts/test_asyncapi.py`` validates all of it against the
    schemas of ``docs/asyncapi.yaml`` at the end of the session. Distinct
    payloads only, a bounded number per event, so load-style tests cost nothing.
    """

    PER_EVENT = 200

    def __init__(self) -> None:
        self.received: dict[str, dict[str, Any]] = {}  # event -> {json: payload}
        self.acked: dict[str, dict[str, tuple[Any, Any]]] = {}  # event -> {json: (sent, ack)}

    def receive(self, event: str, data: Any) -> None:
        self._keep(self.received, event, data)

    def ack(self, event: str, sent: Any, ack: Any) -> None:
        self._keep(self.acked, event, (sent, ack))

    def _keep(self, store: dict, event: str, item: Any) -> None:
        seen = store.setdefault(event, {})
        if len(seen) < self.PER_EVENT:
            seen.setdefault(json.dumps(item, sort_keys=True, default=repr), item)


RECORDED = PayloadLog()


class Client:
    """An official python-socketio AsyncClient plus an inbox of received events."""

    def __init__(self, url: str, *, transports: list[str] | None = ("websocket",)) -> None:
        self.url = url
        # None: the client's defaults (long-polling first, then the upgrade).
        self.transports = list(transports) if transports else None
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        self.disconnect_reasons: list[str] = []
        self.connect_errors: list[Any] = []
        self._changed = asyncio.Event()
        self.sio.on("*", self._record)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on("connect_error", self._on_connect_error)

    async def _on_connect_error(self, data: Any = None) -> None:
        self.connect_errors.append(data)

    async def _record(self, event: str, data: Any = None) -> None:
        RECORDED.receive(event, data)
        self.events.append((event, data))
        self._changed.set()

    async def _on_disconnect(self, reason: Any = None) -> None:
        self.disconnect_reasons.append(str(reason))
        self._changed.set()

    async def connect(self, token: str | None, **kwargs) -> Client:
        auth = {"token": token} if token is not None else None
        await self.sio.connect(
            self.url, transports=self.transports, auth=auth, wait_timeout=DEFAULT_TIMEOUT, **kwargs
        )
        return self

    async def refused(self, token: str | None) -> Any:
        """Connect expecting a refusal; the CONNECT_ERROR payload the server sent."""
        try:
            await self.connect(token)
        except socketio.exceptions.ConnectionError:
            assert self.connect_errors, "refused without a CONNECT_ERROR payload"
            RECORDED.receive("connect_error", self.connect_errors[-1])
            return self.connect_errors[-1]
        raise AssertionError("the server accepted the connection")

    async def emit(self, event: str, data: Any = None) -> None:
        await self.sio.emit(event, data)

    async def call(self, event: str, data: Any = None, timeout: float = DEFAULT_TIMEOUT) -> Any:
        """Emit with an ack callback and return the ack's payload."""
        ack = await self.sio.call(event, data, timeout=timeout)
        RECORDED.ack(event, data, ack)
        return ack

    def received(self, event: str) -> list[Any]:
        return [data for name, data in self.events if name == event]

    def mark(self) -> int:
        """A point in what was received: waits given it see only what arrives later."""
        return len(self.events)

    async def wait_for(
        self, event: str, predicate=None, *, after: int, timeout: float = DEFAULT_TIMEOUT
    ) -> Any:
        """The first payload of ``event`` (matching ``predicate``) received after ``after``.

        ``after`` is a :meth:`mark` taken before the action whose effect is awaited,
        so an older event (an earlier count, say) cannot satisfy the wait.
        """
        seen = after

        async def poll():
            nonlocal seen
            while True:
                for name, data in self.events[seen:]:
                    seen += 1
                    if name == event and (predicate is None or predicate(data)):
                        return data
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(poll(), timeout)

    async def wait_until(self, condition, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        async def poll():
            while not condition():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(poll(), timeout)

    async def wait_disconnected(self, timeout: float = DEFAULT_TIMEOUT) -> str:
        await self.wait_until(lambda: bool(self.disconnect_reasons), timeout=timeout)
        return self.disconnect_reasons[0]

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()


async def assert_no_flap(client: Client, mark: int, *, viewers: int, then: int | None = None):
    """The counts ``client`` saw since ``mark`` never went below ``viewers`` (nobody left).

    A count from before the mark may still arrive (counts are coalesced: the last one
    of a window trails it), so this checks the values, not how many came. With
    ``then``, it first waits for that count.
    """
    if then is not None:
        await client.wait_for("viewer_count_updated", lambda d: d["count"] == then, after=mark)
    counts = [d["count"] for name, d in client.events[mark:] if name == "viewer_count_updated"]
    assert all(count >= viewers for count in counts), counts
    assert counts == sorted(counts), counts
