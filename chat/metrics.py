"""Chat's own counters: messages stored and the size of each group commit."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

MESSAGES_STORED = Counter("chat_messages_stored", "Chat messages committed to the database")
WRITE_BATCH_SIZE = Histogram(
    "chat_write_batch_size",
    "Messages per group-committed write (chat/writer.py), stored or refused",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
)
