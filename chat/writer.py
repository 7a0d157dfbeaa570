"""Group commit for chat messages: stored before shown, without one thread hop each.

Messages submitted while a write is in flight wait for the next one, so under
load each database round trip stores a whole batch (one bulk INSERT in one
transaction) and under light load a message is written at once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from channels.db import database_sync_to_async
from django.db import transaction
from django.utils import timezone

from chat import metrics
from chat.models import ChatMessage
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

    async def save(self, *, stream_id: str, user_id: str, text: str) -> ChatMessage:
        """Store one message; returns it with its id once committed."""
        future = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(stream_id, user_id, text, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def drain(self) -> None:
        """Wait until every submitted message is stored (or refused)."""
        while self._flusher is not None:
            await asyncio.shield(self._flusher)

    async def _flush(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                metrics.WRITE_BATCH_SIZE.observe(len(batch))
                try:
                    results = await database_sync_to_async(_write_batch)(batch)
                except Exception:
                    logger.exception("could not store %d chat messages", len(batch))
                    results = [NOT_SAVED] * len(batch)
                for item, result in zip(batch, results, strict=True):
                    if item.future.done():
                        continue
                    if isinstance(result, str):
                        item.future.set_exception(NotSaved(result))
                    else:
                        item.future.set_result(result)
        finally:
            self._flusher = None


_writers: PerLoop[ChatWriter] = PerLoop(ChatWriter)
get_writer = _writers.get


@on_shutdown
async def _finish_writes() -> None:
    """Store the messages still queued when the worker stops."""
    for writer in _writers.values():
        await writer.drain()
