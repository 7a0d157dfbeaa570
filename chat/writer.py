"""Group commit for chat messages: stored, then shown, a batch at a time.

Messages submitted while a write is in flight wait for the next one, so under
load each database round trip stores a whole batch (one bulk INSERT in one
transaction) and under light load a message is written at once. Once a batch
is committed its messages are shown the same way, per stream: one Redis call
adds them to the history cache and one channel-layer message carries them, in
order, to the room (every socket gets them in one write). Only then is each
sender's ``save`` answered, so an ack still means stored and published.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from channels.db import database_sync_to_async
from django.db import transaction
from django.utils import timezone

from chat import history, metrics
from chat.models import ChatMessage
from chat.payloads import message_payload
from gateway.rooms import emit_many_to_room
from gateway.shutdown import on_shutdown
from livestream.loops import PerLoop
from streams.models import Stream

logger = logging.getLogger(__name__)

MAX_BATCH = 500


class NotSaved(Exception):
    """The message was not stored; ``reason`` says why in words for the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


STREAM_NOT_LIVE = "Stream is not live"
NOT_SAVED = "Message could not be saved"


@dataclass(slots=True)
class _Pending:
    stream_id: str
    user_id: str
    text: str
    username: str
    future: asyncio.Future


def _write_batch(batch: list[_Pending]) -> list[ChatMessage | str]:
    """Store the batch in one transaction; a reason string where refused."""
    with transaction.atomic():
        stream_ids = {item.stream_id for item in batch}
        # Locking the live streams orders this write against Stream.end().
        live = {
            str(pk)
            for pk in Stream.objects.select_for_update()
            .filter(pk__in=stream_ids, status=Stream.Status.LIVE)
            .values_list("pk", flat=True)
        }
        now = timezone.now()
        accepted = [
            ChatMessage(
                stream_id=item.stream_id, user_id=item.user_id, text=item.text, created_at=now
            )
            for item in batch
            if item.stream_id in live
        ]
        ChatMessage.objects.bulk_create(accepted)
    metrics.MESSAGES_STORED.inc(len(accepted))
    stored = iter(accepted)
    return [next(stored) if item.stream_id in live else STREAM_NOT_LIVE for item in batch]


class ChatWriter:
    def __init__(self) -> None:
        self._queue: list[_Pending] = []
        self._flusher: asyncio.Task | None = None

    def submit(self, *, stream_id: str, user_id: str, text: str, username: str) -> asyncio.Future:
        """Queue one message: the future gives its payload once stored and shown to its room.

        Messages are stored and shown in the order they are submitted.
        """
        future = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(stream_id, user_id, text, username, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return future

    async def save(self, *, stream_id: str, user_id: str, text: str, username: str) -> dict:
        """Store one message and show it to its room; returns its payload once both are done."""
        return await self.submit(stream_id=stream_id, user_id=user_id, text=text, username=username)

    async def drain(self) -> None:
        """Wait until every submitted message is stored (or refused)."""
        while self._flusher is not None:
            await asyncio.shield(self._flusher)

    async def _flush(self) -> None:
        # A batch is shown while the next one is written; shows run one after another.
        showing: asyncio.Future | None = None
        try:
            while True:
                if self._queue:
                    batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                    metrics.WRITE_BATCH_SIZE.observe(len(batch))
                    try:
                        results = await database_sync_to_async(_write_batch)(batch)
                    except Exception:
                        logger.exception("could not store %d chat messages", len(batch))
                        results = [NOT_SAVED] * len(batch)
                    showing = asyncio.ensure_future(_show(batch, results, after=showing))
                elif showing is not None and not showing.done():
                    await asyncio.wait([showing])
                else:
                    break
        finally:
            self._flusher = None


async def _show(
    batch: list[_Pending], results: list[ChatMessage | str], *, after: asyncio.Future | None
) -> None:
    """Announce the stored messages per stream, in order, then answer every sender."""
    if after is not None:
        await asyncio.wait([after])  # the previous batch reaches the rooms first
    by_stream: dict[str, list[tuple[_Pending, dict]]] = {}
    for item, result in zip(batch, results, strict=True):
        if isinstance(result, str):
            if not item.future.done():
                item.future.set_exception(NotSaved(result))
            continue
        payload = message_payload(result, username=item.username)
        by_stream.setdefault(item.stream_id, []).append((item, payload))
    for stream_id, shown in by_stream.items():
        payloads = [payload for _, payload in shown]
        try:
            await history.remember(stream_id, payloads)
            await emit_many_to_room(stream_id, "new_message", payloads)
        except Exception as exc:
            # Stored but not shown: each sender's handler fails as it would alone.
            for item, _ in shown:
                if not item.future.done():
                    item.future.set_exception(exc)
            continue
        for item, payload in shown:
            if not item.future.done():
                item.future.set_result(payload)


_writers: PerLoop[ChatWriter] = PerLoop(ChatWriter)
get_writer = _writers.get


@on_shutdown
async def _finish_writes() -> None:
    """Store the messages still queued when the worker stops."""
    for writer in _writers.values():
        await writer.drain()
